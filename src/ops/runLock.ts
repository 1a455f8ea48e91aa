import { linkSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
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
}

export interface RunLock {
  readonly path: string;
  release(): void;
}

/**
 * One process at a time per state directory. The lock is the file `<state>/lock`, holding its
 * owner as JSON; it is created whole (written under a temporary name, then hard-linked into place,
 * which fails if the lock exists), so a reader never sees a half-written owner. A lock whose owner
 * ran on this host and no longer exists (killed, crashed) is stale: it is renamed aside (only one
 * contender wins the rename) and taken over.
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
    if (tryCreate(path, me)) return lockHandle(path);
    const owner = readOwner(path);
    if (owner === undefined) continue; // released between our attempt and the read
    if (owner.host === me.host && (owner.pid <= 0 || !processAlive(owner.pid))) {
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
        rmSync(aside, { force: true });
        options.onStale?.(owner);
      } catch {
        // another process took it over first
      }
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

/** The lock's owner; undefined when there is no lock. An unreadable lock counts as a dead owner. */
export function readOwner(path: string): LockOwner | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (typeof owner.pid === 'number' && typeof owner.host === 'string') return owner;
  } catch {
    // fall through
  }
  // Not written by us (the lock is created whole): treat as left by a dead process on this host.
  return { pid: 0, host: hostname(), command: 'unknown', startedAt: 'unknown' };
}

function lockHandle(path: string): RunLock {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    // Remove it only if it is still ours (a lock taken over as stale belongs to someone else).
    if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
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
