import { setTimeout as sleep } from 'node:timers/promises';

export interface WebhookOptions {
  attempts?: number;
  timeoutMs?: number;
  baseDelayMs?: number;
}

/**
 * POST `payload` as JSON to `url`, retrying (with backoff) on network errors, timeouts and 5xx
 * answers. Returns undefined on success, else what went wrong: an alert that cannot be sent must
 * not hide the failure it was about, so this never throws.
 */
export async function postAlert(
  url: string,
  payload: unknown,
  options: WebhookOptions = {},
): Promise<string | undefined> {
  const attempts = options.attempts ?? 3;
  let delay = options.baseDelayMs ?? 500;
  let problem = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'playtally' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return undefined;
      problem = `HTTP ${response.status}`;
      if (response.status < 500 && response.status !== 429) return problem;
    } catch (error) {
      problem = (error as Error).message;
    }
    if (attempt < attempts) {
      await sleep(delay);
      delay *= 2;
    }
  }
  return problem;
}
