import {
  closeSync,
  createReadStream,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { S3Folder } from '../cloud/s3Folder.js';
import { parseS3Uri } from '../cloud/s3Uri.js';
import { PlaytallyError } from '../ops/errors.js';
import { moveInto, moveWithReason } from '../ops/fileMoves.js';
import { requireLogsFolder } from '../ops/folders.js';
import type { OpenOptions } from '../parse/catalogs.js';

/**
 * Where inputs live: a local path or an `s3://bucket/prefix/` location. Everything that finds,
 * reads, archives or quarantines an input goes through these functions, so the jobs work on
 * either without knowing which: locations stay plain strings (in the state files too), and an
 * S3 one is told by its scheme. The AWS SDK is loaded only when an S3 location is first read.
 */

let s3Module: typeof import('../cloud/s3Folder.js') | undefined;

/** The S3 folder at `uri`, sharing the process's one client. */
async function s3Folder(uri: string): Promise<S3Folder> {
  s3Module ??= await import('../cloud/s3Folder.js');
  return s3Module.S3Folder.at(uri);
}

/** Close the S3 connections kept alive, if any were opened (a worker thread leaving). */
export function closeS3(): void {
  s3Module?.S3Folder.closeShared();
}

export function isS3(location: string): boolean {
  return location.startsWith('s3://');
}

/** A folder named on the command line: an absolute path, or an S3 location ending in `/`. */
export function folderLocation(location: string): string {
  return isS3(location) ? parseS3Uri(location).uri : resolve(location);
}

/** The location of file `name` in `folder`. */
export function inFolder(folder: string, name: string): string {
  return isS3(folder) ? `${parseS3Uri(folder).uri}${name}` : join(folder, name);
}

/** The location of subfolder `sub` of `folder` (an S3 one ends in `/`). */
export function subfolder(folder: string, sub: string): string {
  return isS3(folder) ? parseS3Uri(`${parseS3Uri(folder).uri}${sub}`).uri : join(folder, sub);
}

/** A file location's folder and name. */
export function splitLocation(location: string): { folder: string; name: string } {
  if (!isS3(location)) return { folder: dirname(location), name: basename(location) };
  const slash = location.lastIndexOf('/');
  return { folder: location.slice(0, slash + 1), name: location.slice(slash + 1) };
}

/** Both local, or both on S3: a move between the two kinds is refused before any work. */
export function requireSameKind(inputs: string, other: string, option: string): void {
  if (isS3(inputs) !== isS3(other)) {
    throw new PlaytallyError(
      'usage',
      `${option} ${other} must be ${isS3(inputs) ? 'an s3:// location' : 'a local folder'}, as the inputs ${inputs} are`,
    );
  }
}

/**
 * The outputs and the state are local folders: an s3:// location there is refused (exit 2) rather
 * than made into a local folder named `s3:`. Cloud outputs go through `--sink`.
 */
export function requireLocalFolders(options: Record<string, string | undefined>): void {
  for (const [option, value] of Object.entries(options)) {
    if (value !== undefined && isS3(value)) {
      throw new PlaytallyError(
        'usage',
        `${option} ${value}: outputs and state are local folders (inputs may be on S3; --sink dynamodb://TABLE writes to DynamoDB)`,
      );
    }
  }
}

export interface FolderEntry {
  name: string;
  size: number;
  mtimeMs: number;
  /** False for a subfolder or anything else that is not a regular file (local folders only). */
  isFile: boolean;
  /**
   * Why a local entry cannot be reached, when it cannot: a symbolic link whose target is missing
   * or loops. Such an entry has isFile false.
   */
  unreadable?: string;
}

/** The entries directly in `folder`, in name order; none when a local folder does not exist. */
export async function listFolder(folder: string): Promise<FolderEntry[]> {
  if (isS3(folder)) {
    const objects = await (await s3Folder(folder)).list();
    return objects.map((o) => ({ name: o.name, size: o.size, mtimeMs: o.mtimeMs, isFile: true }));
  }
  let names: string[];
  try {
    names = readdirSync(folder).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const entries: FolderEntry[] = [];
  for (const name of names) {
    const path = join(folder, name);
    try {
      const stat = statSync(path);
      // A file without read permission is listed as a file: the job that reads it meets the
      // fault and treats it as that file's problem (ops/ioErrors.ts), quarantining it.
      entries.push({ name, size: stat.size, mtimeMs: stat.mtimeMs, isFile: stat.isFile() });
    } catch (error) {
      const unreadable = whyUnreachable(path, error as NodeJS.ErrnoException);
      // Removed since the listing: not an input. Anything else is named, not passed over.
      if (unreadable !== undefined) entries.push({ name, size: 0, mtimeMs: 0, isFile: false, unreadable });
    }
  }
  return entries;
}

/** Why `path` could not be stat'ed, in words; undefined when it is simply gone. */
function whyUnreachable(path: string, error: NodeJS.ErrnoException): string | undefined {
  let target: string | undefined;
  try {
    if (lstatSync(path).isSymbolicLink()) target = readlinkSync(path);
  } catch {
    return undefined;
  }
  if (target === undefined) return `cannot be read (${error.code ?? error.message})`;
  if (error.code === 'ELOOP') return `is a symbolic link that loops (-> ${target})`;
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
    return `is a symbolic link to ${target}, which does not exist`;
  }
  return `is a symbolic link to ${target}, which cannot be reached (${error.code ?? error.message})`;
}

/** A file's size and modification time; undefined when it is not there. */
export async function statFile(location: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  if (isS3(location)) {
    const { folder, name } = splitLocation(location);
    return (await s3Folder(folder)).stat(name);
  }
  try {
    const stat = statSync(location);
    return stat.isFile() ? { size: stat.size, mtimeMs: stat.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

/** A file's bytes as a stream (bytes [start, end) only with `range`): never read whole first. */
export async function openFile(location: string, range?: { start: number; end: number }): Promise<Readable> {
  if (isS3(location)) {
    const { folder, name } = splitLocation(location);
    return (await s3Folder(folder)).read(name, range);
  }
  return createReadStream(location, {
    highWaterMark: 1024 * 1024,
    ...(range === undefined ? {} : { start: range.start, end: range.end - 1 }),
  });
}

/** A file opened for reading, its first bytes already read (to sniff its format). */
export interface HeadedFile {
  /** The first `headBytes` bytes (fewer if the file is shorter). */
  head: Buffer;
  /** Every byte of the file in order, the head included: read on as the loop asks. */
  chunks: AsyncIterable<Buffer>;
  /** Stop reading (a file found unusable from its head, or left part-way). */
  close(): void;
}

/** A file the CSV parsers can open (parse/catalogs.ts CsvInput), its first `headBytes` read first. */
export function csvInput(
  file: { name: string; path: string; size?: number },
  headBytes: number,
): { name: string; path: string; size?: number; open(options?: OpenOptions): Promise<HeadedFile> } {
  return {
    name: file.name,
    path: file.path,
    ...(file.size === undefined ? {} : { size: file.size }),
    open: (options) => openWithHead(file.path, headBytes, options),
  };
}

/**
 * Open a file and read its first `headBytes` bytes, keeping the rest to be read as a stream. With
 * `transient`, a local file's chunks are views of one buffer, each valid until the next is asked
 * for (the head is a copy of its own).
 */
export async function openWithHead(
  location: string,
  headBytes: number,
  options: OpenOptions = {},
): Promise<HeadedFile> {
  const transient = options.transient === true && !isS3(location);
  let reader: AsyncIterator<Buffer>;
  let close: () => void;
  if (isS3(location)) {
    const source = await openFile(location);
    reader = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    close = () => source.destroy();
  } else {
    // A local file is read with plain synchronous reads of 1 MB: on a worker thread that parses
    // what it reads, that is about 8% faster than a ReadStream's round trips through libuv.
    const local = localChunks(location, transient);
    reader = local;
    close = () => void local.return(undefined);
  }
  const taken: Buffer[] = [];
  let length = 0;
  let ended = false;
  try {
    while (length < headBytes) {
      // The next read overwrites a transient chunk: one still to be yielded is kept as a copy.
      if (transient && taken.length > 0) taken[taken.length - 1] = Buffer.from(taken[taken.length - 1]!);
      const next = await reader.next();
      if (next.done) {
        ended = true;
        break;
      }
      taken.push(next.value);
      length += next.value.length;
    }
  } catch (error) {
    close();
    throw error;
  }
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      yield* taken;
      while (!ended) {
        const next = await reader.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      close();
    }
  }
  return { head: Buffer.concat(taken).subarray(0, headBytes), chunks: chunks(), close };
}

const LOCAL_READ_BYTES = 1024 * 1024;

/**
 * A local file's bytes in chunks of up to 1 MB, each in a buffer of its own (chunks may be kept),
 * or with `transient` each read into the same buffer. The event loop gets a turn after each chunk,
 * as a stream's reader gives it: read with `readSync`, a file went through on microtasks alone,
 * and the KPI run's catalogues (1M songs and 5M users: 2.5 s on the main thread) held back the
 * parse workers' results meanwhile, both workers idle for a second waiting for their next task.
 */
async function* localChunks(path: string, transient = false): AsyncGenerator<Buffer, void, undefined> {
  const fd = openSync(path, 'r');
  try {
    const reused = transient ? Buffer.allocUnsafeSlow(LOCAL_READ_BYTES) : undefined;
    for (;;) {
      const buffer = reused ?? Buffer.allocUnsafe(LOCAL_READ_BYTES);
      const n = readSync(fd, buffer, 0, LOCAL_READ_BYTES, null);
      if (n === 0) return;
      yield buffer.subarray(0, n);
      await nextTurn();
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Move a file into `toFolder` under its own name and return its new location; nothing is lost (a
 * file already there is kept as `.replaced-<timestamp>`). On S3 a move is copy-then-delete, so a
 * failure in between leaves the object in both places, never in neither.
 */
export async function moveFileInto(location: string, toFolder: string): Promise<string> {
  requireSameKind(location, toFolder, 'the target folder');
  if (!isS3(location)) return moveInto(location, toFolder);
  const { folder, name } = splitLocation(location);
  return (await s3Folder(folder)).moveTo(name, await s3Folder(toFolder));
}

/**
 * Move a file that cannot be used into `toFolder` with `<name>.reason.json` beside it, written
 * first: a file there always has its reason. A file of the same name from before is kept, it and
 * its reason renamed `.replaced-<timestamp>` (unless `resume`: finishing a move a killed run began).
 */
export async function moveFileWithReason(
  location: string,
  toFolder: string,
  reason: unknown,
  resume = false,
): Promise<{ movedTo: string; reasonFile: string }> {
  requireSameKind(location, toFolder, 'the target folder');
  if (!isS3(location)) return moveWithReason(location, toFolder, reason, resume);
  const { folder, name } = splitLocation(location);
  const to = await s3Folder(toFolder);
  const reasonName = `${name}.reason.json`;
  if (!resume && (await to.has(name))) {
    const aside = await to.setAside(name);
    if (await to.has(reasonName)) await to.rename(reasonName, `${aside}.reason.json`);
  }
  await to.putText(reasonName, `${JSON.stringify(reason, null, 2)}\n`);
  const movedTo = await (await s3Folder(folder)).moveTo(name, to);
  return { movedTo, reasonFile: `${to.uri}${reasonName}` };
}

/**
 * The input folder must be there: a missing local folder is named, never created; an S3 location
 * must be listable with the credentials at hand (a wrong bucket, region or key fails here, exit 3).
 */
export async function requireInputFolder(folder: string, what = 'logs folder'): Promise<void> {
  if (isS3(folder)) await (await s3Folder(folder)).probe();
  else requireLogsFolder(folder, what);
}
