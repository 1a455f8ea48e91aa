import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ArgsSpec, args, CLI, fileInWarmMemory, median, ROOT, record } from './benchSupport.js';

/**
 * `node dist/bench/streamsParseBench.js`: the KPI streams CSV parser alone, one thread, on one
 * generated streams file held in warm memory (fileInWarmMemory; no I/O, no hashing, no partial
 * written): the CSV scan, the row checks, the ids interned from the bytes and the rows filed by
 * day in blocks, each full block handed on (a worker writes it to the file's partial; here it is
 * dropped) and used again, as a worker does for each streams file (parse/streamRows.ts
 * StreamRowReader into kpis/streamDays.ts). Each measurement is a fresh child process (a fresh JIT); the figure is
 * MB/s on one core, against the 200 MB/s of issue 19.
 *
 *   node dist/bench/streamsParseBench.js [--streams 3333333] [--runs 5] [--dir bench-data] [--record]
 *
 * The file is `playtally generate kpi-dataset --streams N --files 1` (1% dirty rows, the four
 * listen-time forms, two column orders), written once into --dir and reused.
 */
const SPEC: ArgsSpec = {
  usage: 'npm run bench:streams -- [options]   (or node dist/bench/streamsParseBench.js [options])',
  about: 'The KPI streams CSV parser alone, one thread, on one generated streams file held in memory.',
  options: {
    streams: { value: 'N', help: 'stream rows of the generated file (default 3333333)' },
    runs: { value: 'R', help: 'rounds (default 5)' },
    dir: { value: 'DIR', help: 'where the file is written once and reused (default bench-data)' },
    record: { help: 'write the table into the bench:streams-parse block of docs/BENCHMARKS.md' },
    child: { value: 'FILE', help: 'internal: parse this file and print the time', hidden: true },
  },
};
const CHUNK = 1024 * 1024;

interface Timing {
  ms: number;
  bytes: number;
  rows: number;
  accepted: number;
}

async function child(file: string): Promise<void> {
  const { StreamRowReader } = await import('../src/parse/streamRows.js');
  const { StreamDays } = await import('../src/kpis/streamDays.js');
  const bytes = fileInWarmMemory(file);
  // Full blocks go to an out, as a worker's go to its partial (here nowhere: no write timed), and
  // are used again: the parse holds a block a day, not the file's rows.
  let sent = 0;
  const rows = new StreamDays((_day, users) => {
    sent += users.length;
  });
  const started = process.hrtime.bigint();
  const reader = new StreamRowReader({ name: 'streams.csv', path: file }, rows, { midFile: false });
  for (let at = 0; at < bytes.length; at += CHUNK)
    reader.push(bytes.subarray(at, Math.min(bytes.length, at + CHUNK)));
  const { report } = reader.finish(true);
  rows.flush();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (sent !== report.accepted) throw new Error(`${sent} rows sent of ${report.accepted} accepted`);
  process.stdout.write(
    JSON.stringify({
      ms,
      bytes: bytes.length,
      rows: report.rows,
      accepted: report.accepted,
    } satisfies Timing),
  );
}

function measure(file: string): Timing {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`streams parse child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Timing;
}

/** The generated streams file, written once per row count. */
function input(dir: string, streams: number): string {
  const landing = join(dir, `streams-parse-${streams}`);
  const folder = join(landing, 'streams');
  if (!existsSync(folder)) {
    const r = spawnSync(
      process.execPath,
      [CLI, 'generate', 'kpi-dataset', '--out', landing, '--streams', String(streams), '--files', '1', '-q'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`generate failed: ${r.stderr}`);
  }
  return join(folder, readdirSync(folder).find((n) => n.endsWith('.csv'))!);
}

async function main(): Promise<void> {
  const a = args(SPEC);
  if (a.has('child')) return child(a.get('child')!);
  const streams = Number(a.get('streams') ?? 3_333_333);
  const runs = Number(a.get('runs') ?? 5);
  const dir = resolve(a.get('dir') ?? join(ROOT, 'bench-data'));
  const file = input(dir, streams);
  const timings: Timing[] = [];
  for (let round = 0; round < runs; round++) {
    const t = measure(file);
    timings.push(t);
    console.error(
      `round ${round + 1}: ${t.ms.toFixed(0)} ms (load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`,
    );
  }
  const ms = median(timings.map((t) => t.ms));
  const { bytes, rows, accepted } = timings[0]!;
  const mbs = bytes / 1e6 / (ms / 1000);
  const report = [
    `Streams CSV parser alone, one thread, ${rows.toLocaleString('en-US')} rows (${(bytes / 1e6).toFixed(0)} MB) in memory, ` +
      `median of ${runs} runs (${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}):`,
    '',
    '| median | MB/s on one core | ns/row | valid rows | target (issue 19) |',
    '|---|---|---|---|---|',
    `| ${(ms / 1000).toFixed(2)} s | ${mbs.toFixed(0)} | ${((ms * 1e6) / rows).toFixed(1)} | ${accepted.toLocaleString('en-US')} | 200 MB/s: ${mbs >= 200 ? 'met' : 'not met'} |`,
  ].join('\n');
  console.log(report);
  if (a.has('record')) {
    const command = `npm run bench:streams -- --streams ${streams} --runs ${runs}`;
    record(
      'streams-parse',
      `### Streams CSV parser alone (${new Date().toISOString().slice(0, 10)})\n\nCommand: \`${command}\`\n\n${report}`,
    );
  }
}

await main();
