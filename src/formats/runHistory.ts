import {
  appendFileSync,
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../ops/atomicFile.js';
import { writeFailure } from '../ops/ioErrors.js';
import { checkRecord } from './stateFile.js';

/**
 * One run of `run`, `backfill` or a `watch` step, as kept in `<state>/runs.jsonl`: every run that
 * got as far as its state folder, failed ones too (unattended/runRecords.ts decides which).
 */
export interface RunRecord {
  id: string;
  command: 'run' | 'backfill' | 'watch';
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  /** A signal asked it to stop before it was done (the next run goes on from there). */
  stopped: boolean;
  /** Why a failed run failed (absent when ok). */
  error?: RunError;
  logsDir: string;
  outDir: string;
  /** The logs parsed in this run and their quality figures. */
  days: { date: string; file: string; rows: number; valid: number; rejected: number; rejectRate: number }[];
  /** Chart dates written, and how many dates were already current. */
  charts: string[];
  chartsCurrent: number;
  /** Days parsed again from their (unchanged) logs because a chart needed a pruned or damaged partial. */
  rebuilt: string[];
  /**
   * The days whose data the charts written came from without parsing them in this run (their
   * partials, or their rows on the cluster, from earlier runs), and those days' log rows: a run
   * that parsed nothing new but wrote charts from 2.1M rows says so. Absent in the records of
   * releases before it.
   */
  reused?: { days: string[]; rows: number };
  quarantined: { date: string; file: string; reason: string; message: string }[];
  archived: string[];
  pruned: string[];
  /** Days between the first and the newest known day without a log. */
  missing: string[];
  totals: { rows: number; valid: number; rejected: number };
  /**
   * With `--kpis-landing`: the KPI days written, those already current, the streams files parsed
   * and archived, the landing files set aside as errors, the reject-rate warnings; or why the KPI
   * step was skipped (a `kpis` command held its state folder).
   */
  kpis?:
    | {
        days: string[];
        daysCurrent: number;
        filesParsed: number;
        archived: number;
        errorFiles: string[];
        warnings: number;
      }
    | { skipped: string };
}

/** Why a run failed. */
export interface RunError {
  /** A playtally error code (`logs_not_found`, `write_failed`, ...), or `internal` for a bug. */
  code: string;
  message: string;
  /**
   * The exit code of this failure (ops/exitCodes.ts): that of the process for `run` and
   * `backfill`, the one `watch` exits with when such a failure ends it. Absent in the records of
   * releases before it.
   */
  exitCode?: number;
}

export const RUN_HISTORY = 'runs.jsonl';

/** A run's record before it has done anything: not ok yet, nothing parsed, written or moved. */
export function newRunRecord(
  run: Pick<RunRecord, 'id' | 'command' | 'startedAt' | 'logsDir' | 'outDir'>,
): RunRecord {
  // The fields in the order runs.jsonl and --json have always written them.
  return {
    id: run.id,
    command: run.command,
    startedAt: run.startedAt,
    finishedAt: '',
    ok: false,
    stopped: false,
    logsDir: run.logsDir,
    outDir: run.outDir,
    days: [],
    charts: [],
    chartsCurrent: 0,
    rebuilt: [],
    reused: { days: [], rows: 0 },
    quarantined: [],
    archived: [],
    pruned: [],
    missing: [],
    totals: { rows: 0, valid: 0, rejected: 0 },
  };
}

/** Append a run as one JSON line (one write, so a line is whole or, after a crash, cut short and skipped). */
export function appendRunRecord(stateDir: string, record: RunRecord): void {
  const path = join(stateDir, RUN_HISTORY);
  try {
    // A line cut short by a crash ends without its newline: the next record starts a line of
    // its own, instead of being glued to it and lost with it.
    const after = endsCut(path) ? '\n' : '';
    appendFileSync(path, `${after}${JSON.stringify(record)}\n`);
  } catch (error) {
    throw writeFailure(error, path);
  }
  // Bounded: a watcher that runs for years appends a line per step.
  if (statSync(path).size > MAX_HISTORY_BYTES) {
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    writeFileAtomic(path, `${lines.slice(-KEEP_RUNS).join('\n')}\n`);
  }
}

/** Whether the file at `path` is there and does not end with a newline. */
function endsCut(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

/** When the history grows past this, it is cut to its last KEEP_RUNS runs. */
export const MAX_HISTORY_BYTES = 8 * 1024 * 1024;
export const KEEP_RUNS = 2000;

/** The fields every reader of a run record uses, and their kinds. */
const RUN_FIELDS = {
  id: 'string',
  command: 'string',
  startedAt: 'string',
  finishedAt: 'string',
  ok: 'boolean',
  stopped: 'boolean',
  logsDir: 'string',
  outDir: 'string',
  days: 'array',
  charts: 'array',
  chartsCurrent: 'number',
  rebuilt: 'array',
  quarantined: 'array',
  archived: 'array',
  pruned: 'array',
  missing: 'array',
  totals: 'object',
} as const;

/**
 * The last `limit` runs, newest last. A line that is not a run record (cut short by a crash,
 * edited by hand, written by something else) is skipped, not the whole history: the others are
 * still true, and `status`, the store and the API must not fail on one line.
 */
export function readRunHistory(stateDir: string, limit = 20): RunRecord[] {
  const path = join(stateDir, RUN_HISTORY);
  if (!existsSync(path)) return [];
  const runs: RunRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    if (checkRecord(parsed, 'run', RUN_FIELDS) === undefined && optionalFieldsFit(parsed as RunRecord))
      runs.push(parsed as RunRecord);
  }
  return runs.slice(-limit);
}

/** The fields a record may leave out (older records do), of their shapes when present. */
function optionalFieldsFit(run: RunRecord): boolean {
  const { error, reused } = run;
  if (error !== undefined) {
    if (checkRecord(error, 'run error', { code: 'string', message: 'string' }) !== undefined) return false;
    if (error.exitCode !== undefined && typeof error.exitCode !== 'number') return false;
  }
  if (
    reused !== undefined &&
    checkRecord(reused, 'run reused', { days: 'array', rows: 'number' }) !== undefined
  )
    return false;
  return true;
}
