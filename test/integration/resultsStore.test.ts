import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import Database from 'libsql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newRunRecord, type RunRecord } from '../../src/formats/runHistory.js';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { runTop50 } from '../../src/jobs/chartJob.js';
import { runKpis } from '../../src/jobs/kpiJob.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { PlaytallyError } from '../../src/ops/errors.js';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import type { Db } from '../../src/store/resultsDb.js';
import { ResultsReader } from '../../src/store/resultsReader.js';
import { ResultsStore } from '../../src/store/resultsStore.js';
import { ROOT, requireBuiltCli } from '../support/cliRuns.js';
import { day, firstDifference, TempDirs } from '../support/tempDirs.js';

/**
 * Contract of the results store (src/store): what it holds is exactly what the chart, quality
 * and KPI files say (checked by rebuilding the files' lines from the tables), user charts are
 * kept for the newest N dates whatever the loading order, a sync loads only changed files, a
 * malformed file loads nothing (the transaction is rolled back), schema versions are checked, and
 * readers see a load whole or not at all (WAL).
 */

const shared = new TempDirs();
const temp = new TempDirs();
afterEach(() => temp.cleanup());
afterAll(() => shared.cleanup());

const FIRST = day('2024-03-01');
/** Few songs, so that the big countries' charts hold 50 songs; 1% corrupt rows, so rejects have reasons. */
const GEN = { rows: 20_000, users: 2_000, songs: 300, corruptRate: 0.01, seed: 11 };
const LOG_DAYS = 9;
/** Chart dates 2024-03-05 .. 2024-03-09 (windows of 7 days; the first ones miss early days). */
const CHART_DAYS = [4, 5, 6, 7, 8].map((i) => FIRST + i);
const NEWEST = CHART_DAYS[CHART_DAYS.length - 1]!;

/** The output folder holding the chart files and quality reports of CHART_DAYS (read only). */
let charts = '';

beforeAll(async () => {
  const logs = shared.make('playtally-store-logs-');
  generateLogs({ dir: logs, start: FIRST, days: LOG_DAYS, ...GEN });
  charts = shared.make('playtally-store-charts-');
  for (const d of CHART_DAYS) await runTop50({ logsDir: logs, outDir: charts, day: d, threads: 2 });
});

function countryPath(dir: string, d: number): string {
  return join(dir, `country_top50_${compactDay(d)}.txt`);
}
function userPath(dir: string, d: number): string {
  return join(dir, `user_top50_${compactDay(d)}.txt`);
}
function qualityPath(dir: string, d: number): string {
  return join(dir, `quality_${compactDay(d)}.json`);
}
function lineCount(path: string): number {
  return readFileSync(path, 'utf8').split('\n').length - 1;
}
function qualityOf(dir: string, d: number): { window: { from: string; to: string }; days: DayFigures[] } {
  return JSON.parse(readFileSync(qualityPath(dir, d), 'utf8'));
}
interface DayFigures {
  date: string;
  file: string;
  rows: number;
  valid: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
}

function newStore(userChartDates?: number): ResultsStore {
  return ResultsStore.open(join(temp.make('playtally-store-db-'), 'results.db'), { userChartDates });
}

function rows<T extends unknown[]>(db: Db, sql: string, ...params: unknown[]): T[] {
  return db
    .prepare(sql)
    .raw()
    .all(...params) as T[];
}

/** The country chart file of `date` spelled from the country_charts rows (ranks must be 1..n). */
function countryFileFromStore(db: Db, date: string): string {
  const lines: string[] = [];
  let key: string | undefined;
  let songs: string[] = [];
  const flush = (): void => {
    if (key !== undefined) lines.push(`${key}|${songs.join(',')}\n`);
  };
  for (const [country, rank, sng, plays] of rows<[string, number, number, number]>(
    db,
    'SELECT country, rank, sng_id, plays FROM country_charts WHERE date = ? ORDER BY country, rank',
    date,
  )) {
    if (country !== key) {
      flush();
      key = country;
      songs = [];
    }
    expect(rank, `${date} ${country}`).toBe(songs.length + 1);
    songs.push(`${sng}:${plays}`);
  }
  flush();
  return lines.join('');
}

/** The user chart file of `date` spelled from the user_charts rows. */
function userFileFromStore(db: Db, date: string): string {
  return rows<[number, string]>(
    db,
    'SELECT user_id, chart FROM user_charts WHERE date = ? ORDER BY user_id',
    date,
  )
    .map(([user, chart]) => `${user}|${chart}\n`)
    .join('');
}

/** Dates whose user charts the store holds (rows and flag), newest first. */
function keptDates(db: Db): { rows: string[]; flagged: string[] } {
  return {
    rows: rows<[string]>(db, 'SELECT DISTINCT date FROM user_charts ORDER BY date DESC').map((r) => r[0]),
    flagged: rows<[string]>(
      db,
      'SELECT date FROM chart_dates WHERE user_charts_kept = 1 ORDER BY date DESC',
    ).map((r) => r[0]),
  };
}

/** Every row of every table, to tell that a failed load changed nothing. */
function dump(db: Db): Record<string, string[]> {
  const tables = rows<[string]>(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  return Object.fromEntries(
    tables.map(([t]) => [
      t,
      rows(db, `SELECT * FROM ${t}`)
        .map((r) => JSON.stringify(r))
        .sort(),
    ]),
  );
}

/** A folder holding copies of the chart files and quality report of `d`. */
function copyDate(d: number, from = charts): string {
  const dir = temp.make('playtally-store-copy-');
  for (const path of [countryPath, userPath, qualityPath]) copyFileSync(path(from, d), path(dir, d));
  return dir;
}

function copyAll(): string {
  const dir = temp.make('playtally-store-copy-');
  for (const d of CHART_DAYS)
    for (const path of [countryPath, userPath, qualityPath]) copyFileSync(path(charts, d), path(dir, d));
  return dir;
}

/** The PlaytallyError `fn` throws (the test fails when it throws nothing or something else). */
function thrown(fn: () => unknown): PlaytallyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PlaytallyError);
    return error as PlaytallyError;
  }
  throw new Error('expected a PlaytallyError, nothing was thrown');
}

describe('charts: the store holds exactly the chart files', () => {
  it('rebuilds every country line and every kept user line byte for byte; counts and windows match', () => {
    const store = newStore(3);
    try {
      const loaded = store.syncCharts(charts);
      expect(loaded.map((l) => l.date)).toEqual([...CHART_DAYS].reverse().map(isoDay));
      const kept = new Set(CHART_DAYS.slice(-3));
      let fullCharts = 0;
      for (const d of CHART_DAYS) {
        const date = isoDay(d);
        const countryText = readFileSync(countryPath(charts, d), 'utf8');
        const userText = readFileSync(userPath(charts, d), 'utf8');
        expect(firstDifference(countryFileFromStore(store.db, date), countryText), date).toBeUndefined();
        if (kept.has(d)) {
          expect(firstDifference(userFileFromStore(store.db, date), userText), date).toBeUndefined();
        } else {
          expect(userFileFromStore(store.db, date)).toBe('');
        }
        const countries = lineCount(countryPath(charts, d));
        const users = lineCount(userPath(charts, d));
        expect(countries).toBeGreaterThan(100);
        expect(users).toBeGreaterThan(1_000);
        fullCharts += countryText.split('\n').filter((l) => l.split(',').length === 50).length;
        const window = qualityOf(charts, d).window;
        expect(
          rows(
            store.db,
            'SELECT window_from, window_to, countries, users, user_charts_kept FROM chart_dates WHERE date = ?',
            date,
          ),
        ).toEqual([[window.from, window.to, countries, users, kept.has(d) ? 1 : 0]]);
        expect(loaded.find((l) => l.date === date)).toMatchObject({
          countries,
          users,
          userChartsKept: kept.has(d),
          prunedUserCharts: [],
        });
      }
      // The test means something only if charts are cut at 50 songs somewhere.
      expect(fullCharts).toBeGreaterThan(10);
    } finally {
      store.close();
    }
  });

  it('stores each quality report whole, and per log day the figures of the newest report covering it', () => {
    const store = newStore();
    try {
      // syncCharts loads newest first: the older reports, loaded later, must not replace a day's figures.
      store.syncCharts(charts);
      for (const d of CHART_DAYS) {
        const [text] = rows<[string]>(
          store.db,
          'SELECT report FROM chart_quality WHERE date = ?',
          isoDay(d),
        )[0]!;
        expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(qualityPath(charts, d), 'utf8')));
      }
      const reasons = new Set<string>();
      const logDays = rows<[string, string, number, number, number, string, string]>(
        store.db,
        'SELECT date, file, rows, valid, rejected, rejected_by_reason, source_date FROM log_days ORDER BY date',
      );
      expect(logDays.map((r) => r[0])).toEqual(Array.from({ length: LOG_DAYS }, (_, i) => isoDay(FIRST + i)));
      for (const [date, file, total, valid, rejected, byReason, source] of logDays) {
        const logDay = day(date);
        const newest = Math.min(logDay + 6, NEWEST);
        const figures = qualityOf(charts, newest).days.find((x) => x.date === date)!;
        expect(source, date).toBe(isoDay(newest));
        expect({ file, rows: total, valid, rejected }, date).toEqual({
          file: figures.file,
          rows: figures.rows,
          valid: figures.valid,
          rejected: figures.rejected,
        });
        expect(JSON.parse(byReason), date).toEqual(figures.rejectedByReason);
        expect(total).toBe(GEN.rows);
        for (const [reason, n] of Object.entries(figures.rejectedByReason)) if (n > 0) reasons.add(reason);
      }
      expect(reasons.size).toBeGreaterThanOrEqual(4);
    } finally {
      store.close();
    }
  });
});

describe('charts: user charts are kept for the newest N dates only', () => {
  it('keeps the newest N, whether all dates are synced at once or come one a day', () => {
    const all = newStore(2);
    const daily = newStore(2);
    try {
      const loaded = all.syncCharts(charts);
      expect(loaded.map((l) => [l.date, l.userChartsKept, l.prunedUserCharts])).toEqual(
        [...CHART_DAYS].reverse().map((d, i) => [isoDay(d), i < 2, []]),
      );
      const newestTwo = [NEWEST, NEWEST - 1].map(isoDay);
      expect(keptDates(all.db)).toEqual({ rows: newestTwo, flagged: newestTwo });

      CHART_DAYS.forEach((d, i) => {
        const [r] = daily.syncCharts(charts, [d]);
        expect(r!.userChartsKept).toBe(true);
        expect(r!.prunedUserCharts).toEqual(i >= 2 ? [isoDay(CHART_DAYS[i - 2]!)] : []);
      });
      expect(keptDates(daily.db)).toEqual({ rows: newestTwo, flagged: newestTwo });
      // Both stores hold the same charts.
      expect(dumpCharts(daily.db)).toEqual(dumpCharts(all.db));
    } finally {
      all.close();
      daily.close();
    }
  });

  it('out of order: a newer date pushes out the oldest kept one; a backfilled older date is not kept', () => {
    const [d5, d6, d7, d8, d9] = CHART_DAYS.map((d) => d) as [number, number, number, number, number];
    const store = newStore(2);
    const reader = ResultsReader.open(store.path);
    try {
      const load = (d: number) => store.syncCharts(charts, [d])[0]!;
      expect(load(d9)).toMatchObject({ userChartsKept: true, prunedUserCharts: [] });
      expect(load(d7)).toMatchObject({ userChartsKept: true, prunedUserCharts: [] });
      expect(keptDates(store.db).flagged).toEqual([d9, d7].map(isoDay));
      expect(load(d8)).toMatchObject({ userChartsKept: true, prunedUserCharts: [isoDay(d7)] });
      expect(keptDates(store.db)).toEqual({ rows: [d9, d8].map(isoDay), flagged: [d9, d8].map(isoDay) });
      for (const old of [d5, d6]) {
        const r = load(old);
        expect(r).toMatchObject({
          userChartsKept: false,
          prunedUserCharts: [],
          users: lineCount(userPath(charts, old)),
        });
        // Its country charts are stored all the same.
        expect(countryFileFromStore(store.db, isoDay(old))).toBe(
          readFileSync(countryPath(charts, old), 'utf8'),
        );
      }
      expect(keptDates(store.db)).toEqual({ rows: [d9, d8].map(isoDay), flagged: [d9, d8].map(isoDay) });
      expect(userFileFromStore(store.db, isoDay(d8))).toBe(readFileSync(userPath(charts, d8), 'utf8'));
      const dates = reader.dates();
      expect(dates.charts).toEqual([d9, d8, d7, d6, d5].map(isoDay));
      expect(dates.userCharts).toEqual([d9, d8].map(isoDay));
      expect(reader.chartDateInfo(isoDay(d7))?.userChartsKept).toBe(false);
    } finally {
      reader.close();
      store.close();
    }
  });
});

/** The chart tables without the load times and file signatures. */
function dumpCharts(db: Db): Record<string, string[]> {
  const d = dump(db);
  const chartDates = rows<unknown[]>(
    db,
    'SELECT date, window_from, window_to, countries, users, user_charts_kept FROM chart_dates ORDER BY date',
  ).map((r) => JSON.stringify(r));
  return {
    chart_dates: chartDates,
    country_charts: d.country_charts!,
    user_charts: d.user_charts!,
    chart_quality: d.chart_quality!,
    log_days: d.log_days!,
  };
}

describe('charts: a sync loads the dates whose files changed', () => {
  it('a second sync loads nothing; a touched or rewritten file reloads its date only, with its new content', () => {
    const dir = copyAll();
    const store = newStore(5);
    try {
      expect(store.syncCharts(dir)).toHaveLength(CHART_DAYS.length);
      expect(store.syncCharts(dir)).toEqual([]);
      const before = dump(store.db);

      // Same bytes, a new mtime: reloaded (the signature is size and mtime).
      const d7 = CHART_DAYS[2]!;
      const later = new Date(statSync(userPath(dir, d7)).mtimeMs + 5_000);
      utimesSync(userPath(dir, d7), later, later);
      expect(store.syncCharts(dir).map((l) => l.date)).toEqual([isoDay(d7)]);
      expect(store.syncCharts(dir)).toEqual([]);

      // New content: the first country and the last user are gone, and the quality report changed.
      const d8 = CHART_DAYS[3]!;
      const countryLines = readFileSync(countryPath(dir, d8), 'utf8').split('\n');
      writeFileSync(countryPath(dir, d8), countryLines.slice(1).join('\n'));
      const userLines = readFileSync(userPath(dir, d8), 'utf8').split('\n');
      writeFileSync(userPath(dir, d8), `${userLines.slice(0, -2).join('\n')}\n`);
      const report = JSON.parse(readFileSync(qualityPath(dir, d8), 'utf8'));
      report.days[0].rejected += 1_000_000;
      writeFileSync(qualityPath(dir, d8), JSON.stringify(report));
      const [reloaded, ...others] = store.syncCharts(dir);
      expect(others).toEqual([]);
      expect(reloaded).toMatchObject({ date: isoDay(d8), countries: countryLines.length - 2 });
      expect(countryFileFromStore(store.db, isoDay(d8))).toBe(countryLines.slice(1).join('\n'));
      expect(userFileFromStore(store.db, isoDay(d8))).toBe(`${userLines.slice(0, -2).join('\n')}\n`);
      expect(
        JSON.parse(
          rows<[string]>(store.db, 'SELECT report FROM chart_quality WHERE date = ?', isoDay(d8))[0]![0],
        ),
      ).toEqual(report);

      // The other dates' rows are untouched.
      const after = dump(store.db);
      const withoutDates = (t: string[], dates: string[]) =>
        t.filter((r) => !dates.some((x) => r.includes(x)));
      for (const table of ['country_charts', 'user_charts', 'chart_quality']) {
        expect(withoutDates(after[table]!, [isoDay(d7), isoDay(d8)])).toEqual(
          withoutDates(before[table]!, [isoDay(d7), isoDay(d8)]),
        );
      }
    } finally {
      store.close();
    }
  });
});

describe('charts: a damaged date among many', () => {
  it('with onBadDate, the other dates load and the damaged one is reported; without it, the sync fails', () => {
    const dir = copyAll();
    const damaged = CHART_DAYS[1]!;
    rmSync(qualityPath(dir, damaged));
    const strict = newStore(5);
    try {
      expect(thrown(() => strict.syncCharts(dir)).code).toBe('bad_result_file');
    } finally {
      strict.close();
    }
    const store = newStore(5);
    try {
      const reported: string[] = [];
      const loaded = store.syncCharts(dir, undefined, (error) => reported.push(error.message));
      expect(loaded.map((l) => l.date).sort()).toEqual(
        CHART_DAYS.filter((d) => d !== damaged)
          .map(isoDay)
          .sort(),
      );
      expect(reported).toHaveLength(1);
      expect(reported[0]).toContain(qualityPath(dir, damaged));
      expect(rows(store.db, 'SELECT date FROM chart_dates WHERE date = ?', isoDay(damaged))).toEqual([]);
      // Still damaged: reported again by the next sync, nothing else reloaded.
      const again: string[] = [];
      expect(store.syncCharts(dir, undefined, (error) => again.push(error.message))).toEqual([]);
      expect(again).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});

describe('charts: a malformed file loads nothing', () => {
  const d9 = NEWEST;
  type Damage = {
    name: string;
    damage: (dir: string) => void;
    file: (dir: string) => string;
    /** The line named, or undefined for a whole-file problem. */
    line?: (dir: string) => number;
    says: RegExp;
  };
  const replaceLine = (path: string, n: number, text: (old: string) => string): void => {
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[n - 1] = text(lines[n - 1]!);
    writeFileSync(path, lines.join('\n'));
  };
  const lastLine = (path: string) => lineCount(path);
  const cases: Damage[] = [
    {
      name: 'a chart that is not sng_id:plays',
      damage: (dir) => replaceLine(countryPath(dir, d9), 3, (l) => `${l.slice(0, 2)}|12:x`),
      file: (dir) => countryPath(dir, d9),
      line: () => 3,
      says: /chart is not sng_id:plays/,
    },
    {
      name: 'an unknown country code',
      damage: (dir) =>
        replaceLine(countryPath(dir, d9), lastLine(countryPath(dir, d9)), (l) => `ZZ${l.slice(2)}`),
      file: (dir) => countryPath(dir, d9),
      line: (dir) => lastLine(countryPath(dir, d9)),
      says: /not a country code.*"ZZ"/,
    },
    {
      name: 'a lower-case country code',
      damage: (dir) => replaceLine(countryPath(dir, d9), 5, (l) => l.slice(0, 2).toLowerCase() + l.slice(2)),
      file: (dir) => countryPath(dir, d9),
      line: () => 5,
      says: /not a country code/,
    },
    {
      name: 'a user id that is not digits (on the last line)',
      damage: (dir) =>
        replaceLine(userPath(dir, d9), lastLine(userPath(dir, d9)), (l) => `12a${l.slice(l.indexOf('|'))}`),
      file: (dir) => userPath(dir, d9),
      line: (dir) => lastLine(userPath(dir, d9)),
      says: /not a user id.*"12a"/,
    },
    {
      name: 'a user id above 2^53-1',
      damage: (dir) =>
        replaceLine(
          userPath(dir, d9),
          lastLine(userPath(dir, d9)),
          (l) => `9007199254740992${l.slice(l.indexOf('|'))}`,
        ),
      file: (dir) => userPath(dir, d9),
      line: (dir) => lastLine(userPath(dir, d9)),
      says: /not a user id/,
    },
    {
      name: 'an empty line in the user chart',
      damage: (dir) => replaceLine(userPath(dir, d9), 100, () => ''),
      file: (dir) => userPath(dir, d9),
      line: () => 100,
      says: /no key\|chart/,
    },
    {
      // Stored user charts are served as JSON text: `007` would not be a JSON number.
      name: 'a song id with a leading zero',
      damage: (dir) => replaceLine(userPath(dir, d9), 7, (l) => l.replace('|', '|0')),
      file: (dir) => userPath(dir, d9),
      line: () => 7,
      says: /chart is not sng_id:plays/,
    },
    {
      name: 'a country twice',
      damage: (dir) =>
        replaceLine(
          countryPath(dir, d9),
          4,
          () => readFileSync(countryPath(dir, d9), 'utf8').split('\n')[2]!,
        ),
      file: (dir) => countryPath(dir, d9),
      line: () => 4,
      says: /country not after the previous line's/,
    },
    {
      name: 'a user twice (the kept user chart would break its primary key)',
      damage: (dir) =>
        replaceLine(
          userPath(dir, d9),
          lastLine(userPath(dir, d9)),
          () => readFileSync(userPath(dir, d9), 'utf8').split('\n')[lastLine(userPath(dir, d9)) - 2]!,
        ),
      file: (dir) => userPath(dir, d9),
      line: (dir) => lastLine(userPath(dir, d9)),
      says: /user not after the previous line's/,
    },
    {
      name: 'users out of order',
      damage: (dir) => {
        const lines = readFileSync(userPath(dir, d9), 'utf8').split('\n');
        [lines[9], lines[10]] = [lines[10]!, lines[9]!];
        writeFileSync(userPath(dir, d9), lines.join('\n'));
      },
      file: (dir) => userPath(dir, d9),
      line: () => 11,
      says: /user not after the previous line's/,
    },
    {
      name: 'a missing quality report',
      damage: (dir) => rmSync(qualityPath(dir, d9)),
      file: (dir) => qualityPath(dir, d9),
      says: /no quality file/,
    },
    {
      name: 'the quality report of another date',
      damage: (dir) => copyFileSync(qualityPath(charts, d9 - 1), qualityPath(dir, d9)),
      file: (dir) => qualityPath(dir, d9),
      says: /not the quality report of 2024-03-09/,
    },
    {
      name: 'a quality report that is not JSON',
      damage: (dir) => writeFileSync(qualityPath(dir, d9), '{"date": "2024-03-09",'),
      file: (dir) => qualityPath(dir, d9),
      says: /not a JSON quality report/,
    },
  ];

  it.each(cases)('$name: bad_result_file naming the file (and line); the store is exactly as before', (c) => {
    const store = newStore(3);
    try {
      store.syncCharts(charts, [NEWEST - 1, NEWEST]);
      const before = dump(store.db);
      const dir = copyDate(d9);
      c.damage(dir);
      const error = thrown(() => store.syncCharts(dir));
      expect(error.code).toBe('bad_result_file');
      const file = c.file(dir);
      expect(error.message).toContain(file);
      expect(error.message).toMatch(c.says);
      expect(error.details.path).toBe(file);
      if (c.line) {
        const n = c.line(dir);
        expect(error.message).toContain(`${file}:${n}:`);
        expect(error.details.line).toBe(n);
      }
      expect(dump(store.db)).toEqual(before);
      // The store still answers the date from the good files.
      expect(userFileFromStore(store.db, isoDay(d9))).toBe(readFileSync(userPath(charts, d9), 'utf8'));
    } finally {
      store.close();
    }
  });

  it('checks the user chart of a date whose user charts are not kept all the same', () => {
    const store = newStore(1);
    try {
      store.syncCharts(charts);
      const old = CHART_DAYS[0]!;
      expect(keptDates(store.db).flagged).toEqual([isoDay(NEWEST)]);
      const before = dump(store.db);
      const dir = copyDate(old);
      const n = lineCount(userPath(dir, old));
      replaceLine(userPath(dir, old), n, (l) => `x${l}`);
      const error = thrown(() => store.syncCharts(dir));
      expect(error.code).toBe('bad_result_file');
      expect(error.message).toContain(`${userPath(dir, old)}:${n}:`);
      expect(dump(store.db)).toEqual(before);
    } finally {
      store.close();
    }
  });
});

describe('schema versions', () => {
  it('migrates a new store to SCHEMA_VERSION; a reopen keeps it', () => {
    const path = join(temp.make('playtally-store-db-'), 'sub', 'results.db');
    const store = ResultsStore.open(path);
    const version = (db: Db) => rows<[number]>(db, 'PRAGMA user_version')[0]![0];
    expect(version(store.db)).toBe(SCHEMA_VERSION);
    expect(rows<[string]>(store.db, 'PRAGMA journal_mode')[0]![0]).toBe('wal');
    store.syncCharts(charts, [NEWEST]);
    store.close();
    const again = ResultsStore.open(path);
    expect(version(again.db)).toBe(SCHEMA_VERSION);
    expect(rows(again.db, 'SELECT date FROM chart_dates')).toEqual([[isoDay(NEWEST)]]);
    again.close();
    const reader = ResultsReader.open(path);
    expect(reader.schemaVersion()).toBe(SCHEMA_VERSION);
    reader.close();
  });

  it('refuses a store written by a newer playtally, for writing and for reading, and leaves it alone', () => {
    const path = join(temp.make('playtally-store-db-'), 'results.db');
    const store = ResultsStore.open(path);
    store.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    store.close();
    for (const open of [() => ResultsStore.open(path), () => ResultsReader.open(path)]) {
      const error = thrown(open);
      expect(error.code).toBe('store_unusable');
      expect(error.message).toContain(path);
      expect(error.message).toMatch(new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer`));
      expect(error.message).toMatch(/upgrade playtally/);
    }
    const raw = new Database(path);
    expect(rows<[number]>(raw, 'PRAGMA user_version')[0]![0]).toBe(SCHEMA_VERSION + 1);
    raw.close();
  });

  it('a read-only open of an un-migrated store is refused with the command that migrates it', () => {
    const dir = temp.make('playtally-store-db-');
    const path = join(dir, 'old.db');
    const raw = new Database(path);
    raw.exec('CREATE TABLE something_else (a INTEGER)');
    raw.close();
    const error = thrown(() => ResultsReader.open(path));
    expect(error.code).toBe('store_unusable');
    expect(error.message).toMatch(/schema version 0/);
    expect(error.message).toContain(`playtally load --db ${path}`);
    // The reader did not migrate it; a writable open does.
    const check = new Database(path);
    expect(rows<[number]>(check, 'PRAGMA user_version')[0]![0]).toBe(0);
    check.close();
    ResultsStore.open(path).close();
    const reader = ResultsReader.open(path);
    expect(reader.schemaVersion()).toBe(SCHEMA_VERSION);
    // Read only means it: the connection refuses writes.
    expect(() => reader.db.exec('CREATE TABLE written_by_reader (a INTEGER)')).toThrow();
    expect(() => reader.db.exec('DELETE FROM chart_dates')).toThrow();
    reader.close();

    const missing = join(dir, 'missing.db');
    // Not there: a missing input (exit 3), not a store that cannot be opened (4).
    expect(thrown(() => ResultsReader.open(missing)).code).toBe('store_not_found');
    expect(existsSync(missing)).toBe(false);

    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not an SQLite database, not at all'.repeat(100));
    for (const open of [() => ResultsStore.open(garbage), () => ResultsReader.open(garbage)]) {
      const e = thrown(open);
      expect(e.code).toBe('store_unusable');
      expect(e.message).toContain(garbage);
    }
  });
});

describe('genre KPIs', () => {
  let kpisDay = '';
  let kpisHour = '';
  beforeAll(async () => {
    const landing = shared.make('playtally-store-kpi-landing-');
    generateKpiDataset({
      dir: landing,
      start: day('2024-05-01'),
      days: 2,
      streamsPerDay: 3_000,
      filesPerDay: 2,
      songs: 200,
      users: 300,
      seed: 5,
    });
    kpisDay = shared.make('playtally-store-kpi-day-');
    kpisHour = shared.make('playtally-store-kpi-hour-');
    await runKpis({ landingDir: landing, outDir: kpisDay, archive: false, threads: 2 });
    await runKpis({ landingDir: landing, outDir: kpisHour, archive: false, threads: 2, granularity: 'hour' });
  });

  const kpiDays = (dir: string): string[] =>
    readdirSync(dir)
      .map((n) => /^genre_kpis_(\d{8})\.csv$/.exec(n)?.[1])
      .filter((x): x is string => x !== undefined)
      .sort();
  const csv = (path: string): string[][] => parse(readFileSync(path)) as string[][];

  /** The store's rows of a day spelled as the CSV cells (sorted), hour as the file writes it. */
  function genreCells(db: Db, date: string, hourly: boolean): string[][] {
    return rows<[string, number, string, number, number, number, string, string]>(
      db,
      `SELECT date, hour, genre, listen_count, unique_listeners, total_listening_ms,
         avg_listening_ms_per_listener, top3_tracks FROM genre_kpis WHERE date = ?`,
      date,
    ).map(([d, hour, genre, listens, listeners, ms, avg, top3]) => {
      if (!hourly) expect(hour).toBe(-1);
      const tracks = JSON.parse(top3) as { track: string; plays: number }[];
      expect(tracks.length).toBeLessThanOrEqual(3);
      for (const t of tracks) {
        expect(t.track).toMatch(/^[0-9A-Za-z]{22}$/);
        expect(typeof t.plays).toBe('number');
      }
      return [
        d,
        ...(hourly ? [String(hour).padStart(2, '0')] : []),
        genre,
        String(listens),
        String(listeners),
        String(ms),
        avg,
        tracks.map((t) => `${t.track}:${t.plays}`).join(';'),
      ];
    });
  }
  function topCells(db: Db, date: string, hourly: boolean): string[][] {
    return rows<[string, number, number, string, number]>(
      db,
      'SELECT date, hour, rank, genre, listen_count FROM top_genres WHERE date = ?',
      date,
    ).map(([d, hour, rank, genre, listens]) => [
      d,
      ...(hourly ? [String(hour).padStart(2, '0')] : []),
      String(rank),
      genre,
      String(listens),
    ]);
  }
  const sorted = (cells: string[][]) => cells.map((c) => JSON.stringify(c)).sort();

  for (const granularity of ['day', 'hour'] as const) {
    it(`${granularity} granularity: every CSV row is a store row with the same values; quality whole`, () => {
      const dir = granularity === 'day' ? kpisDay : kpisHour;
      const hourly = granularity === 'hour';
      const store = newStore();
      const reader = ResultsReader.open(store.path);
      try {
        const days = kpiDays(dir);
        expect(days.length).toBeGreaterThanOrEqual(2);
        const loaded = store.syncKpis(dir);
        expect(loaded.map((l) => l.date).sort()).toEqual(days.map((d) => isoDay(day(d))));
        let genreRows = 0;
        for (const compact of days) {
          const date = isoDay(day(compact));
          const genres = csv(join(dir, `genre_kpis_${compact}.csv`));
          const tops = csv(join(dir, `top_genres_${compact}.csv`));
          expect(genres[0]![1] === 'hour').toBe(hourly);
          expect(sorted(genreCells(store.db, date, hourly))).toEqual(sorted(genres.slice(1)));
          expect(sorted(topCells(store.db, date, hourly))).toEqual(sorted(tops.slice(1)));
          genreRows += genres.length - 1;
          expect(loaded.find((l) => l.date === date)).toEqual({
            date,
            granularity,
            genres: genres.length - 1,
          });
          const quality = JSON.parse(readFileSync(join(dir, `kpi_quality_${compact}.json`), 'utf8'));
          expect(reader.kpiQuality(date)).toEqual(quality);

          // The reader's view: hour null for a day's figures, top3 as objects.
          const view = reader.kpiDay(date)!;
          expect(view.granularity).toBe(granularity);
          expect(view.genres).toHaveLength(genres.length - 1);
          const first = genres[1]!;
          const g = view.genres.find(
            (x) => x.genre === first[hourly ? 2 : 1] && (x.hour ?? -1) === (hourly ? Number(first[1]) : -1),
          )!;
          expect(g.hour).toBe(hourly ? Number(first[1]) : null);
          const cells = hourly ? first.slice(1) : [undefined, ...first.slice(1)];
          expect(g.listenCount).toBe(Number(cells[2]));
          // A number in the answer, printing back as the file's 2-decimal text.
          expect(g.avgListeningMsPerListener.toFixed(2)).toBe(cells[5]);
          expect(g.top3.map((t) => `${t.track}:${t.plays}`).join(';')).toBe(cells[6]);
          expect(view.topGenres.every((t) => (hourly ? t.hour !== null : t.hour === null))).toBe(true);
        }
        expect(genreRows).toBeGreaterThan(50);
        expect(store.syncKpis(dir)).toEqual([]);
      } finally {
        reader.close();
        store.close();
      }
    });
  }

  it('a day computed again by hour replaces the day figures (no mix of both)', () => {
    const store = newStore();
    try {
      const compact = kpiDays(kpisDay)[1]!;
      const date = isoDay(day(compact));
      store.syncKpis(kpisDay, [day(compact)]);
      store.syncKpis(kpisHour, [day(compact)]);
      expect(rows(store.db, 'SELECT DISTINCT hour < 0 FROM genre_kpis WHERE date = ?', date)).toEqual([[0]]);
      expect(rows(store.db, 'SELECT granularity FROM kpi_days WHERE date = ?', date)).toEqual([['hour']]);
      const genres = csv(join(kpisHour, `genre_kpis_${compact}.csv`));
      expect(sorted(genreCells(store.db, date, true))).toEqual(sorted(genres.slice(1)));
    } finally {
      store.close();
    }
  });

  it('a KPI file that does not match the format loads nothing of its day and names the file and row', () => {
    const store = newStore();
    try {
      store.syncKpis(kpisDay);
      const before = dump(store.db);
      const compact = kpiDays(kpisDay)[1]!;
      const damages: [string, (text: string) => string, number, RegExp][] = [
        ['genre_kpis', (t) => replaceCsvCell(t, 3, 2, 'x'), 3, /listen_count is not a count/],
        ['genre_kpis', (t) => replaceCsvCell(t, 4, 0, '2024-05-09'), 4, /date is not/],
        ['genre_kpis', (t) => replaceCsvCell(t, 2, 6, 'abc'), 2, /top3_tracks entry is not track:plays/],
        ['top_genres', (t) => replaceCsvCell(t, 1, 1, 'position'), 1, /header is not/],
        [
          'genre_kpis',
          (t) => replaceCsvCell(t, 5, 5, '1,5'),
          5,
          /avg_listening_ms_per_listener is not a decimal/,
        ],
        // A repeated key is named, not left to fail on the primary key.
        [
          'genre_kpis',
          (t) => replaceCsvCell(t, 4, 1, t.split('\n')[1]!.split(',')[1]!),
          4,
          /genre "[^"]+" appears twice/,
        ],
        ['top_genres', (t) => replaceCsvCell(t, 3, 1, '1'), 3, /rank 1 appears twice/],
      ];
      for (const [kind, damage, row, says] of damages) {
        const dir = temp.make('playtally-store-kpi-copy-');
        for (const name of [
          `genre_kpis_${compact}.csv`,
          `top_genres_${compact}.csv`,
          `kpi_quality_${compact}.json`,
        ])
          copyFileSync(join(kpisDay, name), join(dir, name));
        const path = join(dir, `${kind}_${compact}.csv`);
        writeFileSync(path, damage(readFileSync(path, 'utf8')));
        const error = thrown(() => store.syncKpis(dir));
        expect(error.code).toBe('bad_result_file');
        expect(error.message).toContain(`${path} row ${row}:`);
        expect(error.message).toMatch(says);
        expect(dump(store.db)).toEqual(before);
      }
    } finally {
      store.close();
    }
  });
});

/** Set cell `col` of CSV line `line` (1-based, the header is 1) in a file without quoted fields. */
function replaceCsvCell(text: string, line: number, col: number, value: string): string {
  const lines = text.split('\n');
  const cells = lines[line - 1]!.split(',');
  cells[col] = value.includes(',') ? `"${value}"` : value;
  lines[line - 1] = cells.join(',');
  return lines.join('\n');
}

describe('runs', () => {
  function run(id: string, finishedAt: string, rows: number, ok = true): RunRecord {
    const startedAt = finishedAt.replace(/:\d\d\./, ':00.');
    return {
      ...newRunRecord({ id, command: 'run', startedAt, logsDir: '/data/landing', outDir: '/data/charts' }),
      finishedAt,
      ok,
      charts: ['2024-03-09'],
      totals: { rows, valid: rows - 1, rejected: 1 },
    };
  }

  it('syncRuns stores runs.jsonl (a line cut short is skipped); addRun replaces a run by id', () => {
    const state = temp.make('playtally-store-state-');
    const runs = [
      run('r1', '2024-03-09T01:00:10.000Z', 100),
      run('r2', '2024-03-09T02:00:20.000Z', 200, false),
      run('r3', '2024-03-09T03:00:30.000Z', 300),
    ];
    writeFileSync(
      join(state, 'runs.jsonl'),
      `${runs.map((r) => JSON.stringify(r)).join('\n')}\n${JSON.stringify(run('r4', '2024-03-09T04:00:00.000Z', 4)).slice(0, 50)}`,
    );
    const store = newStore();
    const reader = ResultsReader.open(store.path);
    try {
      expect(store.syncRuns(state)).toBe(3);
      const stored = () =>
        rows<[string, string, string, string, number, number, string]>(
          store.db,
          'SELECT id, command, started_at, finished_at, ok, rows, record FROM runs ORDER BY id',
        );
      expect(
        stored().map(([id, command, started, finished, ok, n, record]) => [
          id,
          command,
          started,
          finished,
          ok,
          n,
          JSON.parse(record),
        ]),
      ).toEqual(runs.map((r) => [r.id, 'run', r.startedAt, r.finishedAt, r.ok ? 1 : 0, r.totals.rows, r]));
      expect(reader.runs(2)).toEqual([runs[2], runs[1]]);
      expect(reader.lastRun()).toEqual({ finishedAt: runs[2]!.finishedAt, ok: true, rows: 300 });

      // The same runs again: replaced, not doubled.
      expect(store.syncRuns(state)).toBe(3);
      expect(stored()).toHaveLength(3);

      const replaced = { ...run('r2', '2024-03-09T05:00:00.000Z', 999), command: 'watch' as const };
      store.addRun(replaced);
      expect(stored()).toHaveLength(3);
      expect(reader.runs(10)).toEqual([replaced, runs[2], runs[0]]);
      expect(reader.lastRun()).toEqual({ finishedAt: replaced.finishedAt, ok: true, rows: 999 });
      store.addRun(run('r5', '2024-03-08T00:00:00.000Z', 5, false));
      expect(reader.runs(10).map((r) => (r as RunRecord).id)).toEqual(['r2', 'r3', 'r1', 'r5']);
      expect(reader.lastRun()?.rows).toBe(999);
    } finally {
      reader.close();
      store.close();
    }
  });

  it('a state folder without runs.jsonl stores nothing', () => {
    const store = newStore();
    try {
      expect(store.syncRuns(temp.make('playtally-store-state-'))).toBe(0);
      expect(rows(store.db, 'SELECT count(*) FROM runs')).toEqual([[0]]);
    } finally {
      store.close();
    }
  });
});

describe('WAL: readers see a load whole or not at all', () => {
  /** One read (one snapshot): the rows of `date` in each chart table and the chart_dates counts. */
  const SNAPSHOT = `SELECT (SELECT count(*) FROM country_charts WHERE date = ?1),
     (SELECT count(*) FROM user_charts WHERE date = ?1),
     (SELECT countries FROM chart_dates WHERE date = ?1),
     (SELECT users FROM chart_dates WHERE date = ?1)`;

  it('a reader open across loads sees each committed load, its prepared statements included', () => {
    const store = newStore();
    const reader = ResultsReader.open(store.path);
    try {
      const [d8, d9] = [isoDay(NEWEST - 1), isoDay(NEWEST)];
      expect(reader.latestChartDate()).toBeUndefined();
      expect(reader.chartDateInfo(d9)).toBeUndefined();
      store.syncCharts(charts, [NEWEST - 1]);
      expect(reader.latestChartDate()).toBe(d8);
      expect(reader.chartDateInfo(d9)).toBeUndefined();
      store.syncCharts(charts, [NEWEST]);
      expect(reader.latestChartDate()).toBe(d9);
      expect(reader.chartDateInfo(d9)?.countries).toBe(lineCount(countryPath(charts, NEWEST)));
      const firstUser = readFileSync(userPath(charts, NEWEST), 'utf8').split('\n')[0]!;
      const user = Number(firstUser.slice(0, firstUser.indexOf('|')));
      expect(reader.userChartOf(d9, user)?.songs.length).toBe(firstUser.split(',').length);
    } finally {
      reader.close();
      store.close();
    }
  });

  it('a write transaction in progress is invisible to readers, here and in another process', () => {
    requireBuiltCli();
    const store = newStore();
    const reader = ResultsReader.open(store.path);
    try {
      store.syncCharts(charts, [NEWEST]);
      const date = isoDay(NEWEST);
      const committed = reader.db.prepare(SNAPSHOT).raw().get(date) as number[];
      store.db.exec('BEGIN IMMEDIATE');
      store.db.prepare('DELETE FROM country_charts WHERE date = ?').run(date);
      store.db.prepare('DELETE FROM user_charts WHERE date = ?').run(date);
      store.db.prepare('UPDATE chart_dates SET countries = 0 WHERE date = ?').run(date);
      expect(store.db.prepare(SNAPSHOT).raw().get(date)).toEqual([0, 0, 0, committed[3]]);
      expect(reader.db.prepare(SNAPSHOT).raw().get(date)).toEqual(committed);
      expect(reader.countryChartOf(date, 'US').length).toBe(50);

      // A reader in another process is not held up by the writer (busy_timeout is 10 s).
      const started = Date.now();
      const child = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { ResultsReader } = await import(${JSON.stringify(join(ROOT, 'dist/src/store/resultsReader.js'))});
           const r = ResultsReader.open(process.argv[1]);
           console.log(JSON.stringify({ info: r.chartDateInfo(process.argv[2]), us: r.countryChartOf(process.argv[2], 'US').length }));
           r.close();`,
          store.path,
          date,
        ],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(child.stderr).toBe('');
      expect(child.status).toBe(0);
      expect(Date.now() - started).toBeLessThan(5_000);
      const seen = JSON.parse(child.stdout) as { info: { countries: number }; us: number };
      expect(seen.info.countries).toBe(committed[2]);
      expect(seen.us).toBe(50);

      store.db.exec('COMMIT');
      expect(reader.db.prepare(SNAPSHOT).raw().get(date)).toEqual([0, 0, 0, committed[3]]);
    } finally {
      reader.close();
      store.close();
    }
  });

  it('a reader polling while another process loads a date again and again sees one version or the other', async () => {
    requireBuiltCli();
    const date = NEWEST;
    const full = copyDate(date);
    // The same date with half the countries and half the users.
    const half = copyDate(date);
    const halve = (path: string) => {
      const lines = readFileSync(path, 'utf8').split('\n').slice(0, -1);
      writeFileSync(
        path,
        lines
          .filter((_, i) => i % 2 === 0)
          .map((l) => `${l}\n`)
          .join(''),
      );
    };
    halve(countryPath(half, date));
    halve(userPath(half, date));

    const store = newStore();
    store.syncCharts(full);
    const expected = (dir: string) => [
      readFileSync(countryPath(dir, date), 'utf8')
        .split('\n')
        .slice(0, -1)
        .reduce((n, l) => n + l.split(',').length, 0),
      lineCount(userPath(dir, date)),
      lineCount(countryPath(dir, date)),
      lineCount(userPath(dir, date)),
    ];
    const versions = [expected(full), expected(half)].map((v) => JSON.stringify(v));
    store.close();

    const reader = ResultsReader.open(store.path);
    const snapshot = reader.db.prepare(SNAPSHOT).raw();
    const script = join(temp.make('playtally-store-child-'), 'writer.mjs');
    writeFileSync(
      script,
      `const { ResultsStore } = await import(${JSON.stringify(join(ROOT, 'dist/src/store/resultsStore.js'))});
       const [db, full, half, day, times] = process.argv.slice(2);
       const store = ResultsStore.open(db);
       for (let i = 0; i < Number(times); i++) {
         for (const dir of [half, full]) if (store.syncCharts(dir, [Number(day)]).length !== 1) throw new Error('not loaded');
       }
       store.close();`,
    );
    const child = spawn(process.execPath, [script, store.path, full, half, String(date), '12'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let done = false;
    void exited.then(() => (done = true));
    const seen = new Map<string, number>();
    try {
      while (!done) {
        const v = JSON.stringify(snapshot.get(isoDay(date)));
        seen.set(v, (seen.get(v) ?? 0) + 1);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await exited, stderr).toBe(0);
      expect([...seen.keys()].filter((v) => !versions.includes(v))).toEqual([]);
      expect(seen.size, JSON.stringify([...seen])).toBe(2);
      // The last load was the full one.
      expect(JSON.stringify(snapshot.get(isoDay(date)))).toBe(versions[0]);
    } finally {
      child.kill('SIGKILL');
      reader.close();
    }
  });
});
