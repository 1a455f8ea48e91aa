import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListenGenerator } from '../src/generate/listenGenerator.js';
import { type ArgsSpec, args, fileInWarmMemory, median, ROOT, record } from './benchSupport.js';

/**
 * `node dist/bench/parseBench.js`: the listen-row parser alone, one thread, on one generated day
 * held in warm memory (fileInWarmMemory; no I/O, no partitioning): the cost of the row rule
 * itself. Each measurement is a fresh child process (a fresh JIT), the variants interleaved round
 * by round:
 *
 *   - this build on the plain day (`24822533|1230438706|BR`);
 *   - this build on the same rows written with blanks (`24822533 | 1230438706 | BR`, the public
 *     sample's layout), which the byte loop hands to the exact classifier;
 *   - with `--against DIR` (another build's dist/, e.g. a worktree of the previous commit), that
 *     build on the plain day: the before/after of a change to the parser.
 *
 * Each variant is reported in ns a row and in MB/s on its one core, against issue 19's target of
 * at least TARGET_MB_PER_S a core for listen logs.
 *
 *   node dist/bench/parseBench.js [--rows 20000000] [--runs 5] [--dir bench-data] [--against DIR] [--record]
 *
 * With --record the table goes into docs/BENCHMARKS.md (between the `bench:parse` markers).
 */
const SPEC: ArgsSpec = {
  usage: 'npm run bench:parse -- [options]   (or node dist/bench/parseBench.js [options])',
  about: 'The listen-row parser alone, one thread, on one generated day held in memory (MB/s a core).',
  options: {
    rows: { value: 'N', help: 'rows of the generated day (default 20000000)' },
    runs: { value: 'R', help: 'interleaved rounds (default 5)' },
    dir: { value: 'DIR', help: 'where the day is written once and reused (default bench-data)' },
    against: { value: 'DIST', help: "another build's dist/ folder, run side by side on the plain day" },
    record: { help: 'write the table into the bench:parse block of docs/BENCHMARKS.md' },
    child: { value: 'PARSER', help: 'internal: parse --file with this parser module', hidden: true },
    file: { value: 'FILE', help: "internal: the child's input", hidden: true },
  },
};
const CHUNK = 8 * 1024 * 1024;
/** Issue 19: listen-log parsing at 300 MB/s or more per core (MB = 10^6 bytes). */
const TARGET_MB_PER_S = 300;

interface Timing {
  ms: number;
  rows: number;
  valid: number;
}

/** Child: parse `file` with the parser module at `parserPath`, print the time and counts. */
async function child(parserPath: string, file: string): Promise<void> {
  const { ListenParser } = (await import(parserPath)) as typeof import('../src/parse/listenParser.js');
  const bytes = fileInWarmMemory(file);
  let sink = 0;
  const parser = new ListenParser({ onBatch: (b) => (sink += b.length) });
  const started = process.hrtime.bigint();
  for (let at = 0; at < bytes.length; at += CHUNK)
    parser.push(bytes.subarray(at, Math.min(bytes.length, at + CHUNK)));
  parser.end();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(JSON.stringify({ ms, rows: parser.lines, valid: sink } satisfies Timing));
}

function measure(parserPath: string, file: string): Timing {
  const r = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--child', parserPath, '--file', file],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    },
  );
  if (r.status !== 0) throw new Error(`parse child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Timing;
}

/** The generated day, plain and with blanks around every field, written once and reused. */
function inputs(dir: string, rows: number): { plain: string; spaced: string } {
  mkdirSync(dir, { recursive: true });
  const plain = join(dir, `parse-${rows}.log`);
  const spaced = join(dir, `parse-${rows}-spaced.log`);
  if (!existsSync(plain) || !existsSync(spaced)) {
    const chunks: Buffer[] = [];
    new ListenGenerator({ rows, seed: 1 }).generate(19_723, (c) => chunks.push(Buffer.from(c)));
    const text = Buffer.concat(chunks);
    writeFileSync(plain, text);
    writeFileSync(spaced, withBlanks(text));
  }
  return { plain, spaced };
}

/** The same bytes with a space on each side of every pipe. */
function withBlanks(text: Buffer): Buffer {
  let pipes = 0;
  for (const b of text) if (b === 124) pipes++;
  const out = Buffer.allocUnsafe(text.length + 2 * pipes);
  let at = 0;
  for (const b of text) {
    if (b === 124) {
      out[at++] = 32;
      out[at++] = 124;
      out[at++] = 32;
    } else out[at++] = b;
  }
  return out;
}

async function main(): Promise<void> {
  const a = args(SPEC);
  if (a.has('child')) return child(a.get('child')!, a.get('file')!);
  const rows = Number(a.get('rows') ?? 20_000_000);
  const runs = Number(a.get('runs') ?? 5);
  const dir = resolve(a.get('dir') ?? join(ROOT, 'bench-data'));
  const ours = join(ROOT, 'dist/src/parse/listenParser.js');
  const against = a.get('against');
  const theirs = against === undefined ? undefined : join(resolve(against), 'src/parse/listenParser.js');
  const files = inputs(dir, rows);
  const variants: [string, string, string][] = [
    ['this build, plain rows', ours, files.plain],
    ['this build, rows with blanks around fields', ours, files.spaced],
    ...(theirs ? [['--against build, plain rows', theirs, files.plain] as [string, string, string]] : []),
  ];
  const times = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  const counts = new Map<string, Timing>();
  for (let round = 0; round < runs; round++) {
    for (const [name, parser, file] of variants) {
      const t = measure(parser, file);
      times.get(name)!.push(t.ms);
      counts.set(name, t);
      console.error(`round ${round + 1}: ${name}: ${t.ms.toFixed(0)} ms`);
    }
  }
  const base = median(times.get(variants[0]![0])!);
  /** MB (10^6 bytes) a second on the one core of the measurement. */
  const mbPerS = (file: string, ms: number): number => statSync(file).size / 1e3 / ms;
  const plainRate = mbPerS(files.plain, base);
  const lines = [
    `Parser alone, one thread, ${rows.toLocaleString('en-US')} rows in memory, median of ${runs} interleaved runs ` +
      `(${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}):`,
    '',
    '| variant | median | ns/row | MB/s (one core) | valid rows | vs this build, plain |',
    '|---|---|---|---|---|---|',
    ...variants.map(([name, , file]) => {
      const m = median(times.get(name)!);
      const c = counts.get(name)!;
      return `| ${name} | ${(m / 1000).toFixed(2)} s | ${((m * 1e6) / c.rows).toFixed(1)} | ${mbPerS(file, m).toFixed(0)} | ${c.valid.toLocaleString('en-US')} | ${(m / base).toFixed(3)}x |`;
    }),
    '',
    `Target (issue 19): at least ${TARGET_MB_PER_S} MB/s a core on plain rows: ` +
      `${plainRate.toFixed(0)} MB/s, ${plainRate >= TARGET_MB_PER_S ? 'met' : 'NOT met'} ` +
      `(${(plainRate / TARGET_MB_PER_S).toFixed(2)}x the target).`,
  ];
  const report = lines.join('\n');
  console.log(report);
  if (a.has('record')) {
    const command = `npm run bench:parse -- --rows ${rows} --runs ${runs}${against ? ' --against <previous build>/dist' : ''}`;
    record(
      'parse',
      `### Parser alone (${new Date().toISOString().slice(0, 10)})\n\nCommand: \`${command}\`\n\n${report}`,
    );
  }
}

await main();
