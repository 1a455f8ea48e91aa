import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKpiDataset, type KpiDatasetSummary } from '../../src/generate/kpiDataset.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { parseDay } from '../../src/ops/dates.js';
import { ResultsReader } from '../../src/store/resultsReader.js';
import { cli, ROOT, requireBuiltCli } from '../support/cliRuns.js';
import { day, digests, TempDirs } from '../support/tempDirs.js';

/**
 * `generate`, `generate kpi-dataset` and `demo` through the compiled CLI: the files asked for, the
 * bytes of the generators run in-process with the same options, and their usage errors. Needs
 * `npm run build` first.
 */

const temp = new TempDirs();
let tmp: string;
beforeAll(() => {
  requireBuiltCli();
  tmp = temp.make('playtally-cli-');
});
afterAll(() => temp.cleanup());

function newlines(path: string): number {
  let n = 0;
  for (const b of readFileSync(path)) if (b === 10) n++;
  return n;
}

describe('generate and demo', () => {
  it('generate writes the requested files with the requested rows', () => {
    const dir = join(tmp, 'gen');
    const r = cli([
      'generate',
      '--out',
      dir,
      '--days',
      '3',
      '--rows',
      '12345',
      '--start',
      '2024-02-28',
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const names = ['listen-20240228.log', 'listen-20240229.log', 'listen-20240301.log'];
    expect(readdirSync(dir).sort()).toEqual(names);
    for (const name of names) expect(newlines(join(dir, name)), name).toBe(12345);
    const summary = JSON.parse(r.stdout);
    expect(summary.files.map((f: string) => resolve(ROOT, f))).toEqual(names.map((n) => join(dir, n)));
    expect(summary).toMatchObject({ days: 3, rowsPerDay: 12345, seed: 1 });
    expect(r.stderr).toMatch(/^playtally: generated 3 days from 2024-02-28, 12,345 rows each/m);
  });

  it('generate is deterministic and accepts --start in both forms', () => {
    const a = join(tmp, 'gen-a');
    const b = join(tmp, 'gen-b');
    expect(
      cli(['generate', '--out', a, '--days', '1', '--rows', '5000', '--start', '20240228', '-q']).status,
    ).toBe(0);
    const rb = cli([
      'generate',
      '--out',
      b,
      '--days',
      '1',
      '--rows',
      '5000',
      '--start',
      '2024-02-28',
      '--quiet',
    ]);
    expect(rb.status).toBe(0);
    expect(rb.stderr).toBe('');
    const fileA = readFileSync(join(a, 'listen-20240228.log'));
    expect(fileA.equals(readFileSync(join(b, 'listen-20240228.log')))).toBe(true);
    // The same bytes as the generator in-process with the same options.
    const c = join(tmp, 'gen-c');
    generateLogs({ dir: c, start: parseDay('2024-02-28')!, days: 1, rows: 5000 });
    expect(fileA.equals(readFileSync(join(c, 'listen-20240228.log')))).toBe(true);
  });

  it('demo --rows 20000 exits 0, prints the chart paths, and its KPI days are the week of its charts', () => {
    const dir = join(tmp, 'demo');
    const r = cli(['demo', '--dir', dir, '--rows', '20000'], { cwd: tmp });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'logs'))).toHaveLength(7);
    for (const file of ['country_top50_20240107.txt', 'user_top50_20240107.txt', 'quality_20240107.json']) {
      const printed = r.stdout.match(new RegExp(`(\\S*${file.replace('.', '\\.')})`));
      expect(printed, file).not.toBeNull();
      // Printed relative to the working folder; it names the real file.
      const path = resolve(tmp, printed![1]!);
      expect(path).toBe(join(dir, 'out', file));
      expect(statSync(path).size).toBeGreaterThan(0);
    }
    expect(r.stderr).toMatch(/^playtally: 2024-01-07: window 2024-01-01\.\.2024-01-07/m);
    expect(r.stderr).toContain('140,000 rows');
    expect(r.stderr).toMatch(/, 7 days \(7 parsed, 0 reused\); 140,000 rows,/);
    // The KPI part: drops for the same 7 days (3 files a day), KPIs written for them and no other
    // day (it once wrote 2023-12-31 .. 2024-01-03: the dashboard's default date had no KPIs).
    const week = ['20240101', '20240102', '20240103', '20240104', '20240105', '20240106', '20240107'];
    expect(readdirSync(join(dir, 'kpi-landing', 'streams'))).toHaveLength(21);
    expect(readdirSync(join(dir, 'kpi-out')).filter((f) => f.startsWith('genre_kpis_'))).toEqual(
      week.map((d) => `genre_kpis_${d}.csv`),
    );
    expect(r.stderr).toMatch(
      /^playtally: 7 days of genre KPIs written \([\d,]+ streams counted\); 21 streams files parsed;/m,
    );
    // Shown: the newest day's, the date the dashboard opens on.
    for (const file of ['top_genres_20240107.csv', 'genre_kpis_20240107.csv']) {
      expect(r.stdout, file).toContain(file);
      expect(statSync(join(dir, 'kpi-out', file)).size).toBeGreaterThan(0);
    }
    expect(r.stdout).toContain('date,rank,genre,listen_count');
    // The store the dashboard reads: charts and KPIs of the same 7 dates, the newest (its default) included.
    const reader = ResultsReader.open(join(dir, 'playtally.db'));
    try {
      const dates = reader.dates();
      const iso = week.map((d) => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`).reverse();
      expect(dates.charts).toEqual(iso);
      expect(dates.kpis).toEqual(dates.charts);
    } finally {
      reader.close();
    }
  });
});

describe('playtally generate kpi-dataset', () => {
  it('writes the same files as generateKpiDataset with the same options, and a JSON summary', () => {
    const out = join(temp.make('playtally-kpi-cli-'), 'landing');
    const args = ['--out', out, '--start', '2024-03-05', '--days', '2', '--streams', '4000', '--files', '2'];
    const more = ['--songs', '300', '--users', '800', '--dirt-rate', '0.05', '--seed', '9', '--bad'];
    const r = cli(['generate', 'kpi-dataset', ...args, ...more, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout) as KpiDatasetSummary;
    expect(printed).toMatchObject({ start: '2024-03-05', days: 2, seed: 9 });
    expect(printed.songs.tracks).toBe(300);
    expect(printed.users.rows).toBe(800);
    expect(printed.streams.rows).toBe(8_000);
    expect(printed.files.bad).toHaveLength(2);
    expect(r.stderr).toMatch(/^ {2}wrote .*tracks\.csv$/m);
    expect(r.stderr).toMatch(
      /^playtally: generated a KPI landing folder in .*, 8,000 stream rows over 2 day/m,
    );
    const inProcess = temp.make('playtally-kpi-cli-');
    generateKpiDataset({
      dir: inProcess,
      start: day('2024-03-05'),
      days: 2,
      streamsPerDay: 4000,
      filesPerDay: 2,
      songs: 300,
      users: 800,
      dirtRate: 0.05,
      seed: 9,
      bad: true,
    });
    expect(digests(out)).toEqual(digests(inProcess));
    const quiet = cli([
      'generate',
      'kpi-dataset',
      '--out',
      join(out, 'q'),
      '--streams',
      '100',
      '--songs',
      '200',
      '-q',
    ]);
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(readdirSync(join(out, 'q')).sort()).toEqual(['songs', 'streams', 'users']);
  });

  it.each([
    ['--dirt-rate', '2'],
    ['--files', '0'],
    ['--files', '100'],
    ['--songs', '100'],
    ['--streams', '-5'],
    ['--start', '2024-02-30'],
    ['--bogus', 'x'],
  ])('exits 2 on %s %s', (flag, value) => {
    const out = join(temp.make('playtally-kpi-cli-'), 'landing');
    const r = cli(['generate', 'kpi-dataset', '--out', out, flag, value]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error/);
    expect(readdirSync(join(out, '..'))).toEqual([]);
  });

  it('exits 2 without --out; help for generate lists the subcommand, and its own help exits 0', () => {
    const missing = cli(['generate', 'kpi-dataset']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/required option '--out <dir>' not specified/);
    const help = cli(['generate', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^ {2}kpi-dataset \[options\]/m);
    expect(help.stdout).toMatch(/--rows <n>/);
    const own = cli(['generate', 'kpi-dataset', '--help']);
    expect(own.status).toBe(0);
    for (const flag of [
      '--out',
      '--start',
      '--days',
      '--streams',
      '--files',
      '--songs',
      '--users',
      '--dirt-rate',
    ]) {
      expect(own.stdout).toContain(flag);
    }
    expect(own.stdout).toMatch(/--seed <n>[\s\S]*--bad[\s\S]*--json[\s\S]*--quiet/);
  });

  it('leaves `generate --out DIR` writing listen logs as before', () => {
    const out = temp.make('playtally-kpi-cli-');
    const r = cli(['generate', '--out', out, '--days', '2', '--rows', '1000', '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['listen-20240101.log', 'listen-20240102.log']);
  });
});
