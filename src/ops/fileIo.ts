import { closeSync, fdatasync, openSync, readSync, statSync, write, writeSync } from 'node:fs';

/**
 * writeSync until every byte is written (a single call may write fewer); at `position` when
 * given, else at the file's current offset.
 */
export function writeAllSync(fd: number, bytes: Uint8Array, position?: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, bytes.length - done, position === undefined ? null : position + done);
  }
}

/**
 * writeAllSync's asynchronous twin: the writes run on libuv's threads, at `position` when given,
 * else at the file's current offset.
 */
export async function writeAll(fd: number, bytes: Uint8Array, position?: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const at = position === undefined ? null : position + done;
    done += await new Promise<number>((resolve, reject) =>
      write(fd, bytes, done, bytes.length - done, at, (error, n) => (error ? reject(error) : resolve(n))),
    );
  }
}

/**
 * Bytes of a large file written between two flushes to disk made on the way (the user chart, a
 * day's partial), so that its commit's fsync has only the tail left.
 */
export const FLUSH_BYTES = 32 * 1024 * 1024;

/** fdatasync on libuv's threads: what was written to `fd` so far is on disk when this resolves. */
export function flushData(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

/**
 * readSync until `length` bytes from `position` are in `into` at `at` (a single call may read
 * fewer); returns how many were read, less than `length` only at the end of the file.
 */
export function readFullySync(
  fd: number,
  into: Uint8Array,
  at: number,
  length: number,
  position: number,
): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, into, at + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Call `onLine` with each line of a file (UTF-8, without its `\n`; 1-based line numbers), read
 * in 4 MB pieces so a file of any size takes one piece and one line of memory. A last line
 * without `\n` is passed too.
 */
export function forEachLineSync(path: string, onLine: (line: string, lineNumber: number) => void): void {
  const fd = openSync(path, 'r');
  try {
    let buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    let filled = 0;
    let lineNumber = 0;
    for (;;) {
      if (filled === buffer.length) {
        // One line longer than the buffer: grow it (doubling) rather than cut the line.
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, filled, buffer.length - filled, null);
      const end = filled + n;
      let start = 0;
      for (let nl = buffer.indexOf(10, start); nl !== -1 && nl < end; nl = buffer.indexOf(10, start)) {
        onLine(buffer.toString('utf8', start, nl), ++lineNumber);
        start = nl + 1;
      }
      if (n === 0) {
        if (start < end) onLine(buffer.toString('utf8', start, end), ++lineNumber);
        return;
      }
      buffer.copy(buffer, 0, start, end);
      filled = end - start;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * What a sync compares to tell whether files changed since they were loaded: each file's size and
 * mtime (files are replaced by rename, so a rewrite changes both or at least the mtime).
 */
export function fileSignature(paths: string[]): string {
  return paths
    .map((p) => {
      try {
        const s = statSync(p);
        return `${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join(',');
}
