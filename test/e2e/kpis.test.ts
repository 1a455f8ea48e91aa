import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireBuiltCli } from '../support/cliRuns.js';
import { type Drop, songs, USERS, writeDrop } from '../support/kpiDrops.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * `kpis` through the built CLI, on small hand-made drops: what it says on stderr, with --json and
 * in the quality report. The job's contract: test/integration/kpiJob.test.ts; on S3, on the
 * ClickHouse engine and with the DynamoDB sink: e2e/s3Sources, e2e/clickhouse, e2e/dynamoSink.
 */

const temp = new TempDirs();
afterEach(() => temp.cleanup());
beforeAll(requireBuiltCli);

const drop = (files: Drop): string => writeDrop(temp, files);

describe('--max-reject-rate', () => {
  it('a streams file with too many bad rows is a warning: stderr, --json, and the quality report of its day', () => {
    const good = Array.from({ length: 7 }, (_, k) => `u1,t1,2024-01-01T1${k}:00:00Z`);
    const bad = ['u2,t1,yesterday', 'u2,t1,2024-13-01T10:00:00Z', 'u1,t1,'];
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000]) },
      users: { 'u.csv': USERS },
      streams: { 'a.csv': `user_id,track_id,listen_time\n${[...good, ...bad].join('\n')}\n` },
    });
    const out = temp.make('playtally-kpi-out-');
    const r = cli(['kpis', '--landing', dir, '--out', out, '--no-archive', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'playtally: warning: streams/a.csv (2024-01-01): 30.00% of 10 rows rejected (above --max-reject-rate 5.00%), ' +
        'mostly bad_timestamp (3), e.g. record 9: `u2,t1,yesterday`',
    );
    const [warning] = JSON.parse(r.stdout).warnings;
    expect(warning).toMatchObject({
      scope: 'file',
      file: 'a.csv',
      date: '2024-01-01',
      reason: 'bad_timestamp',
      rate: 0.3,
    });
    expect(warning.example).toEqual({ record: 9, text: 'u2,t1,yesterday' });
    const quality = JSON.parse(readFileSync(join(out, 'kpi_quality_20240101.json'), 'utf8'));
    expect(quality.warnings).toEqual([warning]);
    // A threshold above the rate: no warning anywhere.
    const lenient = cli([
      'kpis',
      '--landing',
      dir,
      '--out',
      temp.make(),
      '--no-archive',
      '--json',
      '--max-reject-rate',
      '0.5',
    ]);
    expect(JSON.parse(lenient.stdout).warnings).toEqual([]);
    expect(lenient.stderr).not.toContain('warning');
  });
});

describe('what kpis says', () => {
  it('counts in words: one day, one file, one genre row; a second run says the day is already up to date', () => {
    const rows = Array.from({ length: 7 }, (_, k) => `u1,t1,2024-01-01T1${k}:00:00Z`);
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000]) },
      users: { 'u.csv': USERS },
      streams: { 'a.csv': `user_id,track_id,listen_time\n${rows.join('\n')}\n` },
    });
    const out = temp.make('playtally-kpi-out-');
    const first = cli(['kpis', '--landing', dir, '--out', out, '--no-archive']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain('  2024-01-01: 7 streams counted in 1 genre row\n');
    expect(first.stderr).toMatch(
      /^playtally: 1 day of genre KPIs written \(7 streams counted\); 1 streams file parsed; [\d.]+ s, peak \d+ MB$/m,
    );
    const second = cli(['kpis', '--landing', dir, '--out', out, '--no-archive']);
    expect(second.status, second.stderr).toBe(0);
    // Once "0 day(s) of genre KPIs written (1 current), 0 streams file(s) parsed (1 reused), 0 streams counted".
    expect(second.stderr).toMatch(
      /^playtally: 0 days of genre KPIs written, 1 day already up to date; 0 streams files parsed, 1 file unchanged since an earlier run;/m,
    );
    expect(second.stderr).not.toMatch(/\(s\)|current\)/);
  });
});
