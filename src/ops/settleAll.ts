/**
 * Like Promise.all, but every promise settles before a failure is told: the first rejection in
 * the promises' order is thrown once none is still running, so that a caller going on (to report
 * the failure, to retry, to remove the files the tasks were writing) never races one of them.
 */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
