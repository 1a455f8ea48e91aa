import { parseDay } from '../ops/dates.js';
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

const LOG_NAME = /^listen-(\d{8})\.log(\.gz)?$/;

/**
 * Lists `listen-YYYYMMDD.log` and `listen-YYYYMMDD.log.gz` files in `dir` (a folder or an S3
 * location; only its own files, not its subfolders' such as archive/), oldest day first.
 * Dotfiles and temporary names are skipped silently; names that look like logs but are not usable
 * are returned in `ignored`, and so is the `.gz` of a day that also has a plain log (the plain one
 * is used: two files for one day is a mistake to report, not to guess about).
 */
export async function scanLogs(dir: string): Promise<LogScan> {
  const logs: LogFile[] = [];
  const ignored: IgnoredFile[] = [];
  for (const entry of await listFolder(dir)) {
    const name = entry.name;
    if (name.startsWith('.') || !name.startsWith('listen-')) continue;
    if (name.endsWith('.tmp') || name.endsWith('.part')) continue;
    const match = LOG_NAME.exec(name);
    if (!match) {
      ignored.push({
        name,
        reason: 'name is not listen-YYYYMMDD.log or listen-YYYYMMDD.log.gz',
      });
      continue;
    }
    const day = parseDay(match[1]!);
    if (day === undefined) {
      ignored.push({ name, reason: `${match[1]} is not a valid date` });
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
  logs.sort((a, b) => a.day - b.day || Number(a.compressed) - Number(b.compressed));
  const unique = logs.filter((log, i) => {
    const plain = logs[i - 1];
    if (plain === undefined || plain.day !== log.day) return true;
    ignored.push({ name: log.name, reason: `${plain.name} exists for the same day and is used instead` });
    return false;
  });
  return { logs: unique, ignored };
}
