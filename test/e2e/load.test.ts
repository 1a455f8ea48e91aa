import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/formats/runHistory.js';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { ResultsReader } from '../../src/store/resultsReader.js';
import { chartDatesIn } from '../support/chartFiles.js';
import { cli, cliOk as ok, requireBuiltCli, runFolders } from '../support/cliRuns.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The store's commands that fill it, through the built CLI: `load` loads output folders (again and
 * again, only what changed; exit 2 without a folder, 3 on a malformed file), and `--db` on top50,
 * kpis and run loads what they write (and the run). Serving it: test/e2e/serve.test.ts.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());
beforeAll(requireBuiltCli);

const FIRST = day('2024-03-01');
const GEN = { rows: 3_000, users: 200, songs: 300, seed: 3 };

/** Every country chart of `date` in `dir` equals the reader's, and every user chart too when `users`. */
function expectStoreEqualsFiles(reader: ResultsReader, dir: string, date: string, users: boolean): void {
  const compact = compactDay(day(date));
  const countryLines = readFileSync(join(dir, `country_top50_${compact}.txt`), 'utf8')
    .split('\n')
    .slice(0, -1);
  expect(reader.countries(date)).toEqual(countryLines.map((l) => l.slice(0, 2)));
  for (const line of countryLines) {
    const songs = reader.countryChartOf(date, line.slice(0, 2));
    expect(`${line.slice(0, 2)}|${songs.map((s) => `${s.song}:${s.plays}`).join(',')}`).toBe(line);
  }
  if (!users) return;
  const userLines = readFileSync(join(dir, `user_top50_${compact}.txt`), 'utf8')
    .split('\n')
    .slice(0, -1);
  expect(reader.chartDateInfo(date)?.users).toBe(userLines.length);
  for (const line of userLines) {
    const user = line.slice(0, line.indexOf('|'));
    const found = reader.userChartOf(date, Number(user));
    expect(`${user}|${found!.songs.map((s) => `${s.song}:${s.plays}`).join(',')}`).toBe(line);
  }
}

function withReader<T>(db: string, fn: (reader: ResultsReader) => T): T {
  const reader = ResultsReader.open(db);
  try {
    return fn(reader);
  } finally {
    reader.close();
  }
}

describe('load', () => {
  let charts = '';
  let kpis = '';
  beforeAll(() => {
    const f = runFolders(temp, 'playtally-scli-load-', FIRST, 4, GEN);
    charts = f.out;
    // Two chart dates, and a run history in the default state folder.
    ok(['run', '--logs', f.logs, '--out', f.out, '--window', '3', '--log-level', 'warn']);
    const landing = temp.make('playtally-scli-kpi-landing-');
    generateKpiDataset({
      dir: landing,
      start: day('2024-05-01'),
      days: 2,
      streamsPerDay: 2_000,
      songs: 150,
      users: 200,
    });
    kpis = temp.make('playtally-scli-kpi-out-');
    ok(['kpis', '--landing', landing, '--out', kpis, '--no-archive', '--quiet']);
  });

  it('loads charts, runs and KPIs; a second load loads nothing', () => {
    const db = join(temp.make('playtally-scli-db-'), 'store.db');
    const dates = chartDatesIn(charts);
    expect(dates).toHaveLength(4);
    const first = ok(['load', '--db', db, '--charts', charts, '--kpis', kpis, '--user-chart-dates', '2']);
    expect(first.stderr).toMatch(
      new RegExp(`charts: loaded 4 dates: ${dates[0]} \\(\\d+ countries, [\\d,]+ users\\)`),
    );
    expect(first.stderr).toMatch(/runs: 1 run from /);
    expect(first.stderr).toMatch(/kpis: loaded \d+ days: /);
    expect(first.stderr).toContain(`results store: ${db}`);
    withReader(db, (reader) => {
      const stored = reader.dates();
      expect(stored.charts).toEqual(dates);
      expect(stored.userCharts).toEqual(dates.slice(0, 2));
      expect(stored.kpis).toEqual(
        readdirSync(kpis)
          .map((n) => /^genre_kpis_(\d{8})\.csv$/.exec(n)?.[1])
          .filter((x): x is string => x !== undefined)
          .map((c) => isoDay(day(c)))
          .sort()
          .reverse(),
      );
      for (const date of dates) expectStoreEqualsFiles(reader, charts, date, dates.indexOf(date) < 2);
      const runs = reader.runs(10) as RunRecord[];
      expect(runs).toHaveLength(1);
      expect(runs[0]!.command).toBe('run');
      expect([...runs[0]!.charts].sort().reverse()).toEqual(dates);
    });
    const second = ok(['load', '--db', db, '--charts', charts, '--kpis', kpis]);
    expect(second.stderr).toContain(`charts: all 4 dates in ${charts} are already loaded`);
    expect(second.stderr).toMatch(/kpis: all \d+ days in .* are already loaded/);
    const quiet = ok(['load', '--db', db, '--charts', charts, '--quiet']);
    expect(quiet.stderr).toBe('');
  });

  it('empty folders: says there is nothing to load, not that every date is loaded', () => {
    const db = join(temp.make('playtally-scli-db-'), 'store.db');
    const emptyCharts = temp.make('playtally-scli-empty-charts-');
    const emptyKpis = temp.make('playtally-scli-empty-kpis-');
    const r = ok(['load', '--db', db, '--charts', emptyCharts, '--kpis', emptyKpis]);
    expect(r.stderr).toContain(`playtally: charts: no chart files in ${emptyCharts}: nothing to load`);
    expect(r.stderr).toContain(`playtally: kpis: no KPI files in ${emptyKpis}: nothing to load`);
    expect(r.stderr).not.toContain('already loaded');
  });

  it('usage errors exit 2; a missing folder or a malformed file exits 3 and loads nothing', () => {
    const db = join(temp.make('playtally-scli-db-'), 'store.db');
    const none = cli(['load', '--db', db]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('give --charts <dir>, --kpis <dir> or both');
    expect(existsSync(db)).toBe(false);
    const zero = cli(['load', '--db', db, '--charts', charts, '--user-chart-dates', '0']);
    expect(zero.status).toBe(2);
    const missing = cli(['load', '--db', db, '--charts', join(charts, 'nope')]);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain(`no such folder: ${join(charts, 'nope')}`);

    ok(['load', '--db', db, '--charts', charts, '--quiet']);
    const before = withReader(db, (r) => ({
      dates: r.dates(),
      us: r.countryChartOf(chartDatesIn(charts)[0]!, 'US'),
    }));
    const bad = temp.make('playtally-scli-bad-');
    const newest = chartDatesIn(charts)[0]!;
    const compact = compactDay(day(newest));
    for (const name of [
      `country_top50_${compact}.txt`,
      `user_top50_${compact}.txt`,
      `quality_${compact}.json`,
    ])
      copyFileSync(join(charts, name), join(bad, name));
    const country = join(bad, `country_top50_${compact}.txt`);
    const lines = readFileSync(country, 'utf8').split('\n');
    lines[1] = lines[1]!.replace(/:(\d+)$/, ':-$1');
    writeFileSync(country, lines.join('\n'));
    const r = cli(['load', '--db', db, '--charts', bad]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain(`playtally: error: ${country}:2: chart is not sng_id:plays`);
    const stored = () => withReader(db, (rd) => ({ dates: rd.dates(), us: rd.countryChartOf(newest, 'US') }));
    expect(stored()).toEqual(before);
    // A country twice is an input problem too (not an internal error from the primary key).
    const original = readFileSync(join(charts, `country_top50_${compact}.txt`), 'utf8').split('\n');
    writeFileSync(country, [original[0], ...original.slice(0)].join('\n'));
    const twice = cli(['load', '--db', db, '--charts', bad]);
    expect(twice.status, twice.stderr).toBe(3);
    expect(twice.stderr).toContain(`playtally: error: ${country}:2: country not after the previous line's`);
    expect(stored()).toEqual(before);
  });
});

describe('--db on top50, kpis and run', () => {
  it('top50 --db loads the chart it writes', () => {
    const f = runFolders(temp, 'playtally-scli-top50-', FIRST, 3, GEN);
    const db = join(temp.make('playtally-scli-db-'), 'store.db');
    const r = ok(['top50', '--logs', f.logs, '--out', f.out, '--db', db, '--window', '3']);
    const date = isoDay(FIRST + 2);
    expect(r.stderr).toContain(`playtally: results store ${db}: loaded ${date}`);
    withReader(db, (reader) => {
      expect(reader.dates().charts).toEqual([date]);
      expectStoreEqualsFiles(reader, f.out, date, true);
      expect(reader.logDays(isoDay(FIRST), date).map((d) => d.rows)).toEqual([GEN.rows, GEN.rows, GEN.rows]);
    });
    // An earlier date with --date: loaded too, the newest date kept.
    const again = ok([
      'top50',
      '--logs',
      f.logs,
      '--out',
      f.out,
      '--db',
      db,
      '--window',
      '3',
      '--date',
      isoDay(FIRST + 1),
    ]);
    expect(again.stderr).toContain(`loaded ${isoDay(FIRST + 1)}`);
    withReader(db, (reader) => expect(reader.dates().charts).toEqual([date, isoDay(FIRST + 1)]));
  });

  it('kpis --db loads the KPI days it writes', () => {
    const landing = temp.make('playtally-scli-kpi-landing-');
    generateKpiDataset({
      dir: landing,
      start: day('2024-06-01'),
      days: 2,
      streamsPerDay: 1_500,
      songs: 150,
      users: 200,
    });
    const out = temp.make('playtally-scli-kpi-out-');
    const db = join(temp.make('playtally-scli-db-'), 'store.db');
    const r = ok(['kpis', '--landing', landing, '--out', out, '--db', db, '--no-archive']);
    const days = readdirSync(out)
      .map((n) => /^genre_kpis_(\d{8})\.csv$/.exec(n)?.[1])
      .filter((x): x is string => x !== undefined)
      .map((c) => isoDay(day(c)))
      .sort();
    expect(days.length).toBeGreaterThanOrEqual(2);
    expect(r.stderr).toMatch(
      new RegExp(`results store ${db.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: loaded `),
    );
    withReader(db, (reader) => {
      expect([...reader.dates().kpis].sort()).toEqual(days);
      for (const date of days) {
        const csvRows = readFileSync(join(out, `genre_kpis_${compactDay(day(date))}.csv`), 'utf8')
          .split('\n')
          .slice(1, -1);
        expect(reader.kpiDay(date)?.genres).toHaveLength(csvRows.length);
      }
    });
  });

  it('run --db stores the charts as written and the run record', () => {
    const f = runFolders(temp, 'playtally-scli-run-', FIRST, 3, GEN);
    const db = join(temp.make('playtally-scli-db-'), 'store.db');
    const r = ok(['run', '--logs', f.logs, '--out', f.out, '--db', db, '--window', '2']);
    const stored = r.events.filter((e) => e.event === 'stored');
    expect(stored.length).toBeGreaterThan(0);
    const dates = chartDatesIn(f.out);
    expect(dates).toHaveLength(3);
    withReader(db, (reader) => {
      expect(reader.dates().charts).toEqual(dates);
      expect(reader.dates().userCharts).toEqual(dates);
      for (const date of dates) expectStoreEqualsFiles(reader, f.out, date, true);
      const runs = reader.runs(5) as RunRecord[];
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ command: 'run', ok: true, totals: { rows: 3 * GEN.rows } });
      expect([...runs[0]!.charts].sort().reverse()).toEqual(dates);
      // The record stored is the one appended to runs.jsonl.
      const history = readFileSync(join(f.state, 'runs.jsonl'), 'utf8').trim().split('\n');
      expect(runs[0]).toEqual(JSON.parse(history[0]!));
    });
    // A second run has nothing to write; its record is stored too.
    ok(['run', '--logs', f.logs, '--out', f.out, '--db', db, '--window', '2']);
    withReader(db, (reader) => {
      const runs = reader.runs(5) as RunRecord[];
      expect(runs).toHaveLength(2);
      expect(runs[0]!.charts).toEqual([]);
      expect(runs[0]!.chartsCurrent).toBe(3);
    });
  });

  it('run --db: a chart date damaged by hand is reported and left out of the store; the run goes on', () => {
    const f = runFolders(temp, 'playtally-scli-damaged-', FIRST, 3, GEN);
    ok(['run', '--logs', f.logs, '--out', f.out, '--window', '2', '--log-level', 'warn']);
    const dates = chartDatesIn(f.out);
    const damaged = dates[dates.length - 1]!;
    // A line the run does not check (its charts are current) but the store's loader does.
    const country = join(f.out, `country_top50_${compactDay(day(damaged))}.txt`);
    writeFileSync(country, `${readFileSync(country, 'utf8')}zz|1:1\n`);
    const db = join(temp.make('playtally-scli-db-'), 'store.db');
    const r = ok(['run', '--logs', f.logs, '--out', f.out, '--db', db, '--window', '2']);
    const skipped = r.events.filter((e) => e.event === 'store_skipped');
    expect(skipped).toHaveLength(1);
    expect(String(skipped[0]!.error)).toContain(`${country}:`);
    withReader(db, (reader) => {
      expect(reader.dates().charts).toEqual(dates.filter((d) => d !== damaged));
      expect((reader.runs(5) as RunRecord[])[0]).toMatchObject({ ok: true });
    });
  });
});
