import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { chartFilePaths, writeCountryChart, writeUserChart } from '../formats/chartFiles.js';
import { type DayRecord, StateStore } from '../formats/manifest.js';
import {
  buildQualityReport,
  type QualityReport,
  type RejectRateWarning,
  rejectTally,
  writeQualityReport,
} from '../formats/qualityReport.js';
import { processAlive, removeStaleTempFiles, writeFileAtomic } from '../ops/atomicFile.js';
import { compactDay, isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { ensureWritable } from '../ops/folders.js';
import { cpuMs, peakRssBytes } from '../ops/processUsage.js';
import { DEFAULT_MAX_REJECT_RATE, describeRejects, LISTEN_LAYOUT } from '../parse/rejectDiagnosis.js';
import { folderLocation, requireInputFolder } from '../sources/locations.js';
import { type IgnoredFile, LOG_NAMES, type LogFile, scanLogs } from '../sources/logFiles.js';
import { bestOfPartitions } from '../window/countryCharts.js';
import { type DayPartial, ensureDayPartial } from './dayPartial.js';
import { type MemoryPlan, planMemory } from './memoryPlan.js';
import type { MergeCountriesResult, MergeUsersResult } from './tasks.js';
import { countrySources, planWindow } from './windowPlan.js';
import { WorkerPool } from './workerPool.js';

export interface Top50Options {
  logsDir: string;
  outDir: string;
  /** Default: `<outDir>/.playtally`. */
  stateDir?: string;
  /** Chart date as a day number; default: the newest log day. */
  day?: number;
  window?: number;
  top?: number;
  memoryBytes?: number;
  threads?: number;
  strict?: boolean;
  /** A day whose share of rejected rows is above this is a warning (default 0.05). */
  maxRejectRate?: number;
  /** Overrides the memory plan's partition budget (tests use it to force many partitions). */
  partitionBytes?: number;
  onEvent?: (event: Top50Event) => void;
}

export type Top50Event =
  | { type: 'ignored'; file: IgnoredFile }
  | { type: 'missing'; days: string[] }
  | { type: 'dayStart'; date: string; file: string; bytes: number }
  | { type: 'progress'; bytes: number; rows: number }
  | { type: 'dayDone'; date: string; reused: boolean; rows: number; ms: number }
  | { type: 'damaged'; date: string; problem: string }
  | { type: 'rejectRate'; warning: RejectRateWarning }
  | { type: 'stateRecovered'; problem: string }
  | { type: 'mergeStart'; days: number; partitions: number }
  | { type: 'mergeDone'; ms: number };

export interface Top50Summary {
  date: string;
  window: QualityReport['window'];
  /** Every log day of the window; `ms` is the time this run spent on it (parse or reuse). */
  days: {
    date: string;
    file: string;
    reused: boolean;
    rows: number;
    valid: number;
    rejected: number;
    ms: number;
  }[];
  totals: QualityReport['totals'];
  /** Days of the window with more rejected rows than --max-reject-rate (also in the quality report). */
  warnings: RejectRateWarning[];
  outputs: {
    country: { path: string; rows: number };
    user: { path: string; rows: number };
    quality: string;
  };
  threads: number;
  memoryBytes: number;
  elapsedMs: number;
  /** CPU time of the whole process (all threads), user + system. */
  cpuMs: number;
  /** Wall time of each stage: bringing the days' partials up to date, then each chart (merge and write). */
  stagesMs: { partials: number; countryChart: number; userChart: number };
  peakRssBytes: number;
}

export const DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024;

/**
 * The top-50 job: bring every log day of the window into a partial (reusing the ones already
 * built), merge the window's partials into chart rows (countries by partition, users by user
 * range), and write the two chart files and the quality report, each through a temporary name.
 */
export async function runTop50(options: Top50Options): Promise<Top50Summary> {
  const started = Date.now();
  const { day, logs } = await planChartWindow(options);
  const session = ChartSession.open(options);
  try {
    return await session.writeCharts(day, logs, started, { requireValidRows: true });
  } finally {
    await session.close();
  }
}

/**
 * The chart date and the logs of its window, whatever the engine: the newest log day unless
 * `options.day` says; an error when there is no log at all, none in the window, or (with
 * `strict`) a day of the window is missing.
 */
export async function planChartWindow(options: Top50Options): Promise<{
  day: number;
  windowDays: number[];
  logs: LogFile[];
  missing: string[];
}> {
  const emit = options.onEvent ?? (() => {});
  const windowLength = options.window ?? 7;
  const logsDir = folderLocation(options.logsDir);
  await requireInputFolder(logsDir);
  const scan = await scanLogs(logsDir);
  for (const file of scan.ignored) emit({ type: 'ignored', file });
  if (scan.logs.length === 0) {
    const passed = scan.ignored.length;
    throw new PlaytallyError(
      'no_logs',
      `no logs in ${logsDir}: playtally reads ${LOG_NAMES}` +
        (passed > 0 ? `; ${passed} file(s) passed over, see the warnings above` : ''),
    );
  }
  const day = options.day ?? scan.logs[scan.logs.length - 1]!.day;
  const windowDays = windowOf(day, windowLength);
  const logs = scan.logs.filter((l) => l.day >= windowDays[0]! && l.day <= day);
  const present = new Set(logs.map((l) => l.day));
  const missing = windowDays.filter((d) => !present.has(d)).map(isoDay);
  if (logs.length === 0) {
    throw new PlaytallyError(
      'no_logs_in_window',
      `no logs for the window ${isoDay(windowDays[0]!)}..${isoDay(day)} in ${logsDir}`,
    );
  }
  if (options.strict && missing.length > 0) {
    throw new PlaytallyError('missing_days', `missing log days in the window: ${missing.join(', ')}`, {
      missing,
    });
  }
  return { day, windowDays, logs, missing };
}

/** The days of the window ending on `day`, oldest first. */
export function windowOf(day: number, windowLength: number): number[] {
  return Array.from({ length: windowLength }, (_, i) => day - windowLength + 1 + i);
}

export type SessionOptions = Omit<Top50Options, 'logsDir' | 'day' | 'strict'>;

/** What computing charts from a day takes: its manifest record, and whether it was built just now. */
export interface TakenDay {
  record: DayRecord;
  built: boolean;
}

/** The two chart files as written, with the times each was done. */
export interface WrittenCharts {
  countryRows: number;
  userRows: number;
  countryDone: number;
  userDone: number;
}

/**
 * A session of one engine, set up once for any number of chart dates (`run`, `watch` and
 * `backfill` write many dates in one session). The state folder (its manifest of days, charts and
 * quarantined logs), the quality report and the record of each chart's inputs are the same for
 * every engine; how a day is taken in and how the charts are computed is the engine's:
 * partials in this process (ChartSession), or a ClickHouse cluster (ClickHouseChartSession).
 */
export abstract class ChartSessionBase<Taken extends TakenDay = TakenDay> {
  readonly state: StateStore;
  readonly outDir: string;
  readonly window: number;
  readonly top: number;
  readonly maxRejectRate: number;
  protected readonly emit: (event: Top50Event) => void;
  /** Whether a day's data stays until `--keep-days` says otherwise (else: the window's days only). */
  abstract readonly keepsHistory: boolean;

  protected constructor(options: SessionOptions) {
    this.emit = options.onEvent ?? (() => {});
    this.window = options.window ?? 7;
    this.top = options.top ?? 50;
    this.maxRejectRate = options.maxRejectRate ?? DEFAULT_MAX_REJECT_RATE;
    this.outDir = resolve(options.outDir);
    const stateDir = resolve(options.stateDir ?? join(this.outDir, '.playtally'));
    ensureWritable(this.outDir, 'output_not_writable', 'output folder');
    this.state = new StateStore(stateDir);
    if (this.state.recovered) this.emit({ type: 'stateRecovered', problem: this.state.recovered });
    ensureWritable(stateDir, 'state_not_writable', 'state folder');
    removeStaleTempFiles(this.outDir);
    removeStaleTempFiles(this.state.partialsDir);
    removeStaleTempFiles(stateDir);
  }

  /** Take a log day in: reused when the manifest says it is current, else parsed (`force`: again). */
  async partial(log: LogFile, force = false): Promise<Taken> {
    const started = Date.now();
    this.emit({ type: 'dayStart', date: isoDay(log.day), file: log.name, bytes: log.size });
    const taken = await this.takeIn(log, force);
    this.emit({
      type: 'dayDone',
      date: isoDay(log.day),
      reused: !taken.built,
      rows: taken.record.lines,
      ms: Date.now() - started,
    });
    return taken;
  }

  /** The engine's part of `partial`. */
  protected abstract takeIn(log: LogFile, force: boolean): Promise<Taken>;

  /** Whether a day's data can go into a chart without its log (its partial, or its rows on the cluster). */
  abstract holds(record: DayRecord): Promise<boolean>;

  /** Retention: drop a day's data, which its log can bring back. */
  abstract prune(key: string): Promise<void>;

  /** A day's log was quarantined (the manifest forgot the day): drop whatever the engine kept of it. */
  abstract discard(day: number): Promise<void>;

  /** Write both chart files of the window from its taken-in days (`taken[i]` is `logs[i]`'s). */
  protected abstract computeCharts(
    paths: { country: string; user: string },
    logs: LogFile[],
    taken: Taken[],
    dayMs: number[],
  ): Promise<WrittenCharts>;

  /** Threads and memory budget reported in the summary. */
  protected abstract readonly figures: { threads: number; memoryBytes: number };

  abstract close(): Promise<void>;

  /**
   * Write the charts and the quality report of `day` from `logs`, the log days of its window (at
   * least one), and record in the manifest which inputs they were computed from. With
   * `requireValidRows` (top50), a window whose logs hold no valid row at all is an input error
   * that says what the lines look like, and nothing is written.
   */
  async writeCharts(
    day: number,
    logs: LogFile[],
    started = Date.now(),
    { requireValidRows = false } = {},
  ): Promise<Top50Summary> {
    const windowDays = windowOf(day, this.window);
    const present = new Set(logs.map((l) => l.day));
    const missing = windowDays.filter((d) => !present.has(d)).map(isoDay);
    if (missing.length > 0) this.emit({ type: 'missing', days: missing });
    const taken: Taken[] = [];
    const dayMs: number[] = [];
    for (const log of logs) {
      const dayStarted = Date.now();
      taken.push(await this.partial(log));
      dayMs.push(Date.now() - dayStarted);
    }

    const records = new Map<number, DayRecord>(logs.map((l, i) => [l.day, taken[i]!.record]));
    if (requireValidRows && logs.length > 0 && taken.every((t) => t.record.valid === 0)) {
      throw noValidRows(windowDays, [...records.values()]);
    }
    const partialsDone = Date.now();
    const paths = chartFilePaths(this.outDir, day);
    const charts =
      logs.length === 0 ? await writeEmptyCharts(paths) : await this.computeCharts(paths, logs, taken, dayMs);

    const report = buildQualityReport(day, windowDays, records, this.maxRejectRate);
    for (const warning of report.warnings) this.emit({ type: 'rejectRate', warning });
    const qualityPath = writeQualityReport(this.outDir, report, day);
    this.state.putChart(compactDay(day), {
      date: isoDay(day),
      window: this.window,
      top: this.top,
      inputs: Object.fromEntries(logs.map((l, i) => [compactDay(l.day), taken[i]!.record.hash])),
      outDir: this.outDir,
      files: { country: basename(paths.country), user: basename(paths.user), quality: basename(qualityPath) },
      rows: { country: charts.countryRows, user: charts.userRows },
      writtenAt: new Date().toISOString(),
    });
    return {
      date: isoDay(day),
      window: report.window,
      days: logs.map((l, i) => ({
        date: isoDay(l.day),
        file: l.name,
        reused: !taken[i]!.built,
        rows: taken[i]!.record.lines,
        valid: taken[i]!.record.valid,
        rejected: taken[i]!.record.rejected,
        ms: dayMs[i]!,
      })),
      totals: report.totals,
      warnings: report.warnings,
      outputs: {
        country: { path: paths.country, rows: charts.countryRows },
        user: { path: paths.user, rows: charts.userRows },
        quality: qualityPath,
      },
      ...this.figures,
      elapsedMs: Date.now() - started,
      cpuMs: cpuMs(),
      stagesMs: {
        partials: partialsDone - started,
        countryChart: charts.countryDone - partialsDone,
        userChart: charts.userDone - charts.countryDone,
      },
      peakRssBytes: peakRssBytes(),
    };
  }
}

/**
 * The embedded engine's session: each day parsed into a partial in the state folder, the window
 * merged by the worker pool within the memory plan, in a scratch folder of this run.
 */
export class ChartSession extends ChartSessionBase<DayPartial> {
  readonly threads: number;
  readonly memoryBytes: number;
  readonly keepsHistory = false;
  private readonly plan: MemoryPlan;
  private readonly runTmpDir: string;
  private readonly pool: WorkerPool;

  private constructor(options: SessionOptions) {
    super(options);
    this.threads = options.threads ?? availableParallelism();
    this.memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    removeStaleRunDirs(this.state.tmpDir);
    // A run killed while quarantining a day can leave the day's partial behind, named by no record.
    this.state.removeOrphanPartials();
    this.plan = planMemory(this.memoryBytes, this.threads, options.partitionBytes);
    this.runTmpDir = join(this.state.tmpDir, `run-${process.pid}-${Date.now()}`);
    mkdirSync(this.runTmpDir, { recursive: true });
    this.pool = new WorkerPool(this.threads, ({ bytes, rows }) =>
      this.emit({ type: 'progress', bytes, rows }),
    );
  }

  static open(options: SessionOptions): ChartSession {
    return new ChartSession(options);
  }

  protected get figures(): { threads: number; memoryBytes: number } {
    return { threads: this.threads, memoryBytes: this.memoryBytes };
  }

  /** The day's partial, reused or built (`force`: rebuilt, it was found damaged). */
  protected takeIn(log: LogFile, force: boolean): Promise<DayPartial> {
    return ensureDayPartial(log, this.state, this.pool, this.plan, this.runTmpDir, force);
  }

  async holds(record: DayRecord): Promise<boolean> {
    return !record.pruned && record.partial !== '' && existsSync(this.state.partialPath(record));
  }

  async prune(key: string): Promise<void> {
    this.state.prunePartial(key);
  }

  async discard(): Promise<void> {
    // The manifest removed the day's partial with its record.
  }

  protected async computeCharts(
    paths: { country: string; user: string },
    logs: LogFile[],
    partials: DayPartial[],
    dayMs: number[],
  ): Promise<WrittenCharts> {
    const { top, threads, plan, pool, emit } = this;
    return writeCharts({ paths, partials, top, threads, plan, pool, emit }, async (damaged) => {
      const rebuildStarted = Date.now();
      partials[damaged] = await this.partial(logs[damaged]!, true);
      dayMs[damaged]! += Date.now() - rebuildStarted;
    });
  }

  async close(): Promise<void> {
    try {
      await this.pool.close();
    } finally {
      rmSync(this.runTmpDir, { recursive: true, force: true });
    }
  }
}

interface ChartsContext {
  paths: { country: string; user: string };
  partials: DayPartial[];
  top: number;
  threads: number;
  plan: MemoryPlan;
  pool: WorkerPool;
  emit: (event: Top50Event) => void;
}

/**
 * Merge the window and write both chart files. Block and segment checksums are checked as the
 * merge reads them: a partial found damaged there is rebuilt from its log (`rebuild`, which
 * replaces it in `partials`) and the merge is run again.
 */
async function writeCharts(
  { paths, partials, top, threads, plan, pool, emit }: ChartsContext,
  rebuild: (day: number) => Promise<void>,
): Promise<WrittenCharts> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const window = planWindow(partials, plan, threads);
      emit({ type: 'mergeStart', days: partials.length, partitions: window.countryPartitions });
      const countryCharts = await settleAll(
        Array.from({ length: window.countryPartitions }, (_, q) =>
          pool.run<MergeCountriesResult>({
            kind: 'mergeCountries',
            partition: q,
            top,
            sources: countrySources(partials, q, window.countryPartitions),
          }),
        ),
      );
      const countryRows = await writeCountryChart(
        paths.country,
        bestOfPartitions(
          countryCharts.map((r) => r.countries),
          top,
        ),
      );
      const countryDone = Date.now();
      const userRows = await writeUserChart(paths.user, window.userRanges.length, threads + 1, (r) =>
        pool.run<MergeUsersResult>({ kind: 'mergeUsers', top, ...window.userRanges[r]! }),
      );
      const userDone = Date.now();
      emit({ type: 'mergeDone', ms: userDone - started });
      return { countryRows, userRows, countryDone, userDone };
    } catch (error) {
      const { code, path } = error as { code?: unknown; path?: unknown };
      const damaged = partials.findIndex((p) => p.path === path);
      if (code !== 'PARTIAL_CORRUPT' || damaged < 0 || attempt >= partials.length) throw error;
      emit({ type: 'damaged', date: partials[damaged]!.record.date, problem: (error as Error).message });
      await rebuild(damaged);
    }
  }
}

/** A window with no log left (its only days were quarantined since): charts with no rows. */
async function writeEmptyCharts(paths: { country: string; user: string }): Promise<WrittenCharts> {
  writeFileAtomic(paths.country, '');
  writeFileAtomic(paths.user, '');
  const done = Date.now();
  return { countryRows: 0, userRows: 0, countryDone: done, userDone: done };
}

/**
 * The error for a window without a single valid row: rather than two empty chart files, what each
 * log of the window holds, with its main reject reason, an example line and, when the lines show
 * one, the layout problem in words.
 */
function noValidRows(windowDays: number[], records: DayRecord[]): PlaytallyError {
  const rows = records.reduce((n, r) => n + r.lines, 0);
  const lines = records.map((r) =>
    r.lines === 0
      ? `  ${r.file}: no rows (the file is empty${r.header ? ' but for its header' : ''})`
      : `  ${r.file}: ${describeRejects(rejectTally(r), { layout: LISTEN_LAYOUT })}`,
  );
  return new PlaytallyError(
    'no_valid_rows',
    `no valid row in the window ${isoDay(windowDays[0]!)}..${isoDay(windowDays[windowDays.length - 1]!)} ` +
      `(${records.length} log(s), ${rows.toLocaleString('en-US')} rows); playtally reads rows like ` +
      `29569957|7788196|BL (sng_id|user_id|country), no chart written:\n${lines.join('\n')}`,
    { window: windowDays.map(isoDay), files: records.map((r) => r.file) },
  );
}

/** Like Promise.all, but every task settles before a failure is reported, so a retry never races one still running. */
async function settleAll<T>(tasks: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** Scratch folders of runs that were killed (their pid is gone). */
function removeStaleRunDirs(tmpDir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(tmpDir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^run-(\d+)-/.exec(name);
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) {
      rmSync(join(tmpDir, name), { recursive: true, force: true });
    }
  }
}
