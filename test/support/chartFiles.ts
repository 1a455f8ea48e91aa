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
