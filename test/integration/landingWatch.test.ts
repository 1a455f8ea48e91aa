import { existsSync, renameSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunRecord } from '../../src/formats/runHistory.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { failureOf } from '../../src/ops/exitCodes.js';
import { watchLanding } from '../../src/unattended/landingWatch.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The watcher's polls against a landing folder that goes away and comes back. A local folder that
 * is gone lists as empty, so the listing alone cannot tell "gone" from "empty": were a step started
 * on that empty listing, and the folder put back before the step looked (a remount), the step would
 * run on nothing and count as done. The listing here puts the folder back right after it lists it
 * gone, the worst moment, to show that a poll finding the folder gone starts no step.
 */
const putBack = vi.hoisted(() => ({ from: undefined as string | undefined, to: '' }));

vi.mock('../../src/sources/logFiles.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/sources/logFiles.js')>();
  return {
    ...real,
    scanLogs: async (dir: string) => {
      const gone = putBack.from !== undefined && !existsSync(putBack.to);
      const scan = await real.scanLogs(dir);
      if (gone && putBack.from !== undefined) {
        renameSync(putBack.from, putBack.to);
        putBack.from = undefined;
      }
      return scan;
    },
  };
});

const temp = new TempDirs();
afterEach(() => temp.cleanup());

describe('watch: a landing folder gone for a while', () => {
  it('fails the polls while it is gone, starts no step on its empty listing, and goes on once it is back', async () => {
    const logs = temp.make();
    const staging = temp.make();
    const out = temp.make();
    const small = { rows: 2_000, users: 300, songs: 100, seed: 3 };
    generateLogs({ dir: logs, start: day('2024-01-01'), days: 2, ...small });
    let stopRequested = false;
    let stopNow = (): void => {};
    const stop = { requested: () => stopRequested, stopped: new Promise<void>((r) => (stopNow = r)) };
    const steps: RunRecord[] = [];
    const failures: string[] = [];
    const watching = watchLanding({
      logsDir: logs,
      outDir: out,
      window: 2,
      threads: 1,
      pollMs: 20,
      settleMs: 0,
      stop,
      onStep: (record) => steps.push(record),
      onStepError: (error) => {
        failures.push(failureOf(error).code);
      },
    });
    const waitFor = async (done: () => boolean, what: string): Promise<void> => {
      for (let waited = 0; !done(); waited += 20) {
        if (waited > 20_000) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
      }
    };
    try {
      await waitFor(() => steps.length === 1, 'the first step');
      expect(steps[0]!.charts).toEqual(['2024-01-01', '2024-01-02']);

      const away = `${logs}-away`;
      renameSync(logs, away);
      // The watcher's next listing of the folder while it is gone puts it back at once.
      putBack.from = away;
      putBack.to = logs;
      await waitFor(() => failures.length >= 3 || putBack.from === undefined, 'three failed polls');
      // Put back by the test, when no listing of the folder while gone ever came.
      if (putBack.from !== undefined) {
        await waitFor(() => failures.length >= 3, 'three failed polls');
        renameSync(away, logs);
        putBack.from = undefined;
      }
      // A few polls more, for a step started by one of them to finish.
      await sleep(500);
      // No step ran on the empty listing of the folder gone: each poll failed, naming it.
      expect(steps).toHaveLength(1);
      expect(failures.length).toBeGreaterThanOrEqual(3);
      expect(failures.every((code) => code === 'logs_not_found')).toBe(true);

      // A new day lands: the next step charts it, and it is the second step of the watch.
      const [landed] = generateLogs({ dir: staging, start: day('2024-01-03'), days: 1, ...small }).files;
      renameSync(landed!, `${logs}/${basename(landed!)}`);
      await waitFor(() => steps.length >= 2, 'the step of the new log');
      await sleep(100);
      expect(steps.map((s) => s.charts)).toEqual([['2024-01-01', '2024-01-02'], ['2024-01-03']]);
    } finally {
      putBack.from = undefined;
      stopRequested = true;
      stopNow();
      await watching;
    }
  });
});
