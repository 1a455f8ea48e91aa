import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KpiState } from '../../src/formats/kpiManifest.js';
import { readManifest, StateStore } from '../../src/formats/manifest.js';
import { appendRunRecord, newRunRecord, RUN_HISTORY, readRunHistory } from '../../src/formats/runHistory.js';
import { openSinkRecord } from '../../src/formats/sinkRecord.js';
import { StateFile } from '../../src/formats/stateFile.js';
import { TempDirs } from '../support/tempDirs.js';

const temp = new TempDirs();
afterEach(() => temp.cleanup());

const COUNTER = {
  what: 'counter',
  empty: () => ({ n: 0 }),
  check: (parsed: unknown) =>
    typeof (parsed as { n?: unknown })?.n === 'number' ? (parsed as { n: number }) : new Error('no n'),
};

function asideFiles(dir: string, name: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(`${name}.damaged-`));
}

describe('StateFile: the one lifecycle of a JSON state file', () => {
  it('starts empty without a file, and reads back what it saved', () => {
    const dir = temp.make();
    const path = join(dir, 'counter.json');
    const first = new StateFile(path, COUNTER);
    expect(first.value).toEqual({ n: 0 });
    expect(first.recovered).toBeUndefined();
    expect(existsSync(path)).toBe(false);
    first.value.n = 41;
    first.save();
    const second = new StateFile(path, COUNTER);
    expect(second.value).toEqual({ n: 41 });
    expect(second.recovered).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"n": 4'],
    ['JSON of the wrong shape', '{"m": 4}'],
    ['an empty file', ''],
  ])('sets %s aside, starts empty and says so', (_, text) => {
    const dir = temp.make();
    const path = join(dir, 'counter.json');
    writeFileSync(path, text);
    const file = new StateFile(path, COUNTER);
    expect(file.value).toEqual({ n: 0 });
    expect(file.recovered).toMatch(
      /^counter was unreadable \(.+\); moved to .*counter\.json\.damaged-\d+, rebuilding$/,
    );
    expect(existsSync(path)).toBe(false);
    const [aside] = asideFiles(dir, 'counter.json');
    expect(readFileSync(join(dir, aside!), 'utf8')).toBe(text);
  });
});

describe('the manifests and records built on it', () => {
  it('the chart manifest: wrong-shaped tables are damage, set aside, not a crash or a rewrite of nulls', () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'manifest.json'), '{"version":2,"days":[1,2,3]}');
    expect(() => readManifest(dir)).toThrow(/unreadable \(no days in manifest\)/);
    const state = new StateStore(dir);
    expect(state.recovered).toMatch(/state manifest was unreadable/);
    expect(state.days()).toEqual({});
    expect(asideFiles(dir, 'manifest.json')).toHaveLength(1);
  });

  it('the chart manifest: version 1 (days only) is read as version 2', () => {
    const dir = temp.make();
    const day = {
      date: '2024-01-01',
      file: 'listen-20240101.log',
      size: 10,
      mtimeMs: 1,
      hash: 'h',
      partial: 'partials/listen-20240101-h.ptp',
      lines: 1,
      valid: 1,
      rejected: 0,
      rejects: {},
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: 1, days: { '20240101': day } }));
    const manifest = readManifest(dir)!;
    expect(manifest.version).toBe(2);
    expect(manifest.days['20240101']).toEqual(day);
    expect(manifest.charts).toEqual({});
    expect(new StateStore(dir).recovered).toBeUndefined();
  });

  it('the KPI manifest: another version is set aside', () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'manifest.json'), '{"version":7,"files":{},"days":{}}');
    const state = new KpiState(dir);
    expect(state.recovered).toMatch(/KPI state manifest was unreadable \(unknown manifest version\)/);
    expect(state.files()).toEqual({});
  });

  it('the DynamoDB sink record: only dates and signatures; written with a final newline', () => {
    const dir = temp.make();
    const path = join(dir, 'dynamodb-t.json');
    writeFileSync(path, '{"2024-01-01": 5}');
    const record = openSinkRecord(path);
    expect(record.recovered).toMatch(/not a record of dates and signatures/);
    record.value['2024-01-01'] = '10:1700000000000';
    record.save();
    expect(readFileSync(path, 'utf8')).toBe('{\n  "2024-01-01": "10:1700000000000"\n}\n');
    expect(openSinkRecord(path).value).toEqual({ '2024-01-01': '10:1700000000000' });
  });
});

describe('records inside the manifests (issue 17, point 6)', () => {
  it.each([
    ['a day that is not a record', '{"version":2,"days":{"20240101":5}}', /day 20240101 is not an object/],
    [
      'a day without its size',
      '{"version":2,"days":{"20240101":{"date":"2024-01-01"}}}',
      /day 20240101: file is not a string/,
    ],
    ['charts that are a list', '{"version":2,"days":{},"charts":[1]}', /chart is not an object/],
  ])('the chart manifest: %s is damage, set aside', (_, text, problem) => {
    const dir = temp.make();
    writeFileSync(join(dir, 'manifest.json'), text);
    const state = new StateStore(dir);
    expect(state.recovered).toMatch(problem);
    expect(state.days()).toEqual({});
  });

  it('the KPI manifest: a file record without its partial is damage, set aside', () => {
    const dir = temp.make();
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({
        version: 1,
        files: { 'a.csv': { file: 'a.csv', size: 1, mtimeMs: 1, hash: 'x' } },
        days: {},
      }),
    );
    const state = new KpiState(dir);
    expect(state.recovered).toMatch(/file a\.csv: partial is not a string/);
    expect(state.files()).toEqual({});
  });

  it("the KPI manifest of a build before 2026-12-07: a file's sha256 is read as its hash, the days' inputs still its own", () => {
    const dir = temp.make();
    const old = 'e'.repeat(64);
    const record = {
      file: 'a.csv',
      size: 1,
      mtimeMs: 1,
      sha256: old,
      partial: 'partials/a.csv-eeeeeeeeeeeeeeee.kpf',
      partialBytes: 10,
      days: [{ day: 19_000, rows: 1 }],
      report: { kind: 'streams', file: 'a.csv', rows: 1, accepted: 1, rejects: {} },
      examples: [],
      parsedAt: '2026-12-01T00:00:00Z',
    };
    const day = {
      date: '2022-01-08',
      granularity: 'day',
      inputs: { 'a.csv': old },
      catalog: 'c',
      outDir: '/o',
      files: {},
      writtenAt: '2026-12-01T00:00:00Z',
    };
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ version: 1, files: { 'a.csv': record }, days: { '20220108': day } }),
    );
    const state = new KpiState(dir);
    expect(state.recovered).toBeUndefined();
    const { sha256: _sha256, ...rest } = record;
    expect(state.files()).toEqual({ 'a.csv': { ...rest, hash: old } });
    expect(state.day('20220108')?.inputs['a.csv']).toBe(state.files()['a.csv']!.hash);
  });
});

describe('the run history (runs.jsonl): one record a line', () => {
  it('a line that is not a run record is skipped, not the history: cut short, not JSON, or of the wrong shape', () => {
    const dir = temp.make();
    const run = (id: string) =>
      newRunRecord({ id, command: 'run', startedAt: '2024-01-01T00:00:00Z', logsDir: '/l', outDir: '/o' });
    appendRunRecord(dir, run('first'));
    const path = join(dir, RUN_HISTORY);
    const good = readFileSync(path, 'utf8');
    writeFileSync(
      path,
      [
        good.trimEnd(),
        '[1,2,3]',
        '{"id":"half","command":"run"}',
        JSON.stringify({ ...run('bad-days'), days: 'none' }),
        JSON.stringify({ ...run('bad-ok'), ok: 'yes' }),
        JSON.stringify({ ...run('bad-error'), error: 'logs_not_found' }),
        JSON.stringify({ ...run('bad-exit'), error: { code: 'usage', message: 'm', exitCode: '2' } }),
        JSON.stringify({ ...run('bad-reused'), reused: 3 }),
        'not json',
        good.slice(0, 40),
      ].join('\n'),
    );
    appendRunRecord(dir, run('last'));
    expect(readRunHistory(dir, 10).map((r) => r.id)).toEqual(['first', 'last']);
  });
});

describe('the run history of older releases', () => {
  it('a record without exitCode or reused (written before them) is read as it is', () => {
    const dir = temp.make();
    // A failed run as runs.jsonl held it before exit codes and reused days were recorded.
    const old = {
      id: '2024-01-01T00:00:00.000Z-42',
      command: 'run',
      startedAt: '2024-01-01T00:00:00.000Z',
      finishedAt: '2024-01-01T00:00:01.000Z',
      ok: false,
      stopped: false,
      logsDir: '/l',
      outDir: '/o',
      days: [],
      charts: [],
      chartsCurrent: 0,
      rebuilt: [],
      quarantined: [],
      archived: [],
      pruned: [],
      missing: [],
      totals: { rows: 0, valid: 0, rejected: 0 },
      error: { code: 'ENOSPC', message: 'no space left on device' },
    };
    writeFileSync(join(dir, RUN_HISTORY), `${JSON.stringify(old)}\n`);
    const failed = { ...newRunRecord({ ...old, command: 'run', id: 'new' }), finishedAt: old.finishedAt };
    failed.error = { code: 'logs_not_found', message: 'gone', exitCode: 3 };
    appendRunRecord(dir, failed);
    expect(readRunHistory(dir)).toEqual([old, failed]);
    expect(failed.reused).toEqual({ days: [], rows: 0 });
  });
});
