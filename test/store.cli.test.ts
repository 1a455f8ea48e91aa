import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../src/formats/runHistory.js';
import { generateKpiDataset } from '../src/generate/kpiDataset.js';
import { compactDay, isoDay } from '../src/ops/dates.js';
import { SCHEMA_VERSION } from '../src/store/migrations.js';
import { ResultsReader } from '../src/store/resultsReader.js';
import {
  Children,
  type CliChild,
  cli,
  parseEvents,
  requireBuiltCli,
  runFolders,
  spawnCli,
} from './support/cliRuns.js';
import { day, TempDirs } from './support/tempDirs.js';

/**
 * Contract of the store's commands through the built CLI: `load` loads output folders (again and
 * again, only what changed; exit 2 without a folder, 3 on a malformed file), `--db` on top50,
 * kpis and run loads what they write (and the run), and `serve` listens, answers, logs where and
 * stops with exit 0 on SIGTERM, refuses an open address without a token (2) and a missing store
 * (4), and with --watch serves the charts of the logs it processes.
 */

const temp = new TempDirs();
const children = new Children();
afterEach(async () => {
  await children.stopAll();
});
afterAll(() => temp.cleanup());
beforeAll(requireBuiltCli);

const FIRST = day('2024-03-01');
const GEN = { rows: 3_000, users: 200, songs: 300, seed: 3 };

/** Run the CLI and expect exit 0 (with its output on failure). */
function ok(args: string[]) {
  const r = cli(args);
  expect(r.status, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

function chartDatesIn(dir: string): string[] {
  return readdirSync(dir)
    .map((n) => /^country_top50_(\d{8})\.txt$/.exec(n)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((c) => isoDay(day(c)))
    .sort()
    .reverse();
}

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
    expect(first.stderr).toContain(`charts: loaded 4 date(s): ${dates[0]} (`);
    expect(first.stderr).toMatch(/runs: 1 run\(s\) from /);
    expect(first.stderr).toMatch(/kpis: loaded \d+ day\(s\): /);
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
    expect(second.stderr).toContain('charts: every date already loaded');
    expect(second.stderr).toContain('kpis: every day already loaded');
    const quiet = ok(['load', '--db', db, '--charts', charts, '--quiet']);
    expect(quiet.stderr).toBe('');
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

/** Resolves with the first JSON log line of `child` that `match` accepts; rejects if it exits first. */
function waitForEvent(
  child: CliChild,
  match: (e: Record<string, unknown>) => boolean,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(
      () => done(new Error(`timed out; stdout:\n${stdout}\nstderr:\n${stderr}`)),
      timeoutMs,
    );
    const onOut = (s: Buffer) => {
      stdout += s.toString('utf8');
      const found = parseEvents(stdout.slice(0, stdout.lastIndexOf('\n') + 1)).find(match);
      if (found) done(undefined, found);
    };
    const onErr = (s: Buffer) => (stderr += s.toString('utf8'));
    const onClose = (code: number | null) =>
      done(new Error(`exited (${code}) first; stdout:\n${stdout}\nstderr:\n${stderr}`));
    const done = (error?: Error, event?: Record<string, unknown>) => {
      clearTimeout(timer);
      child.stdout.off('data', onOut);
      child.stderr.off('data', onErr);
      child.off('close', onClose);
      if (error) reject(error);
      else resolve(event!);
    };
    child.stdout.on('data', onOut);
    child.stderr.on('data', onErr);
    child.on('close', onClose);
  });
}

function exitOf(child: CliChild): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('serve', () => {
  let db = '';
  let charts = '';
  beforeAll(() => {
    const f = runFolders(temp, 'playtally-scli-serve-', FIRST, 2, GEN);
    charts = f.out;
    db = join(temp.make('playtally-scli-db-'), 'store.db');
    ok(['top50', '--logs', f.logs, '--out', f.out, '--db', db, '--quiet']);
  });

  it('listens on --port 0, logs the URL, answers, and exits 0 on SIGTERM', async () => {
    const child = spawnCli(['serve', '--db', db, '--port', '0'], { children });
    const listening = await waitForEvent(child, (e) => e.event === 'listening');
    const url = listening.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listening.db).toBe(db);
    expect(await getJson(`${url}/healthz`)).toEqual({
      status: 200,
      body: { ok: true, schemaVersion: SCHEMA_VERSION },
    });
    const date = chartDatesIn(charts)[0]!;
    const dates = await getJson(`${url}/api/dates`);
    expect(dates.body.charts).toEqual([date]);
    const line = readFileSync(join(charts, `country_top50_${compactDay(day(date))}.txt`), 'utf8').split(
      '\n',
    )[0]!;
    const chart = await getJson(`${url}/api/charts/country/${line.slice(0, 2).toLowerCase()}`);
    expect(chart.status).toBe(200);
    expect(
      (chart.body.songs as { song: number; plays: number }[]).map((s) => `${s.song}:${s.plays}`).join(','),
    ).toBe(line.slice(3));
    const stopped = waitForEvent(child, (e) => e.event === 'stopped');
    child.kill('SIGTERM');
    await stopped;
    expect(await exitOf(child)).toBe(0);
  });

  it('--workers 2: two processes answer on one port, and both stop on SIGTERM', async () => {
    const child = spawnCli(['serve', '--db', db, '--port', '0', '--workers', '2'], { children });
    const listening = await waitForEvent(child, (e) => e.event === 'listening');
    const url = listening.url as string;
    const date = chartDatesIn(charts)[0]!;
    const users = readFileSync(join(charts, `user_top50_${compactDay(day(date))}.txt`), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .slice(0, 20);
    // Answers over fresh connections, which the cluster hands out to its workers in turn.
    for (const line of users) {
      const id = line.slice(0, line.indexOf('|'));
      const r = await fetch(`${url}/api/charts/user/${id}`, { headers: { connection: 'close' } });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { songs: { song: number; plays: number }[] };
      expect(body.songs.map((s) => `${s.song}:${s.plays}`).join(',')).toBe(line.slice(line.indexOf('|') + 1));
    }
    const workers = readdirSync('/proc').filter((p) => {
      if (!/^\d+$/.test(p)) return false;
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === child.pid;
      } catch {
        return false;
      }
    });
    expect(workers).toHaveLength(2);
    const stopped = waitForEvent(child, (e) => e.event === 'stopped');
    child.kill('SIGTERM');
    await stopped;
    expect(await exitOf(child)).toBe(0);
    for (const pid of workers) expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('a port in use is a usage error (exit 2) naming the address, with one process or several', async () => {
    const first = spawnCli(['serve', '--db', db, '--port', '0'], { children });
    const url = (await waitForEvent(first, (e) => e.event === 'listening')).url as string;
    const port = url.slice(url.lastIndexOf(':') + 1);
    for (const workers of ['1', '2']) {
      const r = cli(['serve', '--db', db, '--port', port, '--workers', workers]);
      expect(r.status, `--workers ${workers}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
      // Every worker fails; the ones stopped after the first must not crash the command.
      expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
    }
    first.kill('SIGTERM');
    expect(await exitOf(first)).toBe(0);
  });

  it('a non-loopback --host needs --token (exit 2); with it, /api needs the bearer', async () => {
    const refused = cli(['serve', '--db', db, '--host', '0.0.0.0', '--port', '0']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--host 0\.0\.0\.0 is not a loopback address: give --token/);

    const child = spawnCli(['serve', '--db', db, '--host', '0.0.0.0', '--port', '0', '--token', 'tok-123'], {
      children,
    });
    const listening = await waitForEvent(child, (e) => e.event === 'listening');
    const port = /:(\d+)$/.exec(listening.url as string)![1];
    const base = `http://127.0.0.1:${port}`;
    expect((await getJson(`${base}/api/dates`)).status).toBe(401);
    expect((await getJson(`${base}/api/dates`, { authorization: 'Bearer tok-123' })).status).toBe(200);
    expect((await getJson(`${base}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });

  it('a missing store exits 4 with a clear message and creates nothing', () => {
    const missing = join(temp.make('playtally-scli-nodb-'), 'missing.db');
    const r = cli(['serve', '--db', missing, '--port', '0']);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(`playtally: error: no results store at ${missing}`);
    expect(r.stderr).toContain('playtally load --db');
    expect(existsSync(missing)).toBe(false);

    // An SQLite file that is not a migrated store: exit 4 with the command that migrates it.
    const old = join(temp.make('playtally-scli-olddb-'), 'old.db');
    const raw = new Database(old);
    raw.exec('CREATE TABLE t (a INTEGER)');
    raw.close();
    const unmigrated = cli(['serve', '--db', old, '--port', '0']);
    expect(unmigrated.status).toBe(4);
    expect(unmigrated.stderr).toContain(`has schema version 0; run \`playtally load --db ${old}\``);
  });

  it('a store from a newer playtally: load and serve exit 4', () => {
    const newer = join(temp.make('playtally-scli-newdb-'), 'newer.db');
    ok(['load', '--db', newer, '--charts', charts, '--quiet']);
    const raw = new Database(newer);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    for (const args of [
      ['load', '--db', newer, '--charts', charts],
      ['serve', '--db', newer, '--port', '0'],
    ]) {
      const r = cli(args);
      expect(r.status, args[0]).toBe(4);
      expect(r.stderr).toContain(`schema version ${SCHEMA_VERSION + 1}, newer than this playtally knows`);
    }
  });

  it('--watch processes the landing folder and serves the charts it writes', async () => {
    const logs = temp.make('playtally-scli-watch-logs-');
    const out = temp.make('playtally-scli-watch-out-');
    mkdirSync(out, { recursive: true });
    const f = runFolders(temp, 'playtally-scli-watch-src-', FIRST, 2, GEN);
    const db = join(temp.make('playtally-scli-db-'), 'watch.db');
    const child = spawnCli(
      [
        'serve',
        '--watch',
        '--logs',
        logs,
        '--out',
        out,
        '--db',
        db,
        '--port',
        '0',
        '--poll-interval',
        '200ms',
        '--settle',
        '0s',
        '--window',
        '2',
      ],
      { children },
    );
    const listening = await waitForEvent(child, (e) => e.event === 'listening');
    const url = listening.url as string;
    expect((await getJson(`${url}/api/dates`)).body.charts).toEqual([]);
    // Logs land after the server is up.
    for (const name of readdirSync(f.logs)) copyFileSync(join(f.logs, name), join(logs, name));
    const expected = [isoDay(FIRST + 1), isoDay(FIRST)];
    const deadline = Date.now() + 30_000;
    let charts: unknown = [];
    while (Date.now() < deadline) {
      charts = (await getJson(`${url}/api/dates`)).body.charts;
      if (JSON.stringify(charts) === JSON.stringify(expected)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(charts).toEqual(expected);
    const compact = compactDay(FIRST + 1);
    const line = readFileSync(join(out, `country_top50_${compact}.txt`), 'utf8').split('\n')[0]!;
    const chart = await getJson(`${url}/api/charts/country/${line.slice(0, 2)}`);
    expect(
      (chart.body.songs as { song: number; plays: number }[]).map((s) => `${s.song}:${s.plays}`).join(','),
    ).toBe(line.slice(3));
    const userLine = readFileSync(join(out, `user_top50_${compact}.txt`), 'utf8').split('\n')[0]!;
    const user = await getJson(`${url}/api/charts/user/${userLine.slice(0, userLine.indexOf('|'))}`);
    expect(user.status).toBe(200);
    expect(
      (user.body.songs as { song: number; plays: number }[]).map((s) => `${s.song}:${s.plays}`).join(','),
    ).toBe(userLine.slice(userLine.indexOf('|') + 1));
    // The watch step's run is in the store.
    const runs = (await getJson(`${url}/api/runs`)).body.runs as RunRecord[];
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.flatMap((r) => r.charts).sort()).toEqual([...expected].sort());
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });
});
