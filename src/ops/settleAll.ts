/**
 * Like Promise.all, but every promise settles before a failure is told: the first rejection in
 * the promises' order is thrown once none is still running, so that a caller going on (to report
 * the failure, to retry, to remove the files the tasks were writing) never races one of them.
 */
export async function settleAll<T extends readonly unknown[] | []>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  // Typed as Promise.all is: an array gives an array, a tuple of kinds a tuple of their values.
  const settled = await Promise.allSettled(promises as readonly unknown[]);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
