import { describe, expect, it } from 'vitest';
import { postAlert } from '../../src/unattended/webhook.js';
import { alertServer, closeServer } from '../support/alerts.js';

/**
 * The failure alert (src/unattended/webhook.ts) posted to a local webhook server: what went wrong
 * is reported, never thrown. The alerts of a failed `run` through the CLI: test/e2e/run.test.ts.
 */

describe('failure webhook', () => {
  it('postAlert reports what went wrong instead of throwing', async () => {
    const { url, received, server } = await alertServer([404]);
    try {
      expect(await postAlert(url, { a: 1 }, { attempts: 3, baseDelayMs: 1 })).toBe('HTTP 404');
      expect(received).toHaveLength(1); // a 4xx is not retried
      expect(await postAlert(url, { a: 2 }, { baseDelayMs: 1 })).toBeUndefined();
      expect(received.map((r) => r.body)).toEqual([{ a: 1 }, { a: 2 }]);
    } finally {
      await closeServer(server);
    }
    // Nobody listens there any more.
    const problem = await postAlert(url, { a: 3 }, { attempts: 2, baseDelayMs: 1, timeoutMs: 2_000 });
    expect(typeof problem).toBe('string');
    expect(problem!.length).toBeGreaterThan(0);
  });
});
