import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runTop50 } from '../../src/jobs/chartJob.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { day, firstDifference, listTree, type TempDirs } from './tempDirs.js';

/** The chart files of an output folder, and the logs around them. */

/** The chart file of `kind` of day `d` in `out`. */
export function chartFile(out: string, kind: 'country' | 'user', d: number): string {
  return join(out, `${kind}_top50_${compactDay(d)}.txt`);
}

/** The two chart files of day `d` in `out`, as latin1 text. */
export function readCharts(out: string, d: number): { country: string; user: string } {
  return {
    country: readFileSync(chartFile(out, 'country', d), 'latin1'),
    user: readFileSync(chartFile(out, 'user', d), 'latin1'),
  };
}

/** The dates (ISO) of the country charts in `dir`, newest first. */
export function chartDatesIn(dir: string): string[] {
  return readdirSync(dir)
    .map((n) => /^country_top50_(\d{8})\.txt$/.exec(n)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((c) => isoDay(day(c)))
    .sort()
    .reverse();
}

/** The chart dates (ISO) that have a country or user chart file in `out`. */
export function chartDates(out: string): string[] {
  const found = new Set<string>();
  for (const name of readdirSync(out)) {
    const m = /^(?:country|user)_top50_(\d{4})(\d{2})(\d{2})\.txt$/.exec(name);
    if (m) found.add(`${m[1]}-${m[2]}-${m[3]}`);
  }
  return [...found].sort();
}

/**
 * The charts in `out` of each day of `days` equal, byte for byte, those of a fresh runTop50 over
 * `refLogs` for that day (with `window` and `threads`), in its own output and state folder.
 */
export async function expectTop50Charts(
  temp: TempDirs,
  out: string,
  refLogs: string,
  days: number[],
  options: { window: number; threads: number },
): Promise<void> {
  const refOut = temp.make('playtally-un-ref-');
  for (const d of days) {
    await runTop50({ logsDir: refLogs, outDir: refOut, day: d, ...options });
    const got = readCharts(out, d);
    const want = readCharts(refOut, d);
    expect(firstDifference(got.country, want.country), `country ${isoDay(d)}`).toBeUndefined();
    expect(firstDifference(got.user, want.user), `user ${isoDay(d)}`).toBeUndefined();
    expect(got.country.length).toBeGreaterThan(0);
    expect(got.user.length).toBeGreaterThan(0);
  }
}

/** Log files (any day, plain or gzip, kept `.replaced-*` copies included) below the given folders. */
export function countLogs(...dirs: string[]): number {
  let n = 0;
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    n += listTree(dir).filter(
      (p) => /(^|\/)listen-\d{8}\.log(\.gz)?(\.replaced-[^/]*)?$/.test(p) && !p.endsWith('.reason.json'),
    ).length;
  }
  return n;
}
