import { type ErrorCode, PlaytallyError } from './errors.js';

/**
 * The one classifier of the machine's I/O faults (issue 17): an error code of the system becomes
 * a kind and a sentence. Readers turn a fault into an input problem for that file only
 * (readFailure: exit 3, or a quarantine for `run`/`watch`/`kpis`); writers, through
 * ops/atomicFile.ts, into `write_failed` (writeFailure: exit 4). The CLI's error boundary uses
 * ioFailure for a fault that reached it without being named by the code that met it.
 */
export type IoFaultKind = 'permission' | 'space' | 'gone' | 'device' | 'not_a_file';

export interface IoFault {
  kind: IoFaultKind;
  /** The system's code (EACCES, ENOSPC, ...). */
  code: string;
  /** The path the system names, when it names one (an error of a read on an open file does not). */
  path?: string;
  /** The system call that failed (open, read, write, rename, ...). */
  syscall?: string;
}

/**
 * Each code's kind, and what it means for the file or folder named, in words (`write` when a
 * writer says it otherwise than a reader).
 */
const FAULTS: Record<string, { kind: IoFaultKind; read: string; write?: string }> = {
  EACCES: { kind: 'permission', read: 'no permission to read it', write: 'no permission to write there' },
  EPERM: { kind: 'permission', read: 'the operation is not permitted there' },
  EROFS: { kind: 'permission', read: 'its file system is read-only' },
  ENOSPC: { kind: 'space', read: 'no space left on its device' },
  EDQUOT: { kind: 'space', read: 'the disk quota is exceeded' },
  EFBIG: {
    kind: 'space',
    read: 'the file is too large',
    write: 'the file would be too large for its file system',
  },
  ENOENT: {
    kind: 'gone',
    read: 'it does not exist (any more)',
    write: 'its folder does not exist (any more)',
  },
  ENOTDIR: { kind: 'gone', read: 'a part of its path is not a folder' },
  EIO: { kind: 'device', read: 'an I/O error of the device' },
  ENXIO: { kind: 'device', read: 'its device is not there' },
  ESTALE: { kind: 'device', read: 'a stale network file handle' },
  EISDIR: { kind: 'not_a_file', read: 'it is a folder, not a file' },
  ELOOP: { kind: 'not_a_file', read: 'its symbolic links loop' },
};

function wordsFor(code: string): { read: string; write: string } {
  const fault = FAULTS[code];
  if (fault !== undefined) return { read: fault.read, write: fault.write ?? fault.read };
  const sqlite = sqliteKind(code)?.[1] ?? code;
  return { read: sqlite, write: sqlite };
}

/** The system calls that change the file system: a fault in one of them is a failed write. */
const WRITE_CALLS = new Set([
  'write',
  'writev',
  'mkdir',
  'mkdtemp',
  'rename',
  'unlink',
  'rmdir',
  'rm',
  'copyfile',
  'link',
  'symlink',
  'fsync',
  'fdatasync',
  'ftruncate',
  'chmod',
  'utime',
  'futime',
]);

/**
 * SQLite's codes for the same faults met under the results store (libsql's errors carry them, the
 * extended ones too: SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED...), by prefix.
 */
const SQLITE_KINDS: [prefix: string, kind: IoFaultKind, words: string][] = [
  ['SQLITE_FULL', 'space', 'no space left on its device'],
  ['SQLITE_IOERR', 'device', 'an I/O error of the device'],
  ['SQLITE_READONLY', 'permission', 'it is read-only for this user'],
];

function sqliteKind(code: string): [IoFaultKind, string] | undefined {
  const found = SQLITE_KINDS.find(([prefix]) => code.startsWith(prefix));
  return found && [found[1], found[2]];
}

/** The fault `error` is, or undefined when it is not one of the machine's I/O faults. */
export function ioFault(error: unknown): IoFault | undefined {
  const e = error as { code?: unknown; path?: unknown; syscall?: unknown } | undefined;
  if (typeof e?.code !== 'string') return undefined;
  const kind = FAULTS[e.code]?.kind ?? sqliteKind(e.code)?.[0];
  if (kind === undefined) return undefined;
  return {
    kind,
    code: e.code,
    ...(typeof e.path === 'string' ? { path: e.path } : {}),
    ...(typeof e.syscall === 'string' ? { syscall: e.syscall } : {}),
  };
}

/**
 * `error` as a `write_failed` naming `path` when it is an I/O fault of a writer, else unchanged.
 * Files are written whole or not at all, so what was written before stays whole, and a run after
 * the fault is fixed writes the rest.
 */
export function writeFailure(error: unknown, path: string | undefined): unknown {
  const fault = ioFault(error);
  if (error instanceof PlaytallyError || fault === undefined) return error;
  const where = path ?? fault.path;
  return new PlaytallyError(
    'write_failed',
    `cannot write ${where ?? 'a file'}: ${wordsFor(fault.code).write} (${fault.code}). Nothing is half-written; ` +
      'once the fault is fixed, the next run writes what is missing',
    { path: where, code: fault.code, fault: fault.kind },
    { cause: error },
  );
}

/**
 * `error` as an input problem of the file at `path` (`code`: unreadable_log for a log, read_failed
 * for another input) when it is an I/O fault met reading that file, else unchanged. A fault that
 * names another path (the state folder, a spill) is not this file's and passes through.
 */
export function readFailure(
  error: unknown,
  path: string,
  code: ErrorCode = 'read_failed',
  details: Record<string, unknown> = {},
): unknown {
  const fault = ioFault(error);
  if (error instanceof PlaytallyError || fault === undefined) return error;
  const thisFile = fault.path === path || (fault.path === undefined && fault.syscall === 'read');
  if (!thisFile) return error;
  return new PlaytallyError(
    code,
    `cannot read ${path}: ${wordsFor(fault.code).read} (${fault.code})`,
    { ...details, path, code: fault.code, fault: fault.kind },
    { cause: error },
  );
}

/**
 * A fault that reached the error boundary unnamed, as a sentence: a write (exit 4) when the call
 * that failed changes the file system or the fault is a full or read-only disk, else a read of
 * an input (exit 3). Undefined for anything that is not an I/O fault (a bug: an internal error).
 */
export function ioFailure(error: unknown): PlaytallyError | undefined {
  const fault = ioFault(error);
  if (fault === undefined) return undefined;
  const writing =
    WRITE_CALLS.has(fault.syscall ?? '') ||
    fault.kind === 'space' ||
    fault.code === 'EROFS' ||
    (fault.syscall === 'open' && fault.kind === 'permission');
  const failure = writing
    ? writeFailure(error, fault.path)
    : readFailure(error, fault.path ?? 'a file', 'read_failed');
  // A read fault without a path (a read on an open file) is named as well as it can be.
  return failure instanceof PlaytallyError
    ? failure
    : new PlaytallyError(
        'read_failed',
        `cannot read a file: ${wordsFor(fault.code).read} (${fault.code})`,
        { code: fault.code, fault: fault.kind },
        { cause: error },
      );
}
