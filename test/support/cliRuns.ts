import { type ChildProcess, type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import type { TempDirs } from './tempDirs.js';

/**
 * The compiled CLI run as a child process, as a user or a scheduler runs it: blocking or not,
 * with its exit status, its output and the JSON log lines (events) of its stdout.
 * Needs `npm run build` first (see `requireBuiltCli`).
 */

/** The project folder. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The compiled CLI entry point. */
export const CLI = join(ROOT, 'dist', 'bin', 'playtally.js');
/** The environment of every CLI child: no colours, so that stdout is plain JSON lines. */
export const CLI_ENV = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };

/** Throw unless the CLI has been built (call it from beforeAll). */
export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
}

/** A finished CLI run. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The JSON log lines of stdout. */
  events: Record<string, unknown>[];
  /** Wall time from the spawn to the exit. */
  ms: number;
}

/** The JSON log lines of stdout (other output, such as `status --json`, is left out). */
export function parseEvents(stdout: string): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{"level"')) continue;
    events.push(JSON.parse(line) as Record<string, unknown>);
  }
  return events;
}

/**
 * The child processes a test file starts, ended after each test by `stopAll()` (from afterEach),
 * so that no test leaves one running.
 */
export class Children {
  private readonly list: ChildProcess[] = [];

  /** Track `child` until the next `stopAll()`. */
  add<T extends ChildProcess>(child: T): T {
    this.list.push(child);
    return child;
  }

  /** Send `signal` to every tracked child still running and wait until each has closed. */
  async stopAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    for (const child of this.list.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = new Promise((resolve) => child.once('close', resolve));
        child.kill(signal);
        await closed;
      }
    }
  }
}

export interface CliOptions {
  /** The working folder of the child; ROOT by default. */
  cwd?: string;
  /** Track the child here, so that afterEach can end it. */
  children?: Children;
  /** More environment variables for the child (AWS settings of a local DynamoDB, say). */
  env?: Record<string, string>;
}

/** A CLI child with stdout and stderr as pipes (stdin is /dev/null). */
export type CliChild = ChildProcessByStdio<null, Readable, Readable>;

/** Start the CLI with `args` without waiting for it. */
export function spawnCli(args: string[], options: CliOptions = {}): CliChild {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...CLI_ENV, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.children?.add(child);
  return child;
}

/**
 * The CLI, blocking this process until it exits (fine when nothing in this process, such as a
 * webhook server, has to answer it). Killed after `timeoutMs` (50 s by default).
 */
export function cli(
  args: string[],
  options: {
    cwd?: string;
    timeoutMs?: number;
    /** A command the CLI runs under, such as `setpriv` with its options (another user). */
    under?: string[];
  } = {},
): CliRun {
  const started = Date.now();
  const [command, ...prefix] = [...(options.under ?? []), process.execPath];
  const r = spawnSync(command!, [...prefix, CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 50_000,
    maxBuffer: 64 * 1024 * 1024,
    env: CLI_ENV,
  });
  if (r.error) throw r.error;
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    events: parseEvents(r.stdout),
    ms: Date.now() - started,
  };
}

/** `cli`, expecting exit 0 (the test fails with the command line and its output otherwise). */
export function cliOk(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): CliRun {
  const r = cli(args, options);
  expect(r.status, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

/** The CLI without blocking this process (a server in it may have to answer the child). */
export function cliAsync(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) =>
      resolve({ status, stdout, stderr, events: parseEvents(stdout), ms: Date.now() - started }),
    );
  });
}

/** The fields of the `run_done` line that closes a run or backfill. */
export interface RunDone {
  parsed: number;
  rebuilt: string[];
  charts: string[];
  quarantined: number;
  archived: number;
  pruned: number;
  missing: string[];
}

/** The `run_done` line of a finished CLI run; the test fails when it is missing. */
export function runDone(r: Pick<CliRun, 'events' | 'stdout' | 'stderr'>): RunDone {
  const done = r.events.find((e) => e.event === 'run_done');
  expect(done, `no run_done line in:\n${r.stdout}\n${r.stderr}`).toBeDefined();
  return done as unknown as RunDone;
}

/** Folders for one run: the landing folder, the output folder and its default state folder. */
export interface RunFolders {
  logs: string;
  out: string;
  /** `<out>/.playtally`, not made yet. */
  state: string;
}

/**
 * A landing folder `<prefix>logs-*` holding the generated logs of `days` days from `start`
 * (none when `days` is 0), and an empty output folder `<prefix>out-*`.
 */
export function runFolders(
  temp: TempDirs,
  prefix: string,
  start: number,
  days: number,
  generator: Omit<Parameters<typeof generateLogs>[0], 'dir' | 'start' | 'days'>,
): RunFolders {
  const logs = temp.make(`${prefix}logs-`);
  if (days > 0) generateLogs({ dir: logs, start, days, ...generator });
  const out = temp.make(`${prefix}out-`);
  return { logs, out, state: join(out, '.playtally') };
}
