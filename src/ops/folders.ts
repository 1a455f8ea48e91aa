import { accessSync, constants, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { parseDay } from './dates.js';
import { PlaytallyError } from './errors.js';

/** The logs (or landing) folder must exist: a missing one is an input problem, named, never created. */
export function requireLogsFolder(dir: string, what = 'logs folder'): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new PlaytallyError('logs_not_found', `${what} ${dir} does not exist or is not a folder`);
}

/** Create `dir` if needed and check that it can be written, or fail with `code`, naming it. */
export function ensureWritable(
  dir: string,
  code: 'output_not_writable' | 'state_not_writable',
  what: string,
): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new PlaytallyError(code, `${what} ${dir} is not writable: ${(error as Error).message}`);
  }
}

/** The dates of an output folder's files named by `pattern` (its group 1 is YYYYMMDD). */
export function datesOfFiles(dir: string, pattern: RegExp): number[] {
  if (!existsSync(dir)) return [];
  const days: number[] = [];
  for (const name of readdirSync(dir)) {
    const m = pattern.exec(name);
    const day = m ? parseDay(m[1]!) : undefined;
    if (day !== undefined) days.push(day);
  }
  return days;
}
