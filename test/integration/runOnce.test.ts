import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/formats/manifest.js';
import type { RunRecord } from '../../src/formats/runHistory.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import type { RunEvent, RunOptions } from '../../src/unattended/runOptions.js';
import { statusReport } from '../../src/unattended/statusReport.js';
import { chartDates, chartFile, countLogs, expectTop50Charts, readCharts } from '../support/chartFiles.js';
import { day, firstDifference, leftovers, logName, range, TempDirs } from '../support/tempDirs.js';

/**
 * Contract of the unattended run (`runOnce`: `run` and `backfill`): every new or changed log
 * is taken in once, the charts of exactly the dates whose window changed are written, and each
 * chart is byte-identical to the one-date job (runTop50) over the same logs. Bad logs are
 * quarantined and left out; logs are archived only once every chart that needs them is written;
 * partials are pruned only once no chart needs them; nothing in the input is ever deleted.
 * `run` and `backfill` through the CLI: test/e2e/run.test.ts.
 */

const FIRST = day('2024-03-01');
const W = 3;
const THREADS = 2;
/** About 90 listens per user per window: some user rows are cut at 50 songs. */
const GEN = { rows: 3_000, users: 100, songs: 400, seed: 7 };

const temp = new TempDirs();
afterEach(() => temp.cleanup());

/** Write the logs of `days` consecutive days from `start` into `dir`. */
function generate(
  dir: string,
  start: number,
  days: number,
  extra: { seed?: number; corruptRate?: number } = {},
) {
  generateLogs({ dir, start, days, ...GEN, ...extra });
}

/** A bad log for `d`: about 30% of its lines are rejected. */
function generateBad(dir: string, d: number, seed: number): void {
  generate(dir, d, 1, { seed, corruptRate: 0.3 });
}

/** ISO dates `a..b` (day numbers offset from FIRST). */
function dates(a: number, b: number): string[] {
  const out: string[] = [];
  for (let i = a; i <= b; i++) out.push(isoDay(FIRST + i));
  return out;
}

interface Fixture {
  logs: string;
  out: string;
  state: string;
  run(extra?: Partial<RunOptions>): Promise<RunRecord>;
  manifest(): Manifest;
}

function fixture(logs = temp.make('playtally-un-logs-')): Fixture {
  const out = temp.make('playtally-un-out-');
  const state = join(out, '.playtally');
  return {
    logs,
    out,
    state,
    run: (extra = {}) =>
      runOnce({ logsDir: logs, outDir: out, window: W, threads: THREADS, command: 'run', ...extra }),
    manifest: () => JSON.parse(readFileSync(join(state, 'manifest.json'), 'utf8')) as Manifest,
  };
}

/**
 * The charts in `out` of each date (offsets from FIRST) equal, byte for byte, those of a fresh
 * runTop50 over `refLogs` for that date (window W), in its own output and state folder.
 */
const expectReference = (out: string, refLogs: string, offsets: number[]): Promise<void> =>
  expectTop50Charts(
    temp,
    out,
    refLogs,
    offsets.map((i) => FIRST + i),
    { window: W, threads: THREADS },
  );

/** Inode and mtime of every regular file directly in `dir`. */
function stats(dir: string): Record<string, { ino: number; mtimeMs: number }> {
  const out: Record<string, { ino: number; mtimeMs: number }> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const st = statSync(join(dir, entry.name));
    out[entry.name] = { ino: st.ino, mtimeMs: st.mtimeMs };
  }
  return out;
}

/** Copy every log of `from` into a new folder, leaving out the days given. */
function copyLogs(from: string, without: number[] = []): string {
  const to = temp.make('playtally-un-copy-');
  const skip = new Set(without.map(logName));
  for (const name of readdirSync(from)) {
    if (/^listen-\d{8}\.log(\.gz)?$/.test(name) && !skip.has(name))
      copyFileSync(join(from, name), join(to, name));
  }
  return to;
}

describe('run: idempotent, incremental, equal to the one-date job', () => {
  it('writes every date once, byte-identical to runTop50; a second run writes and touches nothing', async () => {
    const f = fixture();
    generate(f.logs, FIRST, 8);
    const events: RunEvent[] = [];
    const first = await f.run({ onRunEvent: (e) => events.push(e) });
    expect(first.ok).toBe(true);
    // The days overlap as top50's do: each one after the first starts before the one before is done.
    const engine = events.flatMap((e) => (e.type === 'engine' ? [e.event] : []));
    const at = (type: 'dayStart' | 'dayDone', d: number): number =>
      engine.findIndex((e) => e.type === type && e.date === isoDay(d));
    for (const i of range(1, 7)) expect(at('dayStart', FIRST + i)).toBeLessThan(at('dayDone', FIRST + i - 1));
    expect(first.error).toBeUndefined();
    expect(first.charts).toEqual(dates(0, 7));
    expect(first.chartsCurrent).toBe(0);
    expect(first.days.map((d) => d.date)).toEqual(dates(0, 7));
    expect(first.totals.rows).toBe(8 * GEN.rows);
    expect(first.quarantined).toEqual([]);
    expect(first.missing).toEqual([]);
    expect(chartDates(f.out)).toEqual(dates(0, 7));
    for (const i of range(0, 7))
      expect(existsSync(join(f.out, `quality_${compactDay(FIRST + i)}.json`))).toBe(true);
    await expectReference(f.out, f.logs, range(0, 7));

    // The manifest says which log days each chart was computed from: its window within first..X.
    const m = f.manifest();
    for (const i of range(0, 7)) {
      const chart = m.charts[compactDay(FIRST + i)]!;
      expect(chart.window).toBe(W);
      expect(Object.keys(chart.inputs).sort()).toEqual(
        range(Math.max(0, i - W + 1), i).map((k) => compactDay(FIRST + k)),
      );
      for (const [key, hash] of Object.entries(chart.inputs)) expect(hash).toBe(m.days[key]!.hash);
    }

    const partials = stats(join(f.state, 'partials'));
    const outputs = stats(f.out);
    // Retention by default keeps the partials of the newest W days only (the logs stay).
    expect(first.pruned).toEqual(dates(0, 4));
    expect(Object.keys(partials)).toHaveLength(W);
    const second = await f.run();
    expect(second.ok).toBe(true);
    expect(second.charts).toEqual([]);
    expect(second.days).toEqual([]);
    expect(second.chartsCurrent).toBe(8);
    expect(stats(join(f.state, 'partials'))).toEqual(partials);
    expect(stats(f.out)).toEqual(outputs);
    expect(leftovers(f.out)).toEqual([]);
    // Both runs are in the history.
    const history = readFileSync(join(f.state, 'runs.jsonl'), 'utf8').trim().split('\n');
    expect(history.map((l) => (JSON.parse(l) as RunRecord).charts.length)).toEqual([8, 0]);
  });

  it('a stop asked for while a day is parsed: the days started finish whole, no other starts, no chart; the next run completes', async () => {
    const f = fixture();
    generate(f.logs, FIRST, 5);
    let started = 0;
    const events: RunEvent[] = [];
    const stopped = await f.run({
      onRunEvent: (e) => {
        events.push(e);
        if (e.type === 'engine' && e.event.type === 'dayStart') started++;
      },
      // Asked for once the second day has started (the first one still aggregating).
      shouldStop: () => started >= 2,
    });
    expect(stopped.stopped).toBe(true);
    expect(events.filter((e) => e.type === 'stopped')).toHaveLength(1);
    expect(stopped.days.map((d) => d.date)).toEqual(dates(0, 1));
    expect(Object.keys(f.manifest().days).sort()).toEqual(range(0, 1).map((i) => compactDay(FIRST + i)));
    expect(readdirSync(join(f.state, 'partials'))).toHaveLength(2);
    expect(chartDates(f.out)).toEqual([]);
    const next = await f.run();
    expect(next.ok).toBe(true);
    expect(next.days.map((d) => d.date)).toEqual(dates(2, 4));
    await expectReference(f.out, f.logs, range(0, 4));
  });

  it('a day landing rewrites exactly the dates whose window holds it; a replaced day rewrites its window', async () => {
    const f = fixture();
    generate(f.logs, FIRST, 5); // days 0..4
    generate(f.logs, FIRST + 6, 4); // days 6..9: day 5 is late
    const first = await f.run();
    expect(first.charts).toEqual(dates(0, 9));
    expect(first.missing).toEqual(dates(5, 5));

    // The late day: the dates 5, 6, 7 hold it in their window.
    generate(f.logs, FIRST + 5, 1);
    const late = await f.run();
    expect(late.days.map((d) => d.date)).toEqual(dates(5, 5));
    expect(late.charts).toEqual(dates(5, 7));
    expect(late.chartsCurrent).toBe(7);
    expect(late.missing).toEqual([]);

    // A new newest day: only its own date is within first..newest.
    generate(f.logs, FIRST + 10, 1);
    const newest = await f.run();
    expect(newest.days.map((d) => d.date)).toEqual(dates(10, 10));
    expect(newest.charts).toEqual(dates(10, 10));

    // An old day replaced by different content: the dates 2, 3, 4.
    const before = readCharts(f.out, FIRST + 3);
    generate(f.logs, FIRST + 2, 1, { seed: 99 });
    const replaced = await f.run();
    expect(replaced.days.map((d) => d.date)).toEqual(dates(2, 2));
    expect(replaced.charts).toEqual(dates(2, 4));
    expect(readCharts(f.out, FIRST + 3).country).not.toBe(before.country);
    await expectReference(f.out, f.logs, range(0, 10));
    expect(leftovers(f.out)).toEqual([]);
  });
});

describe('backfill', () => {
  it('writes the dates asked for; current ones are kept unless forced', async () => {
    const f = fixture();
    generate(f.logs, FIRST, 8);
    const backfill = (from: number, to: number, force = false) =>
      f.run({ command: 'backfill', from: FIRST + from, to: FIRST + to, force });

    const first = await backfill(2, 4);
    expect(first.command).toBe('backfill');
    expect(first.charts).toEqual(dates(2, 4));
    expect(chartDates(f.out)).toEqual(dates(2, 4));
    const kept = stats(f.out);

    // From the day before the first log (no log in its window: no chart) to the newest.
    const wider = await backfill(-1, 7);
    expect(wider.charts).toEqual([...dates(0, 1), ...dates(5, 7)]);
    expect(wider.chartsCurrent).toBe(3);
    expect(chartDates(f.out)).toEqual(dates(0, 7));
    for (const i of range(2, 4)) {
      const name = `country_top50_${compactDay(FIRST + i)}.txt`;
      expect(stats(f.out)[name]).toEqual(kept[name]);
    }

    const again = await backfill(0, 7);
    expect(again.charts).toEqual([]);
    expect(again.chartsCurrent).toBe(8);

    const forced = await backfill(3, 5, true);
    expect(forced.charts).toEqual(dates(3, 5));
    expect(forced.chartsCurrent).toBe(0);
    const name = `country_top50_${compactDay(FIRST + 3)}.txt`;
    expect(stats(f.out)[name]!.ino).not.toBe(kept[name]!.ino);
    await expectReference(f.out, f.logs, range(0, 7));
  });
});

describe('quarantine', () => {
  it('moves a log with too many rejected lines aside with its reason, leaves it out, and takes a fixed one back in', async () => {
    const good = temp.make('playtally-un-good-');
    generate(good, FIRST, 8);
    const logs = copyLogs(good);
    const BAD = FIRST + 4;
    generateBad(logs, BAD, 31);
    const badBytes = readFileSync(join(logs, logName(BAD)));
    const f = fixture(logs);
    const qdir = join(logs, 'quarantine');

    const first = await f.run();
    expect(first.ok).toBe(true);
    expect(first.quarantined).toEqual([
      { date: isoDay(BAD), file: logName(BAD), reason: 'reject_rate', message: expect.stringContaining('%') },
    ]);
    const parsed = first.days.find((d) => d.date === isoDay(BAD))!;
    expect(parsed.rejectRate).toBeGreaterThan(0.05);
    expect(existsSync(join(logs, logName(BAD)))).toBe(false);
    expect(readFileSync(join(qdir, logName(BAD)))).toEqual(badBytes);
    const reason = JSON.parse(readFileSync(join(qdir, `${logName(BAD)}.reason.json`), 'utf8')) as {
      file: string;
      date: string;
      reason: string;
      rejectRate: number;
      rejectedByReason: Record<string, number>;
      examples: unknown[];
      size: number;
      contentHash: string;
    };
    expect(reason.file).toBe(logName(BAD));
    expect(reason.date).toBe(isoDay(BAD));
    expect(reason.reason).toBe('reject_rate');
    expect(reason.rejectRate).toBeCloseTo(parsed.rejected / parsed.rows, 10);
    expect(reason.rejectRate).toBeGreaterThan(0.2);
    expect(Object.values(reason.rejectedByReason).reduce((a, b) => a + b, 0)).toBe(parsed.rejected);
    expect(reason.examples.length).toBeGreaterThan(0);
    expect(reason.size).toBe(badBytes.length);
    expect(reason.contentHash).toMatch(/^[0-9a-f]{32}$/);

    // Out of the state's days, recorded as quarantined, and out of every chart.
    const m = f.manifest();
    expect(m.days[compactDay(BAD)]).toBeUndefined();
    expect(m.quarantined[compactDay(BAD)]!.movedTo).toBe(join(qdir, logName(BAD)));
    for (const chart of Object.values(m.charts)) expect(chart.inputs[compactDay(BAD)]).toBeUndefined();
    expect(first.missing).toEqual([isoDay(BAD)]);
    expect((await statusReport(f.state)).quarantined).toEqual([
      expect.objectContaining({
        date: isoDay(BAD),
        file: logName(BAD),
        reason: 'reject_rate',
        movedTo: join(qdir, logName(BAD)),
      }),
    ]);
    expect(first.charts).toEqual(dates(0, 7));
    await expectReference(f.out, copyLogs(good, [BAD]), range(0, 7));

    // The fixed log put back under its name: taken in, and the charts of its window rewritten.
    copyFileSync(join(good, logName(BAD)), join(logs, logName(BAD)));
    const fixed = await f.run();
    expect(fixed.days.map((d) => d.date)).toEqual([isoDay(BAD)]);
    expect(fixed.quarantined).toEqual([]);
    expect(fixed.charts).toEqual(dates(4, 6));
    expect((await statusReport(f.state)).quarantined).toEqual([]);
    await expectReference(f.out, good, range(0, 7));

    // Bad again: the first quarantined copy and its reason are kept as `.replaced-*`.
    generateBad(logs, BAD, 32);
    const badAgain = readFileSync(join(logs, logName(BAD)));
    const third = await f.run();
    expect(third.quarantined.map((q) => q.file)).toEqual([logName(BAD)]);
    expect(third.charts).toEqual(dates(4, 6));
    const names = readdirSync(qdir).sort();
    // The set-aside log keeps its reason beside it: `<log>.replaced-<stamp>` and `<that>.reason.json`.
    const replacedLog = names.find((n) => n.startsWith(`${logName(BAD)}.replaced-`) && !n.endsWith('.json'));
    const replacedReason = names.find((n) => n === `${replacedLog}.reason.json`);
    expect(names).toHaveLength(4);
    expect(replacedLog).toBeDefined();
    expect(replacedReason).toBeDefined();
    expect(readFileSync(join(qdir, replacedLog!))).toEqual(badBytes);
    expect(readFileSync(join(qdir, logName(BAD)))).toEqual(badAgain);
    expect(JSON.parse(readFileSync(join(qdir, `${logName(BAD)}.reason.json`), 'utf8')).size).toBe(
      badAgain.length,
    );
    await expectReference(f.out, copyLogs(good, [BAD]), range(0, 7));
    // 7 good logs in the landing folder, both bad versions in quarantine.
    expect(countLogs(logs)).toBe(9);
    expect(leftovers(f.out)).toEqual([]);
  });

  it('no chart is left computed from a log quarantined since, even when it was the only log of its window', async () => {
    // The first date's window holds no other log: its charts are rewritten empty (no rows), not
    // left standing on the quarantined data.
    const f = fixture();
    generate(f.logs, FIRST, 4);
    await f.run();
    generateBad(f.logs, FIRST, 41);
    const second = await f.run();
    expect(second.quarantined.map((q) => q.date)).toEqual([isoDay(FIRST)]);
    expect(second.charts).toEqual(dates(0, 2));
    expect(readFileSync(join(f.out, `country_top50_${compactDay(FIRST)}.txt`), 'utf8')).toBe('');
    expect(readFileSync(join(f.out, `user_top50_${compactDay(FIRST)}.txt`), 'utf8')).toBe('');
    const m = f.manifest();
    const stale = Object.values(m.charts)
      .filter((c) => c.inputs[compactDay(FIRST)] !== undefined)
      .map((c) => c.date);
    expect(stale).toEqual([]);
  });
});

describe('archive and retention', () => {
  it('archives a log only once every chart of its window is written, and rebuilds an old chart from the archive', async () => {
    const source = temp.make('playtally-un-src-');
    generate(source, FIRST, 10);
    const logs = copyLogs(source);
    const archive = join(temp.make('playtally-un-arch-'), 'archive');
    const f = fixture(logs);
    const run = (extra: Partial<RunOptions> = {}) => f.run({ archiveDir: archive, keepDays: W, ...extra });
    const everyDir = [logs, archive, join(logs, 'quarantine')];
    const archived = () => (existsSync(archive) ? readdirSync(archive).sort() : []);
    const chartsOfWindowExist = (names: string[]) => {
      for (const name of names) {
        const x = day(/listen-(\d{8})/.exec(name)![1]!);
        for (let d = x; d < x + W; d++) {
          expect(existsSync(chartFile(f.out, 'country', d)), `${name}: chart ${isoDay(d)}`).toBe(true);
          expect(existsSync(chartFile(f.out, 'user', d)), `${name}: chart ${isoDay(d)}`).toBe(true);
        }
      }
    };
    expect(countLogs(...everyDir)).toBe(10);

    // Charts 0..4 only: days 0, 1, 2 have every chart of their window, day 3 not (chart 5 is due).
    const first = await run({ command: 'backfill', from: FIRST, to: FIRST + 4 });
    expect(first.charts).toEqual(dates(0, 4));
    expect(first.archived).toEqual(dates(0, 2));
    expect(first.pruned).toEqual(dates(0, 2));
    expect(archived()).toEqual(range(0, 2).map((i) => logName(FIRST + i)));
    chartsOfWindowExist(archived());
    expect(countLogs(...everyDir)).toBe(10);

    const second = await run();
    expect(second.charts).toEqual(dates(5, 9));
    expect(second.archived).toEqual(dates(3, 7));
    // The newest W-1 days wait for the charts of days to come.
    expect(
      readdirSync(logs)
        .filter((n) => n.startsWith('listen-'))
        .sort(),
    ).toEqual([logName(FIRST + 8), logName(FIRST + 9)]);
    chartsOfWindowExist(archived());
    const m = f.manifest();
    for (const i of range(0, 7))
      expect(m.days[compactDay(FIRST + i)]!.archived).toBe(join(archive, logName(FIRST + i)));
    for (const i of range(8, 9)) expect(m.days[compactDay(FIRST + i)]!.archived).toBeUndefined();
    // keepDays = W: the partials of days 0..6 are pruned, 7..9 kept.
    expect(second.pruned).toEqual(dates(3, 6));
    expect(countLogs(...everyDir)).toBe(10);
    await expectReference(f.out, source, range(0, 9));

    // A new day: day 8 now has all its charts.
    generate(logs, FIRST + 10, 1);
    generate(source, FIRST + 10, 1);
    const third = await run();
    expect(third.charts).toEqual(dates(10, 10));
    expect(third.archived).toEqual(dates(8, 8));
    expect(third.pruned).toEqual(dates(7, 7));
    expect(countLogs(...everyDir)).toBe(11);

    // A lost chart of an old date: rebuilt from the archived logs (their partials are pruned).
    const before = readCharts(f.out, FIRST + 1);
    rmSync(chartFile(f.out, 'country', FIRST + 1));
    rmSync(chartFile(f.out, 'user', FIRST + 1));
    const fourth = await run();
    expect(fourth.ok).toBe(true);
    expect(fourth.charts).toEqual(dates(1, 1));
    expect(fourth.days).toEqual([]);
    const after = readCharts(f.out, FIRST + 1);
    expect(firstDifference(after.country, before.country)).toBeUndefined();
    expect(firstDifference(after.user, before.user)).toBeUndefined();
    await expectReference(f.out, source, [1, 10]);
    expect(countLogs(...everyDir)).toBe(11);
    expect(leftovers(f.out)).toEqual([]);
  });

  it('a log rebuilt from the archive stays recorded as archived', async () => {
    // BUG: the partial rebuilt from an archived log gets a fresh DayRecord (dayRecord in
    // src/engines/embedded/dayPartial.ts) without `archived`; the manifest and `status` then say the log is
    // in the landing folder, and retention skips the day (its log "is not there") until a later
    // run with --archive adopts it again.
    const logs = temp.make('playtally-un-logs-');
    generate(logs, FIRST, 5);
    const archive = temp.make('playtally-un-arch-');
    const f = fixture(logs);
    const first = await f.run({ archiveDir: archive, keepDays: W });
    expect(first.archived).toEqual(dates(0, 2));
    expect(first.pruned).toEqual(dates(0, 1));
    rmSync(chartFile(f.out, 'user', FIRST + 1));
    const second = await f.run({ archiveDir: archive, keepDays: W });
    expect(second.charts).toEqual(dates(1, 1));
    const m = f.manifest();
    for (const i of range(0, 2)) {
      expect(m.days[compactDay(FIRST + i)]!.archived, isoDay(FIRST + i)).toBe(
        join(archive, logName(FIRST + i)),
      );
    }
    const status = (await statusReport(f.state)).days.filter((d) => d.date <= isoDay(FIRST + 2));
    expect(status.map((d) => d.archived)).toEqual(range(0, 2).map((i) => join(archive, logName(FIRST + i))));
  });

  it('keepDays prunes the partials of old days only once their charts are written', async () => {
    const f = fixture();
    generate(f.logs, FIRST, 10);
    const KEEP = 4;
    const partialOf = (i: number) => join(f.state, f.manifest().days[compactDay(FIRST + i)]!.partial);

    // Charts 7..9 only: the old days still have charts to come, nothing is pruned.
    const first = await f.run({ command: 'backfill', from: FIRST + 7, to: FIRST + 9, keepDays: KEEP });
    expect(first.charts).toEqual(dates(7, 9));
    expect(first.pruned).toEqual([]);
    for (const i of range(0, 9)) expect(existsSync(partialOf(i))).toBe(true);

    // Every chart written: days older than newest - KEEP + 1 = day 6 are pruned.
    const second = await f.run({ keepDays: KEEP });
    expect(second.charts).toEqual(dates(0, 6));
    expect([...second.pruned].sort()).toEqual(dates(0, 5));
    const m = f.manifest();
    for (const i of range(0, 5)) {
      expect(m.days[compactDay(FIRST + i)]!.pruned).toBe(true);
      expect(existsSync(partialOf(i))).toBe(false);
    }
    for (const i of range(6, 9)) {
      expect(m.days[compactDay(FIRST + i)]!.pruned).toBeUndefined();
      expect(existsSync(partialOf(i))).toBe(true);
    }
    expect((await statusReport(f.state)).days.map((d) => d.partial)).toEqual([
      ...range(0, 5).map(() => 'pruned'),
      ...range(6, 9).map(() => 'present'),
    ]);
    expect(readdirSync(join(f.state, 'partials'))).toHaveLength(4);

    // Pruned days are not parsed again while nothing needs them.
    const third = await f.run({ keepDays: KEEP });
    expect(third.days).toEqual([]);
    expect(third.charts).toEqual([]);
    expect(third.pruned).toEqual([]);

    // A chart that needs pruned days again: rebuilt from the logs, then pruned again.
    rmSync(chartFile(f.out, 'country', FIRST + 1));
    const fourth = await f.run({ keepDays: KEEP });
    expect(fourth.charts).toEqual(dates(1, 1));
    expect([...fourth.pruned].sort()).toEqual(dates(0, 1));
    await expectReference(f.out, f.logs, range(0, 9));
    expect(readdirSync(join(f.state, 'partials'))).toHaveLength(4);
    expect(countLogs(f.logs)).toBe(10);
  });
});

describe('a copy into the archive that a kill cut short (issue 17, point 8)', () => {
  /** A pid that was a process and is not any more: a child that has exited. */
  const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;

  it('the next run removes it from the archive folder, and archives the log whole', async () => {
    const f = fixture();
    generate(f.logs, FIRST, 3);
    const archive = temp.make('playtally-un-archive-');
    // What a cross-filesystem move leaves when killed mid-copy: part of the log, under a temporary name.
    const left = join(archive, `.${logName(FIRST)}.tmp-${deadPid()}`);
    writeFileSync(left, readFileSync(join(f.logs, logName(FIRST))).subarray(0, 100));
    const record = await f.run({ archiveDir: archive });
    expect(record.ok).toBe(true);
    expect(existsSync(left)).toBe(false);
    expect(readdirSync(archive).filter((name) => name.startsWith('.'))).toEqual([]);
    expect(record.archived).toContain(isoDay(FIRST));
  });
});

describe('a damaged partial whose log is gone (issue 17, point 3)', () => {
  it('is a day the charts go without, with a warning, like a missing one; the run goes on', async () => {
    const f = fixture();
    generate(f.logs, FIRST, 3);
    expect((await f.run()).ok).toBe(true);
    const day = f.manifest().days[compactDay(FIRST)]!;
    rmSync(join(f.logs, logName(FIRST)));
    // Cut short: its header and directory no longer check out.
    writeFileSync(join(f.state, day.partial), readFileSync(join(f.state, day.partial)).subarray(0, 40));
    const events: RunEvent[] = [];
    const record = await f.run({
      from: FIRST + 2,
      to: FIRST + 2,
      force: true,
      command: 'backfill',
      onRunEvent: (e) => events.push(e),
    });
    expect(record.ok, JSON.stringify(record.error)).toBe(true);
    expect(record.charts).toEqual([isoDay(FIRST + 2)]);
    expect(events.filter((e) => e.type === 'unavailable').map((e) => (e as { date: string }).date)).toEqual([
      isoDay(FIRST),
    ]);
  });
});
