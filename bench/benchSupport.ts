import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORRUPTIONS } from '../src/generate/listenGenerator.js';
import { compactDay } from '../src/ops/dates.js';

/** The repository root (this file runs from dist/bench/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/bin/playtally.js');

/** One option of a bench script: a bare `--flag`, or `--name VALUE` when `value` names the value. */
export interface OptionSpec {
  /** What the value is (`N`, `DIR`, `URLS`...), shown in --help; absent for a flag. */
  value?: string;
  help: string;
  /** Used between a script and its own child processes, not by people: left out of --help. */
  hidden?: boolean;
  /** The script cannot run without it: a command line that lacks it is a usage error. */
  required?: boolean;
}

/** What a bench script accepts: its usage line, what it does, and its options by name (no dashes). */
export interface ArgsSpec {
  usage: string;
  about: string;
  options: Record<string, OptionSpec>;
}

/** A command line the spec does not accept; `args` prints it with the valid options. */
export class UsageError extends Error {}

/** The --help text of `spec`: usage, what the script does, then one line per visible option. */
export function helpText(spec: ArgsSpec): string {
  const visible = Object.entries(spec.options).filter(([, o]) => !o.hidden);
  const left = (name: string, o: OptionSpec): string => `--${name}${o.value ? ` ${o.value}` : ''}`;
  const width = Math.max('--help'.length, ...visible.map(([name, o]) => left(name, o).length));
  const line = (flags: string, help: string): string => `  ${flags.padEnd(width)}  ${help}`;
  return [
    `Usage: ${spec.usage}`,
    '',
    spec.about,
    '',
    'Options:',
    ...visible.map(([name, o]) => line(left(name, o), o.help)),
    line('--help', 'print this help and exit'),
    '',
  ].join('\n');
}

/**
 * `argv` read against `spec`: each option by name, a flag as 'true'; 'help' when --help or -h is
 * given (before anything runs: a bench must never start an hours-long run for a mistyped option).
 * `--name=value` works too. Throws a UsageError on an unknown option, a value missing, a value
 * given to a flag, a bare word, or a required option left out.
 */
export function parseArgs(spec: ArgsSpec, argv: readonly string[]): Map<string, string> | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const valid = (): string =>
    Object.entries(spec.options)
      .filter(([, o]) => !o.hidden)
      .map(([name]) => `--${name}`)
      .join(', ');
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('--')) throw new UsageError(`unexpected argument '${word}'`);
    const equals = word.indexOf('=');
    const name = word.slice(2, equals < 0 ? undefined : equals);
    const option = spec.options[name];
    if (option === undefined) throw new UsageError(`unknown option --${name}; valid options: ${valid()}`);
    if (option.value === undefined) {
      if (equals >= 0) throw new UsageError(`--${name} is a flag and takes no value`);
      out.set(name, 'true');
      continue;
    }
    const value = equals >= 0 ? word.slice(equals + 1) : argv[++i];
    if (value === undefined || (equals < 0 && value.startsWith('--')))
      throw new UsageError(`--${name} needs a value (${option.value})`);
    out.set(name, value);
  }
  const missing = Object.entries(spec.options).find(([name, o]) => o.required && !out.has(name));
  if (missing !== undefined)
    throw new UsageError(`--${missing[0]} ${missing[1].value ?? ''} is required`.trim());
  return out;
}

/**
 * This process's options read against `spec`: prints the help and exits 0 on --help, prints the
 * error and the help and exits 2 on a command line `spec` does not accept.
 */
export function args(spec: ArgsSpec, argv: readonly string[] = process.argv.slice(2)): Map<string, string> {
  try {
    const parsed = parseArgs(spec, argv);
    if (parsed !== 'help') return parsed;
    process.stdout.write(helpText(spec));
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${helpText(spec)}`);
    process.exit(2);
  }
}

/**
 * A file's bytes for a parser micro-benchmark, in memory this process has itself written. On these
 * VMs a buffer the kernel has just filled (readFileSync) is read about half as fast the first time
 * as afterwards (page faults, first touches of fresh memory): 0.6 s of a 1.7 s streams parse. The
 * jobs do not pay that for local files (their workers read them into buffers they reuse), so the
 * copy is made here, before the clock starts, and the parser is timed on warm memory.
 */
export function fileInWarmMemory(file: string): Buffer {
  return Buffer.from(readFileSync(file));
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Write `report` into docs/BENCHMARKS.md between the markers of `name`, replacing what was there. */
export function record(name: string, report: string): void {
  const path = join(ROOT, 'docs/BENCHMARKS.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n${report}\n${end}`;
  writeFileSync(
    path,
    text.includes(begin)
      ? text.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), block)
      : `${text}\n${block}\n`,
  );
  console.error(`bench: recorded in ${path}`);
}

/** Run a Node.js script as a child process; its stdout and wall time (an error with its stderr if it fails). */
export function run(command: string, argv: string[]): Promise<{ stdout: string; wallMs: number }> {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [command, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`${command} ${argv.join(' ')} exited ${code}:\n${stderr}`));
      else resolvePromise({ stdout, wallMs });
    });
  });
}

/** The arguments of one measured `playtally top50` run (a JSON summary on stdout), then `extra`. */
export function top50Argv(
  run: { logs: string; out: string; state: string; day: number },
  ...extra: string[]
): string[] {
  return [
    'top50',
    '--logs',
    run.logs,
    '--out',
    run.out,
    '--state',
    run.state,
    '--date',
    compactDay(run.day),
    '--json',
    '--quiet',
    ...extra,
  ];
}

/** What a listen-log folder was generated with; `users` only when not the generator's default. */
export interface ListenLogParams {
  days: number;
  rows: number;
  users?: number;
}

/**
 * The `.params.json` marker of a listen-log folder. DuckDB's CSV reader ends a line at a lone \r,
 * so the one corruption it cannot see as we do (a row ending in \r\r) is left out of the data
 * both sides read; the parser tests cover it. Without `users` the text is the one main.ts always
 * wrote, so folders generated before stay reusable.
 */
export function listenLogMarker(p: ListenLogParams): string {
  return JSON.stringify({ days: p.days, rows: p.rows, users: p.users, kinds: listenLogKinds(), seed: 1 });
}

export function listenLogKinds(): string[] {
  return CORRUPTIONS.filter((k) => k !== 'double_cr');
}

/** The `.params.json` marker of a KPI landing folder (`playtally generate kpi-dataset`). */
export function kpiLandingMarker(p: KpiLandingParams): string {
  // Users and songs only when given: a landing of the generator's defaults keeps its marker.
  return JSON.stringify({ days: p.days, streams: p.streams, seed: 1, users: p.users, songs: p.songs });
}

/** A generated KPI landing's parameters; users and songs default to the generator's (50,000 and 20,000). */
export interface KpiLandingParams {
  days: number;
  streams: number;
  users?: number;
  songs?: number;
}

/** True when `dir` holds a `.params.json` equal to `marker`: what it holds can be reused. */
export function matchesMarker(dir: string, marker: string): boolean {
  const path = join(dir, '.params.json');
  return existsSync(path) && readFileSync(path, 'utf8') === marker;
}

/**
 * `playtally generate` into `logs` (days from 2024-01-01), unless it already holds these
 * parameters' logs; the marker is written last, so an interrupted generation is redone.
 */
export async function ensureListenLogs(logs: string, p: ListenLogParams): Promise<string> {
  const marker = listenLogMarker(p);
  if (matchesMarker(logs, marker)) return marker;
  rmSync(logs, { recursive: true, force: true });
  console.error(`bench: generating ${p.days} days x ${p.rows.toLocaleString('en-US')} rows in ${logs}`);
  await run(CLI, [
    'generate',
    '--out',
    logs,
    '--days',
    String(p.days),
    '--rows',
    String(p.rows),
    ...(p.users === undefined ? [] : ['--users', String(p.users)]),
    '--corrupt-kinds',
    listenLogKinds().join(','),
    '--quiet',
  ]);
  writeFileSync(join(logs, '.params.json'), marker);
  return marker;
}

/** `playtally generate kpi-dataset` into `landing`, unless it already holds these parameters' set. */
export async function ensureKpiLanding(landing: string, p: KpiLandingParams): Promise<void> {
  const marker = kpiLandingMarker(p);
  if (matchesMarker(landing, marker)) return;
  rmSync(landing, { recursive: true, force: true });
  console.error(
    `bench: generating ${p.days} day(s) x ${p.streams.toLocaleString('en-US')} stream rows in ${landing}`,
  );
  await run(CLI, [
    'generate',
    'kpi-dataset',
    '--out',
    landing,
    '--days',
    String(p.days),
    '--streams',
    String(p.streams),
    ...(p.users === undefined ? [] : ['--users', String(p.users)]),
    ...(p.songs === undefined ? [] : ['--songs', String(p.songs)]),
    '--quiet',
  ]);
  writeFileSync(join(landing, '.params.json'), marker);
}

/**
 * Run a bench script (dist/bench/NAME.js) as a child process whose output goes to this one's
 * terminal; false (and the reason on stderr) when it fails, so that the parts after it still run.
 */
export function runScript(name: string, argv: string[]): Promise<boolean> {
  const script = join(ROOT, 'dist/bench', `${name}.js`);
  console.error(`bench: node dist/bench/${name}.js ${argv.join(' ')}`);
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [script, ...argv], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (error) => {
      console.error(`bench: ${name} could not start: ${error.message}`);
      resolvePromise(false);
    });
    child.on('close', (code) => {
      if (code !== 0) console.error(`bench: ${name} exited ${code}`);
      resolvePromise(code === 0);
    });
  });
}

/**
 * Whether two files hold the same bytes, read a few MB at a time. Not readFileSync: the charts'
 * user files are 1 GB each, and a child process spawned after the bench had read two of them
 * reported the bench's own 2 GB as its peak RSS (Linux carries a process's RSS high-water mark
 * through fork and exec into `maxRSS`).
 */
export function sameFile(a: string, b: string): boolean {
  if (statSync(a).size !== statSync(b).size) return false;
  const chunk = 4 << 20;
  const bufA = Buffer.allocUnsafe(chunk);
  const bufB = Buffer.allocUnsafe(chunk);
  const fdA = openSync(a, 'r');
  const fdB = openSync(b, 'r');
  try {
    for (;;) {
      const n = readSync(fdA, bufA, 0, chunk, null);
      const m = readSync(fdB, bufB, 0, chunk, null);
      if (n !== m || !bufA.subarray(0, n).equals(bufB.subarray(0, m))) return false;
      if (n === 0) return true;
    }
  } finally {
    closeSync(fdA);
    closeSync(fdB);
  }
}
