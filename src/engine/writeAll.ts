import { writeSync } from 'node:fs';

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
