import type { Top50Event } from '../engines/chartEngine.js';
import type { QuarantineRecord } from '../formats/manifest.js';
import type { SessionOptions } from '../jobs/chartJob.js';
import type { KpiEvent, KpiSummary } from '../jobs/kpiJob.js';
import type { Granularity } from '../kpis/genreKpis.js';
import type { LogFile } from '../sources/logFiles.js';
import type { ResultsStore } from '../store/resultsStore.js';

/** What one unattended run (runOnce) is asked to do, and what it reports as it goes. */
export interface RunOptions extends SessionOptions {
  /** A folder, or an S3 location (`s3://bucket/prefix/`). */
  logsDir: string;
  command: 'run' | 'backfill' | 'watch';
  /** Move each log here once every chart that needs it is written (on S3 when the logs are). */
  archiveDir?: string;
  /** Default: `<logs>/quarantine`, or `<logs>/error/` for logs on S3. */
  quarantineDir?: string;
  /** A log whose rejected share of lines is above this is quarantined (default 0.05). */
  maxRejectRate?: number;
  /**
   * Keep the data (partials, or rows on the cluster) of this many newest days; minimum the window.
   * Default: the window, or every day for an engine that keeps history (ClickHouse).
   */
  keepDays?: number;
  /** backfill: the chart dates to write (day numbers), and whether to rewrite current ones. */
  from?: number;
  to?: number;
  force?: boolean;
  /** watch: a log counts only once it is complete. */
  isReady?: (log: LogFile) => boolean;
  /** Checked between steps: a signal asked the run to stop. */
  shouldStop?: () => boolean;
  /**
   * Whether a failed run is recorded (default: always). `watch` records the first step of a
   * streak of the same failure, not one line per poll.
   */
  recordFailure?: (error: unknown) => boolean;
  onRunEvent?: (event: RunEvent) => void;
  /** Load each chart date into this results store as it is written, and the run into its history. */
  store?: ResultsStore;
  /**
   * Bring an outside copy of the charts up to date with the output folder (the DynamoDB sink),
   * after the charts are written and before any log is archived: a log leaves only once what
   * depends on it is committed there too.
   */
  syncSink?: (outDir: string) => Promise<void>;
  /** Genre KPIs too, after the charts (unattended/kpiStep.ts). */
  kpis?: KpiStepOptions;
}

/** The KPI part of a run: the KPI job's own options (the engine, threads, memory budget and reject rate are the run's). */
export interface KpiStepOptions {
  /** The KPI landing folder (streams/, songs/, users/), local or on S3. */
  landingDir: string;
  /** Default: `<out>/.playtally-kpis`. */
  stateDir?: string;
  granularity?: Granularity;
  /** Move each streams file to `<landing>/archive/YYYYMMDD/` once its days are written (default true). */
  archive?: boolean;
  /** The KPIs' outside copy (the DynamoDB sink), brought up to date before any file is archived. */
  syncSink?: (outDir: string) => Promise<void>;
}

export type RunEvent =
  | { type: 'engine'; event: Top50Event }
  /** No log to chart; `waiting`: logs there but still within --settle (named). */
  | { type: 'noLogs'; logsDir: string; waiting: string[] }
  /** Logs left for a later run: still within --settle (written too recently). */
  | { type: 'waiting'; files: string[] }
  | { type: 'quarantined'; record: QuarantineRecord }
  | { type: 'chartsDue'; dates: string[]; current: number }
  | { type: 'chartsWritten'; date: string; countries: number; users: number; ms: number }
  | { type: 'stored'; dates: string[]; users: number; ms: number }
  | { type: 'storeSkipped'; message: string }
  | { type: 'unavailable'; date: string; file: string }
  | { type: 'archived'; date: string; file: string; to: string }
  | { type: 'pruned'; date: string }
  | { type: 'retry'; step: string; attempt: number; delayMs: number; error: string }
  | { type: 'kpis'; event: KpiEvent }
  | { type: 'kpisDone'; summary: KpiSummary }
  | { type: 'kpisStored'; dates: string[]; ms: number }
  | { type: 'kpisSkipped'; message: string }
  | { type: 'stopped' };
