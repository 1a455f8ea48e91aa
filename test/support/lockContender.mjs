// One contender for a state folder's lock, as its own process (test/faults/lockRace.test.ts): a
// race between processes is what the unit test's two calls in one process cannot show. Plain
// JavaScript over the built dist/ (`npm run build` first), since Node 20 runs no TypeScript.
//
//   node lockContender.mjs <state> <label> <barrier folder> <contenders> <delay ms> <hold ms>
//
// Once it has judged the lock stale it waits at the barrier until every contender has judged it
// too, then sleeps <delay ms> before taking it over: the forced delay that lines the race up.
// Prints one JSON line and exits 0 when it got the lock (held <hold ms>, then released), 5 when
// told the lock is held (the CLI's exit code for a locked state folder).
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const { acquireLock } = await import(new URL('../../dist/src/ops/runLock.js', import.meta.url).href);
const [state, label, barrier, contenders, delayMs, holdMs] = process.argv.slice(2);

async function beforeTakeover() {
  writeFileSync(join(barrier, label), '');
  const deadline = Date.now() + 10_000;
  while (readdirSync(barrier).length < Number(contenders)) {
    if (Date.now() > deadline) throw new Error(`${label}: the other contenders never judged the lock stale`);
    await sleep(5);
  }
  await sleep(Number(delayMs));
}

try {
  const lock = await acquireLock(state, label, { beforeTakeover });
  console.log(JSON.stringify({ label, pid: process.pid, got: true }));
  await sleep(Number(holdMs));
  lock.release();
} catch (error) {
  if (error.code !== 'locked') throw error;
  console.log(JSON.stringify({ label, pid: process.pid, got: false, message: error.message }));
  process.exitCode = 5;
}
