import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { PlaytallyError } from '../ops/errors.js';
import { failureOf } from '../ops/exitCodes.js';
import { ensureWritable } from '../ops/folders.js';
import { acquireLock, type LockOwner, type RunLock } from '../ops/runLock.js';
import type { DynamoSink } from '../sinks/dynamoSink.js';
import {
  folderLocation,
  isS3,
  requireInputFolder,
  requireLocalFolders,
  requireSameKind,
} from '../sources/locations.js';
import type { ResultsStore } from '../store/resultsStore.js';
import { type RecordingOptions, recordFailedRun } from './runRecords.js';
import { onStopSignals, type StopSignals } from './stopSignals.js';
import { postAlert } from './webhook.js';

/** The log an unattended command writes (pino's logger is one): an object of fields, then the line. */
export interface RunLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Where a run's results go besides the output folder: the results store, the DynamoDB sink. */
export interface RunOutputs {
  store?: ResultsStore;
  sink?: DynamoSink;
}

export interface FrameOptions {
  command: 'run' | 'backfill' | 'watch';
  /** Required (`--logs`, `--out`): a missing one is a usage error, logged and alerted like any failure. */
  logsDir: string | undefined;
  outDir: string | undefined;
  /** Default: `<out>/.playtally`. */
  stateDir?: string;
  archiveDir?: string;
  quarantineDir?: string;
  /** The KPI landing folder of `--kpis-landing`, checked with the logs folder. */
  kpisLandingDir?: string;
  /** Wait for another run holding the state folder (at most `waitTimeoutMs`), else exit 5 at once. */
  wait: boolean;
  waitTimeoutMs?: number;
  onFailureWebhook?: string;
  log: RunLog;
  /**
   * Open the results store (--db), once the lock is held; the frame closes it. Also called to
   * record a run that failed before, with the store not open yet.
   */
  openStore: () => ResultsStore | undefined;
  /** Open the sink, once the store is open; the frame closes it. */
  openSink: () => Promise<DynamoSink | undefined>;
}

/**
 * The frame of every unattended command (run, backfill, watch, serve --watch): the folders checked
 * before anything is created, stop signals, the state folder's lock, the store's and the sink's
 * lifetimes, and on failure the run's record (unattended/runRecords.ts: runOnce records its own
 * failures, the frame those met outside it), a log line and the webhook alert before the error
 * goes on to set the exit code.
 */
export async function inUnattendedFrame(
  options: FrameOptions,
  body: (stop: StopSignals, outputs: RunOutputs) => Promise<void>,
): Promise<void> {
  const { log } = options;
  const stop = onStopSignals((signal) =>
    log.info(
      { event: 'signal', signal },
      `${signal}: stopping after the current step (again to stop at once)`,
    ),
  );
  const startedAt = new Date().toISOString();
  try {
    let lock: RunLock | undefined;
    const outputs: RunOutputs = {};
    let storeTried = false;
    try {
      // The folders are checked before the lock, which creates the state folder.
      const logsDir = folderLocation(required(options.logsDir, '--logs <dir>'));
      const outDir = required(options.outDir, '--out <dir>');
      // Archive and quarantine are moves: on S3 when the logs are, local when they are local.
      if (options.archiveDir !== undefined)
        requireSameKind(logsDir, folderLocation(options.archiveDir), '--archive');
      if (options.quarantineDir !== undefined)
        requireSameKind(logsDir, folderLocation(options.quarantineDir), '--quarantine');
      requireLocalFolders({ '--out': outDir, '--state': options.stateDir });
      await requireInputFolder(logsDir);
      if (options.kpisLandingDir !== undefined)
        await requireInputFolder(folderLocation(options.kpisLandingDir), 'KPI landing folder');
      ensureWritable(resolve(outDir), 'output_not_writable', 'output folder');
      lock = await acquireLock(stateDirOf(options)!, `playtally ${options.command}`, {
        wait: options.wait,
        timeoutMs: options.waitTimeoutMs,
        shouldStop: () => stop.requested(),
        onWait: (owner: LockOwner) =>
          log.info(
            { event: 'waiting_for_lock', owner },
            `waiting for ${owner.command} (pid ${owner.pid}) to finish`,
          ),
        onStale: (owner: LockOwner) =>
          log.warn(
            { event: 'stale_lock', owner },
            `took over the lock of ${owner.command} (pid ${owner.pid} on ${owner.host}), which is gone`,
          ),
      });
      storeTried = true;
      outputs.store = options.openStore();
      outputs.sink = await options.openSink();
      await body(stop, outputs);
    } catch (error) {
      // Recorded while the lock is held (or, before it, if it can be taken), before the alert.
      await recordFailure(options, startedAt, error, {
        lockHeld: lock !== undefined,
        store: outputs.store,
        openStore: storeTried ? undefined : options.openStore,
      });
      throw error;
    } finally {
      outputs.sink?.table.close();
      outputs.store?.close();
      lock?.release();
    }
  } catch (error) {
    // Without --wait, finding the state folder in use is the expected overlap of a schedule
    // with a long run, and a wait ended by a signal is a deliberate stop: logged and exit 5, not
    // alerted. A wait that ran out is alerted.
    const overlap = (error as PlaytallyError).code === 'locked' && (!options.wait || stop.requested());
    if (overlap) logFailure(log, error, true);
    else await alertFailure(options, startedAt, error, true);
    throw error;
  } finally {
    stop.dispose();
  }
}

/**
 * Record a run (or watch step) that failed outside runOnce, if it got as far as its state folder
 * (unattended/runRecords.ts decides); a record that cannot be written is logged, never thrown.
 */
export async function recordFailure(
  options: Pick<FrameOptions, 'command' | 'logsDir' | 'outDir' | 'stateDir' | 'log'>,
  startedAt: string,
  error: unknown,
  recording: RecordingOptions,
): Promise<void> {
  const problem = await recordFailedRun(
    {
      command: options.command,
      logsDir: options.logsDir,
      outDir: options.outDir,
      stateDir: stateDirOf(options),
      startedAt,
    },
    error,
    recording,
  );
  if (problem !== undefined)
    options.log.error({ event: 'run_not_recorded', problem }, `could not record the failed run: ${problem}`);
}

/**
 * The `failed` log line of an error: its code, exit code and sentence as the run history has them.
 * `final`: the failure ends the command, whose error boundary also says it on stderr (a terminal
 * shows that line only, cli/runLogger.ts); a failed watch step is not final.
 */
export function logFailure(log: RunLog, error: unknown, final = false): void {
  const { code, message, exitCode } = failureOf(error);
  log.error(
    { event: 'failed', code, exitCode, error: message, ...(final ? { final } : {}) },
    `failed: ${message}`,
  );
}

/** Log a failure (`final`: see logFailure) and, with a webhook, POST the alert (a failed alert is logged, never thrown). */
export async function alertFailure(
  options: Pick<FrameOptions, 'command' | 'logsDir' | 'outDir' | 'stateDir' | 'onFailureWebhook' | 'log'>,
  startedAt: string,
  error: unknown,
  final = false,
): Promise<void> {
  const { log } = options;
  logFailure(log, error, final);
  if (!options.onFailureWebhook) return;
  const { code, message, exitCode } = failureOf(error);
  const problem = await postAlert(options.onFailureWebhook, {
    source: 'playtally',
    event: 'run_failed',
    command: options.command,
    host: hostname(),
    pid: process.pid,
    startedAt,
    failedAt: new Date().toISOString(),
    error: { code, message, exitCode },
    run: {
      logs: options.logsDir && (isS3(options.logsDir) ? options.logsDir : resolve(options.logsDir)),
      out: options.outDir && resolve(options.outDir),
      state: stateDirOf(options),
    },
  });
  if (problem)
    log.error({ event: 'webhook_failed', problem }, `could not send the failure alert: ${problem}`);
  else log.info({ event: 'webhook_sent' }, 'failure alert sent');
}

/** The state folder: `--state`, else `<out>/.playtally`; undefined without either. */
export function stateDirOf(options: Pick<FrameOptions, 'outDir' | 'stateDir'>): string | undefined {
  if (options.stateDir !== undefined) return resolve(options.stateDir);
  return options.outDir ? resolve(join(options.outDir, '.playtally')) : undefined;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '')
    throw new PlaytallyError('usage', `required option '${flag}' not specified`);
  return value;
}
