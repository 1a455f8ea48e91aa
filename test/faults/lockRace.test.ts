import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeLockFile } from '../support/alerts.js';
import { Children, type CliChild, cliOk, ROOT, requireBuiltCli, spawnCli } from '../support/cliRuns.js';
import { chartBytes, deadPid, expectNoStack, halfFiles, lostInputs, smallLogs } from '../support/faults.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * Two processes taking over one stale lock (a dead pid of this host) at the same moment, for real:
 * two contender processes (test/support/lockContender.mjs) lined up by a barrier and a forced delay
 * in acquireLock's beforeTakeover hook, then two CLI `top50` started at once on one state folder.
 * Exactly one gets the lock; the other is told it is held (exit 5) naming the holder, without a
 * stack; nothing is left beside the lock. The in-process version: test/unit/runLock.test.ts.
 */
const temp = new TempDirs();
const children = new Children();
afterEach(async () => {
  await children.stopAll();
  temp.cleanup();
});
beforeAll(requireBuiltCli);

const CONTENDER = join(ROOT, 'test', 'support', 'lockContender.mjs');

interface Finished {
  pid: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Wait for `child` to exit; its pid, exit status and output. */
function finished(child: CliChild): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ pid: child.pid!, status, stdout, stderr }));
  });
}

/** What a contender said on stdout: whether it got the lock, else the message it was told. */
interface Said {
  label: string;
  pid: number;
  got: boolean;
  message?: string;
}

/** A contender process for the lock of `state` (see lockContender.mjs for the arguments). */
async function contend(
  state: string,
  label: string,
  barrier: string,
  delayMs: number,
  holdMs: number,
): Promise<Finished & { said: Said }> {
  const args = [CONTENDER, state, label, barrier, '2', String(delayMs), String(holdMs)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = await finished(children.add(child));
  expect(done.stdout, done.stderr).toMatch(/^\{.*\}\n$/);
  return { ...done, said: JSON.parse(done.stdout) as Said };
}

/** A stale lock in `state`: its owner, a process of this host, has exited. */
function staleLock(state: string): void {
  writeLockFile(state, deadPid());
}

/** The one winner and the one loser of a race; the test fails unless there is exactly one of each. */
function winnerAndLoser<T extends { status: number | null }>(results: T[]): { winner: T; loser: T } {
  expect(results.map((r) => r.status).sort()).toEqual([0, 5]);
  return { winner: results.find((r) => r.status === 0)!, loser: results.find((r) => r.status === 5)! };
}

describe('two contender processes for one stale lock (forced delay in beforeTakeover)', () => {
  it('the later one renames aside the lock the earlier one took, puts it back, and is told it is held', async () => {
    const state = temp.make('playtally-race-state-');
    const barrier = temp.make('playtally-race-barrier-');
    staleLock(state);
    // Both judge the lock stale; "early" takes it over at once and holds it 1.5 s, "late" tries
    // 0.4 s after, with the stale lock's content in hand: the very interleaving the rename guards.
    const results = await Promise.all([
      contend(state, 'early', barrier, 0, 1_500),
      contend(state, 'late', barrier, 400, 0),
    ]);
    const { winner, loser } = winnerAndLoser(results);
    expect(winner.said).toMatchObject({ label: 'early', got: true });
    expect(loser.said).toMatchObject({ label: 'late', got: false });
    expect(loser.said.message).toContain(`is in use by early (pid ${winner.pid} on ${hostname()}`);
    for (const r of results) {
      expectNoStack(r.stderr);
      expect(r.stderr).toBe('');
    }
    // Released by its holder; no lock set aside (lock.stale-<pid>) or half-written (.lock.tmp-<pid>).
    expect(readdirSync(state)).toEqual([]);
    expect(halfFiles([state])).toEqual([]);
  });

  it('the same delay for both, three rounds: exactly one takes it over each time, whoever renames first', async () => {
    for (let round = 0; round < 3; round++) {
      const state = temp.make('playtally-race-state-');
      const barrier = temp.make('playtally-race-barrier-');
      staleLock(state);
      const results = await Promise.all([
        contend(state, 'a', barrier, 100, 800),
        contend(state, 'b', barrier, 100, 800),
      ]);
      const { winner, loser } = winnerAndLoser(results);
      expect(winner.said.got, `round ${round}`).toBe(true);
      expect(loser.said.got, `round ${round}`).toBe(false);
      expect(loser.said.message).toContain(`is in use by ${winner.said.label} (pid ${winner.pid} on `);
      for (const r of results) expectNoStack(r.stderr);
      expect(readdirSync(state), `round ${round}`).toEqual([]);
    }
  });
});

describe('two CLI runs started at once on one state folder with a stale lock', () => {
  it('top50: exactly one exits 0, the other exits 5 naming the holder; the charts are the clean bytes', async () => {
    const logs = temp.make('playtally-race-logs-');
    const names = smallLogs(logs, 3);
    const clean = temp.make('playtally-race-clean-');
    cpSync(logs, clean, { recursive: true });
    const ref = temp.make('playtally-race-ref-');
    cliOk(['top50', '--logs', clean, '--out', ref, '-q']);

    const out = temp.make('playtally-race-out-');
    const state = join(out, '.playtally');
    staleLock(state);
    const args = ['top50', '--logs', logs, '--out', out, '-q'];
    const results = await Promise.all([
      finished(spawnCli(args, { children })),
      finished(spawnCli(args, { children })),
    ]);
    const { winner, loser } = winnerAndLoser(results);
    expect(loser.stderr).toContain(
      `playtally: error: state folder ${state} is in use by playtally top50 (pid ${winner.pid} on ${hostname()}`,
    );
    for (const r of results) expectNoStack(r.stderr);
    expect(chartBytes(out)).toEqual(chartBytes(ref));
    expect(existsSync(join(state, 'lock'))).toBe(false);
    expect(halfFiles([out])).toEqual([]);
    expect(lostInputs(names, [logs])).toEqual([]);
  });
});
