import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CountryChart } from '../engine/tasks.js';
import { writeAllSync } from '../engine/writeAll.js';
import { tempPathFor } from '../ops/atomicFile.js';
import { compactDay } from '../ops/dates.js';
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

/** Write a file through a temporary name: `fill` writes to the fd; rename only when it returns. */
export function writeThroughTemp<T>(path: string, fill: (fd: number) => T): T {
  const temp = tempPathFor(path);
  const fd = openSync(temp, 'w');
  try {
    const result = fill(fd);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, path);
    return result;
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * The country chart file: each window partition holds the top songs of every country among its
 * songs (a (country, song) total lives in exactly one partition), so a country's chart is the
 * best `top` of the union of its partition charts.
 */
export function writeCountryChart(path: string, partitionCharts: CountryChart[][], top: number): number {
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
  writeThroughTemp(path, (fd) => writeAllSync(fd, out.result()));
  return rows;
}

/** One user range of the user chart: its rows are in these files, `bytes` in all. */
export interface UserRange {
  inputs: string[];
  bytes: number;
}

/**
 * The user chart file. The window stage wrote each user range's rows into one sorted file per
 * window partition; a range's bytes are known, so every range's place in the output is known
 * before merging, and `mergeRange` (run on the workers) merges each range straight into its
 * place, in parallel. Returns the number of rows.
 */
export async function writeUserChart(
  path: string,
  ranges: UserRange[],
  mergeRange: (
    inputs: string[],
    outputPath: string,
    position: number,
  ) => Promise<{ rows: number; bytes: number }>,
): Promise<number> {
  const temp = tempPathFor(path);
  closeSync(openSync(temp, 'w'));
  try {
    let position = 0;
    const merges: Promise<{ rows: number; bytes: number }>[] = [];
    for (const range of ranges) {
      if (range.bytes === 0) continue;
      const expected = range.bytes;
      merges.push(
        mergeRange(range.inputs, temp, position).then((done) => {
          if (done.bytes !== expected)
            throw new Error(`user range merged to ${done.bytes} bytes, expected ${expected}`);
          return done;
        }),
      );
      position += range.bytes;
    }
    const rows = (await Promise.all(merges)).reduce((sum, done) => sum + done.rows, 0);
    const fd = openSync(temp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    return rows;
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

export function chartPaths(outDir: string, day: number): { country: string; user: string } {
  return { country: join(outDir, countryChartName(day)), user: join(outDir, userChartName(day)) };
}
