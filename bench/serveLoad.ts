import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Random } from '../src/generate/random.js';
import { COUNTRY_CODES } from '../src/parse/countries.js';
import { args, CLI, median, ROOT, record } from './benchSupport.js';

/**
 * `npm run bench:serve`: the API under load. Fills a results store with one chart date of
 * `--users` users' charts (a synthetic user_top50 file of 1..50 songs per user, loaded with
 * `playtally load`; built once and reused), starts `playtally serve` as its own process, checks
 * sampled answers against the file, then runs autocannon in this process: `--connections`
 * connections for `--duration` seconds, each request a random user's chart, `--runs` times.
 * Reports latency percentiles, throughput, errors and the server's peak RSS.
 *
 *   npm run bench:serve -- [--users 2000000] [--connections 100] [--duration 30] [--runs 3] [--workers 1]
 *                          [--dir bench-data] [--record]
 */
const DATE = '2024-01-07';
const COMPACT = '20240107';

async function main(): Promise<void> {
  const options = args();
  const users = Number(options.get('users') ?? 2_000_000);
  const connections = Number(options.get('connections') ?? 100);
  const duration = Number(options.get('duration') ?? 30);
  const runs = Number(options.get('runs') ?? 3);
  const workers = Number(options.get('workers') ?? 1);
  const dir = resolve(options.get('dir') ?? join(ROOT, 'bench-data'), `serve-${users}`);
  const db = join(dir, 'store.db');

  const loadMs = await prepareStore(dir, db, users);
  const server = await startServe(db, workers);
  try {
    await checkAnswers(server.url, join(dir, 'charts', `user_top50_${COMPACT}.txt`), users);
    // Warm-up: JIT, SQLite page cache, keep-alive connections.
    await load(server.url, users, connections, 5);
    const results: autocannon.Result[] = [];
    for (let r = 0; r < runs; r++) {
      const result = await load(server.url, users, connections, duration);
      results.push(result);
      console.error(
        `bench: run ${r + 1}/${runs}: ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, ` +
          `p99 ${result.latency.p99} ms, max ${result.latency.max} ms, errors ${result.errors}, non-2xx ${result.non2xx}`,
      );
    }
    const peakRss = server.peakRssBytes();
    const report = [
      `Machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}.`,
      `Command: \`npm run bench:serve -- --users ${users} --connections ${connections} --duration ${duration} --runs ${runs} --workers ${workers}\``,
      `Store: ${users.toLocaleString('en-US')} user charts of one date (1 to 50 songs each), loaded by \`playtally load\` in ${(loadMs / 1000).toFixed(1)} s.`,
      '',
      '| run | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | timeouts | non-2xx |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r, i) =>
          `| ${i + 1} | ${r.requests.total.toLocaleString('en-US')} | ${Math.round(r.requests.average).toLocaleString('en-US')} | ` +
          `${r.latency.p50} | ${r.latency.p90} | ${r.latency.p99} | ${r.latency.max} | ${r.errors} | ${r.timeouts} | ${r.non2xx} |`,
      ),
      '',
      `Median p99: **${median(results.map((r) => r.latency.p99))} ms**; median throughput ` +
        `${Math.round(median(results.map((r) => r.requests.average))).toLocaleString('en-US')} req/s; ` +
        `server peak RSS ${Math.round(peakRss / 2 ** 20)} MB. Every request was a GET of ` +
        '`/api/charts/user/:id` for a random stored user (a 200 with the chart); the load tool ran in ' +
        'the benchmark process on the same machine, the server in its own.',
    ].join('\n');
    process.stdout.write(`${report}\n`);
    if (options.has('record')) record('serve', report);
    const failed = results.some((r) => r.errors > 0 || r.non2xx > 0 || r.timeouts > 0);
    if (failed) process.exitCode = 1;
  } finally {
    await server.stop();
  }
}

/** The store, built once per user count; returns how long `playtally load` took (0 when reused). */
async function prepareStore(dir: string, db: string, users: number): Promise<number> {
  const marker = join(dir, 'ready');
  if (existsSync(marker)) {
    console.error(`bench: reusing ${db}`);
    return Number(readFileSync(marker, 'utf8'));
  }
  rmSync(dir, { recursive: true, force: true });
  const charts = join(dir, 'charts');
  mkdirSync(charts, { recursive: true });
  console.error(`bench: writing ${users.toLocaleString('en-US')} user charts`);
  await writeUserCharts(join(charts, `user_top50_${COMPACT}.txt`), users);
  const countries = COUNTRY_CODES.slice(0, 50).map((cc, i) => `${cc}|${1000 + i}:${500 - i}`);
  writeFileSync(join(charts, `country_top50_${COMPACT}.txt`), `${countries.join('\n')}\n`);
  writeFileSync(join(charts, `quality_${COMPACT}.json`), JSON.stringify(emptyQuality()));
  console.error('bench: playtally load');
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [CLI, 'load', '--db', db, '--charts', charts, '--user-chart-dates', '1'],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`playtally load exited with ${code}`);
  const loadMs = Date.now() - started;
  writeFileSync(marker, String(loadMs));
  return loadMs;
}

async function writeUserCharts(path: string, users: number): Promise<void> {
  const random = new Random(7);
  const out = createWriteStream(path);
  let batch: string[] = [];
  for (let user = 1; user <= users; user++) {
    const songs = 1 + random.below(50);
    let plays = 1 + songs + random.below(200);
    const entries: string[] = [];
    for (let s = 0; s < songs; s++) {
      entries.push(`${1 + random.below(80_000_000)}:${plays}`);
      plays = Math.max(1, plays - 1 - random.below(3));
    }
    batch.push(`${user}|${entries.join(',')}`);
    if (batch.length === 10_000) {
      if (!out.write(`${batch.join('\n')}\n`)) await once(out, 'drain');
      batch = [];
    }
  }
  if (batch.length > 0) out.write(`${batch.join('\n')}\n`);
  out.end();
  await once(out, 'finish');
}

function emptyQuality(): unknown {
  const reasons = {};
  return {
    date: DATE,
    window: { from: '2024-01-01', to: DATE, days: 7, present: [], missing: [] },
    day: null,
    days: [],
    totals: { rows: 0, valid: 0, rejected: 0, rejectedByReason: reasons },
    generatedAt: new Date().toISOString(),
  };
}

interface Serve {
  url: string;
  peakRssBytes(): number;
  stop(): Promise<void>;
}

async function startServe(db: string, workers: number): Promise<Serve> {
  const args = [CLI, 'serve', '--db', db, '--port', '0', '--workers', String(workers)];
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.once('exit', (code) => reject(new Error(`playtally serve exited with ${code}`)));
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { event?: string; url?: string };
      if (event.event === 'listening' && event.url) resolveUrl(event.url);
    });
  });
  return {
    url,
    // The serve process and, with --workers, each worker: the sum of their peaks.
    peakRssBytes: () => [child.pid!, ...childrenOf(child.pid!)].reduce((sum, pid) => sum + peakRssOf(pid), 0),
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function peakRssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // a process that ended while listed
    }
  }
  return children;
}

/** Sampled answers equal the chart file's lines: the load is measured on correct answers. */
async function checkAnswers(url: string, file: string, users: number): Promise<void> {
  const wanted = new Map<number, string>();
  const random = new Random(11);
  for (let i = 0; i < 200; i++) wanted.set(1 + random.below(users), '');
  const lines = createInterface({ input: createReadStream(file) });
  for await (const line of lines) {
    const id = Number(line.slice(0, line.indexOf('|')));
    if (wanted.has(id)) wanted.set(id, line.slice(line.indexOf('|') + 1));
  }
  for (const [id, chart] of wanted) {
    const response = await fetch(`${url}/api/charts/user/${id}`);
    const body = (await response.json()) as { songs: { song: number; plays: number }[] };
    const got = body.songs.map((s) => `${s.song}:${s.plays}`).join(',');
    if (got !== chart) throw new Error(`user ${id}: the API answered ${got}, the file holds ${chart}`);
  }
  console.error(`bench: ${wanted.size} sampled answers equal the chart file`);
}

function load(url: string, users: number, connections: number, duration: number): Promise<autocannon.Result> {
  const random = new Random(Date.now());
  return autocannon({
    url,
    connections,
    duration,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({ ...request, path: `/api/charts/user/${1 + random.below(users)}` }),
      },
    ],
  });
}

await main();
