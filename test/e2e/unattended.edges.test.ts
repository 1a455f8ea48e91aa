import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/formats/manifest.js';
import {
  appendRunRecord,
  KEEP_RUNS,
  MAX_HISTORY_BYTES,
  newRunRecord,
  RUN_HISTORY,
  type RunRecord,
  readRunHistory,
} from '../../src/formats/runHistory.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { alertServer, closeServer, liveProcess, writeLockFile } from '../support/alerts.js';
import {
  Children,
  type CliChild,
  type CliRun,
  cliAsync,
  cli as cliBlocking,
  parseEvents,
  requireBuiltCli,
  runDone,
  runFolders,
  spawnCli,
} from '../support/cliRuns.js';
import { day, logName, TempDirs } from '../support/tempDirs.js';

/**
 * Edges of the unattended commands: a missing landing folder for `watch`, lock waits that run out
 * or are stopped by a signal, which lock failures are alerted, a bounded run history, a corrupt
 * manifest seen by `status`, a state folder lost while logs sit in the archive, `run --settle`,
 * one alert per failure streak in `watch`, and partials rebuilt by `backfill --force`.
 * Needs `npm run build` first (the CLI runs from dist/).
 */

const FIRST = day('2024-05-01');
const GEN = { rows: 2_000, users: 100, songs: 300, seed: 11 };

const temp = new TempDirs();
const children = new Children();
afterEach(async () => {
  await children.stopAll();
  temp.cleanup();
});

beforeAll(requireBuiltCli);

// ---------------------------------------------------------------------------------------------
// Helpers

/** The CLI, blocking (nothing in this process has to answer it); killed after 30 s. */
function cli(args: string[]): CliRun {
  return cliBlocking(args, { timeoutMs: 30_000 });
}

/** A CLI child whose stdout lines can be waited for. */
class Child {
  readonly child: CliChild;
  stdout = '';
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  readonly started = Date.now();

  constructor(args: string[]) {
    this.child = spawnCli(args, { children });
    this.child.stdout.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    this.child.stderr.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolve(this.exit);
      }),
    );
  }

  /** The complete JSON log lines so far. */
  events(): Record<string, unknown>[] {
    const complete = this.stdout.slice(0, this.stdout.lastIndexOf('\n') + 1);
    return parseEvents(complete);
  }

  story(): string {
    return `stdout:\n${this.stdout.slice(-3000)}\nstderr:\n${this.stderr.slice(-2000)}`;
  }

  async waitForEvent(
    match: (e: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events().find(match);
      if (found) return found;
      if (this.exit !== undefined)
        throw new Error(`exited (${this.exit.code}) before ${what}\n${this.story()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${this.story()}`);
      await sleep(20);
    }
  }
}

function generate(dir: string, start: number, days: number, seed = GEN.seed): void {
  generateLogs({ dir, start, days, ...GEN, seed });
}

/** Logs of `days` days from FIRST, an output folder and its state folder. */
function setup(days: number): { logs: string; out: string; state: string } {
  return runFolders(temp, 'playtally-edge-', FIRST, days, GEN);
}

const OPTS = ['--window', '3', '--threads', '2'];

function manifest(state: string): Manifest {
  return JSON.parse(readFileSync(join(state, 'manifest.json'), 'utf8')) as Manifest;
}

/** The dates of the days whose partial the manifest records as pruned. */
function prunedDates(state: string): string[] {
  return Object.values(manifest(state).days)
    .filter((d) => d.pruned)
    .map((d) => d.date);
}

/** The bytes of every chart file in `out`, by name. */
function chartBytes(out: string): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const name of readdirSync(out).sort()) {
    if (/^(country|user)_top50_\d{8}\.txt$/.test(name)) files[name] = readFileSync(join(out, name));
  }
  return files;
}

const chartFile = (out: string, kind: 'country' | 'user', d: number): string =>
  join(out, `${kind}_top50_${compactDay(d)}.txt`);

function dates(a: number, b: number): string[] {
  const out: string[] = [];
  for (let i = a; i <= b; i++) out.push(isoDay(FIRST + i));
  return out;
}

const STACK_FRAME = /^\s+at /m;

// ---------------------------------------------------------------------------------------------

describe('watch: missing landing folder', () => {
  it('exits 3 (logs_not_found) with a clear message and no stack trace', () => {
    const base = temp.make('playtally-edge-nowatch-');
    const logs = join(base, 'no-such-landing');
    const r = cli(['watch', '--logs', logs, '--out', join(base, 'out'), ...OPTS, '--poll-interval', '100ms']);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain(logs);
    expect(r.stderr).toContain('does not exist');
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.events.some((e) => e.event === 'failed' && e.code === 'logs_not_found')).toBe(true);
  });
});

describe('lock waits', () => {
  it('--wait-timeout alone waits, then gives up with exit 5', () => {
    const { logs, out, state } = setup(1);
    const pid = liveProcess(children);
    writeLockFile(state, pid);
    const r = cli(['run', '--logs', logs, '--out', out, ...OPTS, '--wait-timeout', '400ms']);
    expect(r.status, r.stderr).toBe(5);
    expect(r.stderr).toContain('gave up waiting');
    expect(r.stderr).toContain(`pid ${pid}`);
    expect(r.events.some((e) => e.event === 'waiting_for_lock')).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(400);
    expect(r.ms).toBeLessThan(5_000);
    expect(readdirSync(out).filter((n) => n.endsWith('.txt'))).toEqual([]);
    // The holder's lock is left alone.
    expect(JSON.parse(readFileSync(join(state, 'lock'), 'utf8')).pid).toBe(pid);
  });

  it('a lock found held is not alerted; a wait that runs out is, with absolute paths', async () => {
    const { url, received, server } = await alertServer();
    try {
      const base = realpathSync(temp.make('playtally-edge-rel-'));
      generate(join(base, 'logs'), FIRST, 1);
      const state = join(base, 'out', '.playtally');
      const pid = liveProcess(children);
      writeLockFile(state, pid);
      const args = ['run', '--logs', 'logs', '--out', 'out', ...OPTS, '--on-failure-webhook', url];

      const overlap = await cliAsync(args, { cwd: base, children });
      expect(overlap.status, overlap.stderr).toBe(5);
      expect(overlap.stderr).toContain('--wait');
      expect(overlap.events.some((e) => e.event === 'failed' && e.code === 'locked')).toBe(true);
      expect(received).toHaveLength(0);

      const waited = await cliAsync([...args, '--wait-timeout', '300ms'], { cwd: base, children });
      expect(waited.status, waited.stderr).toBe(5);
      expect(waited.stderr).toContain('gave up waiting');
      expect(received).toHaveLength(1);
      expect(received[0]!.method).toBe('POST');
      expect(received[0]!.body).toMatchObject({
        event: 'run_failed',
        command: 'run',
        error: { code: 'locked' },
        run: { logs: join(base, 'logs'), out: join(base, 'out'), state },
      });
      expect(waited.events.some((e) => e.event === 'webhook_sent')).toBe(true);
    } finally {
      await closeServer(server);
    }
  });

  it('SIGTERM while waiting for the lock stops at once with exit 5', async () => {
    const { logs, out, state } = setup(1);
    writeLockFile(state, liveProcess(children));
    const c = new Child(['run', '--logs', logs, '--out', out, ...OPTS, '--wait']);
    await c.waitForEvent((e) => e.event === 'waiting_for_lock', 'waiting_for_lock');
    const signalled = Date.now();
    c.child.kill('SIGTERM');
    const exit = await Promise.race([c.exited, sleep(5_000).then(() => undefined)]);
    expect(exit, `still running 5 s after SIGTERM\n${c.story()}`).toBeDefined();
    expect(exit!.at - signalled).toBeLessThan(2_000);
    expect(exit!.code, c.stderr).toBe(5);
    expect(c.stderr).toContain('stopped while waiting');
    expect(readdirSync(out).filter((n) => n.endsWith('.txt'))).toEqual([]);
  });
});

describe('run history', () => {
  function record(id: string): RunRecord {
    const at = new Date().toISOString();
    return {
      ...newRunRecord({ id, command: 'watch', startedAt: at, logsDir: '/logs', outDir: '/out' }),
      finishedAt: at,
      ok: true,
    };
  }

  it('is cut to its last KEEP_RUNS runs once it grows past MAX_HISTORY_BYTES', () => {
    const state = temp.make('playtally-edge-history-');
    const path = join(state, RUN_HISTORY);
    const old: string[] = [];
    let size = 0;
    for (let i = 0; size <= MAX_HISTORY_BYTES + 1024; i++) {
      const line = JSON.stringify({ id: `old-${i}`, n: i });
      old.push(line);
      size += line.length + 1;
    }
    writeFileSync(path, `${old.join('\n')}\n`);
    expect(statSync(path).size).toBeGreaterThan(MAX_HISTORY_BYTES);

    const appended = record('appended');
    appendRunRecord(state, appended);
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').slice(0, -1);
    expect(lines).toHaveLength(KEEP_RUNS);
    expect(lines[KEEP_RUNS - 1]).toBe(JSON.stringify(appended));
    // The newest old runs are kept, in order.
    expect(lines.slice(0, -1)).toEqual(old.slice(-(KEEP_RUNS - 1)));
    expect(statSync(path).size).toBeLessThan(MAX_HISTORY_BYTES);
    expect(readRunHistory(state, 1).map((r) => r.id)).toEqual(['appended']);
    expect(readdirSync(state)).toEqual([RUN_HISTORY]);

    // Below the bound nothing is cut.
    appendRunRecord(state, record('next'));
    expect(readFileSync(path, 'utf8').split('\n').slice(0, -1)).toHaveLength(KEEP_RUNS + 1);
  });
});

describe('status', () => {
  it('a corrupt manifest is exit 4 naming the manifest, not an internal error', () => {
    const { out, state } = setup(0);
    mkdirSync(state, { recursive: true });
    const path = join(state, 'manifest.json');
    for (const content of ['{not json', '{}']) {
      writeFileSync(path, content);
      for (const extra of [[], ['--json']]) {
        const r = cli(['status', '--out', out, ...extra]);
        expect(r.status, `${content} ${extra}: ${r.stderr}`).toBe(4);
        expect(r.stderr).toContain(path);
        expect(r.stderr).toContain('manifest');
        expect(r.stderr).not.toContain('internal error');
        expect(r.stderr).not.toMatch(STACK_FRAME);
        expect(r.stdout).toBe('');
      }
    }
  });
});

describe('state folder lost with --archive', () => {
  it('archived logs are taken in again: every chart is byte-identical', () => {
    const { logs, out, state } = setup(6);
    const archive = join(temp.make('playtally-edge-archive-'), 'archive');
    const args = ['run', '--logs', logs, '--out', out, ...OPTS, '--keep-days', '3', '--archive', archive];

    const first = cli(args);
    expect(first.status, first.stderr).toBe(0);
    expect(runDone(first).charts).toEqual(dates(0, 5));
    // Days 0..3 have all their charts (0..5) written: archived; 0..2 are pruned.
    const archivedFiles = readdirSync(archive).sort();
    expect(archivedFiles).toEqual([0, 1, 2, 3].map((i) => logName(FIRST + i)));
    const landed = readdirSync(logs).sort();
    expect(landed).toEqual([4, 5].map((i) => logName(FIRST + i)));
    expect(prunedDates(state)).toEqual(dates(0, 2));
    const before = chartBytes(out);
    expect(Object.keys(before)).toHaveLength(12);

    rmSync(state, { recursive: true, force: true });
    const second = cli(args);
    expect(second.status, second.stderr).toBe(0);
    const done = runDone(second);
    expect(done.charts).toEqual(dates(0, 5));
    expect(done.parsed).toBe(6);

    const after = chartBytes(out);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    for (const [name, bytes] of Object.entries(before)) {
      expect(after[name]!.equals(bytes), `${name} differs after the state folder was lost`).toBe(true);
    }
    const m = manifest(state);
    for (const i of [0, 1, 2, 3]) {
      const d = m.days[compactDay(FIRST + i)];
      expect(d, `day ${i} in the manifest`).toBeDefined();
      expect(d!.archived).toBe(join(archive, logName(FIRST + i)));
    }
    for (const i of [4, 5]) expect(m.days[compactDay(FIRST + i)]!.archived).toBeUndefined();
    expect(readdirSync(archive).sort()).toEqual(archivedFiles);
    expect(readdirSync(logs).sort()).toEqual(landed);
  });
});

describe('run --settle', () => {
  it('leaves a log written just now for a later run', () => {
    const { logs, out } = setup(0);
    generate(logs, FIRST, 1);
    generate(logs, FIRST + 1, 1, 12);
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(logs, logName(FIRST)), old, old);
    utimesSync(join(logs, logName(FIRST + 1)), new Date(), new Date());
    const args = ['run', '--logs', logs, '--out', out, ...OPTS, '--settle', '10s'];

    const first = cli(args);
    expect(first.status, first.stderr).toBe(0);
    expect(runDone(first).parsed).toBe(1);
    expect(existsSync(chartFile(out, 'country', FIRST))).toBe(true);
    expect(existsSync(chartFile(out, 'country', FIRST + 1))).toBe(false);
    expect(existsSync(chartFile(out, 'user', FIRST + 1))).toBe(false);

    const status = cli(['status', '--out', out, '--logs', logs, '--json']);
    expect(status.status, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { pending: string[]; days: { date: string }[] };
    expect(s.pending).toEqual([logName(FIRST + 1)]);
    expect(s.days.map((d) => d.date)).toEqual(dates(0, 0));
    const text = cli(['status', '--out', out, '--logs', logs]);
    expect(text.stdout).toContain(`not processed yet: ${logName(FIRST + 1)}`);

    const settled = new Date(Date.now() - 60_000);
    utimesSync(join(logs, logName(FIRST + 1)), settled, settled);
    const second = cli(args);
    expect(second.status, second.stderr).toBe(0);
    expect(runDone(second).parsed).toBe(1);
    expect(runDone(second).charts).toEqual(dates(1, 1));
    expect(existsSync(chartFile(out, 'country', FIRST + 1))).toBe(true);
    expect(existsSync(chartFile(out, 'user', FIRST + 1))).toBe(true);
  });
});

describe('watch: one alert per failure streak', () => {
  it('the landing folder going away is alerted once, logged on every poll; the watch goes on', async () => {
    const { url, received, server } = await alertServer();
    try {
      const { logs, out, state } = setup(2);
      const staging = temp.make('playtally-edge-staging-');
      const w = new Child([
        'watch',
        '--logs',
        logs,
        '--out',
        out,
        ...OPTS,
        '--poll-interval',
        '100ms',
        '--settle',
        '0s',
        '--on-failure-webhook',
        url,
      ]);
      await w.waitForEvent((e) => e.event === 'run_done' || e.event === 'charts_written', 'the first step');
      await w.waitForEvent((e) => e.event === 'run_done', 'run_done');
      expect(received).toHaveLength(0);

      const away = `${logs}-away`;
      renameSync(logs, away);
      const mark = w.events().length;
      await sleep(1_500);
      const failed = w
        .events()
        .slice(mark)
        .filter((e) => e.event === 'failed');
      expect(failed.length, w.story()).toBeGreaterThanOrEqual(3);
      expect(failed.every((e) => e.code === 'logs_not_found')).toBe(true);
      expect(received).toHaveLength(1);
      expect(received[0]!.body).toMatchObject({
        event: 'run_failed',
        command: 'watch',
        error: { code: 'logs_not_found' },
      });
      expect(w.exit).toBeUndefined();

      renameSync(away, logs);
      generate(staging, FIRST + 2, 1);
      renameSync(join(staging, logName(FIRST + 2)), join(logs, logName(FIRST + 2)));
      await w.waitForEvent(
        (e) => e.event === 'run_done' && (e.charts as string[]).includes(isoDay(FIRST + 2)),
        'the charts of the new log',
      );
      expect(existsSync(chartFile(out, 'country', FIRST + 2))).toBe(true);
      expect(existsSync(chartFile(out, 'user', FIRST + 2))).toBe(true);
      expect(received).toHaveLength(1);

      w.child.kill('SIGTERM');
      const exit = await w.exited;
      expect(exit.code, w.story()).toBe(0);
      expect(received).toHaveLength(1);
      // In the run history too, once per streak as alerted (not a line per poll), between the
      // steps before and after.
      const runs = readRunHistory(state);
      expect(runs.map((r) => [r.command, r.ok, r.error?.code, r.error?.exitCode])).toEqual([
        ['watch', true, undefined, undefined],
        ['watch', false, 'logs_not_found', 3],
        ['watch', true, undefined, undefined],
      ]);
    } finally {
      await closeServer(server);
    }
  });
});

describe('backfill --force', () => {
  it('reports partials rebuilt from their logs in `rebuilt`, with parsed 0', () => {
    const { logs, out, state } = setup(6);
    const first = cli(['run', '--logs', logs, '--out', out, ...OPTS]);
    expect(first.status, first.stderr).toBe(0);
    expect(prunedDates(state)).toEqual(dates(0, 2));
    const before = chartBytes(out);

    const r = cli([
      'backfill',
      '--logs',
      logs,
      '--out',
      out,
      ...OPTS,
      '--from',
      isoDay(FIRST),
      '--to',
      isoDay(FIRST + 2),
      '--force',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const done = runDone(r);
    expect(done.parsed).toBe(0);
    expect(done.rebuilt).toEqual(dates(0, 2));
    expect(done.charts).toEqual(dates(0, 2));
    const after = chartBytes(out);
    for (const [name, bytes] of Object.entries(before)) {
      expect(after[name]!.equals(bytes), `${name} differs after backfill --force`).toBe(true);
    }
    const runs = readRunHistory(state, 1);
    expect(runs[0]!.rebuilt).toEqual(dates(0, 2));
    expect(runs[0]!.days).toEqual([]);
  });
});
