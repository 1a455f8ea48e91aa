import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { overlappedSteps } from '../../src/ops/overlappedSteps.js';

/**
 * Steps that overlap (src/ops/overlappedSteps.ts), as the chart job takes a window's days in: the
 * next step starts when the one before calls `overlap` (or settles), none starts after a failure,
 * and nothing is still running when the call settles.
 */

/** A step's life as a log of what happened, in order. */
function recorder() {
  const log: string[] = [];
  const running = new Set<string>();
  return {
    log,
    running,
    /** A step that calls `overlap` after `beforeMs` (if given), then ends after `afterMs`, failing if told. */
    step(plan: Record<string, { beforeMs?: number; afterMs: number; fail?: 'before' | 'after' }>) {
      return async (name: string, overlap: () => void): Promise<string> => {
        const { beforeMs, afterMs, fail } = plan[name]!;
        log.push(`start ${name}`);
        running.add(name);
        try {
          if (beforeMs !== undefined) {
            await sleep(beforeMs);
            if (fail === 'before') throw new Error(`${name} failed`);
            log.push(`overlap ${name}`);
            overlap();
          }
          await sleep(afterMs);
          if (fail !== undefined) throw new Error(`${name} failed`);
          log.push(`end ${name}`);
          return name.toUpperCase();
        } finally {
          running.delete(name);
        }
      };
    },
  };
}

describe('overlappedSteps', () => {
  it('starts each step when the one before calls overlap, and returns the results in order', async () => {
    const r = recorder();
    const results = await overlappedSteps(
      ['a', 'b', 'c'],
      r.step({ a: { beforeMs: 5, afterMs: 40 }, b: { beforeMs: 5, afterMs: 40 }, c: { afterMs: 1 } }),
    );
    expect(results).toEqual(['A', 'B', 'C']);
    // b starts as soon as a lets it, long before a ends; c likewise after b's overlap.
    expect(r.log.indexOf('start b')).toBe(r.log.indexOf('overlap a') + 1);
    expect(r.log.indexOf('start b')).toBeLessThan(r.log.indexOf('end a'));
    expect(r.log.indexOf('start c')).toBeLessThan(r.log.indexOf('end b'));
  });

  it('runs steps that never call overlap one after the other', async () => {
    const r = recorder();
    const results = await overlappedSteps(
      ['a', 'b', 'c'],
      r.step({ a: { afterMs: 5 }, b: { afterMs: 1 }, c: { afterMs: 1 } }),
    );
    expect(results).toEqual(['A', 'B', 'C']);
    expect(r.log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('a step failing before it overlaps: no later step starts, its error is thrown', async () => {
    const r = recorder();
    await expect(
      overlappedSteps(
        ['a', 'b', 'c'],
        r.step({ a: { afterMs: 1 }, b: { beforeMs: 5, afterMs: 1, fail: 'before' }, c: { afterMs: 1 } }),
      ),
    ).rejects.toThrow('b failed');
    expect(r.log).toEqual(['start a', 'end a', 'start b']);
  });

  it('a step failing after it overlapped: the step it let start settles first, then the earlier failure is thrown', async () => {
    const r = recorder();
    const run = overlappedSteps(
      ['a', 'b', 'c'],
      r.step({
        a: { beforeMs: 1, afterMs: 5, fail: 'after' },
        b: { beforeMs: 20, afterMs: 20 },
        c: { afterMs: 1 },
      }),
    );
    await expect(run).rejects.toThrow('a failed');
    // b, already started, ran to its end before the failure was told; c never started.
    expect(r.running.size).toBe(0);
    expect(r.log).toEqual(['start a', 'overlap a', 'start b', 'overlap b', 'end b']);
  });

  it('two failures: the first in the items’ order is thrown, whichever came first in time', async () => {
    const r = recorder();
    await expect(
      overlappedSteps(
        ['a', 'b'],
        r.step({
          a: { beforeMs: 1, afterMs: 40, fail: 'after' },
          b: { beforeMs: 1, afterMs: 1, fail: 'after' },
        }),
      ),
    ).rejects.toThrow('a failed');
    expect(r.running.size).toBe(0);
  });

  it('no items: no step, no result', async () => {
    expect(await overlappedSteps([], async () => 1)).toEqual([]);
  });
});
