import type { DayRecord, StateStore } from '../formats/manifest.js';
import type { RejectRateWarning } from '../formats/qualityReport.js';
import type { IgnoredFile, LogFile } from '../sources/logFiles.js';

/**
 * The chart engine contract. The chart job (jobs/chartJob.ts) owns what is the same for every
 * engine: the state folder and its manifest, which days a chart date needs, the quality report,
 * the record of each chart's inputs. An engine owns how a log day is taken in (parsed into a
 * partial on disk, or loaded into a ClickHouse cluster), how long its data is kept, and how the
 * window's two chart files are computed. Implementations: engines/embedded/chartEngine.ts and
 * engines/clickhouse/chartEngine.ts, chosen by engines/pickEngine.ts only; both pass the shared
 * suite test/integration/chartEngine.contract.test.ts and write byte-identical files.
 */
export interface ChartEngine<Taken extends TakenDay = TakenDay> {
  /** Whether a day's data stays until `--keep-days` says otherwise (else: the window's days only). */
  readonly keepsHistory: boolean;
  /** Threads and memory budget reported in the job's summary. */
  readonly figures: { threads: number; memoryBytes: number };
  /**
   * Take a log day in: reused when the manifest says it is current, else parsed (`force`: again).
   * `overlap`, if given, is called once the day no longer needs the engine to itself, before it
   * is done: the next day may start alongside its end (the embedded engine calls it when the
   * day's rows are read and its aggregation is queued). An engine that never calls it has its
   * days taken in one after the other.
   */
  takeIn(log: LogFile, force: boolean, overlap?: () => void): Promise<Taken>;
  /** Whether a day's data can go into a chart without its log (its partial, or its rows on the cluster). */
  holds(record: DayRecord): Promise<boolean>;
  /** Retention: drop a day's data, which its log can bring back. */
  prune(key: string): Promise<void>;
  /** A day's log was quarantined (the manifest forgot the day): drop whatever the engine kept of it. */
  discard(day: number): Promise<void>;
  /** Write both chart files of the window from its taken-in days. */
  computeCharts(request: ChartsRequest<Taken>): Promise<WrittenCharts>;
  close(): Promise<void>;
}

/** What an engine is opened with: the job's state folder and settings. */
export interface ChartEngineSetup {
  state: StateStore;
  top: number;
  /** Worker threads (default: the number of cores); the embedded engine's. */
  threads?: number;
  /** Memory budget in bytes; the embedded engine's. */
  memoryBytes?: number;
  /** Overrides the memory plan's partition budget (tests use it to force many partitions). */
  partitionBytes?: number;
  emit: (event: Top50Event) => void;
}

/** What computing charts from a day takes: its manifest record, and whether it was built just now. */
export interface TakenDay {
  record: DayRecord;
  built: boolean;
}

export interface ChartsRequest<Taken extends TakenDay> {
  paths: { country: string; user: string };
  /** The log days of the window (at least one). */
  logs: LogFile[];
  /** `taken[i]` is `logs[i]`'s. */
  taken: Taken[];
  /** Take day `i` in again, its data found damaged while computing: replaces `taken[i]`. */
  retake(i: number): Promise<void>;
  /**
   * No other chart date follows in this session (`top50`): the engine may let its threads go as
   * soon as its computing is done, while the files are committed.
   */
  last?: boolean;
}

/** The two chart files as written, with the times each was done. */
export interface WrittenCharts {
  countryRows: number;
  userRows: number;
  countryDone: number;
  userDone: number;
}

/** A memory budget holding fewer worker threads than were asked for, as the jobs' events say it. */
export interface ThreadsCut {
  type: 'threadsCut';
  threads: number;
  asked: number;
  memoryBytes: number;
}

/** What the chart job and its engine report as they go. */
export type Top50Event =
  | { type: 'ignored'; file: IgnoredFile }
  /** Days of a chart date's window without a log, between logs (a gap in the data). */
  | { type: 'missing'; days: string[] }
  /** The window of `date` starts `days` day(s) before the first log (`firstDay`): said once. */
  | { type: 'beforeData'; date: string; days: number; firstDay: string }
  | { type: 'dayStart'; date: string; file: string; bytes: number }
  | { type: 'progress'; bytes: number; rows: number }
  /** `file` as its dayStart said: the next day may have started before this one is done. */
  | { type: 'dayDone'; date: string; file: string; reused: boolean; rows: number; ms: number }
  | { type: 'damaged'; date: string; problem: string }
  | { type: 'rejectRate'; warning: RejectRateWarning }
  | { type: 'stateRecovered'; problem: string }
  /** The memory budget holds fewer worker threads than were asked for: `threads` run. */
  | ThreadsCut
  | { type: 'mergeStart'; days: number; partitions: number }
  /** A part of the merge done (a country partition or a user range), of `total`. */
  | { type: 'mergeProgress'; done: number; total: number }
  | { type: 'mergeDone'; ms: number };
