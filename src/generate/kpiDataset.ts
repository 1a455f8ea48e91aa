import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compactDay, isoDay } from '../ops/dates.js';
import { writeWholeFileSync } from './fileOutput.js';
import { writeBadFiles } from './kpiDataset/badFiles.js';
import { buildCatalogue } from './kpiDataset/catalogue.js';
import { SPOTIFY_GENRES } from './kpiDataset/spotifyGenres.js';
import { type StreamDirt, type StreamFile, StreamsWriter } from './kpiDataset/streamsWriter.js';
import { buildUsers } from './kpiDataset/users.js';
import { Random } from './random.js';

export { SONG_COLUMNS } from './kpiDataset/catalogue.js';
export { SPOTIFY_GENRES } from './kpiDataset/spotifyGenres.js';
export {
  REORDERED_STREAM_COLUMNS,
  STREAM_COLUMNS,
  STREAM_DIRT,
  type StreamDirt,
} from './kpiDataset/streamsWriter.js';
export { USER_COLUMNS, USERS_FILE_COLUMNS } from './kpiDataset/users.js';
export { TRICKY_TRACK_NAMES } from './kpiDataset/words.js';

/**
 * Synthetic landing folder for the daily genre KPIs (issue 4): `songs/tracks.csv` in the shape of
 * the public Spotify tracks dataset, `users/users.csv`, and several `streams/` batches a day, with
 * counted dirt. Deterministic: the same options always give the same bytes.
 *
 * This file checks the options, writes the files in order and sums up; each file's content is
 * made in kpiDataset/: catalogue.ts (songs/), users.ts (users/), streamsWriter.ts (streams/) and
 * badFiles.ts (the files a reader must refuse). Every part draws from its own seeded Random, so
 * one part's draws never shift another's output.
 */

/** Streams files a day at most: their number in the file name has two digits. */
export const MAX_FILES_PER_DAY = 99;
/** Tracks at least: one per genre (track i is in genre i % 114), so that no genre is empty. */
export const MIN_SONGS = SPOTIFY_GENRES.length;

export interface KpiDatasetOptions {
  /** The landing folder: songs/, users/ and streams/ are made in it. */
  dir: string;
  /** First day (UTC day number, see ops/dates.ts). */
  start: number;
  days: number;
  /** Stream rows per day over all its files, dirt included. */
  streamsPerDay: number;
  /** Streams files (batches) per day, 1..99 (default 3). */
  filesPerDay?: number;
  /** Distinct tracks, at least 114 (default 20,000); about 5% more rows list one under a second genre. */
  songs?: number;
  /** Users (default 50,000). */
  users?: number;
  /** Fraction of dirty stream rows, 0..1 (default 0.01). */
  dirtRate?: number;
  seed?: number;
  /**
   * Keep every valid listen_time within the `days` days from `start` (default false: as in real
   * drops, late rows of the first day fall on the day before, and some rows with a UTC offset on
   * the day after the last). The demo sets it, so that its KPI days are the week of its logs.
   */
  withinDays?: boolean;
  /** Also write `streams/streams-<start>-bad.csv` (no listen_time column) and `streams/not-a-csv.csv`. */
  bad?: boolean;
  /** Called with each file's path once it is in place. */
  onFile?: (path: string) => void;
}

export interface KpiDatasetSummary {
  dir: string;
  /** First day, YYYY-MM-DD. */
  start: string;
  days: number;
  seed: number;
  files: { songs: string[]; users: string[]; streams: string[]; bad: string[] };
  /** Files written with \r\n line endings: one per dataset. */
  crlfFiles: string[];
  /** Files whose columns are not in the documented order: users.csv and one streams file. */
  reorderedFiles: string[];
  songs: {
    /** Distinct track_ids. */
    tracks: number;
    /** Data rows of tracks.csv: tracks plus second-genre rows. */
    rows: number;
    genres: number;
    /** Tracks listed twice, under two genres (same track_id and values, another track_genre). */
    tracksUnderTwoGenres: number;
    /** Rows with empty artists, album_name and track_name, as the real dataset has one. */
    rowsWithoutNames: number;
  };
  users: {
    rows: number;
    /** user_id is `u` followed by this many digits (users not in users/ have one digit more). */
    idDigits: number;
  };
  streams: {
    /** Data rows over every streams file (the bad files excepted). */
    rows: number;
    rowsPerDay: number;
    filesPerDay: number;
    /** Rows with no dirt at all. */
    clean: number;
    /**
     * listen_time formats of the rows with a valid one: `utc` 2024-01-01T13:45:12Z, `millis`
     * 2024-01-01T13:45:12.345Z, `noOffset` 2024-01-01 13:45:12 (UTC), `offset` 2024-01-01T23:30:00-05:00.
     */
    timestamps: { utc: number; millis: number; noOffset: number; offset: number };
    /** Rows with a valid listen_time on the UTC day before, or after, the day of their file. */
    utcDayBefore: number;
    utcDayAfter: number;
    /**
     * Rows written after MAX_DRAWS draws all found their (user, track, UTC second) taken, which
     * happens only when songs and users are far too few for the rows asked (0 otherwise): they
     * may repeat a key beyond the duplicates counted in `dirt`.
     */
    forcedRepeats: number;
  };
  /** Rows written per kind of dirt. */
  dirt: Record<StreamDirt, number>;
  /** The bad_timestamp rows by text: `yesterday`, `YYYY-13-45T00:00:00Z`, empty. */
  badTimestamps: { yesterday: number; invalidDate: number; empty: number };
  elapsedMs: number;
  /** Stream rows per second of wall time, everything included. */
  rowsPerSecond: number;
}

/**
 * Write the landing folder: songs/tracks.csv, users/users.csv and `days` days of
 * streams/streams-YYYYMMDD-NN.csv from `start`; the same options always give the same bytes.
 */
export function generateKpiDataset(options: KpiDatasetOptions): KpiDatasetSummary {
  const started = performance.now();
  const filesPerDay = options.filesPerDay ?? 3;
  const songs = options.songs ?? 20_000;
  const userCount = options.users ?? 50_000;
  const dirtRate = options.dirtRate ?? 0.01;
  const seed = options.seed ?? 1;
  const { dir, start, days, streamsPerDay } = options;
  if (!Number.isInteger(filesPerDay) || filesPerDay < 1 || filesPerDay > MAX_FILES_PER_DAY)
    throw new RangeError(`filesPerDay must be an integer in 1..${MAX_FILES_PER_DAY}`);
  if (!Number.isInteger(songs) || songs < MIN_SONGS)
    throw new RangeError(`songs must be at least ${MIN_SONGS} (one per genre)`);
  if (!Number.isInteger(userCount) || userCount < 1) throw new RangeError('users must be at least 1');
  if (!Number.isInteger(days) || days < 1) throw new RangeError('days must be at least 1');
  if (!Number.isInteger(streamsPerDay) || streamsPerDay < 0)
    throw new RangeError('streamsPerDay must be a non-negative integer');
  if (!(dirtRate >= 0 && dirtRate <= 1)) throw new RangeError('dirtRate must be in 0..1');

  const folders = { songs: join(dir, 'songs'), users: join(dir, 'users'), streams: join(dir, 'streams') };
  for (const folder of Object.values(folders)) mkdirSync(folder, { recursive: true });
  const files: KpiDatasetSummary['files'] = { songs: [], users: [], streams: [], bad: [] };
  const crlfFiles: string[] = [];
  const reorderedFiles: string[] = [];
  const done = (list: string[], path: string): void => {
    list.push(path);
    options.onFile?.(path);
  };

  const catalogue = buildCatalogue(songs, seed);
  const songsPath = join(folders.songs, 'tracks.csv');
  writeWholeFileSync(songsPath, catalogue.bytes);
  crlfFiles.push(songsPath);
  done(files.songs, songsPath);

  const users = buildUsers(userCount, start, seed);
  const usersPath = join(folders.users, 'users.csv');
  writeWholeFileSync(usersPath, users.bytes);
  crlfFiles.push(usersPath);
  reorderedFiles.push(usersPath);
  done(files.users, usersPath);

  const streams = new StreamsWriter(
    catalogue,
    users,
    dirtRate,
    streamsPerDay,
    seed,
    options.withinDays ? { first: start, last: start + days - 1 } : undefined,
  );
  for (let d = 0; d < days; d++) {
    const day = start + d;
    streams.startDay(day);
    for (let f = 0; f < filesPerDay; f++) {
      const path = join(folders.streams, `streams-${compactDay(day)}-${String(f + 1).padStart(2, '0')}.csv`);
      const file: StreamFile = {
        path,
        day,
        rows:
          Math.floor((streamsPerDay * (f + 1)) / filesPerDay) - Math.floor((streamsPerDay * f) / filesPerDay),
        // The first day's last file has \r\n line endings; the last day's first file moved columns.
        crlf: d === 0 && f === filesPerDay - 1,
        reordered: d === days - 1 && f === 0,
        random: new Random(seed, day, 0x57e4000 + f),
      };
      streams.writeFile(file);
      if (file.crlf) crlfFiles.push(path);
      if (file.reordered) reorderedFiles.push(path);
      done(files.streams, path);
    }
  }

  if (options.bad) {
    writeBadFiles(folders.streams, start, seed, users, catalogue, (path) => done(files.bad, path));
  }

  const elapsedMs = Math.round(performance.now() - started);
  const streamRows = streams.rows;
  return {
    dir,
    start: isoDay(start),
    days,
    seed,
    files,
    crlfFiles,
    reorderedFiles,
    songs: {
      tracks: songs,
      rows: catalogue.rows,
      genres: SPOTIFY_GENRES.length,
      tracksUnderTwoGenres: catalogue.tracksUnderTwoGenres,
      rowsWithoutNames: catalogue.rowsWithoutNames,
    },
    users: { rows: userCount, idDigits: users.digits },
    streams: {
      rows: streamRows,
      rowsPerDay: streamsPerDay,
      filesPerDay,
      clean: streams.clean,
      timestamps: streams.timestamps,
      utcDayBefore: streams.utcDayBefore,
      utcDayAfter: streams.utcDayAfter,
      forcedRepeats: streams.forcedRepeats,
    },
    dirt: { ...streams.dirt },
    badTimestamps: { ...streams.badTimestamps },
    elapsedMs,
    rowsPerSecond: Math.round(streamRows / Math.max(0.001, (performance.now() - started) / 1000)),
  };
}
