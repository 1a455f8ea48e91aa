import { PlaytallyError } from './errors.js';

/**
 * The write faults that are the machine's, not playtally's: one sentence each, for the file or
 * folder named. Every writer of files goes through ops/atomicFile.ts, which turns these into
 * `write_failed` (exit 4) naming the file; the CLI's error boundary does the same for one that
 * reaches it another way (a worker thread's write).
 */
const WRITE_FAULTS: Record<string, string> = {
  ENOSPC: 'no space left on its device',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'its file system is read-only',
  EACCES: 'no permission to write there',
  EPERM: 'the operation is not permitted there',
  EIO: 'an I/O error of the device',
};

/** Is this error one of the write faults above? */
function isWriteFault(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code in WRITE_FAULTS;
}

/**
 * `error` as a `write_failed` naming `path` when it is a write fault (ENOSPC, EDQUOT, EROFS,
 * EACCES, EPERM, EIO), else unchanged. Files are written whole or not at all, so what was written
 * before stays whole, and a run after the fault is fixed redoes the rest.
 */
export function writeFailure(error: unknown, path: string | undefined): unknown {
  if (error instanceof PlaytallyError || !isWriteFault(error)) return error;
  const code = (error as { code: string }).code;
  const where = path ?? (error as { path?: string }).path;
  return new PlaytallyError(
    'write_failed',
    `cannot write ${where ?? 'a file'}: ${WRITE_FAULTS[code]} (${code}). Nothing is half-written; ` +
      'once the fault is fixed, the next run writes what is missing',
    { path: where, code },
  );
}
