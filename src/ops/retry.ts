import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Error codes of I/O failures that often pass by themselves: a busy or briefly unavailable file
 * system (NFS, a remounting volume), too many open files, an interrupted call.
 */
export const TRANSIENT_CODES = new Set([
  'EIO',
  'EAGAIN',
  'EBUSY',
  'EMFILE',
  'ENFILE',
  'ETIMEDOUT',
  'ESTALE',
  'EINTR',
]);

export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

export interface RetryOptions {
  /** Attempts in all (default 4). */
  attempts?: number;
  /** Delay before the second attempt; doubled each time (default 200 ms). */
  baseDelayMs?: number;
  /** Told before each retry. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** Run `step`, retrying it with exponential backoff while it fails with a transient I/O error. */
export async function withRetry<T>(step: () => T | Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 4;
  let delay = options.baseDelayMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
      delay *= 2;
    }
  }
}
