import { join } from 'node:path';
import { writeThroughTemp } from '../ops/atomicFile.js';
import { compactDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { FileAppender } from '../ops/fileAppender.js';
import { forEachLineSync, writeAllSync } from '../ops/fileIo.js';
import { datesOfFiles } from '../ops/folders.js';
import { countryIndex } from '../parse/countries.js';
import { ByteWriter } from '../partials/varint.js';
import type { CountryChartRow } from '../window/countryCharts.js';
import { qualityReportName } from './qualityReport.js';

/**
 * The chart files of a chart date: `country_top50_YYYYMMDD.txt` and `user_top50_YYYYMMDD.txt`,
 * one line per key (country code or user id, ascending), `key|sng_id:plays,...` in rank order,
 * `\n` line endings. Written here (by both engines), read here (by the store and the DynamoDB
 * sink); the quality report beside them is formats/qualityReport.ts.
 */
export function countryChartName(day: number): string {
  return `country_top50_${compactDay(day)}.txt`;
}

export function userChartName(day: number): string {
  return `user_top50_${compactDay(day)}.txt`;
}

/** The chart dates whose country chart is in `outDir`. */
export function chartDatesIn(outDir: string): number[] {
  return datesOfFiles(outDir, /^country_top50_(\d{8})\.txt$/);
}

/** The three files of a chart date in `outDir`. */
export function chartFilePaths(
  outDir: string,
  day: number,
): { country: string; user: string; quality: string } {
  return {
    country: join(outDir, countryChartName(day)),
    user: join(outDir, userChartName(day)),
    quality: join(outDir, qualityReportName(day)),
  };
}

// ---- writing ----

/** The country chart file from its rows in country order. Returns the number of rows. */
export async function writeCountryChart(path: string, rows: Iterable<CountryChartRow>): Promise<number> {
  const out = new ByteWriter(1 << 16);
  let count = 0;
  for (const row of rows) {
    writeChartLine(out, row.key, row.songs, row.plays, row.n);
    count++;
  }
  await writeThroughTemp(path, (fd) => writeAllSync(fd, out.result()));
  return count;
}

/**
 * The user chart file, assembled from `ranges` consecutive user ranges: `mergeRange(r)` produces
 * range r's rows (on a worker). `lookahead` ranges are in flight besides the one being written;
 * they are written in range order as they complete, so memory holds a few ranges, never the file.
 * `written(bytes)` is told when a range's bytes are taken for the file (copied: their buffer may
 * be reused).
 * Returns the number of rows.
 *
 * A range's bytes are written off the event loop (libuv's threads), after the next range is
 * asked for: a blocking write of each range's 16 MB (up to 50 ms each when the kernel throttles
 * dirty pages) kept the main thread from handing the next task to a worker that had finished,
 * and the workers stood idle for 15% of the user chart (7 x 20M rows). They go around the page
 * cache where the file system allows it (FileAppender).
 */
export async function writeUserChart(
  path: string,
  ranges: number,
  lookahead: number,
  mergeRange: (range: number) => Promise<{ bytes: Uint8Array; rows: number }>,
  written: (bytes: Uint8Array) => void = () => {},
): Promise<number> {
  return writeThroughTemp(path, async (fd, temp) => {
    let rows = 0;
    const inFlight = new Map<number, Promise<{ bytes: Uint8Array; rows: number }>>();
    let next = 0;
    const askUpTo = (end: number): void => {
      for (; next < ranges && next < end; next++) {
        const pending = mergeRange(next);
        // Failures surface when awaited, in order; this only keeps Node from calling them unhandled.
        pending.catch(() => {});
        inFlight.set(next, pending);
      }
    };
    const file = new FileAppender(fd, temp);
    askUpTo(lookahead);
    try {
      for (let r = 0; r < ranges; r++) {
        const done = await inFlight.get(r)!;
        inFlight.delete(r);
        askUpTo(r + 1 + lookahead);
        await file.append(done.bytes);
        written(done.bytes);
        rows += done.rows;
      }
      await file.finish();
    } catch (error) {
      // The file is not closed (by writeThroughTemp) with a write still running on it.
      await file.abandon();
      throw error;
    }
    return rows;
  });
}

const PIPE = 124;
const COLON = 58;
const COMMA = 44;
const NEWLINE = 10;

/**
 * Append one chart row, `key|song:plays,song:plays,...\n`, to `out`. `keyText` is the key's
 * ASCII form (a user id's digits or a country code). The row is written through a local buffer
 * and position (putDecimal), not `out.length`: a property store per byte was a third of the time
 * to format the 1 GB user chart (docs/BENCHMARKS.md).
 */
export function writeChartLine(
  out: ByteWriter,
  key: number | string,
  songs: Float64Array,
  plays: Float64Array,
  n: number,
): void {
  out.reserve(24 + n * 36);
  const bytes = out.bytes;
  let pos = out.length;
  if (typeof key === 'string') {
    for (let i = 0; i < key.length; i++) bytes[pos++] = key.charCodeAt(i);
  } else pos = putDecimal(bytes, pos, key);
  bytes[pos++] = PIPE;
  for (let i = 0; i < n; i++) {
    if (i > 0) bytes[pos++] = COMMA;
    pos = putDecimal(bytes, pos, songs[i]!);
    bytes[pos++] = COLON;
    pos = putDecimal(bytes, pos, plays[i]!);
  }
  bytes[pos++] = NEWLINE;
  out.length = pos;
}

/** "00".."99" as pairs of ASCII bytes: two digits per division. */
const DIGIT_PAIRS = (() => {
  const pairs = new Uint8Array(200);
  for (let i = 0; i < 100; i++) {
    pairs[2 * i] = 48 + Math.floor(i / 10);
    pairs[2 * i + 1] = 48 + (i % 10);
  }
  return pairs;
})();

/** Append a non-negative integer (up to 2^53) in decimal; capacity is reserved by the caller. */
export function writeDecimal(out: ByteWriter, value: number): void {
  out.length = putDecimal(out.bytes, out.length, value);
}

/**
 * Write a non-negative integer (up to 2^53) in decimal at `pos`; returns the position after it.
 * The digit count comes from a tree of comparisons (three or four for any value; the ladder from
 * 10 upwards took eight for the 8- and 9-digit song ids).
 */
function putDecimal(bytes: Uint8Array, pos: number, value: number): number {
  if (value < 10) {
    bytes[pos] = 48 + value;
    return pos + 1;
  }
  if (value >= 0x80000000) {
    // Past int32 (half the user ids of a 32-bit id space): the digits above the last 8, then
    // those 8, each in int32 arithmetic (both halves exact below 2^53). String(value) cost 110 ns
    // a value, this 25.
    const high = Math.floor(value / 100_000_000);
    return putEightDigits(bytes, putDecimal(bytes, pos, high), value - high * 100_000_000);
  }
  const digits =
    value < 100000
      ? value < 100
        ? 2
        : value < 1000
          ? 3
          : value < 10000
            ? 4
            : 5
      : value < 10000000
        ? value < 1000000
          ? 6
          : 7
        : value < 100000000
          ? 8
          : value < 1000000000
            ? 9
            : 10;
  let v = value | 0;
  const end = pos + digits;
  let at = end;
  while (v >= 100) {
    const q = (v / 100) | 0;
    const r = (v - q * 100) << 1;
    bytes[--at] = DIGIT_PAIRS[r + 1]!;
    bytes[--at] = DIGIT_PAIRS[r]!;
    v = q;
  }
  if (v >= 10) {
    bytes[--at] = DIGIT_PAIRS[(v << 1) + 1]!;
    bytes[--at] = DIGIT_PAIRS[v << 1]!;
  } else bytes[--at] = 48 + v;
  return end;
}

/** Write `value` (below 10^8) as exactly 8 digits, with leading zeros, at `pos`; returns the position after it. */
function putEightDigits(bytes: Uint8Array, pos: number, value: number): number {
  let v = value | 0;
  for (let at = pos + 8; at > pos; ) {
    const q = (v / 100) | 0;
    const r = (v - q * 100) << 1;
    bytes[--at] = DIGIT_PAIRS[r + 1]!;
    bytes[--at] = DIGIT_PAIRS[r]!;
    v = q;
  }
  return pos + 8;
}

// ---- reading ----

/**
 * `sng:plays,sng:plays,...` as the chart files write it (at least one song; numbers without
 * leading zeros, so that the stored text reads as JSON numbers).
 */
const CHART_TEXT = /^(?:0|[1-9]\d{0,15}):[1-9]\d{0,15}(?:,(?:0|[1-9]\d{0,15}):[1-9]\d{0,15})*$/;
const USER_ID = /^\d{1,16}$/;

/**
 * Each line of a country chart file, checked: a country code, in ascending order as playtally
 * writes them (a repeated key would otherwise fail later, on a primary key or in a batch, instead
 * of naming the file and line), then `sng_id:plays,...` in rank order.
 */
export function forEachCountryChart(
  path: string,
  visit: (country: string, songs: { song: number; plays: number }[]) => void,
): void {
  let previousCountry = '';
  forEachLineSync(path, (line, n) => {
    const { key, chart } = splitChartLine(line, path, n);
    if (countryIndex(key) < 0) throw badLine(path, n, 'not a country code', key);
    if (key <= previousCountry) {
      throw badLine(path, n, `country not after the previous line's ${previousCountry}`, key);
    }
    previousCountry = key;
    visit(
      key,
      chart.split(',').map((entry) => {
        const colon = entry.indexOf(':');
        return { song: Number(entry.slice(0, colon)), plays: Number(entry.slice(colon + 1)) };
      }),
    );
  });
}

/**
 * Each line of a user chart file, checked: a user id, ascending, then the chart text as written
 * (`sng_id:plays,...`, which the store keeps as it is).
 */
export function forEachUserChart(path: string, visit: (user: number, chart: string) => void): void {
  let previousUser = -1;
  forEachLineSync(path, (line, n) => {
    const { key, chart } = splitChartLine(line, path, n);
    if (!USER_ID.test(key) || Number(key) > Number.MAX_SAFE_INTEGER) {
      throw badLine(path, n, 'not a user id', key);
    }
    if (Number(key) <= previousUser) {
      throw badLine(path, n, `user not after the previous line's ${previousUser}`, key);
    }
    previousUser = Number(key);
    visit(previousUser, chart);
  });
}

function splitChartLine(line: string, path: string, n: number): { key: string; chart: string } {
  const bar = line.indexOf('|');
  if (bar <= 0) throw badLine(path, n, 'no key|chart', line);
  const chart = line.slice(bar + 1);
  if (!CHART_TEXT.test(chart)) throw badLine(path, n, 'chart is not sng_id:plays,...', line);
  return { key: line.slice(0, bar), chart };
}

function badLine(path: string, n: number, problem: string, got: string): PlaytallyError {
  const shown = got.length > 80 ? `${got.slice(0, 80)}...` : got;
  return new PlaytallyError('bad_result_file', `${path}:${n}: ${problem} (got ${JSON.stringify(shown)})`, {
    path,
    line: n,
  });
}
