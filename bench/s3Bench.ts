import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parseDay } from '../src/ops/dates.js';
import { args, CLI, median, record, run, top50Argv } from './benchSupport.js';
import { startS3rver } from './s3rverProcess.js';

/**
 * Inputs on S3 against the same inputs on local disk (issue 7): does streaming from S3 keep the
 * speed and memory bounds? s3rver (an S3 implementation, on loopback, on this same machine)
 * serves the objects; the local and S3 runs alternate, R rounds, each a child process measuring
 * its own CPU time and peak RSS, and their output files are compared byte for byte. s3rver's own
 * CPU time is read from /proc for the S3 runs: on a 2-core machine it competes with playtally.
 *
 *   npm run build && node dist/bench/s3Bench.js --days 2 --rows 5000000 --kpi-streams 5000000 --runs 3 \
 *     [--dir bench-s3] [--record]
 */

interface Measure {
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
  serverCpuMs?: number;
}

const options = args({
  usage: 'node dist/bench/s3Bench.js [options]',
  about: 'Inputs on S3 (s3rver on loopback) against the same inputs on local disk, charts and KPIs.',
  options: {
    days: { value: 'D', help: 'days of listen logs (default 2)' },
    rows: { value: 'N', help: 'listen rows per day (default 5000000)' },
    'kpi-streams': { value: 'N', help: 'stream rows of the KPI day (default 5000000)' },
    runs: { value: 'R', help: 'rounds (default 3)' },
    dir: { value: 'DIR', help: 'where the data and outputs go (default bench-s3)' },
    record: { help: 'write the table into the bench:s3 block of docs/BENCHMARKS.md' },
  },
});
const days = Number(options.get('days') ?? 2);
const rows = Number(options.get('rows') ?? 5_000_000);
const kpiStreams = Number(options.get('kpi-streams') ?? 5_000_000);
const runs = Number(options.get('runs') ?? 3);
const dir = options.get('dir') ?? 'bench-s3';
const BUCKET = 'bench';
const START = parseDay('20240101')!;

/** Clock ticks of user + system CPU of a process, in ms (Linux). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Generate once; reused while the parameters match. */
async function generated(folder: string, params: object, argv: string[]): Promise<void> {
  const marker = join(folder, '.params.json');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === JSON.stringify(params)) return;
  rmSync(folder, { recursive: true, force: true });
  console.error(`bench: generating ${JSON.stringify(params)} in ${folder}`);
  await run(CLI, [...argv, '--out', folder, '--quiet']);
  writeFileSync(marker, JSON.stringify(params));
}

function files(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath, e.name));
}

/** The output files (not the state, not the quality report's times and paths), to compare. */
function outputs(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const path of files(out)) {
    const name = relative(out, path);
    if (name.endsWith('.json') || name.split('/').some((part) => part.startsWith('.'))) continue;
    m.set(name, readFileSync(path, 'utf8'));
  }
  return m;
}

function same(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

async function main(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const logs = join(dir, 'logs');
  const landing = join(dir, 'kpi-landing');
  await generated(logs, { days, rows, seed: 1 }, [
    'generate',
    '--days',
    String(days),
    '--rows',
    String(rows),
  ]);
  await generated(landing, { kpiStreams, seed: 1 }, [
    'generate',
    'kpi-dataset',
    '--days',
    '1',
    '--streams',
    String(kpiStreams),
  ]);

  const storeDir = join(dir, 's3rver');
  rmSync(storeDir, { recursive: true, force: true });
  mkdirSync(storeDir, { recursive: true });
  const server = await startS3rver(storeDir, [BUCKET]);
  // The playtally children inherit the variables that point them at s3rver.
  Object.assign(process.env, server.env());
  const client = server.client();
  try {
    console.error('bench: uploading the inputs to s3rver');
    for (const [folder, prefix] of [
      [logs, 'logs/'],
      [landing, 'landing/'],
    ] as const) {
      for (const path of files(folder)) {
        await client.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: prefix + relative(folder, path),
            Body: createReadStream(path),
            ContentLength: statSync(path).size,
          }),
        );
      }
    }
    const top50: Record<'local' | 's3', Measure[]> = { local: [], s3: [] };
    const kpis: Record<'local' | 's3', Measure[]> = { local: [], s3: [] };
    const results = new Map<string, Map<string, string>>();
    const measure = async (argv: string[], fromS3: boolean): Promise<Measure> => {
      const before = fromS3 ? processCpuMs(server.pid) : 0;
      const r = await run(CLI, argv);
      const summary = JSON.parse(r.stdout) as { cpuMs: number; peakRssBytes: number };
      return {
        wallMs: r.wallMs,
        cpuMs: summary.cpuMs,
        peakRssBytes: summary.peakRssBytes,
        ...(fromS3 ? { serverCpuMs: processCpuMs(server.pid) - before } : {}),
      };
    };
    for (let round = 0; round < runs; round++) {
      for (const where of ['local', 's3'] as const) {
        console.error(`bench: round ${round + 1} of ${runs}, ${where}`);
        const out = join(dir, `out-${where}`);
        rmSync(out, { recursive: true, force: true });
        const source = where === 'local' ? logs : `s3://${BUCKET}/logs/`;
        const day = START + days - 1;
        top50[where].push(
          await measure(
            top50Argv({ logs: source, out, state: join(out, '.state'), day }, '--window', String(days)),
            where === 's3',
          ),
        );
        results.set(`top50-${where}`, outputs(out));
        const kpiOut = join(dir, `kpi-out-${where}`);
        rmSync(kpiOut, { recursive: true, force: true });
        kpis[where].push(
          await measure(
            [
              'kpis',
              '--landing',
              where === 'local' ? landing : `s3://${BUCKET}/landing/`,
              '--out',
              kpiOut,
              '--no-archive',
              '--json',
              '--quiet',
            ],
            where === 's3',
          ),
        );
        results.set(`kpis-${where}`, outputs(kpiOut));
      }
    }
    const chartsSame = same(results.get('top50-local')!, results.get('top50-s3')!);
    const kpisSame = same(results.get('kpis-local')!, results.get('kpis-s3')!);
    const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    const mb = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`;
    const row = (name: string, ms: Measure[], base: Measure[]): string => {
      const wall = median(ms.map((m) => m.wallMs));
      const server = ms[0]!.serverCpuMs === undefined ? '' : s(median(ms.map((m) => m.serverCpuMs!)));
      return `| ${name} | ${s(wall)} | ${s(median(ms.map((m) => m.cpuMs)))} | ${mb(median(ms.map((m) => m.peakRssBytes)))} | ${server} | ${(wall / median(base.map((m) => m.wallMs))).toFixed(2)}x |`;
    };
    const logBytes = files(logs).reduce((n, p) => n + statSync(p).size, 0);
    const landingBytes = files(landing).reduce((n, p) => n + statSync(p).size, 0);
    const report = [
      `### Inputs on S3 (s3rver on loopback) against local disk, median of ${runs} (${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${cpus()[0]?.model.trim()}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GB RAM, Node ${process.version}. ` +
        `Command: \`npm run build && node dist/bench/s3Bench.js --days ${days} --rows ${rows} --kpi-streams ${kpiStreams} --runs ${runs}\`.`,
      '',
      `Charts: top50 cold, ${days} days x ${rows.toLocaleString('en-US')} rows (${mb(logBytes)} of logs). ` +
        `KPIs: kpis cold, 1 day of ${kpiStreams.toLocaleString('en-US')} stream rows (${mb(landingBytes)} of CSV).`,
      '',
      '| run | wall | playtally CPU | peak RSS | s3rver CPU | wall / local |',
      '|---|---|---|---|---|---|',
      row('top50, logs on local disk', top50.local, top50.local),
      row('top50, logs on S3 (streamed)', top50.s3, top50.local),
      row('kpis, landing on local disk', kpis.local, kpis.local),
      row('kpis, landing on S3 (streamed)', kpis.s3, kpis.local),
      '',
      `Outputs identical, local and S3: charts ${chartsSame ? 'yes' : 'NO'}, KPIs ${kpisSame ? 'yes' : 'NO'}.`,
    ].join('\n');
    console.log(report);
    if (options.has('record')) record('s3', report);
    if (!chartsSame || !kpisSame) process.exitCode = 1;
  } finally {
    client.destroy();
    await server.stop();
  }
}

await main();
