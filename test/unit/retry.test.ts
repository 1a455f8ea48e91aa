import { describe, expect, it } from 'vitest';
import { withRetry } from '../../src/ops/retry.js';

/** Retries of transient I/O errors (src/ops/retry.ts): a doubling delay, then the result or the last error. */

describe('withRetry', () => {
  const busy = (): Error => Object.assign(new Error('resource busy'), { code: 'EBUSY' });

  it('retries transient errors with a doubling delay, then returns the result', async () => {
    let calls = 0;
    const retries: [number, number, string][] = [];
    const result = await withRetry(
      () => {
        calls++;
        if (calls < 3) throw busy();
        return 'done';
      },
      {
        baseDelayMs: 2,
        onRetry: (error, attempt, delayMs) => retries.push([attempt, delayMs, (error as Error).message]),
      },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(retries).toEqual([
      [1, 2, 'resource busy'],
      [2, 4, 'resource busy'],
    ]);
  });

  it('throws a non-transient error at once', async () => {
    let calls = 0;
    const notFound = Object.assign(new Error('gone'), { code: 'ENOENT' });
    await expect(
      withRetry(
        async () => {
          calls++;
          throw notFound;
        },
        { baseDelayMs: 1 },
      ),
    ).rejects.toBe(notFound);
    expect(calls).toBe(1);
    const plain = new Error('no code');
    await expect(withRetry(() => Promise.reject(plain), { baseDelayMs: 1 })).rejects.toBe(plain);
  });

  it('gives up after `attempts`, throwing the last error', async () => {
    let calls = 0;
    const failure = withRetry(
      () => {
        calls++;
        throw busy();
      },
      { attempts: 3, baseDelayMs: 1 },
    );
    await expect(failure).rejects.toMatchObject({ code: 'EBUSY' });
    expect(calls).toBe(3);
  });
});
