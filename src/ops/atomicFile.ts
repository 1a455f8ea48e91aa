import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeAllSync } from './fileIo.js';
import { writeFailure } from './ioErrors.js';

/**
 * Files are never written in place: they are written to `.<name>.tmp-<pid>` beside their final
 * name, flushed (but a cache: Durability), and renamed. A reader, or a run after a crash, sees
 * the old file or the new one, never half of one.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

/**
 * What a commit promises past a power cut. 'flushed' (outputs, manifests, state): the file's
 * bytes reach the disk before its rename, so the old file or the new one survives. 'cache': a file
 * the job checks on every read and can make again from an input it keeps (a KPI partial: its
 * header and blocks carry CRC-32s, and its streams file stays in the landing folder or the
 * archive) is renamed without waiting for the disk; a cut that loses its bytes leaves a partial
 * found damaged, and its file is parsed again. Either survives a killed process whole. The flush
 * of a KPI run's partials cost 0.17 s of its 2.6 s (docs/BENCHMARKS.md).
 */
export type Durability = 'flushed' | 'cache';

/** Write `data` to `path` atomically. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temp = tempPathFor(path);
  const fd = openTemp(temp, path);
  try {
    writeAllSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
  } catch (error) {
    discard(fd, temp);
    throw writeFailure(error, path);
  }
  commit(fd, temp, path);
}

/**
 * Write a file through a temporary name: `fill` writes to the fd (or to `temp`, the temporary
 * file's name, opened again: ops/fileAppender.ts); the file is flushed and renamed into place only
 * when `fill` has finished, and removed if it fails.
 */
export async function writeThroughTemp<T>(
  path: string,
  fill: (fd: number, temp: string) => T | Promise<T>,
): Promise<T> {
  const temp = tempPathFor(path);
  const fd = openTemp(temp, path);
  let result: T;
  try {
    result = await fill(fd, temp);
  } catch (error) {
    discard(fd, temp);
    throw writeFailure(error, path);
  }
  commit(fd, temp, path);
  return result;
}

/** Flush the temporary file to disk (unless it is a cache) and rename it over `path`. */
function commit(fd: number, temp: string, path: string, durability: Durability = 'flushed'): void {
  try {
    if (durability === 'flushed') fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, path);
  } catch (error) {
    discard(fd, temp);
    throw writeFailure(error, path);
  }
}

/** Open the temporary file of `path`; a write fault names `path`. */
function openTemp(temp: string, path: string, flags: 'w' | 'a' = 'w'): number {
  try {
    return openSync(temp, flags);
  } catch (error) {
    throw writeFailure(error, path);
  }
}

function discard(fd: number, temp: string): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
  rmSync(temp, { force: true });
}

/** Our temporary names only: dotfiles ending in `.tmp-<pid>` (see tempPathFor). */
const TEMP_NAME = /^\..+\.tmp-(\d+)$/;

/** Is a process with this pid still running? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove temporary files in `dir` left by processes that no longer run; returns their names. */
export function removeStaleTempFiles(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    rmSync(join(dir, name), { force: true, recursive: true });
    removed.push(name);
  }
  return removed;
}

/** Write `parts`, one after the other, to `path` atomically (synchronously: for worker threads). */
export function writeFileAtomicParts(path: string, parts: Uint8Array[]): void {
  const file = new TempFileWriter(tempPathFor(path), path);
  for (const part of parts) file.write(part);
  file.commit(path);
}

/**
 * A file written piece by piece under a temporary name (see tempPathFor), synchronously (for
 * worker threads), whose final name may be known only at its end (a partial named by its input's
 * content hash, computed as the input is read). `commit` flushes and renames it into place;
 * `discard` removes it; a failed write removes it too. `name` is what errors call it.
 */
export class TempFileWriter {
  private readonly fd: number;
  private open = true;

  /**
   * `appending`: `temp` is one such file already written and closed (`close`: a scratch file),
   * written on from its end, and committed or discarded as any other.
   */
  constructor(
    readonly temp: string,
    private readonly name: string,
    appending = false,
  ) {
    this.fd = openTemp(temp, name, appending ? 'a' : 'w');
  }

  write(bytes: Uint8Array): void {
    try {
      writeAllSync(this.fd, bytes);
    } catch (error) {
      this.discard();
      throw writeFailure(error, this.name);
    }
  }

  /** Flushed (unless a cache), closed and renamed to `path`. */
  commit(path: string, durability: Durability = 'flushed'): void {
    this.open = false;
    commit(this.fd, this.temp, path, durability);
  }

  /** Closed and left on disk under its temporary name (a scratch file another thread reads). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    closeSync(this.fd);
  }

  /** Closed (if open) and removed. */
  discard(): void {
    if (this.open) discard(this.fd, this.temp);
    else rmSync(this.temp, { force: true });
    this.open = false;
  }
}
