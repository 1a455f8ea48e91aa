/**
 * How far the workers reading streams files whole have read them, shared with the job's thread,
 * which sizes the ranges of the parse's last round from it as it hands them out (streamsParse.ts,
 * rangeShare): one cell a file, in an Int32Array on a SharedArrayBuffer read and written with
 * Atomics, holding NOT_STARTED before its worker starts, then the KiB read, then DONE_READING.
 * Both sides are here: the worker's (progressReporter, doneReading) and the job's (fileProgress,
 * unreadBytes).
 */

/** A file's cell: cell `at` of `kib`. */
export interface FileProgress {
  kib: Int32Array;
  at: number;
}

const NOT_STARTED = -1;
export const DONE_READING = -2;

/** The cells of `files` files, none started. */
export function fileProgress(files: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * files)).fill(NOT_STARTED);
}

/**
 * The bytes of a file of `size` bytes its worker has still to read, as its cell `at` of `kib` says:
 * 0 before the worker starts it (a file not begun does not hold back a range) and once it is read.
 */
export function unreadBytes(kib: Int32Array, at: number, size: number): number {
  const read = Atomics.load(kib, at);
  return read >= 0 ? Math.max(0, size - read * 1024) : 0;
}

/** What a worker reading a file calls with each chunk's bytes, to tell how far it is; nothing without a cell. */
export function progressReporter(progress: FileProgress | undefined): ((bytes: number) => void) | undefined {
  if (progress === undefined) return undefined;
  const { kib, at } = progress;
  let bytes = 0;
  Atomics.store(kib, at, 0);
  return (chunk) => {
    bytes += chunk;
    Atomics.store(kib, at, Math.floor(bytes / 1024));
  };
}

/** The worker has read its whole file (or stopped reading it). */
export function doneReading(progress: FileProgress | undefined): void {
  if (progress !== undefined) Atomics.store(progress.kib, progress.at, DONE_READING);
}
