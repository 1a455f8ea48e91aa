import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { compactDay, parseDay } from '../../src/ops/dates.js';

/**
 * Temporary folders for tests, made under os.tmpdir() and removed by `cleanup()` (call it from
 * afterEach/afterAll, or in a finally around one property run).
 */
export class TempDirs {
  private readonly dirs: string[] = [];

  /** A new empty folder `<tmpdir>/<prefix>XXXXXX`. */
  make(prefix = 'playtally-test-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Remove every folder made so far. */
  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** A day number (UTC days since 1970-01-01) from `YYYYMMDD` or `YYYY-MM-DD`; throws on a bad date. */
export function day(text: string): number {
  const d = parseDay(text);
  if (d === undefined) throw new Error(`not a date: ${text}`);
  return d;
}

/** The integers a..b. */
export function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** `listen-YYYYMMDD.log` for a day number. */
export function logName(dayNumber: number): string {
  return `listen-${compactDay(dayNumber)}.log`;
}

/** Write the log of `dayNumber` into `dir` (strings are written as latin1, one byte per char). */
export function writeLog(dir: string, dayNumber: number, content: string | Uint8Array): string {
  const path = join(dir, logName(dayNumber));
  writeFileSync(path, typeof content === 'string' ? Buffer.from(content, 'latin1') : content);
  return path;
}

/** The bytes of the log of `dayNumber` in `dir`. */
export function readLog(dir: string, dayNumber: number): Buffer {
  return readFileSync(join(dir, logName(dayNumber)));
}

/** Every file below `dir`, as paths relative to it (folders end with `/`). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (sub: string): void => {
    for (const entry of readdirSync(sub, { withFileTypes: true })) {
      const path = join(sub, entry.name);
      if (entry.isDirectory()) {
        out.push(`${relative(dir, path)}/`);
        walk(path);
      } else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

/** Every file below `dir` (relative path) with the sha256 of its bytes: equal maps, equal trees. */
export function digests(dir: string): Record<string, string> {
  return Object.fromEntries(
    listTree(dir)
      .filter((p) => !p.endsWith('/'))
      .map((p) => [
        p,
        createHash('sha256')
          .update(readFileSync(join(dir, p)))
          .digest('hex'),
      ]),
  );
}

/**
 * Temporary files a run must not leave behind below `dir`: `*.tmp-<pid>` names (atomic writes,
 * partials being written) and `tmp/run-*` scratch folders.
 */
export function leftovers(dir: string): string[] {
  return listTree(dir).filter((p) => /\.tmp-/.test(p) || /(^|\/)tmp\/run-/.test(p));
}

/**
 * Where two texts first differ, as a short readable message; undefined when they are equal.
 * Comparing huge chart texts with `toBe` prints unreadable diffs; this names the line instead.
 */
export function firstDifference(actual: string, expected: string): string | undefined {
  if (actual === expected) return undefined;
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) {
      const clip = (s: string | undefined): string =>
        s === undefined ? '<none>' : s.length > 300 ? `${s.slice(0, 300)}...` : s;
      return `line ${i + 1} of ${a.length}/${e.length}: actual ${JSON.stringify(clip(a[i]))}, expected ${JSON.stringify(clip(e[i]))}`;
    }
  }
  return 'texts differ';
}

/** Write `content` as `name` into a new temporary folder of `temp`; its path. */
export function writeTempFile(temp: TempDirs, content: Uint8Array, name = 'listen.log'): string {
  const path = join(temp.make(), name);
  writeFileSync(path, content);
  return path;
}
