import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { type ArgsSpec, args, CLI, median, record, run } from './benchSupport.js';

/**
 * `node dist/bench/scaling.js`: how playtally's cost grows with its input (issue 19, point 5).
 * Each data set is a folder written beforehand by `playtally generate` (logs/, with its
 * .params.json) or `playtally generate kpi-dataset` (kpi-landing/); each is run `--runs` times,
 * one after the other, from a fresh state folder:
 *
 *   - charts: `top50` cold (every day parsed from its log), then the daily run (the newest day's
 *     partial removed: one day parsed, the whole window merged);
 *   - KPIs: `kpis` cold (every streams file parsed).
 *
 * Reported: wall time, CPU time (user + system, all threads) and peak RSS as the child measured
 * them (`--json`), and the CPU time per input row, which stays flat when time is linear in the
 * input. Medians of the runs.
 *
 *   node dist/bench/scaling.js [--charts DIR,DIR...] [--kpis DIR,DIR...] [--runs 1] [--record]
 */
const SPEC: ArgsSpec = {
  usage: 'node dist/bench/scaling.js [options]',
  about:
    'How cost grows with the input: charts (cold and daily) and KPIs (cold) on folders generated beforehand.',
  options: {
    charts: { value: 'DIRS', help: 'folders with logs/ (and its .params.json), comma-separated' },
    kpis: { value: 'DIRS', help: 'folders with kpi-landing/ (and its .params.json), comma-separated' },
    runs: { value: 'R', help: 'runs of each data set (default 1)' },
    record: { help: 'write the table into the bench:scaling block of docs/BENCHMARKS.md' },
  },
};

interface Figures {
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
}

interface Row {
  work: string;
  rows: number;
  bytes: number;
  figures: Figures;
}

function medians(runs: Figures[]): Figures {
  return {
    wallMs: median(runs.map((r) => r.wallMs)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    peakRssBytes: median(runs.map((r) => r.peakRssBytes)),
  };
}

async function measured(argv: string[]): Promise<Figures> {
  const r = await run(CLI, argv);
  const summary = JSON.parse(r.stdout) as { cpuMs: number; peakRssBytes: number };
  return { wallMs: r.wallMs, cpuMs: summary.cpuMs, peakRssBytes: summary.peakRssBytes };
}

function folderBytes(dir: string): number {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .reduce((n, name) => n + statSync(join(dir, name)).size, 0);
}

async function charts(dir: string, runs: number): Promise<Row[]> {
  const logs = join(dir, 'logs');
  const params = JSON.parse(readFileSync(join(logs, '.params.json'), 'utf8')) as {
    days: number;
    rows: number;
    users?: number;
  };
  const users = params.users ?? Math.max(1000, Math.floor(params.rows / 10));
  const out = join(dir, 'scaling-out');
  const cold: Figures[] = [];
  const daily: Figures[] = [];
  for (let r = 0; r < runs; r++) {
    console.error(`scaling: ${dir}: charts, run ${r + 1} of ${runs}`);
    rmSync(out, { recursive: true, force: true });
    cold.push(await measured(['top50', '--logs', logs, '--out', out, '--json', '--quiet']));
    const partials = join(out, '.playtally', 'partials');
    const newest = readdirSync(partials).sort().at(-1)!;
    rmSync(join(partials, newest));
    daily.push(await measured(['top50', '--logs', logs, '--out', out, '--json', '--quiet']));
  }
  rmSync(out, { recursive: true, force: true });
  const label = `${params.days} days x ${params.rows.toLocaleString('en-US')} rows, ${users.toLocaleString('en-US')} users`;
  const rows = params.days * params.rows;
  return [
    { work: `charts cold, ${label}`, rows, bytes: folderBytes(logs), figures: medians(cold) },
    {
      work: `charts daily, ${label}`,
      rows: params.rows,
      bytes: folderBytes(logs) / params.days,
      figures: medians(daily),
    },
  ];
}

async function kpis(dir: string, runs: number): Promise<Row[]> {
  const landing = join(dir, 'kpi-landing');
  const params = JSON.parse(readFileSync(join(landing, '.params.json'), 'utf8')) as {
    streams: number;
    days: number;
  };
  const out = join(dir, 'scaling-kpi-out');
  const all: Figures[] = [];
  for (let r = 0; r < runs; r++) {
    console.error(`scaling: ${dir}: KPIs, run ${r + 1} of ${runs}`);
    rmSync(out, { recursive: true, force: true });
    all.push(
      await measured(['kpis', '--landing', landing, '--out', out, '--no-archive', '--json', '--quiet']),
    );
  }
  rmSync(out, { recursive: true, force: true });
  return [
    {
      work: `KPIs, ${params.days} day(s) x ${params.streams.toLocaleString('en-US')} stream rows`,
      rows: params.days * params.streams,
      bytes: folderBytes(join(landing, 'streams')),
      figures: medians(all),
    },
  ];
}

async function main(): Promise<void> {
  const a = args(SPEC);
  const runs = Number(a.get('runs') ?? 1);
  const list = (name: string): string[] => (a.get(name) ?? '').split(',').filter((d) => d !== '');
  const rows: Row[] = [];
  for (const dir of list('charts')) rows.push(...(await charts(dir, runs)));
  for (const dir of list('kpis')) rows.push(...(await kpis(dir, runs)));
  const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
  const report = [
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ` +
      `${Math.round(totalmem() / 2 ** 30)} GB RAM, Node ${process.version}; median of ${runs} run(s) each, ` +
      `one data set after the other (${new Date().toISOString().slice(0, 10)}).`,
    '',
    '| work | input rows | input | wall | CPU | CPU per input row | peak RSS |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.work} | ${r.rows.toLocaleString('en-US')} | ${mb(r.bytes)} | ${(r.figures.wallMs / 1000).toFixed(1)} s | ` +
        `${(r.figures.cpuMs / 1000).toFixed(1)} s | ${((r.figures.cpuMs * 1e6) / r.rows).toFixed(0)} ns | ${mb(r.figures.peakRssBytes)} |`,
    ),
  ].join('\n');
  console.log(report);
  if (a.has('record')) record('scaling', `### How cost grows\n\n${report}`);
}

await main();
