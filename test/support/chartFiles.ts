import { readdirSync } from 'node:fs';
import { isoDay } from '../../src/ops/dates.js';
import { day } from './tempDirs.js';

/** The chart files of an output folder. */

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
