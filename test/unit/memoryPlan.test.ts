import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MEMORY_BYTES,
  MIN_MEMORY_BYTES,
  planMemory,
  threadsWithin,
  youngGenerationFor,
} from '../../src/engines/embedded/memoryPlan.js';

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
