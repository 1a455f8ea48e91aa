import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tempPathFor, writeFileAtomic } from './atomicFile.js';

/**
 * Move `from` into folder `toDir` under its own name and return the new path. Nothing is lost:
 * a file already there under that name is kept, renamed `<name>.replaced-<timestamp>`; across
 * filesystems (EXDEV) the file is copied under a temporary name, flushed, renamed into place and
 * only then removed from where it was.
 */
export function moveInto(from: string, toDir: string): string {
  mkdirSync(toDir, { recursive: true });
  const to = join(toDir, basename(from));
  if (existsSync(to)) setAside(to);
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    copyAcross(from, to);
    rmSync(from);
  }
  syncDir(dirname(to));
  return to;
}

/**
 * Rename `path` to `<path>.replaced-<UTC timestamp>` (with `-2`, `-3`... if that name is taken,
 * so that two files set aside within the same millisecond both stay); returns the new name.
 */
export function setAside(path: string): string {
  const stamp = replacedStamp();
  let aside = `${path}.replaced-${stamp}`;
  for (let n = 2; existsSync(aside); n++) aside = `${path}.replaced-${stamp}-${n}`;
  renameSync(path, aside);
  return aside;
}

/** The timestamp of a `.replaced-` name, the same for local files and S3 objects. */
export function replacedStamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '');
}

function copyAcross(from: string, to: string): void {
  const temp = tempPathFor(to);
  try {
    copyFileSync(from, temp);
    const { atime, mtime } = statSync(from);
    utimesSync(temp, atime, mtime);
    const fd = openSync(temp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, to);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Flush a folder's entries, so that a rename survives a power cut. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not every filesystem allows fsync on a folder; the rename is still done
  }
}

/**
 * Move a file that cannot be used into `toDir` with `<name>.reason.json` beside it, written first:
 * a file there always has its reason. A file of the same name from before is kept, it and its
 * reason renamed `.replaced-<timestamp>` (unless `resume`: finishing a move a killed run began).
 * Returns where the file and its reason are.
 */
export function moveWithReason(
  path: string,
  toDir: string,
  reason: unknown,
  resume = false,
): { movedTo: string; reasonFile: string } {
  const name = basename(path);
  const movedTo = join(toDir, name);
  const reasonFile = `${movedTo}.reason.json`;
  if (!resume && existsSync(movedTo)) {
    const aside = setAside(movedTo);
    if (existsSync(reasonFile)) renameSync(reasonFile, `${aside}.reason.json`);
  }
  mkdirSync(toDir, { recursive: true });
  writeFileAtomic(reasonFile, `${JSON.stringify(reason, null, 2)}\n`);
  moveInto(path, toDir);
  return { movedTo, reasonFile };
}
