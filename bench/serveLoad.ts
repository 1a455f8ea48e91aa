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
 * `playtally load`; built once and reused), starts `playtally serve --workers N` as its own
 * process, checks sampled answers against the file, then holds `--connections` connections for
 * `--duration` seconds, each request a random user's chart, `--runs` times with each load tool:
 * wrk (Debian's, C; when installed) and autocannon (npm; Node.js, in this process), interleaved.
 * Reports latency percentiles, throughput, errors and the server's peak RSS.
 *
 *   npm run bench:serve -- [--users 2000000] [--connections 100] [--duration 30] [--runs 3] [--workers 2]
 *                          [--tools wrk,autocannon] [--dir bench-data] [--record]
 */
const DATE = '2024-01-07';
const COMPACT = '20240107';
const WRK = '/usr/bin/wrk';

/** One load run, whatever the tool. Latencies in ms. */
interface LoadResult {
  tool: string;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

async function main(): Promise<void> {
  const options = args({
    usage: 'npm run bench:serve -- [options]   (or node dist/bench/serveLoad.js [options])',
    about: "The API under load: random users' charts from `playtally serve`, latency and throughput.",
    options: {
      users: { value: 'N', help: 'users in the chart file served (default 2000000)' },
      connections: { value: 'N', help: 'connections held open (default 100)' },
      duration: { value: 'S', help: 'seconds of each load run (default 30)' },
      runs: { value: 'R', help: 'runs with each load tool (default 3)' },
      workers: { value: 'N', help: 'playtally serve --workers (default 2)' },
      tools: {
        value: 'LIST',
        help: 'load tools, comma-separated (default wrk,autocannon; autocannon without wrk)',
      },
      dir: { value: 'DIR', help: 'where the store is built once and reused (default bench-data)' },
      record: { help: 'write the table into the bench:serve block of docs/BENCHMARKS.md' },
    },
  });
  const users = Number(options.get('users') ?? 2_000_000);
  const connections = Number(options.get('connections') ?? 100);
  const duration = Number(options.get('duration') ?? 30);
  const runs = Number(options.get('runs') ?? 3);
  const workers = Number(options.get('workers') ?? 2);
  const tools = (options.get('tools') ?? (existsSync(WRK) ? 'wrk,autocannon' : 'autocannon')).split(',');
  for (const tool of tools) {
    if (tool !== 'wrk' && tool !== 'autocannon') throw new Error(`unknown load tool ${tool}`);
    if (tool === 'wrk' && !existsSync(WRK)) throw new Error(`${WRK} is missing: apt-get install -y wrk`);
  }
  const dir = resolve(options.get('dir') ?? join(ROOT, 'bench-data'), `serve-${users}`);
  const db = join(dir, 'store.db');

  const loadMs = await prepareStore(dir, db, users);
  const server = await startServe(db, workers);
  try {
    await checkAnswers(server.url, join(dir, 'charts', `user_top50_${COMPACT}.txt`), users);
    // Warm-up: JIT, SQLite pages, keep-alive connections.
    await load(tools[0]!, server.url, users, connections, 5, dir);
    const results: LoadResult[] = [];
    for (let r = 0; r < runs; r++) {
      for (const tool of tools) {
        const result = await load(tool, server.url, users, connections, duration, dir);
        results.push(result);
        console.error(
          `bench: ${tool} run ${r + 1}/${runs}: ${Math.round(result.rps)} req/s, p50 ${result.p50} ms, ` +
            `p99 ${result.p99} ms, max ${result.max} ms, errors ${result.errors}, non-2xx ${result.non2xx}`,
        );
      }
    }
    const peakRss = server.peakRssBytes();
    const n = (x: number): string => Math.round(x).toLocaleString('en-US');
    const report = [
      `Machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}.`,
      `Command: \`npm run bench:serve -- --users ${users} --connections ${connections} --duration ${duration} --runs ${runs} --workers ${workers}\``,
      `Store: ${users.toLocaleString('en-US')} user charts of one date (1 to 50 songs each), loaded by \`playtally load\` in ${(loadMs / 1000).toFixed(1)} s.`,
      '',
      '| tool | run | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | timeouts | non-2xx |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r, i) =>
          `| ${r.tool} | ${Math.floor(i / tools.length) + 1} | ${n(r.requests)} | ${n(r.rps)} | ${r.p50} | ${r.p90} | ` +
          `${r.p99} | ${r.max} | ${r.errors} | ${r.timeouts} | ${r.non2xx} |`,
      ),
      '',
      ...tools.map((tool) => {
        const mine = results.filter((r) => r.tool === tool);
        return (
          `- ${tool}: median p99 **${median(mine.map((r) => r.p99))} ms**, median throughput ` +
          `${n(median(mine.map((r) => r.rps)))} req/s.`
        );
      }),
      '',
      `Server peak RSS ${n(peakRss / 2 ** 20)} MB over its ${workers} process(es), the memory-mapped store pages ` +
        'included. Every request was a GET of `/api/charts/user/:id` for a random stored user (a 200 with ' +
        'the chart); the load tools ran on the same 2 cores as the server.',
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

function load(
  tool: string,
  url: string,
  users: number,
  connections: number,
  duration: number,
  dir: string,
): Promise<LoadResult> {
  return tool === 'wrk'
    ? wrk(url, users, connections, duration, dir)
    : autocannonLoad(url, users, connections, duration);
}

async function autocannonLoad(
  url: string,
  users: number,
  connections: number,
  duration: number,
): Promise<LoadResult> {
  const random = new Random(Date.now());
  const r = await autocannon({
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
  return {
    tool: 'autocannon',
    requests: r.requests.total,
    rps: r.requests.average,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
  };
}

/** wrk with one thread (the other core is the server's) and a Lua script that asks for random users. */
async function wrk(
  url: string,
  users: number,
  connections: number,
  duration: number,
  dir: string,
): Promise<LoadResult> {
  const script = join(dir, 'users.lua');
  writeFileSync(
    script,
    `math.randomseed(${Date.now() % 1_000_000})\nrequest = function()\n` +
      `  return wrk.format("GET", "/api/charts/user/" .. math.random(1, ${users}))\nend\n`,
  );
  const child = spawn(WRK, ['-t1', `-c${connections}`, `-d${duration}s`, '--latency', '-s', script, url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${out}`);
  const ms = (text: string | undefined): number => {
    const m = /([\d.]+)(us|ms|s)/.exec(text ?? '');
    if (!m) throw new Error(`wrk: cannot read a latency in ${JSON.stringify(text)}:\n${out}`);
    const value = Number(m[1]);
    return Number((m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value).toFixed(2));
  };
  const percentile = (p: string): number => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1]);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    tool: 'wrk',
    requests: Number(/(\d+) requests in/.exec(out)?.[1]),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50: percentile('50'),
    p90: percentile('90'),
    p99: percentile('99'),
    max: ms(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1]),
    errors: socket ? Number(socket[1]) + Number(socket[2]) + Number(socket[3]) : 0,
    timeouts: socket ? Number(socket[4]) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

await main();
