import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive, tempPathFor, writeFileAtomic } from './atomicFile.js';
import { PlaytallyError } from './errors.js';

/** Who holds the lock of a state directory. */
export interface LockOwner {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

export interface LockOptions {
  /** Wait for the lock instead of failing at once (polling every `pollMs`). */
  wait?: boolean;
  /** Give up waiting after this long (default: forever). */
  timeoutMs?: number;
  pollMs?: number;
  /** Told once when the lock is held by another process and we wait. */
  onWait?: (owner: LockOwner) => void;
  /** Checked while waiting: a signal asked the command to stop. */
  shouldStop?: () => boolean;
  /** Told when a dead process's lock is taken over. */
  onStale?: (owner: LockOwner) => void;
  /** A lock of another host not renewed for this long is stale (default LOCK_LEASE_MS). */
  leaseMs?: number;
  /** How often the holder renews its lock (default LOCK_RENEW_MS). */
  renewMs?: number;
  /** Called between judging a lock stale and taking it over (tests race a contender there). */
  beforeTakeover?: () => Promise<void>;
}

/**
 * A holder renews its lock (the file's mtime) every LOCK_RENEW_MS. A lock taken on another host
 * (a state folder on NFS or EFS shared by containers) cannot be judged by its pid, so it counts
 * as stale once not renewed for LOCK_LEASE_MS: its holder was killed, or its host is gone.
 */
export const LOCK_RENEW_MS = 60_000;
export const LOCK_LEASE_MS = 10 * 60_000;

export interface RunLock {
  readonly path: string;
  release(): void;
}

/**
 * One process at a time per state directory. The lock is the file `<state>/lock`, holding its
 * owner as JSON; it is created whole (written under a temporary name, then hard-linked into place,
 * which fails if the lock exists), so a reader never sees a half-written owner. A lock whose owner
 * ran on this host and no longer exists (killed, crashed), or whose owner ran on another host and
 * has not renewed it within the lease, is stale: it is renamed aside (only one contender wins the
 * rename), checked to be the very lock judged stale, and taken over. Two contenders that judged
 * the same stale lock cannot both take over: the later one renames aside the earlier one's new
 * lock, sees it is not what it judged, and puts it back.
 */
export async function acquireLock(
  stateDir: string,
  command: string,
  options: LockOptions = {},
): Promise<RunLock> {
  try {
    mkdirSync(stateDir, { recursive: true });
  } catch (error) {
    throw new PlaytallyError(
      'state_not_writable',
      `state folder ${stateDir} is not writable: ${(error as Error).message}`,
    );
  }
  const path = join(stateDir, 'lock');
  const me: LockOwner = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  const deadline =
    options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  let told = false;
  for (;;) {
    if (tryCreate(path, me)) return lockHandle(path, me, options.renewMs ?? LOCK_RENEW_MS);
    const text = readLockText(path);
    if (text === undefined) continue; // released between our attempt and the read
    const owner = ownerOf(text);
    const stale =
      owner.host === me.host
        ? owner.pid <= 0 || !processAlive(owner.pid)
        : leaseExpired(path, options.leaseMs ?? LOCK_LEASE_MS);
    if (stale) {
      await options.beforeTakeover?.();
      if (takeOver(path, text)) options.onStale?.(owner);
      continue;
    }
    const stopped = options.shouldStop?.() === true;
    if (!options.wait || Date.now() >= deadline || stopped) {
      throw new PlaytallyError(
        'locked',
        `state folder ${stateDir} is in use by ${owner.command} (pid ${owner.pid} on ${owner.host}, ` +
          `since ${owner.startedAt})${
            stopped
              ? '; stopped while waiting'
              : options.wait
                ? '; gave up waiting'
                : '; use --wait to wait for it'
          }`,
        { owner },
      );
    }
    if (!told) options.onWait?.(owner);
    told = true;
    await sleep(options.pollMs ?? 200);
  }
}

function tryCreate(path: string, owner: LockOwner): boolean {
  const temp = tempPathFor(path);
  writeFileAtomic(temp, `${JSON.stringify(owner)}\n`);
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new PlaytallyError('state_not_writable', `cannot create lock ${path}: ${(error as Error).message}`);
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Remove the stale lock at `path` whose content was `judged`: renamed aside (one contender wins),
 * then checked to be that very lock. A lock another contender took since (it judged the same
 * stale lock a moment earlier) is put back, and this one tries again. (A third process taking the
 * lock in the instant between the two renames would keep it: the one put back then yields.)
 */
function takeOver(path: string, judged: string): boolean {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return false; // gone: another contender took it over first
  }
  let moved: string | undefined;
  try {
    moved = readFileSync(aside, 'utf8');
  } catch {
    moved = undefined;
  }
  if (moved !== judged) {
    try {
      linkSync(aside, path);
    } catch {
      // taken by a third process in between: theirs stands
    }
    rmSync(aside, { force: true });
    return false;
  }
  rmSync(aside, { force: true });
  return true;
}

function readLockText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The lock's owner; undefined when there is no lock. An unreadable lock counts as a dead owner. */
export function readOwner(path: string): LockOwner | undefined {
  const text = readLockText(path);
  return text === undefined ? undefined : ownerOf(text);
}

function ownerOf(text: string): LockOwner {
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (typeof owner.pid === 'number' && typeof owner.host === 'string') return owner;
  } catch {
    // fall through
  }
  // Not written by us (the lock is created whole): treat as left by a dead process on this host.
  return { pid: 0, host: hostname(), command: 'unknown', startedAt: 'unknown' };
}

/** Has the lock at `path` gone unrenewed for `leaseMs`? (Not when it is gone: it was released.) */
function leaseExpired(path: string, leaseMs: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > leaseMs;
  } catch {
    return false;
  }
}

/** Is the lock at `path` still `me`'s? Pids repeat across hosts (pid 1 in every container). */
function stillOurs(path: string, me: LockOwner): boolean {
  const owner = readOwner(path);
  return owner?.pid === me.pid && owner.host === me.host && owner.startedAt === me.startedAt;
}

function lockHandle(path: string, me: LockOwner, renewMs: number): RunLock {
  let held = true;
  // Renewed while held, so that a process on another host sees a live holder (see LOCK_LEASE_MS).
  const renew = setInterval(() => {
    try {
      if (stillOurs(path, me)) {
        const now = new Date();
        utimesSync(path, now, now);
      }
    } catch {
      // a state folder briefly unreachable: the next renewal tries again, well within the lease
    }
  }, renewMs);
  renew.unref();
  const release = (): void => {
    if (!held) return;
    held = false;
    clearInterval(renew);
    // Remove it only if it is still ours (a lock taken over as stale belongs to someone else).
    if (stillOurs(path, me)) rmSync(path, { force: true });
  };
  process.once('exit', release);
  return {
    path,
    release: () => {
      process.removeListener('exit', release);
      release();
    },
  };
}
