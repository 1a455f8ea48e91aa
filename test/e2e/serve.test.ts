import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/formats/runHistory.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import { chartDatesIn } from '../support/chartFiles.js';
import {
  Children,
  type CliChild,
  cli,
  cliOk as ok,
  parseEvents,
  requireBuiltCli,
  runFolders,
  spawnCli,
} from '../support/cliRuns.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * `serve` through the built CLI: it listens, answers, logs where and stops with exit 0 on SIGTERM
 * (with one process or several), refuses a port in use (4, one sentence saying what to do), an open
 * address without a token (2), a missing store (3), an unmigrated or newer one (4), and with --watch
 * serves the charts of the logs it processes. The store filled by `load` and `--db`: test/e2e/load.test.ts.
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

  it('a port in use is exit 4, one sentence naming the address and --port, with one process or several', async () => {
    const first = spawnCli(['serve', '--db', db, '--port', '0'], { children });
    const url = (await waitForEvent(first, (e) => e.event === 'listening')).url as string;
    const port = url.slice(url.lastIndexOf(':') + 1);
    for (const workers of ['1', '2']) {
      const r = cli(['serve', '--db', db, '--port', port, '--workers', workers]);
      // Not a usage error (the command line may be right), nor bad input: a place it cannot use.
      expect(r.status, `--workers ${workers}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toBe(
        `playtally: error: cannot listen on 127.0.0.1:${port}: another process is listening on port ${port}; ` +
          'stop it, or give another --port (--port 0 takes any free one)\n',
      );
      // No system code, no usage hint; every worker fails, and the ones stopped after the first
      // must not crash the command.
      expect(r.stderr).not.toMatch(/EADDRINUSE|--help|EPIPE|Unhandled/);
    }
    // Its system code is for --log-level debug.
    const debug = cli(['serve', '--db', db, '--port', port, '--log-level', 'debug']);
    expect(debug.status).toBe(4);
    expect(debug.stderr).toMatch(/^debug: Error: listen EADDRINUSE/m);
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

  it('a missing store exits 3 (input) with a clear message and creates nothing; an unusable one 4', () => {
    const missing = join(temp.make('playtally-scli-nodb-'), 'missing.db');
    const r = cli(['serve', '--db', missing, '--port', '0']);
    expect(r.status).toBe(3);
    expect(r.stderr).not.toContain('--help');
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

    // A folder given as the store: a place it cannot open, exit 4, saying so.
    const folder = temp.make('playtally-scli-dirdb-');
    const dirDb = cli(['serve', '--db', folder, '--port', '0']);
    expect(dirDb.status).toBe(4);
    expect(dirDb.stderr).toContain(
      `playtally: error: cannot open the results store ${folder}: it is a folder`,
    );
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
    // The watch step's run is in the store. Its record follows the charts it loaded (a first pass,
    // while the logs were still being copied, may record a run with no charts first): poll.
    let runs: RunRecord[] = [];
    while (Date.now() < deadline) {
      runs = (await getJson(`${url}/api/runs`)).body.runs as RunRecord[];
      if (runs.flatMap((r) => r.charts).length >= expected.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.flatMap((r) => r.charts).sort()).toEqual([...expected].sort());
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });
});
