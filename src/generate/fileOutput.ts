import { closeSync, openSync, renameSync, rmSync } from 'node:fs';
import { tempPathFor } from '../ops/atomicFile.js';
import { writeAllSync } from '../ops/fileIo.js';

/**
 * Generated files are written under a temporary name and renamed into place, so that a reader (a
 * watcher polling the folder) never takes half a file. Unlike ops/atomicFile.ts they are not
 * fsynced: a generated file is made again from its options, so durability buys nothing.
 */
export function writeThroughTempSync(path: string, fill: (fd: number) => void): void {
  const temp = tempPathFor(path);
  const fd = openSync(temp, 'w');
  try {
    fill(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
}

/** Write a whole file through a temporary name. */
export function writeWholeFileSync(path: string, bytes: Uint8Array): void {
  writeThroughTempSync(path, (fd) => writeAllSync(fd, bytes));
}
