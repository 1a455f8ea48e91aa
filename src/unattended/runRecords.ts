import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { appendRunRecord, newRunRecord, type RunError, type RunRecord } from '../formats/runHistory.js';
import { failureOf } from '../ops/exitCodes.js';
import { acquireLock, type RunLock } from '../ops/runLock.js';
import { folderLocation } from '../sources/locations.js';
import type { ResultsStore } from '../store/resultsStore.js';

/**
 * Which runs the run history holds (`<state>/runs.jsonl`, and the results store with --db),
 * decided here and nowhere else. Every `run`, `backfill` and `watch` step that got as far as its
 * state folder is recorded, failed ones with their code, message and exit code:
 *
 * - runOnce records every run it starts (keepRun), whatever it fails on, its own state folder's
 *   lock being held by its caller;
 * - the unattended frame records a failure met outside runOnce (recordFailedRun): after the lock
 *   (the results store or the sink cannot be opened, a usage error found late), before it (the
 *   logs folder missing, the output folder not writable), a watch that cannot list its landing
 *   folder. Before the lock, the run got as far as its state folder when that folder is there, or
 *   can be made in a folder that is (the default `<out>/.playtally` of an existing `--out`): the
 *   lock is then taken for the moment of the append. Nothing further up is created just to say
 *   that a run failed, and a state folder that cannot be written records nothing;
 * - never into a state folder another process holds: runs.jsonl has one writer at a time (an
 *   append is one write, but cutting the history to its last runs rewrites the file, and appends
 *   on NFS are not atomic). So a run refused by the lock (exit 5, with or without --wait) is not
 *   recorded: the holder's records say what is going on, and a schedule overlapping a long run
 *   would otherwise fill the history with non-events;
 * - a failure is recorded once: the frame skips an error runOnce has recorded; and a watch
 *   records a streak of the same failure once (its first step or poll), as it alerts it, not a
 *   line every poll that would push the history out of runs.jsonl within hours.
 *
 * Not recorded either, since none of them reaches playtally's code with a state folder: an option
 * the parser refuses (an unknown option, a bad value, a bad `--from`/`--to`), a missing `--out`,
 * and a process killed or stopped by a second signal.
 */

/**
 * The failures whose run is in the history already (recorded by runOnce), or deliberately left
 * out of it (a watch step repeating the failure of its streak).
 */
const recorded = new WeakSet<object>();

/** `error` as a record's `error`: code, message and exit code as the CLI reports them. */
export function runError(error: unknown): RunError {
  const failure = failureOf(error);
  return { code: failure.code, message: failure.message, exitCode: failure.exitCode };
}

/** Whether the run that failed with `error` is recorded already (or left out on purpose). */
export function wasRecorded(error: unknown): boolean {
  return typeof error === 'object' && error !== null && recorded.has(error);
}

function markRecorded(error: unknown): void {
  if (typeof error === 'object' && error !== null) recorded.add(error);
}

/** A failure not to record (RunOptions.recordFailure said so): not recorded by the frame either. */
export function leaveOut(error: unknown): void {
  markRecorded(error);
}

/** What keeping a run came to. */
export interface Kept {
  /** What the run ends with: its own failure, the store's or the history's, or undefined (ok). */
  failure: unknown;
  /** The store's or the history's failures that the run's own failure took precedence over. */
  problems: string[];
}

/**
 * Keep a finished run (its state folder's lock held by this process): into the results store, then
 * runs.jsonl. A run that was going to succeed but whose record the store or the history cannot
 * take fails with that (exit 4), and its record says so, so that neither reads `ok` for a run
 * that exits 4. A run that failed reports its own error, not the history's (a full disk fails
 * both). The failure returned counts as recorded either way: the frame does not try again.
 */
export function keepRun(
  stateDir: string,
  record: RunRecord,
  store: ResultsStore | undefined,
  failure: unknown,
): Kept {
  let ended = failure;
  const problems: string[] = [];
  if (ended !== undefined) fail(record, ended);
  /** A failure of the store or the history: the run's, when it had none. */
  const met = (error: unknown): boolean => {
    if (ended === undefined) {
      ended = error;
      fail(record, error);
      return true;
    }
    problems.push(failureOf(error).message);
    return false;
  };
  try {
    store?.addRun(record);
  } catch (error) {
    met(error);
  }
  try {
    appendRunRecord(stateDir, record);
  } catch (error) {
    // The store has the run as ok: it gets the failed record instead (replaced by id).
    if (met(error)) {
      try {
        store?.addRun(record);
      } catch (storeError) {
        problems.push(failureOf(storeError).message);
      }
    }
  }
  markRecorded(ended);
  return { failure: ended, problems };
}

function fail(record: RunRecord, error: unknown): void {
  record.ok = false;
  record.error = runError(error);
}

/** A run that failed before runOnce recorded it: what the frame knows of it. */
export interface FailedRun {
  command: RunRecord['command'];
  /** As given (undefined when missing: a usage error). */
  logsDir: string | undefined;
  outDir: string | undefined;
  /** The state folder, absolute; undefined without --state or --out. */
  stateDir: string | undefined;
  startedAt: string;
}

export interface RecordingOptions {
  /** This process holds the state folder's lock (else it is taken for the append, if it can be). */
  lockHeld: boolean;
  /** The run's results store, when open. */
  store?: ResultsStore;
  /** Open the run's results store (--db) to record the failure there too, when it is not open. */
  openStore?: () => ResultsStore | undefined;
}

/**
 * Record a run that failed outside runOnce, when it got as far as its state folder (see above).
 * Returns what went wrong recording it (for the log), or undefined: recorded, or not to be.
 */
export async function recordFailedRun(
  run: FailedRun,
  error: unknown,
  options: RecordingOptions,
): Promise<string | undefined> {
  const stateDir = run.stateDir;
  if (wasRecorded(error) || stateDir === undefined) return undefined;
  let lock: RunLock | undefined;
  if (!options.lockHeld) {
    // Refused by the lock: the holder's history, not this run's.
    if (failureOf(error).code === 'locked') return undefined;
    if (!existsSync(stateDir) && !existsSync(dirname(stateDir))) return undefined;
    try {
      lock = await acquireLock(stateDir, `playtally ${run.command}`, { wait: false });
    } catch {
      // Held by another process (the history is its to write), or not writable: nowhere to record.
      return undefined;
    }
  }
  const record = newRunRecord({
    id: `${run.startedAt}-${process.pid}`,
    command: run.command,
    startedAt: run.startedAt,
    logsDir: location(run.logsDir),
    outDir: location(run.outDir),
  });
  record.finishedAt = new Date().toISOString();
  const problems: string[] = [];
  let store = options.store;
  let opened: ResultsStore | undefined;
  try {
    if (store === undefined && options.openStore !== undefined) {
      try {
        opened = options.openStore();
        store = opened;
      } catch (openError) {
        problems.push(failureOf(openError).message);
      }
    }
    problems.push(...keepRun(stateDir, record, store, error).problems);
  } finally {
    opened?.close();
    lock?.release();
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** A folder as a record names it: absolute, or the S3 location; '' when not given. */
function location(folder: string | undefined): string {
  if (folder === undefined || folder === '') return '';
  try {
    return folderLocation(folder);
  } catch {
    return folder;
  }
}
