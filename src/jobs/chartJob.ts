import { basename, join, resolve } from 'node:path';
import type { ChartEngine, TakenDay, Top50Event, WrittenCharts } from '../engines/chartEngine.js';
import { type EngineChoice, openChartEngine } from '../engines/pickEngine.js';
import { chartFilePaths } from '../formats/chartFiles.js';
import { type DayRecord, StateStore } from '../formats/manifest.js';
import {
  buildQualityReport,
  type QualityReport,
  type RejectRateWarning,
  rejectTally,
  writeQualityReport,
} from '../formats/qualityReport.js';
import { removeStaleTempFiles, writeFileAtomic } from '../ops/atomicFile.js';
import { plural } from '../ops/counts.js';
import { compactDay, isoDay, parseDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { ensureWritable } from '../ops/folders.js';
import { writeFailure } from '../ops/ioErrors.js';
import { overlappedSteps } from '../ops/overlappedSteps.js';
import { cpuMs, peakRssBytes } from '../ops/processUsage.js';
import { DEFAULT_MAX_REJECT_RATE, describeRejects, LISTEN_LAYOUT } from '../parse/rejectDiagnosis.js';
import { folderLocation, requireInputFolder } from '../sources/locations.js';
import { LOG_NAMES, type LogFile, logReadFailure, scanLogs } from '../sources/logFiles.js';

/** Days in a chart window, and songs in a chart row, unless told otherwise. */
const DEFAULT_WINDOW = 7;
const DEFAULT_TOP = 50;

export interface Top50Options extends EngineChoice {
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
  /**
   * Days of the window before the first log ever seen (in the logs folder or the state): not
   * missing, the data starts later. `window.missing` lists them too (the quality report's figure).
   */
  beforeData: number;
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

/**
 * The top-50 job: bring every log day of the window into a partial (reusing the ones already
 * built), merge the window's partials into chart rows (countries by partition, users by user
 * range), and write the two chart files and the quality report, each through a temporary name.
 */
export async function runTop50(options: Top50Options): Promise<Top50Summary> {
  const started = Date.now();
  const { day, logs } = await planChartWindow(options);
  const session = await ChartSession.open(options);
  try {
    return await session.writeCharts(day, logs, started, { requireValidRows: true, last: true });
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
  const windowLength = options.window ?? DEFAULT_WINDOW;
  const logsDir = folderLocation(options.logsDir);
  await requireInputFolder(logsDir);
  const scan = await scanLogs(logsDir);
  for (const file of scan.ignored) emit({ type: 'ignored', file });
  if (scan.logs.length === 0) {
    const passed = scan.ignored.length;
    throw new PlaytallyError(
      'no_logs',
      `no logs in ${logsDir}: playtally reads ${LOG_NAMES}` +
        (passed > 0 ? `; ${plural(passed, 'file')} passed over, see the warnings above` : ''),
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

/**
 * A chart session, set up once for any number of chart dates (`run`, `watch` and `backfill` write
 * many dates in one session). The state folder (its manifest of days, charts and quarantined
 * logs), the quality report and the record of each chart's inputs are the same for every engine;
 * how a day is taken in and how the charts are computed is the engine's (engines/chartEngine.ts),
 * opened with the session and closed with it.
 */
export class ChartSession {
  readonly state: StateStore;
  readonly outDir: string;
  readonly window: number;
  readonly top: number;
  readonly maxRejectRate: number;
  private readonly emit: (event: Top50Event) => void;
  /** Whether this session has said that a window starts before the data (once is enough). */
  private saidBeforeData = false;
  /** The gap days this session has warned about: each once, not at every chart date it is in. */
  private readonly warnedGaps = new Set<string>();
  private closing: Promise<void> | undefined;

  private constructor(
    options: SessionOptions,
    state: StateStore,
    readonly engine: ChartEngine,
  ) {
    this.emit = options.onEvent ?? (() => {});
    this.window = options.window ?? DEFAULT_WINDOW;
    this.top = options.top ?? DEFAULT_TOP;
    this.maxRejectRate = options.maxRejectRate ?? DEFAULT_MAX_REJECT_RATE;
    this.outDir = resolve(options.outDir);
    this.state = state;
  }

  /**
   * Open the output and state folders (checked writable, temporary files of killed runs removed),
   * then the engine `options` choose (a ClickHouse cluster is checked to answer before any work).
   */
  static async open(options: SessionOptions): Promise<ChartSession> {
    const emit = options.onEvent ?? (() => {});
    const outDir = resolve(options.outDir);
    const stateDir = resolve(options.stateDir ?? join(outDir, '.playtally'));
    ensureWritable(outDir, 'output_not_writable', 'output folder');
    const state = new StateStore(stateDir);
    if (state.recovered) emit({ type: 'stateRecovered', problem: state.recovered });
    ensureWritable(stateDir, 'state_not_writable', 'state folder');
    removeStaleTempFiles(outDir);
    removeStaleTempFiles(state.partialsDir);
    removeStaleTempFiles(stateDir);
    const engine = await openChartEngine(options, {
      state,
      top: options.top ?? DEFAULT_TOP,
      threads: options.threads,
      memoryBytes: options.memoryBytes,
      partitionBytes: options.partitionBytes,
      emit,
    });
    return new ChartSession(options, state, engine);
  }

  /** Whether a day's data stays until `--keep-days` says otherwise (else: the window's days only). */
  get keepsHistory(): boolean {
    return this.engine.keepsHistory;
  }

  /**
   * Take a log day in: reused when the manifest says it is current, else parsed (`force`: again).
   * `overlap`: see ChartEngine.takeIn.
   */
  async partial(log: LogFile, force = false, overlap?: () => void): Promise<TakenDay> {
    const started = Date.now();
    this.emit({ type: 'dayStart', date: isoDay(log.day), file: log.name, bytes: log.size });
    let taken: TakenDay;
    try {
      taken = await this.engine.takeIn(log, force, overlap);
    } catch (error) {
      // The log unreadable (a damaged gzip, no permission, a device error): that log's problem
      // only. Else a worker's write (a spill, a partial) that failed for the machine's reason (no
      // space): said in a sentence naming where the day was being written.
      const ofTheLog = logReadFailure(error, log);
      throw ofTheLog !== error
        ? ofTheLog
        : writeFailure(
            error,
            (error as { path?: string }).path ?? `a file in the state folder ${this.state.dir}`,
          );
    }
    this.emit({
      type: 'dayDone',
      date: isoDay(log.day),
      file: log.name,
      reused: !taken.built,
      rows: taken.record.lines,
      ms: Date.now() - started,
    });
    return taken;
  }

  /** The first day the data has: the oldest log day the state knows or `logs` hold. */
  private firstDataDay(logs: LogFile[]): number {
    let first = Number.POSITIVE_INFINITY;
    for (const key of [...Object.keys(this.state.days()), ...Object.keys(this.state.quarantined())]) {
      const known = parseDay(key);
      if (known !== undefined && known < first) first = known;
    }
    for (const log of logs) if (log.day < first) first = log.day;
    return first;
  }

  /** Whether a day's data can go into a chart without its log. */
  holds(record: DayRecord): Promise<boolean> {
    return this.engine.holds(record);
  }

  /** Retention: drop a day's data, which its log can bring back. */
  prune(key: string): Promise<void> {
    return this.engine.prune(key);
  }

  /** A day's log was quarantined (the manifest forgot the day): drop whatever the engine kept of it. */
  discard(day: number): Promise<void> {
    return this.engine.discard(day);
  }

  /** End the engine (its worker threads, or its cluster connections); a second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= this.engine.close();
    return this.closing;
  }

  /**
   * Write the charts and the quality report of `day` from `logs`, the log days of its window (at
   * least one), and record in the manifest which inputs they were computed from. With
   * `requireValidRows` (top50), a window whose logs hold no valid row at all is an input error
   * that says what the lines look like, and nothing is written. `last`: no other date follows in
   * this session (the engine may let its threads go once the charts are computed).
   */
  async writeCharts(
    day: number,
    logs: LogFile[],
    started = Date.now(),
    { requireValidRows = false, last = false } = {},
  ): Promise<Top50Summary> {
    const windowDays = windowOf(day, this.window);
    const present = new Set(logs.map((l) => l.day));
    // Days before the first log ever seen are not missing: the data starts later. A gap between
    // logs is, warned about once a session (a backfill writes many dates whose windows hold it).
    const first = this.firstDataDay(logs);
    const absent = windowDays.filter((d) => !present.has(d));
    const gaps = absent.filter((d) => d >= first).map(isoDay);
    const beforeData = absent.length - gaps.length;
    const newGaps = gaps.filter((d) => !this.warnedGaps.has(d));
    for (const d of newGaps) this.warnedGaps.add(d);
    if (newGaps.length > 0) this.emit({ type: 'missing', days: newGaps });
    if (beforeData > 0 && !this.saidBeforeData) {
      this.saidBeforeData = true;
      this.emit({ type: 'beforeData', date: isoDay(day), days: beforeData, firstDay: isoDay(first) });
    }
    // Each day starts as the one before lets it (overlappedSteps): with the embedded engine, the
    // workers go from a day's last partitions to the next day's rows without waiting.
    const days = await overlappedSteps(logs, async (log, overlap) => {
      const dayStarted = Date.now();
      const day = await this.partial(log, false, overlap);
      return { day, ms: Date.now() - dayStarted };
    });
    const taken = days.map((d) => d.day);
    const dayMs = days.map((d) => d.ms);

    const records = new Map<number, DayRecord>(logs.map((l, i) => [l.day, taken[i]!.record]));
    if (requireValidRows && logs.length > 0 && taken.every((t) => t.record.valid === 0)) {
      throw noValidRows(windowDays, [...records.values()]);
    }
    const partialsDone = Date.now();
    const paths = chartFilePaths(this.outDir, day);
    const retake = async (i: number): Promise<void> => {
      const retakeStarted = Date.now();
      taken[i] = await this.partial(logs[i]!, true);
      dayMs[i]! += Date.now() - retakeStarted;
    };
    const charts =
      logs.length === 0
        ? await writeEmptyCharts(paths)
        : await this.engine.computeCharts({ paths, logs, taken, retake, last });

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
      beforeData,
      warnings: report.warnings,
      outputs: {
        country: { path: paths.country, rows: charts.countryRows },
        user: { path: paths.user, rows: charts.userRows },
        quality: qualityPath,
      },
      ...this.engine.figures,
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
      `(${plural(records.length, 'log')}, ${plural(rows, 'row')}); playtally reads rows like ` +
      `29569957|7788196|BL (sng_id|user_id|country), no chart written:\n${lines.join('\n')}`,
    { window: windowDays.map(isoDay), files: records.map((r) => r.file) },
  );
}
