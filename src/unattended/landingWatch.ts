import { setTimeout as sleep } from 'node:timers/promises';
import type { RunRecord } from '../formats/runHistory.js';
import { PlaytallyError } from '../ops/errors.js';
import { failureOf } from '../ops/exitCodes.js';
import { requireLogsFolder } from '../ops/folders.js';
import { LANDING_KINDS, scanLanding } from '../sources/landingFiles.js';
import { folderLocation, isS3, requireInputFolder } from '../sources/locations.js';
import { type LogFile, scanLogs } from '../sources/logFiles.js';
import { runOnce } from './runOnce.js';
import type { RunOptions } from './runOptions.js';

export interface WatchOptions
  extends Omit<RunOptions, 'command' | 'isReady' | 'shouldStop' | 'from' | 'to' | 'force'> {
  pollMs: number;
  /** A log counts once it has not changed for this long (or its mtime is that old: renamed in). */
  settleMs: number;
  stop: { requested(): boolean; stopped: Promise<void> };
  onStep?: (record: RunRecord) => void;
  /**
   * A failed step, or a poll that could not list the landing folder; the watcher goes on with the
   * next poll unless the error cannot pass by itself. `repeat`: the same failure as the one before
   * (a streak going on, recorded and worth alerting only at its start).
   */
  onStepError?: (error: unknown, repeat: boolean) => Promise<void> | void;
}

/**
 * Watches a landing folder: polls it, and whenever the set of complete logs changes (a new day,
 * a replaced file, a file gone), runs one unattended step on it. Polling, not inotify: it works
 * the same on network filesystems and mounted buckets, and costs one readdir per poll.
 */
export async function watchLanding(options: WatchOptions): Promise<void> {
  const logsDir = folderLocation(options.logsDir);
  await requireInputFolder(logsDir);
  const tracker = new StabilityTracker(options.settleMs);
  const kpiLanding = options.kpis && new KpiLandingTracker(options.kpis.landingDir, options.settleMs);
  let processed: string | undefined;
  let processedKpis: string | undefined;
  // The failure of the streak going on (its message), until a step succeeds.
  let failing: string | undefined;
  const failed = async (error: unknown): Promise<void> => {
    const message = failureOf(error).message;
    const repeat = message === failing;
    failing = message;
    await options.onStepError?.(error, repeat);
  };
  while (!options.stop.requested()) {
    let ready: (log: LogFile) => boolean = () => false;
    let signature: string | undefined;
    let kpiSignature: string | undefined;
    try {
      const now = Date.now();
      kpiSignature = await kpiLanding?.settledSignature(now);
      // A local folder that is gone lists as empty: it is checked first, so that a poll that
      // finds it gone fails here, and a step starts only on a folder that was there when listed
      // (else a folder put back between the listing and the step would start a step on nothing).
      if (!isS3(logsDir)) requireLogsFolder(logsDir);
      const logs = (await scanLogs(logsDir)).logs;
      tracker.observe(logs, now);
      // An S3 object is listed only once its upload is complete: it is ready when seen.
      ready = (log) => isS3(log.path) || tracker.isReady(log, now);
      signature = logs
        .filter(ready)
        .map((l) => `${l.name}:${l.size}:${l.mtimeMs}`)
        .join('|');
    } catch (error) {
      // The landing folder went away or is briefly unreadable (a remount): report it, poll again.
      await failed(
        error instanceof PlaytallyError
          ? error
          : new PlaytallyError('logs_not_found', `cannot list ${logsDir}: ${(error as Error).message}`),
      );
    }
    const kpisChanged = kpiSignature !== undefined && kpiSignature !== processedKpis;
    if (signature !== undefined && (signature !== processed || kpisChanged)) {
      try {
        const record = await runOnce({
          ...options,
          command: 'watch',
          isReady: ready,
          shouldStop: () => options.stop.requested(),
          // KPIs only from a settled landing folder: not from a streams file still being written.
          kpis: kpiSignature === undefined ? undefined : options.kpis,
          // A step failing as the one before (every poll while a folder is gone) is recorded once.
          recordFailure: (error) => failureOf(error).message !== failing,
        });
        processed = signature;
        if (kpiSignature !== undefined) processedKpis = kpiSignature;
        failing = undefined;
        options.onStep?.(record);
      } catch (error) {
        if (!recoverable(error)) throw error;
        await failed(error);
      }
    }
    await Promise.race([sleep(options.pollMs), options.stop.stopped]);
  }
}

/**
 * Errors a later poll may not meet again. What is wrong with the command, the output or the state
 * ends the watch; a landing folder gone for a while (a remount) does not.
 */
function recoverable(error: unknown): boolean {
  if (!(error instanceof PlaytallyError)) return true;
  return ![
    'usage',
    'bad_date',
    'output_not_writable',
    'state_not_writable',
    'corrupt_state',
    'locked',
  ].includes(error.code);
}

/**
 * When is a file in the landing folder complete? A writer may still be appending to it. A file
 * counts once its size and mtime have not changed for `settleMs` by our clock, or at once when
 * its mtime is already that old (it was written elsewhere and renamed into place).
 */
export class StabilityTracker {
  private readonly seen = new Map<string, { size: number; mtimeMs: number; since: number }>();

  constructor(private readonly settleMs: number) {}

  observe(logs: TrackedFile[], now: number): void {
    const names = new Set<string>();
    for (const log of logs) {
      names.add(log.name);
      const known = this.seen.get(log.name);
      if (!known || known.size !== log.size || known.mtimeMs !== log.mtimeMs) {
        this.seen.set(log.name, { size: log.size, mtimeMs: log.mtimeMs, since: now });
      }
    }
    for (const name of this.seen.keys()) if (!names.has(name)) this.seen.delete(name);
  }

  isReady(log: TrackedFile, now: number): boolean {
    const known = this.seen.get(log.name);
    if (!known || known.size !== log.size || known.mtimeMs !== log.mtimeMs) return false;
    return now - known.since >= this.settleMs || now - log.mtimeMs >= this.settleMs;
  }
}

/** What the tracker follows of a file: its name (unique in what it follows), size and mtime. */
type TrackedFile = Pick<LogFile, 'name' | 'size' | 'mtimeMs'>;

/**
 * The KPI landing folder of `watch --kpis-landing`: its files' signature once every file has
 * settled (as logs do: unchanged for the settle time, or renamed in already old; on S3, at once),
 * undefined while one is still being written.
 */
class KpiLandingTracker {
  private readonly dir: string;
  private readonly tracker: StabilityTracker;

  constructor(landingDir: string, settleMs: number) {
    this.dir = folderLocation(landingDir);
    this.tracker = new StabilityTracker(settleMs);
  }

  async settledSignature(now: number): Promise<string | undefined> {
    const scan = await scanLanding(this.dir);
    const files = LANDING_KINDS.flatMap((kind) =>
      scan[kind].map((f) => ({ ...f, name: `${kind}/${f.name}` })),
    );
    this.tracker.observe(files, now);
    if (!files.every((f) => isS3(f.path) || this.tracker.isReady(f, now))) return undefined;
    return files.map((f) => `${f.name}:${f.size}:${f.mtimeMs}`).join('|');
  }
}
