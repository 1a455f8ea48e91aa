import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { clickhouseArgs, haveClickHouse, requireClickHouse, TestDatabases } from '../support/clickhouse.js';
import { Children, type CliChild, cli, requireBuiltCli, spawnCli } from '../support/cliRuns.js';
import { day, firstDifference, leftovers, logName, TempDirs } from '../support/tempDirs.js';

/**
 * `playtally watch`: it processes the logs present at start, then each log that lands (renamed
 * into place, or written in place once it has stopped changing for --settle), ignores dotfiles
 * and temporary names, rewrites the charts of a replaced day, and stops cleanly on SIGTERM with
 * everything on disk, so that a restarted watcher has nothing to redo. Charts are compared with
 * what `playtally run` writes from the same logs. Needs `npm run build` first.
 */

const FIRST = day('2024-06-01');
const DAYS = 5;
const GENERATOR = { rows: 2_000, users: 300, songs: 2_000, seed: 21 };
const SETTLE_MS = 1_000;
const OPTIONS = ['--window', '3', '--threads', '2'];
const WATCH_OPTIONS = [...OPTIONS, '--poll-interval', '200ms', '--settle', '1s'];

const temp = new TempDirs();
/** The watchers started by a test. */
const children = new Children();
/** The generated log of each day (FIRST .. FIRST + DAYS - 1), and another version of day 3. */
const source = new Map<number, Buffer>();
let otherDay3: Buffer;

beforeAll(() => {
  requireBuiltCli();
  const dir = temp.make('playtally-watch-src-');
  generateLogs({ dir: join(dir, 'a'), start: FIRST, days: DAYS, ...GENERATOR });
  for (let d = FIRST; d < FIRST + DAYS; d++) source.set(d, readFileSync(join(dir, 'a', logName(d))));
  generateLogs({ dir: join(dir, 'b'), start: FIRST + 2, days: 1, ...GENERATOR, seed: 22 });
  otherDay3 = readFileSync(join(dir, 'b', logName(FIRST + 2)));
});

requireClickHouse('e2e/watch.test (its --engine clickhouse case)');
const databases = new TestDatabases('playtally_watch');
const DATABASE = databases.next();
afterAll(async () => {
  await databases.dropAll();
  temp.cleanup();
});

// ---------------------------------------------------------------------------------------------
// The watcher as a child process

interface LogLine {
  event?: string;
  date?: string;
  dates?: string[];
  time?: string;
  /** Date.now() when the line was read. */
  receivedAt: number;
  [key: string]: unknown;
}

class Watcher {
  readonly child: CliChild;
  readonly lines: LogLine[] = [];
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly logs: string,
    readonly out: string,
    extra: string[] = [],
  ) {
    this.child = spawnCli(['watch', '--logs', logs, '--out', out, ...WATCH_OPTIONS, ...extra], { children });
    let pending = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          this.lines.push({ ...(JSON.parse(text) as object), receivedAt: Date.now() });
        } catch {
          this.lines.push({ event: 'not_json', text, receivedAt: Date.now() });
        }
      }
    });
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  /** Lines from index `from` on with this event (and date). */
  events(event: string, date?: string, from = 0): LogLine[] {
    return this.lines.slice(from).filter((l) => l.event === event && (date === undefined || l.date === date));
  }

  /** A short account of what the watcher logged, for failure messages. */
  story(from = 0): string {
    const told = this.lines
      .slice(from)
      .map(
        (l) => `${l.event}${l.date ? ` ${l.date}` : ''}${l.event === 'failed' ? `: ${String(l.error)}` : ''}`,
      );
    return `events: ${told.join(', ') || 'none'}${this.stderr ? `\nstderr: ${this.stderr.slice(-2000)}` : ''}`;
  }

  /** Wait for a line matching `match` at or after index `from`. */
  async waitForLine(
    match: (l: LogLine) => boolean,
    what: string,
    from = 0,
    timeoutMs = 15_000,
  ): Promise<LogLine> {
    let found: LogLine | undefined;
    await waitFor(
      () => (found = this.lines.slice(from).find(match)) !== undefined || this.exit !== undefined,
      timeoutMs,
      () => `${what}; ${this.story(from)}`,
    );
    if (found === undefined)
      throw new Error(
        `the watcher exited (${JSON.stringify(this.exit)}) before ${what}; ${this.story(from)}`,
      );
    return found;
  }

  waitForEvent(event: string, date?: string, from = 0, timeoutMs = 15_000): Promise<LogLine> {
    return this.waitForLine(
      (l) => l.event === event && (date === undefined || l.date === date),
      `${event}${date ? ` ${date}` : ''}`,
      from,
      timeoutMs,
    );
  }

  /** Wait until a step has written the charts of every date in `dates` and logged its run_done. */
  async waitForCharts(dates: number[], from = 0): Promise<void> {
    for (const d of dates) await this.waitForEvent('charts_written', isoDay(d), from);
    await this.waitForLine(
      (l) => l.event === 'run_done' && (l.charts as string[]).includes(isoDay(dates[dates.length - 1]!)),
      'run_done',
      from,
    );
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit === undefined) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** A watcher on `logs`, killed at the end of the test if still running. */
function startWatcher(logs: string, out: string, extra: string[] = []): Watcher {
  return new Watcher(logs, out, extra);
}

afterEach(() => children.stopAll());

async function waitFor(predicate: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------
// Folders, logs and the reference

interface Folders {
  root: string;
  logs: string;
  out: string;
}

function folders(): Folders {
  const root = temp.make('playtally-watch-');
  const logs = join(root, 'logs');
  mkdirSync(logs);
  return { root, logs, out: join(root, 'out') };
}

/**
 * Put logs into the landing folder as if they had landed a minute ago (an mtime older than
 * --settle: they count at once).
 */
function landOld(logs: string, files: Map<string, Buffer>): void {
  const past = new Date(Date.now() - 60_000);
  for (const [name, bytes] of files) {
    writeFileSync(join(logs, name), bytes);
    utimesSync(join(logs, name), past, past);
  }
}

/** The logs of these days by file name (`bytes` overrides the generated content of a day). */
function logsOf(days: number[], bytes = new Map<number, Buffer>()): Map<string, Buffer> {
  return new Map(days.map((d) => [logName(d), bytes.get(d) ?? source.get(d)!]));
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/**
 * What the output folder holds: each chart file (its bytes, as latin1 text) and each quality
 * report without `generatedAt` (a timestamp, the one field two runs may write differently).
 */
function outputs(out: string): Map<string, string> {
  const found = new Map<string, string>();
  if (!existsSync(out)) return found;
  for (const name of readdirSync(out).sort()) {
    if (/^(country|user)_top50_\d{8}\.txt$/.test(name))
      found.set(name, readFileSync(join(out, name), 'latin1'));
    if (/^quality_\d{8}\.json$/.test(name)) {
      const report = JSON.parse(readFileSync(join(out, name), 'utf8')) as Record<string, unknown>;
      delete report.generatedAt;
      found.set(name, JSON.stringify(report, null, 1));
    }
  }
  return found;
}

/** The outputs of `playtally run` on a fresh folder holding exactly these logs. */
function runReference(files: Map<string, Buffer>): Map<string, string> {
  const { logs, out } = folders();
  for (const [name, bytes] of files) writeFileSync(join(logs, name), bytes);
  const r = cli(['run', '--logs', logs, '--out', out, ...OPTIONS], { timeoutMs: 60_000 });
  if (r.status !== 0) throw new Error(`reference run failed (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  return outputs(out);
}

/** How `actual` differs from `expected`; empty when they are the same. */
function differences(actual: Map<string, string>, expected: Map<string, string>): string[] {
  const problems: string[] = [];
  const a = [...actual.keys()];
  const e = [...expected.keys()];
  if (JSON.stringify(a) !== JSON.stringify(e))
    problems.push(`output files ${JSON.stringify(a)}, expected ${JSON.stringify(e)}`);
  for (const [name, text] of expected) {
    const got = actual.get(name);
    if (got === undefined) continue;
    const diff = firstDifference(got, text);
    if (diff) problems.push(`${name}: ${diff}`);
  }
  return problems;
}

function chartNames(d: number): string[] {
  return [`country_top50_${compactDay(d)}.txt`, `user_top50_${compactDay(d)}.txt`];
}

function hasChart(out: string, d: number): boolean {
  return chartNames(d).some((name) => existsSync(join(out, name)));
}

// ---------------------------------------------------------------------------------------------

describe('playtally watch', () => {
  it('processes the logs present at start: the same charts as `run`', async () => {
    const { logs, out } = folders();
    const days = range(FIRST, 3);
    landOld(logs, logsOf(days));
    const w = startWatcher(logs, out);
    await w.waitForEvent('watching');
    await w.waitForCharts(days);
    expect(w.events('day_parsed').map((l) => l.date)).toEqual(days.map(isoDay));
    expect(differences(outputs(out), runReference(logsOf(days))), w.story()).toEqual([]);
  });

  it('takes in a log written under a .part name and renamed into place', async () => {
    const { logs, out } = folders();
    landOld(logs, logsOf(range(FIRST, 2)));
    const w = startWatcher(logs, out);
    await w.waitForCharts(range(FIRST, 2));
    const mark = w.lines.length;

    const d3 = FIRST + 2;
    const part = join(logs, `${logName(d3)}.part`);
    writeFileSync(part, source.get(d3)!);
    renameSync(part, join(logs, logName(d3)));
    const landed = Date.now();
    await w.waitForCharts([d3], mark);
    // Within a few seconds: --settle (1 s) at most, a poll (200 ms) and the step itself.
    expect(Date.now() - landed, w.story(mark)).toBeLessThan(6_000);
    // Only the new day is parsed; the others' partials are reused.
    expect(
      w.events('day_parsed', undefined, mark).map((l) => l.date),
      w.story(mark),
    ).toEqual([isoDay(d3)]);
    expect(differences(outputs(out), runReference(logsOf(range(FIRST, 3)))), w.story()).toEqual([]);
  });

  it('waits for a log written in place to stop growing: never takes in half a file', async () => {
    const { logs, out } = folders();
    landOld(logs, logsOf(range(FIRST, 2)));
    const w = startWatcher(logs, out);
    await w.waitForCharts(range(FIRST, 2));
    const mark = w.lines.length;

    const d3 = FIRST + 2;
    const bytes = source.get(d3)!;
    const half = Math.floor(bytes.length / 2);
    const chunks = 7;
    const chunkSize = Math.ceil((bytes.length - half) / chunks);
    const notYet = (when: string): void => {
      expect(w.events('day_parsed', isoDay(d3), mark), `${when}; ${w.story(mark)}`).toEqual([]);
      expect(w.events('charts_written', isoDay(d3), mark), `${when}; ${w.story(mark)}`).toEqual([]);
      expect(hasChart(out, d3), `${when}: a chart of ${isoDay(d3)} is there`).toBe(false);
    };
    const fd = openSync(join(logs, logName(d3)), 'w');
    let lastWrite: number;
    try {
      // Half the file at once, then a small chunk every 300 ms: about 2 s of writing, cutting lines.
      writeSync(fd, bytes, 0, half);
      lastWrite = Date.now();
      for (let offset = half; offset < bytes.length; offset += chunkSize) {
        await sleep(300);
        notYet(`while ${offset} of ${bytes.length} bytes are written`);
        writeSync(fd, bytes, offset, Math.min(chunkSize, bytes.length - offset));
        lastWrite = Date.now();
      }
    } finally {
      closeSync(fd);
    }
    // Not before the file has been still for --settle.
    await sleep(SETTLE_MS - 300);
    notYet(`${SETTLE_MS - 300} ms after the last write`);
    const parsed = await w.waitForEvent('day_parsed', isoDay(d3), mark);
    const parsedAt = Date.parse(parsed.time!);
    expect(
      parsedAt - lastWrite,
      `parsed ${parsedAt - lastWrite} ms after the last write`,
    ).toBeGreaterThanOrEqual(SETTLE_MS - 100);
    await w.waitForCharts([d3], mark);
    // Parsed once, whole: the charts are those of the complete file.
    expect(w.events('day_parsed', isoDay(d3), mark), w.story(mark)).toHaveLength(1);
    expect(parsed.rows, w.story(mark)).toBe(GENERATOR.rows);
    expect(differences(outputs(out), runReference(logsOf(range(FIRST, 3)))), w.story()).toEqual([]);
  });

  it('ignores dotfiles and temporary names (*.tmp, *.part)', async () => {
    const { logs, out } = folders();
    landOld(logs, logsOf(range(FIRST, 2)));
    const w = startWatcher(logs, out);
    await w.waitForCharts(range(FIRST, 2));
    const mark = w.lines.length;

    const d3 = FIRST + 2;
    const hidden = [`.${logName(d3)}`, `${logName(d3)}.tmp`, `${logName(d3)}.part`, `.${logName(d3)}.gz`];
    // Old mtimes: were they taken for logs, they would count at once.
    landOld(logs, new Map(hidden.map((name) => [name, source.get(d3)!])));
    await sleep(SETTLE_MS + 1_000);
    expect(w.lines.slice(mark), w.story(mark)).toEqual([]);
    expect(hasChart(out, d3)).toBe(false);
    for (const name of hidden) expect(existsSync(join(logs, name)), `${name} is left alone`).toBe(true);

    // The same bytes under the log's name are taken in.
    renameSync(join(logs, `${logName(d3)}.tmp`), join(logs, logName(d3)));
    await w.waitForCharts([d3], mark);
    expect(differences(outputs(out), runReference(logsOf(range(FIRST, 3)))), w.story()).toEqual([]);
  });

  it('rewrites the charts of the window of a day whose log is replaced', async () => {
    const { logs, out } = folders();
    const days = range(FIRST, DAYS);
    landOld(logs, logsOf(days));
    const w = startWatcher(logs, out);
    await w.waitForCharts(days);
    const before = outputs(out);
    const mark = w.lines.length;

    const d3 = FIRST + 2;
    expect(otherDay3.equals(source.get(d3)!)).toBe(false);
    const part = join(logs, `${logName(d3)}.part`);
    writeFileSync(part, otherDay3);
    renameSync(part, join(logs, logName(d3)));
    await w.waitForCharts([d3, d3 + 1, d3 + 2], mark);

    // The dates whose window holds day 3, and only those.
    expect(
      w.events('charts_written', undefined, mark).map((l) => l.date),
      w.story(mark),
    ).toEqual([d3, d3 + 1, d3 + 2].map(isoDay));
    const after = outputs(out);
    for (const d of [FIRST, FIRST + 1])
      for (const name of chartNames(d))
        expect(after.get(name), `${name} is unchanged`).toBe(before.get(name));
    for (const d of [d3, d3 + 1, d3 + 2])
      for (const name of chartNames(d))
        expect(after.get(name), `${name} is rewritten`).not.toBe(before.get(name));
    expect(differences(after, runReference(logsOf(days, new Map([[d3, otherDay3]])))), w.story()).toEqual([]);
  });

  it('stops on SIGTERM with exit code 0, leaving no lock and no temporary file; a restart redoes nothing', async () => {
    const { logs, out } = folders();
    const days = range(FIRST, 3);
    landOld(logs, logsOf(days));
    const w = startWatcher(logs, out);
    await w.waitForCharts(days);
    const charts = outputs(out);

    w.child.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit, w.story()).toEqual({ code: 0, signal: null });
    expect(w.events('stopped'), w.story()).toHaveLength(1);
    const state = join(out, '.playtally');
    expect(existsSync(join(state, 'lock')), 'the lock is released').toBe(false);
    expect(leftovers(out)).toEqual([]);
    expect(leftovers(logs)).toEqual([]);

    const again = startWatcher(logs, out);
    await again.waitForEvent('watching');
    // A first step (charts_due with nothing due), then a few more polls past --settle.
    const due = await again.waitForEvent('charts_due');
    expect(due.dates, again.story()).toEqual([]);
    await sleep(SETTLE_MS + 600);
    expect(again.events('day_parsed'), again.story()).toEqual([]);
    expect(again.events('charts_written'), again.story()).toEqual([]);
    expect(
      again.lines.filter((l) => l.event === 'charts_due').map((l) => l.dates),
      again.story(),
    ).toEqual(again.lines.filter((l) => l.event === 'charts_due').map(() => []));
    expect(outputs(out)).toEqual(charts);
    expect(await again.stop(), again.story()).toEqual({ code: 0, signal: null });
    expect(existsSync(join(state, 'lock'))).toBe(false);
  });
});

describe.runIf(haveClickHouse)('playtally watch --engine clickhouse', () => {
  it('loads the logs present and each one that lands into the cluster: the same charts as `run`', async () => {
    const { logs, out } = folders();
    landOld(logs, logsOf(range(FIRST, 2)));
    const w = startWatcher(logs, out, clickhouseArgs(DATABASE));
    await w.waitForCharts(range(FIRST, 2));
    const mark = w.lines.length;
    const d3 = FIRST + 2;
    const part = join(logs, `${logName(d3)}.part`);
    writeFileSync(part, source.get(d3)!);
    renameSync(part, join(logs, logName(d3)));
    await w.waitForCharts([d3], mark);
    expect(w.events('day_parsed', undefined, mark).map((l) => l.date)).toEqual([isoDay(d3)]);
    expect(differences(outputs(out), runReference(logsOf(range(FIRST, 3)))), w.story()).toEqual([]);
    expect(await w.stop()).toEqual({ code: 0, signal: null });
    // The days are on the cluster, and the manifest says so.
    const status = cli(['status', '--out', out, '--json']);
    const days = (JSON.parse(status.stdout) as { days: { partial: string }[] }).days;
    expect(days.map((d) => d.partial)).toEqual(['clickhouse', 'clickhouse', 'clickhouse']);
  });
});
