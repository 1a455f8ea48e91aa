import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { parse as Parse } from 'csv-parse/sync';
import type { stringify as Stringify } from 'csv-stringify/sync';
import type { DayKpis, GenreKpi, TopGenre } from '../kpis/genreKpis.js';
import { writeFileAtomic } from '../ops/atomicFile.js';
import { compactDay, isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { fileSignature } from '../ops/fileIo.js';
import { datesOfFiles } from '../ops/folders.js';
import { onDemand } from '../ops/onDemand.js';

/**
 * csv-stringify and csv-parse, loaded when a KPI file is first written or read: every command's
 * start imported them (about 20 ms), and only `kpis`, `run` and `load` use them.
 */
const csvStringify = onDemand<{ stringify: typeof Stringify }>('csv-stringify/sync');
const csvParse = onDemand<{ parse: typeof Parse }>('csv-parse/sync');

/**
 * The KPI files of a day, written through temporary names. CSV by csv-stringify: a genre or a
 * track_id holding a comma, a quote or a newline is quoted as RFC 4180 says; lines end with \n.
 */
export function kpiPaths(
  outDir: string,
  day: number,
): { genres: string; topGenres: string; quality: string } {
  const d = compactDay(day);
  return {
    genres: join(outDir, `genre_kpis_${d}.csv`),
    topGenres: join(outDir, `top_genres_${d}.csv`),
    quality: join(outDir, `kpi_quality_${d}.json`),
  };
}

/** The days whose genre KPI file is in `outDir`. */
export function kpiDatesIn(outDir: string): number[] {
  return datesOfFiles(outDir, /^genre_kpis_(\d{8})\.csv$/);
}

export const GENRE_KPI_HEADER = [
  'date',
  'genre',
  'listen_count',
  'unique_listeners',
  'total_listening_ms',
  'avg_listening_ms_per_listener',
  'top3_tracks',
];
export const TOP_GENRES_HEADER = ['date', 'rank', 'genre', 'listen_count'];

/** With hour granularity an `hour` column (00-23) follows `date`. */
function withHour(header: string[], hourly: boolean): string[] {
  return hourly ? [header[0]!, 'hour', ...header.slice(1)] : header;
}

export function genreKpiCsv(kpis: DayKpis): string {
  const hourly = kpis.granularity === 'hour';
  const date = isoDay(kpis.day);
  const rows = kpis.genres.map((g) => [
    date,
    ...(hourly ? [String(g.hour).padStart(2, '0')] : []),
    g.genre,
    String(g.listenCount),
    String(g.uniqueListeners),
    String(g.totalListeningMs),
    g.avgListeningMsPerListener,
    g.top3.map((t) => `${t.track}:${t.plays}`).join(';'),
  ]);
  return csvStringify().stringify([withHour(GENRE_KPI_HEADER, hourly), ...rows]);
}

export function topGenresCsv(kpis: DayKpis): string {
  const hourly = kpis.granularity === 'hour';
  const date = isoDay(kpis.day);
  const rows = kpis.topGenres.map((t) => [
    date,
    ...(hourly ? [String(t.hour).padStart(2, '0')] : []),
    String(t.rank),
    t.genre,
    String(t.listenCount),
  ]);
  return csvStringify().stringify([withHour(TOP_GENRES_HEADER, hourly), ...rows]);
}

export function writeKpiFiles(
  outDir: string,
  kpis: DayKpis,
  quality: unknown,
): { genres: string; topGenres: string; quality: string } {
  const paths = kpiPaths(outDir, kpis.day);
  writeFileAtomic(paths.genres, genreKpiCsv(kpis));
  writeFileAtomic(paths.topGenres, topGenresCsv(kpis));
  writeFileAtomic(paths.quality, `${JSON.stringify(quality, null, 2)}\n`);
  return paths;
}

// ---- reading ----

/** A day's KPI files as read back and checked: what the store and the DynamoDB sink load. */
export interface KpiDayFiles {
  date: string;
  granularity: 'day' | 'hour';
  /** Size and mtime of the three files: what a sync compares. */
  source: string;
  genres: GenreKpi[];
  topGenres: TopGenre[];
  quality: { granularity?: string };
}

/**
 * Read one day's KPI files from `outDir` (genre_kpis, top_genres, kpi_quality), checked against
 * the formats playtally writes: a file that does not match is `bad_result_file`, naming the row.
 */
export function readKpiDay(outDir: string, day: number): KpiDayFiles {
  const date = isoDay(day);
  const paths = kpiPaths(outDir, day);
  const source = fileSignature([paths.genres, paths.topGenres, paths.quality]);
  const genreRows = readCsv(paths.genres, GENRE_KPI_HEADER);
  const topRows = readCsv(paths.topGenres, TOP_GENRES_HEADER);
  const hourly = genreRows.hourly || topRows.hourly;
  let quality: { granularity?: string };
  try {
    quality = JSON.parse(readFileSync(paths.quality, 'utf8')) as { granularity?: string };
  } catch (error) {
    throw bad(paths.quality, 0, `not a JSON KPI quality report (${(error as Error).message})`);
  }
  // A repeated key would otherwise fail later (on a primary key, a DynamoDB batch), not naming the row.
  const genresSeen = new Set<string>();
  const genres = genreRows.records.map((r, i) => {
    const line = i + 2;
    checkDate(r, date, paths.genres, line);
    const hour = hourOf(r, hourly, paths.genres, line);
    const genreKey = `genre ${JSON.stringify(r.genre)}${hourly ? ` in hour ${hour}` : ''}`;
    once(genresSeen, genreKey, paths.genres, line);
    return {
      hour,
      genre: r.genre!,
      listenCount: count(r, 'listen_count', paths.genres, line),
      uniqueListeners: count(r, 'unique_listeners', paths.genres, line),
      totalListeningMs: count(r, 'total_listening_ms', paths.genres, line),
      avgListeningMsPerListener: decimal(r, 'avg_listening_ms_per_listener', paths.genres, line),
      top3: top3(r.top3_tracks ?? '', paths.genres, line),
    };
  });
  const ranksSeen = new Set<string>();
  const topGenres = topRows.records.map((r, i) => {
    const line = i + 2;
    checkDate(r, date, paths.topGenres, line);
    const hour = hourOf(r, hourly, paths.topGenres, line);
    const rank = count(r, 'rank', paths.topGenres, line);
    once(ranksSeen, `rank ${rank}${hourly ? ` in hour ${hour}` : ''}`, paths.topGenres, line);
    return { hour, rank, genre: r.genre!, listenCount: count(r, 'listen_count', paths.topGenres, line) };
  });
  return { date, granularity: hourly ? 'hour' : 'day', source, genres, topGenres, quality };
}

type Row = Record<string, string>;

function readCsv(path: string, header: string[]): { records: Row[]; hourly: boolean } {
  if (!existsSync(path)) throw bad(path, 0, 'missing');
  let rows: string[][];
  try {
    rows = csvParse().parse(readFileSync(path), { relax_column_count: false }) as string[][];
  } catch (error) {
    throw bad(path, 0, `not CSV (${(error as Error).message})`);
  }
  const got = rows[0] ?? [];
  const hourly = got[1] === 'hour';
  const expected = hourly ? [header[0]!, 'hour', ...header.slice(1)] : header;
  if (got.join(',') !== expected.join(',')) {
    throw bad(path, 1, `header is not ${expected.join(',')} (got ${got.join(',')})`);
  }
  const records = rows
    .slice(1)
    .map((cells) => Object.fromEntries(expected.map((name, i) => [name, cells[i]!])));
  return { records, hourly };
}

function once(seen: Set<string>, key: string, path: string, line: number): void {
  if (seen.has(key)) throw bad(path, line, `${key} appears twice`);
  seen.add(key);
}

function checkDate(r: Row, date: string, path: string, line: number): void {
  if (r.date !== date) throw bad(path, line, `date is not ${date} (got ${JSON.stringify(r.date)})`);
}

function hourOf(r: Row, hourly: boolean, path: string, line: number): number | null {
  if (!hourly) return null;
  const hour = r.hour ?? '';
  if (!/^\d\d$/.test(hour) || Number(hour) > 23) throw bad(path, line, `hour is not 00..23 (got ${hour})`);
  return Number(hour);
}

function count(r: Row, column: string, path: string, line: number): number {
  const text = r[column] ?? '';
  if (!/^\d{1,16}$/.test(text) || Number(text) > Number.MAX_SAFE_INTEGER) {
    throw bad(path, line, `${column} is not a count (got ${JSON.stringify(text)})`);
  }
  return Number(text);
}

function decimal(r: Row, column: string, path: string, line: number): string {
  const text = r[column] ?? '';
  if (!/^\d+(?:\.\d+)?$/.test(text))
    throw bad(path, line, `${column} is not a decimal (got ${JSON.stringify(text)})`);
  return text;
}

/** `track:plays;track:plays` -> [{track, plays}]; a track id may itself hold a colon, plays never. */
function top3(text: string, path: string, line: number): { track: string; plays: number }[] {
  if (text === '') return [];
  return text.split(';').map((entry) => {
    const colon = entry.lastIndexOf(':');
    const plays = entry.slice(colon + 1);
    if (colon <= 0 || !/^\d+$/.test(plays))
      throw bad(path, line, `top3_tracks entry is not track:plays (got ${entry})`);
    return { track: entry.slice(0, colon), plays: Number(plays) };
  });
}

/** `row` counts CSV records, the header being row 1 (a quoted field may span lines). */
function bad(path: string, row: number, problem: string): PlaytallyError {
  return new PlaytallyError('bad_result_file', `${path}${row > 0 ? ` row ${row}` : ''}: ${problem}`, {
    path,
    row,
  });
}
