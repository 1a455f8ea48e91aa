import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { QualityReport } from '../../src/formats/qualityReport.js';
import { runTop50, type Top50Options, type Top50Summary } from '../../src/jobs/chartJob.js';
import { compactDay } from '../../src/ops/dates.js';
import { CLICKHOUSE_URLS, haveClickHouse, requireClickHouse, TestDatabases } from '../support/clickhouse.js';
import { runFolders } from '../support/cliRuns.js';
import { mulberry32 } from '../support/prng.js';
import { referenceCharts, referenceRows } from '../support/reference.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * One suite, every engine (STYLE.md 7): the embedded engine and the ClickHouse engine must write
 * the chart files of the plain reference implementation (test/support/reference.ts) and the same
 * quality figures, on the same inputs: dirty generated logs, missing days, ties and a short --top,
 * gzip logs, ids up to 2^53-1 with CRLF, and a log replaced between two runs. Without a cluster
 * the ClickHouse half is skipped with a message (a failure under CI=true).
 */
requireClickHouse('integration/chartEngine.contract.test');

const temp = new TempDirs();
const databases = new TestDatabases('playtally_shared');
afterAll(async () => {
  await databases.dropAll();
  temp.cleanup();
});

type Job = (options: Top50Options) => Promise<Top50Summary>;
const ENGINES: [string, () => Job][] = [['embedded', () => runTop50]];
if (haveClickHouse) {
  ENGINES.push([
    'clickhouse',
    () => {
      // A database per test: the cases do not see each other's days.
      const database = databases.next();
      return (options) => runTop50({ ...options, clickhouse: { urls: CLICKHOUSE_URLS, database } });
    },
  ]);
}

const FIRST = day('2024-05-01');

/** The reference charts of the logs of `days` in `logsDir` (plain or gzip). */
function expected(logsDir: string, days: number[], top = 50): { country: string; user: string } {
  const rows = days.flatMap((d) => {
    const plain = join(logsDir, `listen-${compactDay(d)}.log`);
    try {
      return referenceRows(readFileSync(plain));
    } catch {
      return [];
    }
  });
  return referenceCharts(rows, top);
}

function charts(summary: Top50Summary): { country: string; user: string } {
  return {
    country: readFileSync(summary.outputs.country.path, 'latin1'),
    user: readFileSync(summary.outputs.user.path, 'latin1'),
  };
}

describe.each(ENGINES)('engine %s', (_name, makeJob) => {
  it('writes the reference charts and counts rejects exactly, on dirty generated logs', async () => {
    const run = makeJob();
    // With a header line, and a fifth of the rows written `5 | 6 | FR`: valid rows all the same.
    const f = runFolders(temp, 'playtally-shared-dirty-', FIRST, 8, {
      rows: 12_000,
      users: 900,
      songs: 150,
      seed: 5,
      blankRate: 0.2,
      header: true,
    });
    const date = FIRST + 7;
    const summary = await run({ logsDir: f.logs, outDir: f.out, day: date, threads: 2 });
    const window = Array.from({ length: 7 }, (_, i) => date - 6 + i);
    expect(charts(summary)).toEqual(expected(f.logs, window));
    expect(summary.totals.rejected).toBeGreaterThan(0);
    const report = JSON.parse(readFileSync(summary.outputs.quality, 'utf8')) as QualityReport;
    expect(report.days.map((d) => d.date)).toEqual(
      window.map((d) => new Date(d * 86_400_000).toISOString().slice(0, 10)),
    );
    expect(report.totals.rows).toBe(7 * 12_000);
    expect(report.days.map((d) => d.header)).toEqual(window.map(() => 1));
    expect(report.totals.rejected / report.totals.rows).toBeLessThan(0.01);
  });

  it('leaves missing days out and says so; ties go to the smaller song id; --top cuts the rows', async () => {
    const run = makeJob();
    const logs = temp.make('playtally-shared-ties-logs-');
    const out = temp.make('playtally-shared-ties-out-');
    // Days 1, 2 and 5 of the window only; many ties of plays.
    const text = (rows: string[]) => `${rows.join('\n')}\n`;
    writeFileSync(
      join(logs, `listen-${compactDay(FIRST)}.log`),
      text(['7|1|FR', '5|1|FR', '9|2|FR', '3|2|US', 'x|1|FR']),
    );
    writeFileSync(
      join(logs, `listen-${compactDay(FIRST + 1)}.log`),
      text(['5|1|FR', '7|3|FR', '2|3|US', '3|3|US']),
    );
    writeFileSync(
      join(logs, `listen-${compactDay(FIRST + 4)}.log`),
      text(['9|1|FR', '1|4|DE', '1|4|DE', '8|1|FR']),
    );
    const summary = await run({ logsDir: logs, outDir: out, day: FIRST + 6, top: 2, threads: 1 });
    expect(charts(summary)).toEqual(expected(logs, [FIRST, FIRST + 1, FIRST + 4], 2));
    expect(charts(summary).country).toBe('DE|1:2\nFR|5:2,7:2\nUS|3:2,2:1\n');
    expect(summary.window.missing).toHaveLength(4);
  });

  it('reads gzip logs, CRLF rows and ids up to 2^53-1 the same way', async () => {
    const run = makeJob();
    const logs = temp.make('playtally-shared-gz-logs-');
    const out = temp.make('playtally-shared-gz-out-');
    const random = mulberry32(9);
    const big = '9007199254740991';
    const rows: string[] = [];
    for (let i = 0; i < 4_000; i++) {
      const song = random() < 0.05 ? big : String(1 + Math.floor(random() * 60));
      const user = random() < 0.05 ? big : String(1 + Math.floor(random() * 300));
      rows.push(
        `${song}|${user}|${['FR', 'BR', 'JP'][Math.floor(random() * 3)]}${random() < 0.3 ? '\r' : ''}`,
      );
    }
    rows.push(`9007199254740992|1|FR`, `1|9007199254740992|FR`);
    const plain = `${rows.join('\n')}\n`;
    writeFileSync(join(logs, `listen-${compactDay(FIRST)}.log.gz`), gzipSync(plain));
    writeFileSync(join(logs, `listen-${compactDay(FIRST + 1)}.log`), plain);
    const summary = await run({ logsDir: logs, outDir: out, day: FIRST + 1, threads: 2 });
    const reference = referenceCharts([
      ...referenceRows(Buffer.from(plain)),
      ...referenceRows(Buffer.from(plain)),
    ]);
    expect(charts(summary)).toEqual(reference);
    expect(charts(summary).user).toContain(`${big}|`);
    expect(summary.totals.rejected).toBe(4);
  });

  it('keeps days outside 1970..2105 apart (1969-12-30 to 1970-01-01, and 2150-03-01)', async () => {
    // ClickHouse 18.16's Date maps every day outside 1970-01-01..2105-12-31 to one value: the
    // cluster's tables keep day numbers, so these days stay apart there as here.
    const run = makeJob();
    const logs = temp.make('playtally-shared-epoch-logs-');
    const out = temp.make('playtally-shared-epoch-out-');
    const days = [day('1969-12-30'), day('1969-12-31'), day('1970-01-01'), day('2150-03-01')];
    days.forEach((d, i) => {
      const rows = Array.from({ length: 40 }, (_, r) => `${1 + ((r * (i + 3)) % 7)}|${1 + (r % (i + 2))}|FR`);
      writeFileSync(join(logs, `listen-${compactDay(d)}.log`), `${rows.join('\n')}\n`);
    });
    const epoch = () => run({ logsDir: logs, outDir: out, day: day('1970-01-01'), window: 3, threads: 1 });
    expect(charts(await epoch())).toEqual(expected(logs, days.slice(0, 3)));
    const later = await run({ logsDir: logs, outDir: out, day: day('2150-03-01'), window: 3, threads: 1 });
    expect(charts(later)).toEqual(expected(logs, days.slice(3)));
    // Loading 2150-03-01 left the 1969 and 1970 days alone: reused as they are, same charts.
    const again = await epoch();
    expect(again.days.map((d) => d.reused)).toEqual([true, true, true]);
    expect(charts(again)).toEqual(expected(logs, days.slice(0, 3)));
  });

  it('a damaged gzip log is an unreadable_log error naming the file', async () => {
    const run = makeJob();
    const logs = temp.make('playtally-shared-badgz-logs-');
    const out = temp.make('playtally-shared-badgz-out-');
    const gz = gzipSync(`${'1|2|FR\n'.repeat(50_000)}`);
    const name = `listen-${compactDay(FIRST)}.log.gz`;
    writeFileSync(join(logs, name), gz.subarray(0, gz.length >> 1));
    await expect(run({ logsDir: logs, outDir: out, day: FIRST, threads: 1 })).rejects.toMatchObject({
      code: 'unreadable_log',
      message: expect.stringContaining(name),
    });
  });

  it('a log replaced between two runs is counted once, with its new rows', async () => {
    const run = makeJob();
    const f = runFolders(temp, 'playtally-shared-replaced-', FIRST, 3, {
      rows: 5_000,
      users: 300,
      songs: 80,
      seed: 21,
    });
    const date = FIRST + 2;
    await run({ logsDir: f.logs, outDir: f.out, day: date, threads: 2 });
    const replaced = join(f.logs, `listen-${compactDay(date)}.log`);
    const other = runFolders(temp, 'playtally-shared-other-', date, 1, {
      rows: 3_000,
      users: 200,
      songs: 80,
      seed: 22,
    });
    writeFileSync(replaced, readFileSync(join(other.logs, `listen-${compactDay(date)}.log`)));
    const summary = await run({ logsDir: f.logs, outDir: f.out, day: date, threads: 2 });
    expect(charts(summary)).toEqual(expected(f.logs, [FIRST, FIRST + 1, date]));
    expect(summary.days.find((d) => d.date === summary.date)!.reused).toBe(false);
    // Nothing changed: the third run reuses every day and writes the same charts.
    const again = await run({ logsDir: f.logs, outDir: f.out, day: date, threads: 2 });
    expect(again.days.every((d) => d.reused)).toBe(true);
    expect(charts(again)).toEqual(charts(summary));
  });
});

describe.runIf(haveClickHouse)('engine clickhouse: two state folders on one database', () => {
  it('a day another state folder loaded since, with as many rows, is loaded again', async () => {
    const database = databases.next();
    const run = (logsDir: string, outDir: string) =>
      runTop50({
        logsDir,
        outDir,
        day: FIRST,
        window: 1,
        clickhouse: { urls: CLICKHOUSE_URLS, database },
      });
    // Two logs of the same day with as many valid rows, of other songs.
    const logs = [temp.make('playtally-shared-two-a-'), temp.make('playtally-shared-two-b-')];
    const outs = [temp.make('playtally-shared-two-out-a-'), temp.make('playtally-shared-two-out-b-')];
    writeFileSync(join(logs[0]!, `listen-${compactDay(FIRST)}.log`), '1|1|FR\n2|2|FR\n');
    writeFileSync(join(logs[1]!, `listen-${compactDay(FIRST)}.log`), '7|1|DE\n8|2|DE\n');
    await run(logs[0]!, outs[0]!);
    await run(logs[1]!, outs[1]!);
    const again = await run(logs[0]!, outs[0]!);
    expect(again.days.map((d) => d.reused)).toEqual([false]);
    expect(charts(again)).toEqual(expected(logs[0]!, [FIRST]));
    expect(charts(again).country).toBe('FR|1:1,2:1\n');
  });
});
