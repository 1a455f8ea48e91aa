import { describe, expect, it } from 'vitest';
import type { ThreadsCut } from '../../src/engines/chartEngine.js';
import {
  DEFAULT_MEMORY_BYTES,
  distinctAbout,
  heldBeyondFresh,
  kpiPartRowsWithin,
  MIN_KPI_PART_ROWS,
  MIN_MEMORY_BYTES,
  planMemory,
  threadsHeld,
  threadsWithin,
  workerLimits,
  youngGenerationFor,
} from '../../src/engines/embedded/memoryPlan.js';

import { mulberry32 } from '../support/prng.js';

const MB = 1024 * 1024;

/**
 * How --memory is shared out (src/engines/embedded/memoryPlan.ts): here, the young generation each
 * worker thread's V8 heap may grow to, a 64th of the budget within 4 and 32 MB. V8's own default
 * (48 MB a worker) took a cold week at --memory 256MB to about 385 MB of peak RSS.
 */
describe('the workers’ young generation', () => {
  it('is a 64th of the budget, from 4 MB at the smallest budget to 32 MB', () => {
    expect(youngGenerationFor(MIN_MEMORY_BYTES)).toBe(4);
    expect(youngGenerationFor(512 * MB)).toBe(8);
    expect(youngGenerationFor(DEFAULT_MEMORY_BYTES)).toBe(16);
    expect(youngGenerationFor(700 * MB)).toBe(10);
    expect(youngGenerationFor(2048 * MB)).toBe(32);
    expect(youngGenerationFor(64 * 1024 * MB)).toBe(32);
    // Below the CLI's floor (tests plan such budgets): never under 4 MB.
    expect(youngGenerationFor(16 * MB)).toBe(4);
  });

  it('is part of the plan, whatever the threads', () => {
    for (const threads of [1, 2, 8]) {
      expect(planMemory(MIN_MEMORY_BYTES, threads).youngGenerationMb).toBe(4);
      expect(planMemory(DEFAULT_MEMORY_BYTES, threads).youngGenerationMb).toBe(16);
    }
  });
});

describe('the worker threads a budget holds', () => {
  it('one at 256MB, one more for each 64 MB above, never more than asked, never none', () => {
    expect(threadsWithin(MIN_MEMORY_BYTES, 2)).toBe(1);
    expect(threadsWithin(MIN_MEMORY_BYTES, 8)).toBe(1);
    expect(threadsWithin(319 * MB, 2)).toBe(1);
    expect(threadsWithin(320 * MB, 2)).toBe(2);
    expect(threadsWithin(384 * MB, 3)).toBe(3);
    expect(threadsWithin(512 * MB, 8)).toBe(5);
    expect(threadsWithin(DEFAULT_MEMORY_BYTES, 2)).toBe(2);
    expect(threadsWithin(DEFAULT_MEMORY_BYTES, 32)).toBe(13);
    expect(threadsWithin(DEFAULT_MEMORY_BYTES, 1)).toBe(1);
    // Below the CLI's floor (tests plan such budgets): still one.
    expect(threadsWithin(64 * MB, 4)).toBe(1);
  });
});

describe('the threads a job runs within its budget, and their limits', () => {
  it('says the cut when the budget holds fewer threads than asked for, and only then', () => {
    const said: ThreadsCut[] = [];
    expect(threadsHeld(MIN_MEMORY_BYTES, 2, (cut) => said.push(cut))).toBe(1);
    expect(said).toEqual([{ type: 'threadsCut', threads: 1, asked: 2, memoryBytes: MIN_MEMORY_BYTES }]);
    expect(threadsHeld(320 * MB, 2, (cut) => said.push(cut))).toBe(2);
    expect(threadsHeld(MIN_MEMORY_BYTES, 1, (cut) => said.push(cut))).toBe(1);
    expect(said.length).toBe(1);
  });

  it("caps a worker's young generation as the charts' plan does", () => {
    for (const budget of [MIN_MEMORY_BYTES, 512 * MB, DEFAULT_MEMORY_BYTES]) {
      expect(workerLimits(budget)).toEqual({
        maxYoungGenerationSizeMb: planMemory(budget, 2).youngGenerationMb,
      });
    }
  });
});

describe('the rows of a KPI day part a budget holds', () => {
  const MAX = 8_000_000;

  it('about 3M rows at 256MB on one thread, 2M at 320MB and 4M at 384MB on two, the most from 512MB', () => {
    expect(kpiPartRowsWithin(MIN_MEMORY_BYTES, 1, MAX)).toBe(3 * MB);
    expect(kpiPartRowsWithin(320 * MB, 2, MAX)).toBe(2 * MB);
    expect(kpiPartRowsWithin(384 * MB, 2, MAX)).toBe(4 * MB);
    expect(kpiPartRowsWithin(512 * MB, 2, MAX)).toBe(MAX);
    expect(kpiPartRowsWithin(DEFAULT_MEMORY_BYTES, 2, MAX)).toBe(MAX);
  });

  it('shares the budget among the parts computed at once: more threads, smaller parts', () => {
    const rows = [1, 2, 4, 8].map((threads) => kpiPartRowsWithin(DEFAULT_MEMORY_BYTES, threads, 1e9));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!).toBeLessThan(rows[i - 1]!);
    // What the threads hold together stays within what one thread alone may hold.
    for (const [i, threads] of [1, 2, 4, 8].entries())
      expect(rows[i]! * threads).toBeLessThanOrEqual(rows[0]!);
  });

  it('leaves out what the process held when the job started beyond a fresh one', () => {
    expect(heldBeyondFresh(40 * MB)).toBe(0);
    expect(heldBeyondFresh(64 * MB)).toBe(0);
    expect(heldBeyondFresh(164 * MB)).toBe(100 * MB);
    // 100 MB left by a run's charts' step takes a budget's 100 MB, as a smaller budget would.
    expect(kpiPartRowsWithin(420 * MB, 2, MAX, 100 * MB)).toBe(kpiPartRowsWithin(320 * MB, 2, MAX));
    expect(kpiPartRowsWithin(384 * MB, 2, MAX, 100 * MB)).toBeLessThan(kpiPartRowsWithin(384 * MB, 2, MAX));
    expect(kpiPartRowsWithin(MIN_MEMORY_BYTES, 1, MAX, 100 * MB)).toBe(MIN_KPI_PART_ROWS);
  });

  it('never below the smallest part worth its reads, never above the most asked for', () => {
    expect(kpiPartRowsWithin(MIN_MEMORY_BYTES, 13, MAX)).toBe(MIN_KPI_PART_ROWS);
    expect(kpiPartRowsWithin(64 * MB, 1, MAX)).toBe(MIN_KPI_PART_ROWS);
    expect(kpiPartRowsWithin(64 * 1024 * MB, 2, MAX)).toBe(MAX);
    expect(kpiPartRowsWithin(MIN_MEMORY_BYTES, 1, 500)).toBe(500);
  });
});

describe("the distinct users a streams file's table is sized for", () => {
  it('as many as random draws from the catalogue give: never more than the rows or the users', () => {
    // 3.3M rows from 5M users: about 2.4M of them.
    expect(distinctAbout(5_000_000, 3_300_000)).toBe(Math.ceil(5_000_000 * (1 - Math.exp(-0.66))));
    expect(distinctAbout(5_000_000, 3_300_000)).toBeGreaterThan(2_400_000);
    expect(distinctAbout(5_000_000, 3_300_000)).toBeLessThan(2_500_000);
    // Many rows a user: the whole catalogue; few: about one a row.
    expect(distinctAbout(50_000, 5_000_000)).toBe(50_000);
    expect(distinctAbout(10_000_000, 1_000)).toBe(1_000);
    expect(distinctAbout(0, 1_000)).toBe(0);
    expect(distinctAbout(1_000, 0)).toBe(0);
  });

  it('is what a file of uniform random draws holds, within 1%', () => {
    // 200,000 rows drawn from 300,000 users.
    const random = mulberry32(11);
    const seen = new Set<number>();
    for (let i = 0; i < 200_000; i++) seen.add(Math.floor(random() * 300_000));
    const expected = distinctAbout(300_000, 200_000);
    expect(Math.abs(seen.size - expected)).toBeLessThan(expected * 0.01);
  });
});
