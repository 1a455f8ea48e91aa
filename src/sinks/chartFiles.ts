import { join } from 'node:path';
import type { CountryChart } from '../engine/tasks.js';
import { writeThroughTemp } from '../ops/atomicFile.js';
import { compactDay } from '../ops/dates.js';
import { writeAllSync } from '../ops/fileIo.js';
import { COUNTRY_CODES } from '../parse/countries.js';
import { ByteWriter } from '../partials/varint.js';
import { writeChartLine } from '../window/chartLines.js';
import { worse } from '../window/topK.js';

export function countryChartName(day: number): string {
  return `country_top50_${compactDay(day)}.txt`;
}

export function userChartName(day: number): string {
  return `user_top50_${compactDay(day)}.txt`;
}

/**
 * The country chart file: each window partition holds the top songs of every country among its
 * songs (a (country, song) total lives in exactly one partition), so a country's chart is the
 * best `top` of the union of its partition charts.
 */
export async function writeCountryChart(
  path: string,
  partitionCharts: CountryChart[][],
  top: number,
): Promise<number> {
  const byCountry: CountryChart[][] = COUNTRY_CODES.map(() => []);
  for (const charts of partitionCharts) for (const c of charts) byCountry[c.country]!.push(c);
  const out = new ByteWriter(1 << 16);
  const songs = new Float64Array(top);
  const plays = new Float64Array(top);
  let rows = 0;
  byCountry.forEach((charts, country) => {
    if (charts.length === 0) return;
    const entries: { song: number; plays: number }[] = [];
    for (const c of charts) {
      for (let i = 0; i < c.songs.length; i++) entries.push({ song: c.songs[i]!, plays: c.plays[i]! });
    }
    entries.sort((a, b) =>
      worse(a.song, a.plays, b.song, b.plays) ? 1 : worse(b.song, b.plays, a.song, a.plays) ? -1 : 0,
    );
    const n = Math.min(top, entries.length);
    for (let i = 0; i < n; i++) {
      songs[i] = entries[i]!.song;
      plays[i] = entries[i]!.plays;
    }
    writeChartLine(out, COUNTRY_CODES[country]!, songs, plays, n);
    rows++;
  });
  await writeThroughTemp(path, (fd) => writeAllSync(fd, out.result()));
  return rows;
}

/**
 * The user chart file, assembled from `ranges` consecutive user ranges: `mergeRange(r)` produces
 * range r's rows (on a worker). Up to `lookahead` ranges are in flight; they are written in range
 * order as they complete, so memory holds a few ranges, never the file. Returns the number of rows.
 */
export async function writeUserChart(
  path: string,
  ranges: number,
  lookahead: number,
  mergeRange: (range: number) => Promise<{ bytes: Uint8Array; rows: number }>,
): Promise<number> {
  return writeThroughTemp(path, async (fd) => {
    let rows = 0;
    const inFlight = new Map<number, Promise<{ bytes: Uint8Array; rows: number }>>();
    let next = 0;
    for (let r = 0; r < ranges; r++) {
      while (next < ranges && next < r + lookahead) {
        const pending = mergeRange(next);
        // Failures surface when awaited, in order; this only keeps Node from calling them unhandled.
        pending.catch(() => {});
        inFlight.set(next, pending);
        next++;
      }
      const done = await inFlight.get(r)!;
      inFlight.delete(r);
      writeAllSync(fd, done.bytes);
      rows += done.rows;
    }
    return rows;
  });
}

export function chartPaths(outDir: string, day: number): { country: string; user: string } {
  return { country: join(outDir, countryChartName(day)), user: join(outDir, userChartName(day)) };
}
