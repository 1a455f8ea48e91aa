import { writeSync } from 'node:fs';

/** writeSync until every byte is written (a single call may write fewer). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
