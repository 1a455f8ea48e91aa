import { settleAll } from './settleAll.js';

/**
 * Steps over `items`, in order, each starting as soon as the one before lets it: `step(item,
 * overlap)` may call `overlap()` before it is done, and the next step starts then (else once it
 * has settled). The chart job takes a window's days in this way: a day calls `overlap` when its
 * rows are read and only its aggregation remains (ChartEngine.takeIn).
 *
 * No step starts after one has failed. Every step started settles before this does, so that none
 * is still running when the caller goes on (to report the failure, or to retry); then the first
 * failure in the items' order is thrown, or else the results are returned in that order.
 */
export async function overlappedSteps<T, R>(
  items: readonly T[],
  step: (item: T, overlap: () => void) => Promise<R>,
): Promise<R[]> {
  const started: Promise<R>[] = [];
  let failed = false;
  for (const item of items) {
    if (failed) break;
    let next!: () => void;
    const mayStart = new Promise<void>((resolve) => {
      next = resolve;
    });
    const done = step(item, next);
    done.then(next, () => {
      failed = true;
      next();
    });
    started.push(done);
    await mayStart;
  }
  return settleAll(started);
}
