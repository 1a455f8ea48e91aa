import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { PlaytallyError } from '../../src/ops/errors.js';
import { acquireLock } from '../../src/ops/runLock.js';
import { writeLockFile } from '../support/alerts.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * The state folder lock (src/ops/runLock.ts): one holder at a time, a lock of another host stale
 * once not renewed within its lease, renewed while held, and released only by its holder. What
 * `run` does with a lock it finds (exit 5, --wait, taking a stale one over): test/e2e/run.test.ts.
 */

const temp = new TempDirs();
afterEach(() => temp.cleanup());

describe('state folder lock', () => {
  it('one holder at a time within a process; free again once released', async () => {
    const dir = temp.make('playtally-ops-lock-');
    const lock = await acquireLock(dir, 'first');
    expect(existsSync(join(dir, 'lock'))).toBe(true);
    const failure = await acquireLock(dir, 'second').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PlaytallyError);
    expect((failure as PlaytallyError).code).toBe('locked');
    expect((failure as Error).message).toContain(`pid ${process.pid}`);
    expect((failure as PlaytallyError).details.owner).toMatchObject({ pid: process.pid, command: 'first' });
    lock.release();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    const again = await acquireLock(dir, 'third');
    again.release();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });

  it('a lock of another host (a shared state folder) is stale once not renewed within the lease', async () => {
    const dir = temp.make('playtally-ops-lease-');
    const path = join(dir, 'lock');
    // Its pid says nothing here (pid 1 in every container): only its renewals count.
    writeLockFile(dir, process.pid, 'another-host');
    const fresh = await acquireLock(dir, 'second', { leaseMs: 60_000 }).catch((e: unknown) => e);
    expect((fresh as PlaytallyError).code).toBe('locked');
    expect((fresh as Error).message).toContain('on another-host');

    const old = new Date(Date.now() - 120_000);
    utimesSync(path, old, old);
    const stale: string[] = [];
    const lock = await acquireLock(dir, 'third', { leaseMs: 60_000, onStale: (o) => stale.push(o.host) });
    expect(stale).toEqual(['another-host']);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('the holder renews its lock while it holds it, and releases only its own', async () => {
    const dir = temp.make('playtally-ops-renew-');
    const path = join(dir, 'lock');
    const lock = await acquireLock(dir, 'holder', { renewMs: 20 });
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(path, old, old);
    const deadline = Date.now() + 5_000;
    while (Date.now() - statSync(path).mtimeMs > 60_000 && Date.now() < deadline) await sleep(20);
    expect(Date.now() - statSync(path).mtimeMs).toBeLessThan(60_000);
    // Taken over meanwhile by a process of another host with the same pid: not ours to remove.
    writeLockFile(dir, process.pid, 'another-host');
    lock.release();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, host: 'another-host' });
  });
});

describe('two contenders for one stale lock (issue 17, point 5)', () => {
  it('only one takes it over: the later one puts back the lock the earlier one took, and finds it held', async () => {
    const dir = temp.make('playtally-ops-lock-');
    const path = join(dir, 'lock');
    // A stale lock: its owner, on this host, is gone.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(
      path,
      `${JSON.stringify({ pid: dead, host: hostname(), command: 'killed', startedAt: 'then' })}\n`,
    );
    let first: Awaited<ReturnType<typeof acquireLock>> | undefined;
    // The second contender judges the lock stale, and then, before it takes it over, the first
    // one (which judged the same) takes it over and holds it.
    const second = acquireLock(dir, 'second', {
      beforeTakeover: async () => {
        first ??= await acquireLock(dir, 'first');
      },
    }).catch((e: unknown) => e);
    const failure = await second;
    expect(first).toBeDefined();
    expect(failure).toBeInstanceOf(PlaytallyError);
    expect((failure as PlaytallyError).code).toBe('locked');
    expect((failure as PlaytallyError).details.owner).toMatchObject({ pid: process.pid, command: 'first' });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ command: 'first' });
    expect(readdirSync(dir)).toEqual(['lock']);
    first!.release();
    expect(existsSync(path)).toBe(false);
  });
});
