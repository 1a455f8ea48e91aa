import { compactDay, isoDay, parseDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { readFailure } from '../ops/ioErrors.js';
import { GzipInputError } from './lineChunks.js';
import { inFolder, listFolder } from './locations.js';

/** A daily listen log found in the logs folder. */
export interface LogFile {
  day: number;
  name: string;
  /** A local path, or an s3:// location (see locations.ts). */
  path: string;
  size: number;
  mtimeMs: number;
  /** `listen-YYYYMMDD.log.gz`: decompressed as a stream (see lineChunks.ts). */
  compressed: boolean;
}

/** A file that looks like a log but cannot be used, and why. */
export interface IgnoredFile {
  name: string;
  reason: string;
}

export interface LogScan {
  logs: LogFile[];
  ignored: IgnoredFile[];
}

/** The names read as logs: the day in either form, plain or gzip. */
const LOG_NAME = /^listen-(\d{8}|\d{4}-\d{2}-\d{2})\.log(\.gz)?$/;
/** A name that is meant as a log but whose day part is not a day (`listen-YYYYMMDD.log`). */
const LOG_LIKE = /^listen-(.*)\.log(\.gz)?$/;
/** Other names worth a word when they are passed over: they look like listen data. */
const LISTEN_LIKE = /listen|\.log(\.gz)?$/i;

/** The accepted names, as the warnings and errors spell them. */
export const LOG_NAMES = 'listen-YYYYMMDD.log or listen-YYYY-MM-DD.log (or the same with .gz)';

/**
 * Lists the logs in `dir` (a folder or an S3 location; only its own files, not its subfolders'
 * such as archive/), oldest day first: `listen-YYYYMMDD.log` or `listen-YYYY-MM-DD.log`, plain or
 * `.gz`. Dotfiles and temporary names are skipped silently; every other name that looks like
 * listen data but cannot be used is returned in `ignored` with the reason in words (a day part
 * that is not a date, another name, a dangling link or a looping one), and so is
 * a second file for a day already taken (the plain log before the `.gz`, then the first name:
 * two files for one day is a mistake to report, not to guess about).
 */
export async function scanLogs(dir: string): Promise<LogScan> {
  const logs: LogFile[] = [];
  const ignored: IgnoredFile[] = [];
  for (const entry of await listFolder(dir)) {
    const name = entry.name;
    if (name.startsWith('.') || name.endsWith('.tmp') || name.endsWith('.part')) continue;
    const match = LOG_NAME.exec(name);
    const day = match ? parseDay(match[1]!) : undefined;
    if (match === null || day === undefined) {
      const reason = nameProblem(name);
      if (reason !== undefined) ignored.push({ name, reason });
      continue;
    }
    if (entry.unreadable !== undefined) {
      ignored.push({ name, reason: `${entry.unreadable}; the day ${isoDay(day)} is read as missing` });
      continue;
    }
    if (!entry.isFile) {
      ignored.push({ name, reason: 'not a regular file' });
      continue;
    }
    logs.push({
      day,
      name,
      path: inFolder(dir, name),
      size: entry.size,
      mtimeMs: entry.mtimeMs,
      compressed: match[2] !== undefined,
    });
  }
  logs.sort(
    (a, b) =>
      a.day - b.day ||
      Number(a.compressed) - Number(b.compressed) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const unique: LogFile[] = [];
  for (const log of logs) {
    const used = unique[unique.length - 1];
    if (used !== undefined && used.day === log.day) {
      ignored.push({ name: log.name, reason: `${used.name} exists for the same day and is used instead` });
    } else unique.push(log);
  }
  return { logs: unique, ignored };
}

/**
 * Why a name is not read as a log, in words, with the name to give the file when it holds a date;
 * undefined for names that do not look like listen data at all (a README, a subfolder).
 */
export function nameProblem(name: string): string | undefined {
  const like = LOG_LIKE.exec(name);
  if (like) {
    const part = like[1]!;
    if (/^\d{8}$|^\d{4}-\d{2}-\d{2}$/.test(part))
      return `${part} is not a date (no such day in the calendar)`;
    return `its day part ${JSON.stringify(part)} is not a date: name each log for its day, as ${LOG_NAMES} (e.g. listen-20240107.log)`;
  }
  if (!LISTEN_LIKE.test(name)) return undefined;
  const rename = suggestedName(name);
  return `not a log name: playtally reads ${LOG_NAMES}${rename ? `; rename it ${rename}` : ''}`;
}

/** `listen-YYYYMMDD.log[.gz]` for a name that holds one real date, else undefined. */
function suggestedName(name: string): string | undefined {
  const dates = [...name.matchAll(/(?<!\d)(\d{4}-\d{2}-\d{2}|\d{8})(?!\d)/g)]
    .map((m) => parseDay(m[1]!))
    .filter((d): d is number => d !== undefined);
  if (dates.length !== 1) return undefined;
  return `listen-${compactDay(dates[0]!)}.log${name.toLowerCase().endsWith('.gz') ? '.gz' : ''}`;
}

/**
 * An error met reading `log`, as the input problem of that log only (`unreadable_log`: exit 3 for
 * `top50`; `run` and `watch` quarantine the file and chart the other days): a damaged gzip, or an
 * I/O fault of the file itself (no read permission, a device error, gone since the scan). Any
 * other error, a fault of the state folder say, passes through unchanged.
 */
export function logReadFailure(error: unknown, log: LogFile): unknown {
  if (error instanceof PlaytallyError) return error;
  const code = (error as { code?: unknown })?.code;
  if (error instanceof GzipInputError || (typeof code === 'string' && code.startsWith('Z_'))) {
    return new PlaytallyError(
      'unreadable_log',
      error instanceof GzipInputError
        ? error.message
        : `${log.path} is not a readable gzip file (${(error as Error).message})`,
      { path: log.path, file: log.name },
      { cause: error },
    );
  }
  return readFailure(error, log.path, 'unreadable_log', { file: log.name });
}
