import { readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateKpiDataset,
  type KpiDatasetOptions,
  type KpiDatasetSummary,
  REORDERED_STREAM_COLUMNS,
  SONG_COLUMNS,
  SPOTIFY_GENRES,
  STREAM_COLUMNS,
  STREAM_DIRT,
  TRICKY_TRACK_NAMES,
  USER_COLUMNS,
  USERS_FILE_COLUMNS,
} from '../../src/generate/kpiDataset.js';
import { compactDay } from '../../src/ops/dates.js';
import { COUNTRY_CODES } from '../../src/parse/countries.js';
import { day, digests, listTree, TempDirs } from '../support/tempDirs.js';

/**
 * The generator of KPI landing folders (src/generate/kpiDataset.ts): songs, users and streams CSVs
 * shaped like the lab's datasets, deterministic for a seed, with the dirt, duplicates, time forms,
 * line endings and popularity skews the summary claims, and its bad files; its speed. Through the
 * CLI (`generate kpi-dataset`): test/e2e/generate.test.ts.
 */

const DAY_MS = 86_400_000;
const START = day('2024-01-01');
const temp = new TempDirs();
afterAll(() => temp.cleanup());

type Row = Record<string, string>;

/** A CSV file read with csv-parse (header line as column names), with its header as written. */
function readCsv(path: string): { header: string[]; rows: Row[] } {
  let header: string[] = [];
  const rows = parse(readFileSync(path), {
    columns: (names: string[]) => {
      header = names;
      return names;
    },
  }) as Row[];
  return { header, rows };
}

/**
 * An independent reading of listen_time: ISO 8601 with `T` or a space, optional milliseconds,
 * `Z`, an offset or nothing (UTC); the UTC instant in ms, or undefined when it is not a real time.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{3})?(Z|[+-]\d{2}:\d{2})?$/;
function utcMs(text: string): number | undefined {
  const m = ISO_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, date, hour, minute, second] = m.slice(1, 7).map(Number) as number[];
  const local = Date.UTC(year!, month! - 1, date!, hour!, minute!, second!, m[7] ? Number(m[7].slice(1)) : 0);
  const back = new Date(local);
  if (back.getUTCMonth() !== month! - 1 || back.getUTCDate() !== date! || hour! > 23 || minute! > 59) {
    return undefined;
  }
  const zone = m[8];
  if (!zone || zone === 'Z') return local;
  const offset = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * (zone[0] === '-' ? -1 : 1);
  return local - offset * 60_000;
}

/** Each streams file's day, from its name. */
function fileDay(path: string): number {
  return day(/streams-(\d{8})-\d\d\.csv$/.exec(path)![1]!);
}

const OPTIONS: KpiDatasetOptions = {
  dir: '',
  start: START,
  days: 2,
  streamsPerDay: 60_000,
  filesPerDay: 3,
  songs: 2_000,
  users: 5_000,
  dirtRate: 0.03,
  seed: 7,
  bad: true,
};

let dir: string;
let summary: KpiDatasetSummary;
let songs: { header: string[]; rows: Row[] };
let users: { header: string[]; rows: Row[] };
/** The streams files in order, parsed. */
let streams: { path: string; header: string[]; rows: Row[]; raw: string }[];

beforeAll(() => {
  dir = temp.make('playtally-kpi-');
  summary = generateKpiDataset({ ...OPTIONS, dir });
  songs = readCsv(join(dir, 'songs', 'tracks.csv'));
  users = readCsv(join(dir, 'users', 'users.csv'));
  streams = summary.files.streams.map((path) => ({
    path,
    ...readCsv(path),
    raw: readFileSync(path, 'utf8'),
  }));
});

describe('generateKpiDataset: files and determinism', () => {
  it('writes songs/, users/ and filesPerDay streams files a day, as the summary lists them', () => {
    const names: string[] = [];
    for (let d = 0; d < 2; d++) {
      for (const nn of ['01', '02', '03']) names.push(`streams/streams-${compactDay(START + d)}-${nn}.csv`);
    }
    expect(listTree(dir)).toEqual(
      [
        'songs/',
        'songs/tracks.csv',
        'streams/',
        ...names,
        'streams/not-a-csv.csv',
        `streams/streams-${compactDay(START)}-bad.csv`,
        'users/',
        'users/users.csv',
      ].sort(),
    );
    expect(summary.files).toEqual({
      songs: [join(dir, 'songs', 'tracks.csv')],
      users: [join(dir, 'users', 'users.csv')],
      streams: names.map((n) => join(dir, n)),
      bad: [
        join(dir, 'streams', `streams-${compactDay(START)}-bad.csv`),
        join(dir, 'streams', 'not-a-csv.csv'),
      ],
    });
    expect(summary).toMatchObject({ start: '2024-01-01', days: 2, seed: 7 });
  });

  it('gives the same bytes for the same options, and others for another seed', () => {
    const again = temp.make('playtally-kpi-');
    generateKpiDataset({ ...OPTIONS, dir: again });
    expect(digests(again)).toEqual(digests(dir));
    const other = temp.make('playtally-kpi-');
    generateKpiDataset({ ...OPTIONS, dir: other, seed: 8 });
    const a = digests(dir);
    const b = digests(other);
    for (const path of Object.keys(a)) expect(b[path], path).not.toBe(a[path]);
  });

  it('refuses impossible options', () => {
    const base = { dir: join(temp.make('playtally-kpi-'), 'x'), start: START, days: 1, streamsPerDay: 10 };
    expect(() => generateKpiDataset({ ...base, songs: 113 })).toThrow(RangeError);
    expect(() => generateKpiDataset({ ...base, filesPerDay: 100 })).toThrow(RangeError);
    expect(() => generateKpiDataset({ ...base, filesPerDay: 0 })).toThrow(RangeError);
    expect(() => generateKpiDataset({ ...base, users: 0 })).toThrow(RangeError);
    expect(() => generateKpiDataset({ ...base, days: 0 })).toThrow(RangeError);
    expect(() => generateKpiDataset({ ...base, dirtRate: 1.5 })).toThrow(RangeError);
  });

  it('defaults to 3 files a day, 20,000 songs, 50,000 users; one file a day has no duplicates across files', () => {
    const defaults = generateKpiDataset({
      dir: temp.make('playtally-kpi-'),
      start: START,
      days: 1,
      streamsPerDay: 3_000,
    });
    expect(defaults.files.streams).toHaveLength(3);
    expect(defaults.files.bad).toEqual([]);
    expect(defaults.songs.tracks).toBe(20_000);
    expect(defaults.users.rows).toBe(50_000);
    expect(defaults.streams.rows).toBe(3_000);
    expect(defaults.seed).toBe(1);
    const single = generateKpiDataset({
      dir: temp.make('playtally-kpi-'),
      start: START,
      days: 2,
      streamsPerDay: 5_000,
      filesPerDay: 1,
      songs: 200,
      users: 300,
      dirtRate: 0.05,
    });
    expect(single.files.streams.map((p) => basename(p))).toEqual([
      'streams-20240101-01.csv',
      'streams-20240102-01.csv',
    ]);
    expect(single.dirt.duplicate_across_files).toBe(0);
    expect(single.dirt.duplicate_in_file).toBeGreaterThan(0);
  });
});

describe('songs/tracks.csv', () => {
  it('has the header of the Spotify tracks dataset and one row per track and genre', () => {
    expect(SONG_COLUMNS).toHaveLength(21);
    expect(songs.header).toEqual(SONG_COLUMNS);
    expect(readFileSync(join(dir, 'songs', 'tracks.csv'), 'utf8').split('\r\n')[0]).toBe(
      ',track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,time_signature,track_genre',
    );
    expect(songs.rows).toHaveLength(summary.songs.rows);
    expect(songs.rows.map((r) => r['']!)).toEqual(songs.rows.map((_, i) => String(i)));
    for (const row of songs.rows) {
      expect(row.track_id).toMatch(/^[0-7][0-9A-Za-z]{21}$/);
      expect(Number(row.popularity)).toBeGreaterThanOrEqual(0);
      expect(Number(row.popularity)).toBeLessThanOrEqual(100);
      expect(['True', 'False']).toContain(row.explicit);
      expect(Number.isFinite(Number(row.instrumentalness))).toBe(true);
      expect(['0', '1', '3', '4', '5']).toContain(row.time_signature);
    }
  });

  it('uses exactly the 114 genres of the dataset', () => {
    expect(SPOTIFY_GENRES).toHaveLength(114);
    expect(new Set(SPOTIFY_GENRES).size).toBe(114);
    expect(summary.songs.genres).toBe(114);
    const genres = new Set(songs.rows.map((r) => r.track_genre!));
    expect([...genres].sort()).toEqual([...SPOTIFY_GENRES].sort());
  });

  it('lists about 5% of the tracks twice, under two genres, with the same values otherwise', () => {
    const byId = new Map<string, Row[]>();
    for (const row of songs.rows) byId.set(row.track_id!, [...(byId.get(row.track_id!) ?? []), row]);
    expect(byId.size).toBe(summary.songs.tracks);
    const twice = [...byId.values()].filter((rows) => rows.length > 1);
    expect(twice.every((rows) => rows.length === 2)).toBe(true);
    expect(twice).toHaveLength(summary.songs.tracksUnderTwoGenres);
    expect(summary.songs.rows).toBe(summary.songs.tracks + twice.length);
    expect(twice.length / byId.size).toBeGreaterThan(0.035);
    expect(twice.length / byId.size).toBeLessThan(0.065);
    for (const [a, b] of twice) {
      expect(a!.track_genre).not.toBe(b!.track_genre);
      const strip = ({ '': _index, track_genre: _genre, ...rest }: Row) => rest;
      expect(strip(b!)).toEqual(strip(a!));
    }
  });

  it('has durations of about 1 to 10 minutes, 3 to 4 minutes typically', () => {
    const durations = songs.rows.map((r) => Number(r.duration_ms)).sort((a, b) => a - b);
    for (const d of durations)
      expect(Number.isInteger(d) && d >= 60_000 && d <= 600_000, String(d)).toBe(true);
    const median = durations[durations.length >> 1]!;
    expect(median).toBeGreaterThan(180_000);
    expect(median).toBeLessThan(240_000);
  });

  it('keeps names with commas, double quotes, newlines and non-ASCII text through a csv-parse round trip', () => {
    const names = new Set(songs.rows.map((r) => r.track_name!));
    for (const tricky of TRICKY_TRACK_NAMES) expect(names.has(tricky), JSON.stringify(tricky)).toBe(true);
    const raw = readFileSync(join(dir, 'songs', 'tracks.csv'), 'utf8');
    expect(raw).toContain('"The ""Real"" Thing"');
    expect(raw).toContain('"Intro\n(Reprise)"');
    const text = songs.rows.map((r) => `${r.artists}|${r.album_name}|${r.track_name}`).join('\n');
    for (const s of ['é', 'ü', '日本']) expect(text).toContain(s);
    // Beyond the fixed names, at random: commas, quotes, newlines; `;`-separated artists.
    const random = songs.rows.filter((r) => !TRICKY_TRACK_NAMES.includes(r.track_name!));
    for (const pattern of [/,/, /"/, /\n/]) {
      expect(
        random.some((r) => pattern.test(r.track_name!) || pattern.test(r.album_name!)),
        String(pattern),
      ).toBe(true);
    }
    expect(songs.rows.some((r) => r.artists!.includes(';'))).toBe(true);
    // One row without artists, album or name, as in the real dataset.
    const unnamed = songs.rows.filter((r) => r.artists === '' && r.album_name === '' && r.track_name === '');
    expect(unnamed).toHaveLength(summary.songs.rowsWithoutNames);
    expect(summary.songs.rowsWithoutNames).toBe(1);
    // Written again by csv-stringify and read back: the same records.
    const again = parse(stringify(songs.rows, { header: true, columns: SONG_COLUMNS as string[] }), {
      columns: true,
    });
    expect(again).toEqual(songs.rows);
  });
});

describe('users/users.csv', () => {
  it('has the documented columns in another order, and plausible values', () => {
    expect([...users.header].sort()).toEqual([...USER_COLUMNS].sort());
    expect(users.header).toEqual(USERS_FILE_COLUMNS);
    expect(users.header).not.toEqual(USER_COLUMNS);
    expect(summary.reorderedFiles).toContain(join(dir, 'users', 'users.csv'));
    expect(users.rows).toHaveLength(5_000);
    expect(summary.users).toEqual({ rows: 5_000, idDigits: 6 });
    const ids = users.rows.map((r) => r.user_id!);
    expect(new Set(ids).size).toBe(5_000);
    const ages: number[] = [];
    for (const row of users.rows) {
      expect(row.user_id).toMatch(/^u\d{6}$/);
      expect(COUNTRY_CODES).toContain(row.user_country);
      expect(row.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      expect(Date.parse(row.created_at!)).toBeLessThan(START * DAY_MS);
      expect(row.user_name!.length).toBeGreaterThan(0);
      ages.push(Number(row.user_age));
    }
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(13);
    expect(Math.max(...ages)).toBeLessThanOrEqual(90);
    expect(ages.every(Number.isInteger)).toBe(true);
    // Ids are not numbered in order.
    expect(ids.slice(0, 20)).not.toEqual([...ids.slice(0, 20)].sort());
    expect(users.rows.some((r) => r.user_name!.includes(','))).toBe(true);
    expect(users.rows.some((r) => /[\u0080-\uffff]/.test(r.user_name!))).toBe(true);
    expect(new Set(users.rows.map((r) => r.user_country)).size).toBeGreaterThan(100);
  });
});

describe('line endings and column orders', () => {
  it('writes one file per dataset with \\r\\n line endings, the others with \\n', () => {
    expect(summary.crlfFiles).toEqual([
      join(dir, 'songs', 'tracks.csv'),
      join(dir, 'users', 'users.csv'),
      join(dir, 'streams', `streams-${compactDay(START)}-03.csv`),
    ]);
    for (const path of [...summary.files.songs, ...summary.files.users, ...summary.files.streams]) {
      // Line breaks outside quoted fields.
      const outside = readFileSync(path, 'utf8').replace(/"(?:[^"]|"")*"/g, 'Q');
      const crlf = (outside.match(/\r\n/g) ?? []).length;
      const lf = (outside.match(/\n/g) ?? []).length;
      if (summary.crlfFiles.includes(path)) {
        expect(crlf, path).toBe(lf);
        expect(crlf, path).toBeGreaterThan(1);
      } else expect(outside.includes('\r'), path).toBe(false);
    }
  });

  it('writes one streams file with listen_time,user_id,track_id, the others with user_id,track_id,listen_time', () => {
    const reordered = join(dir, 'streams', `streams-${compactDay(START + 1)}-01.csv`);
    expect(summary.reorderedFiles).toEqual([join(dir, 'users', 'users.csv'), reordered]);
    for (const file of streams) {
      expect(file.header, file.path).toEqual(
        file.path === reordered ? REORDERED_STREAM_COLUMNS : STREAM_COLUMNS,
      );
    }
    expect(REORDERED_STREAM_COLUMNS).toEqual(['listen_time', 'user_id', 'track_id']);
  });
});

describe('streams: rows and dirt', () => {
  /** What the files hold, counted independently of the generator. */
  function count() {
    const songIds = new Set(songs.rows.map((r) => r.track_id!));
    const userIds = new Set(users.rows.map((r) => r.user_id!));
    const dirt = Object.fromEntries(STREAM_DIRT.map((k) => [k, 0])) as Record<string, number>;
    const bad = { yesterday: 0, invalidDate: 0, empty: 0 };
    const perDay = new Map<number, number>();
    /** Per day: first file holding a row's exact text (user, track, listen_time). */
    const firstFile = new Map<string, number>();
    let currentDay = -1;
    let unknownUserIds = 0;
    let unknownTrackIds = 0;
    for (const [index, file] of streams.entries()) {
      const fday = fileDay(file.path);
      if (fday !== currentDay) {
        firstFile.clear();
        currentDay = fday;
      }
      perDay.set(fday, (perDay.get(fday) ?? 0) + file.rows.length);
      for (const row of file.rows) {
        const key = `${row.user_id}|${row.track_id}|${row.listen_time}`;
        const first = firstFile.get(key);
        if (first === undefined) firstFile.set(key, index);
        else if (first === index) dirt.duplicate_in_file!++;
        else dirt.duplicate_across_files!++;
        if (first !== undefined) continue;
        if (utcMs(row.listen_time!) === undefined) {
          dirt.bad_timestamp!++;
          if (row.listen_time === 'yesterday') bad.yesterday++;
          else if (row.listen_time === '') bad.empty++;
          else if (/^\d{4}-13-45T00:00:00Z$/.test(row.listen_time!)) bad.invalidDate++;
        } else if (row.user_id === '') dirt.empty_user_id!++;
        else if (row.track_id === '') dirt.empty_track_id!++;
        else if (!songIds.has(row.track_id!)) {
          dirt.unknown_track!++;
          if (/^[0-7][0-9A-Za-z]{21}$/.test(row.track_id!)) unknownTrackIds++;
        } else if (!userIds.has(row.user_id!)) {
          dirt.unknown_user!++;
          if (/^u\d{7}$/.test(row.user_id!)) unknownUserIds++;
        }
      }
      // Streams fields hold no commas or quotes of their own: a quote is a quoted field.
      dirt.quoted_fields! += file.raw.split('\n').filter((line) => line.includes('"')).length;
    }
    return { dirt, bad, perDay, unknownUserIds, unknownTrackIds };
  }

  it('writes streamsPerDay rows a day over its files', () => {
    const { perDay } = count();
    expect([...perDay.entries()]).toEqual([
      [START, 60_000],
      [START + 1, 60_000],
    ]);
    expect(summary.streams.rows).toBe(120_000);
    for (const file of streams) expect(file.rows.length).toBe(20_000);
  });

  it('holds each kind of dirt, in the counts the summary claims', () => {
    const found = count();
    console.log(`dirt in 120,000 rows: ${JSON.stringify(summary.dirt)}`);
    expect(found.dirt).toEqual(summary.dirt);
    expect(found.bad).toEqual(summary.badTimestamps);
    for (const kind of STREAM_DIRT) expect(summary.dirt[kind], kind).toBeGreaterThan(100);
    for (const [variant, n] of Object.entries(summary.badTimestamps)) expect(n, variant).toBeGreaterThan(50);
    // Unknown ids are well-formed ones, not garbage.
    expect(found.unknownTrackIds).toBe(summary.dirt.unknown_track);
    expect(found.unknownUserIds).toBe(summary.dirt.unknown_user);
    const dirty = Object.values(summary.dirt).reduce((a, b) => a + b, 0);
    expect(summary.streams.clean).toBe(summary.streams.rows - dirty);
    expect(dirty / summary.streams.rows).toBeGreaterThan(0.027);
    expect(dirty / summary.streams.rows).toBeLessThan(0.033);
    expect(summary.streams.forcedRepeats).toBe(0);
  });

  it('repeats a (user, track, instant) only in the duplicates counted, even across days and formats', () => {
    const seen = new Set<string>();
    let repeats = 0;
    for (const file of streams) {
      for (const row of file.rows) {
        const ms = utcMs(row.listen_time!);
        if (ms === undefined || row.user_id === '' || row.track_id === '') continue;
        const key = `${row.user_id}|${row.track_id}|${Math.floor(ms / 1000)}`;
        if (seen.has(key)) repeats++;
        else seen.add(key);
      }
    }
    expect(repeats).toBe(summary.dirt.duplicate_in_file + summary.dirt.duplicate_across_files);
  });

  it('writes quoted fields that csv-parse reads as the plain values', () => {
    const quoted = streams.flatMap((f) => f.raw.split('\n').filter((line) => line.includes('"')));
    expect(quoted.some((line) => /^"u\d+",/.test(line))).toBe(true);
    for (const line of quoted.slice(0, 200)) {
      const [record] = parse(line) as string[][];
      expect(record!.join(',')).toBe(line.replaceAll('"', '').replace(/\r$/, ''));
    }
  });
});

describe('streams: listen times', () => {
  it('uses the four ISO 8601 forms in the counts the summary claims, Z mostly', () => {
    const forms = { utc: 0, millis: 0, noOffset: 0, offset: 0 };
    for (const file of streams) {
      for (const row of file.rows) {
        const t = row.listen_time!;
        if (utcMs(t) === undefined) continue;
        if (/^\S+T\d\d:\d\d:\d\dZ$/.test(t)) forms.utc++;
        else if (/T\d\d:\d\d:\d\d\.\d{3}Z$/.test(t)) forms.millis++;
        else if (/^\S+ \d\d:\d\d:\d\d$/.test(t)) forms.noOffset++;
        else if (/T\d\d:\d\d:\d\d[+-]\d\d:\d\d$/.test(t)) forms.offset++;
        else throw new Error(`unexpected form ${t}`);
      }
    }
    expect(forms).toEqual(summary.streams.timestamps);
    const total = forms.utc + forms.millis + forms.noOffset + forms.offset;
    expect(forms.utc / total).toBeGreaterThan(0.7);
    for (const [form, n] of Object.entries(forms)) expect(n / total, form).toBeGreaterThan(0.03);
  });

  it('puts most rows on the UTC day of their file, some on the day before or after, both ways', () => {
    let before = 0;
    let after = 0;
    let same = 0;
    let offsetAfter = 0;
    let offsetBefore = 0;
    for (const file of streams) {
      const fday = fileDay(file.path);
      for (const row of file.rows) {
        const ms = utcMs(row.listen_time!);
        if (ms === undefined) continue;
        const utcDay = Math.floor(ms / DAY_MS);
        if (utcDay === fday) same++;
        else if (utcDay < fday) before++;
        else after++;
        // Written on the file's date with an offset, on another UTC day: 2024-01-01T23:30:00-05:00.
        if (
          /[+-]\d\d:\d\d$/.test(row.listen_time!) &&
          row.listen_time!.startsWith(new Date(fday * DAY_MS).toISOString().slice(0, 10))
        ) {
          if (utcDay > fday) offsetAfter++;
          if (utcDay < fday) offsetBefore++;
        }
      }
    }
    expect({ before, after }).toEqual({
      before: summary.streams.utcDayBefore,
      after: summary.streams.utcDayAfter,
    });
    console.log(`UTC day of the file: ${same}, day before: ${before}, day after: ${after}`);
    expect(same / (same + before + after)).toBeGreaterThan(0.95);
    expect(offsetAfter).toBeGreaterThan(50);
    expect(offsetBefore).toBeGreaterThan(50);
  });
});

describe('streams: popularity', () => {
  it('skews tracks and genres so that top-3 tracks and top-5 genres stand out; users have favourites', () => {
    const genresOf = new Map<string, Set<string>>();
    for (const row of songs.rows) {
      genresOf.set(row.track_id!, (genresOf.get(row.track_id!) ?? new Set()).add(row.track_genre!));
    }
    const trackPlays = new Map<string, number>();
    const genrePlays = new Map<string, number>();
    const userTracks = new Map<string, Map<string, number>>();
    let plays = 0;
    for (const file of streams) {
      for (const row of file.rows) {
        const genres = genresOf.get(row.track_id!);
        if (!genres || row.user_id === '' || utcMs(row.listen_time!) === undefined) continue;
        plays++;
        trackPlays.set(row.track_id!, (trackPlays.get(row.track_id!) ?? 0) + 1);
        for (const genre of genres) genrePlays.set(genre, (genrePlays.get(genre) ?? 0) + 1);
        const tracks = userTracks.get(row.user_id!) ?? new Map<string, number>();
        userTracks.set(row.user_id!, tracks.set(row.track_id!, (tracks.get(row.track_id!) ?? 0) + 1));
      }
    }
    const tracks = [...trackPlays.values()].sort((a, b) => b - a);
    const genres = [...genrePlays.values()].sort((a, b) => b - a);
    console.log(`top tracks ${tracks.slice(0, 5).join(', ')}; top genres ${genres.slice(0, 7).join(', ')}`);
    // Gaps far beyond sampling noise (a few square roots) between ranks 1..4 and 5..6.
    const apart = (a: number, b: number) => a - b > 4 * Math.sqrt(a);
    expect(
      apart(tracks[0]!, tracks[1]!) && apart(tracks[1]!, tracks[2]!) && apart(tracks[2]!, tracks[3]!),
    ).toBe(true);
    for (let i = 0; i < 5; i++) expect(apart(genres[i]!, genres[i + 1]!), `genre rank ${i + 1}`).toBe(true);
    const top1pc = tracks.slice(0, Math.ceil(tracks.length / 100)).reduce((a, b) => a + b, 0);
    expect(top1pc / plays).toBeGreaterThan(0.1);
    expect(genres[0]! / genres[genres.length - 1]!).toBeGreaterThan(20);
    let active = 0;
    let repeating = 0;
    for (const perTrack of userTracks.values()) {
      const counts = [...perTrack.values()];
      if (counts.reduce((a, b) => a + b, 0) < 5) continue;
      active++;
      if (counts.some((n) => n >= 2)) repeating++;
    }
    expect(active).toBeGreaterThan(1_000);
    expect(repeating / active).toBeGreaterThan(0.5);
  });
});

describe('bad files', () => {
  it('writes a streams file without listen_time and a file that is not CSV at all', () => {
    const [noTime, notCsv] = summary.files.bad as [string, string];
    const parsed = readCsv(noTime);
    expect(parsed.header).toEqual(['user_id', 'track_id']);
    expect(parsed.rows.length).toBeGreaterThan(10);
    const bytes = readFileSync(notCsv);
    expect(bytes.includes(0)).toBe(true);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();
  });
});

describe('generateKpiDataset: speed', () => {
  it('writes 1M stream rows (with 20,000 songs and 50,000 users) at >= 0.15M rows/s of CPU', () => {
    // Best of up to three runs. The machine is shared: the wall-clock rate is printed, and the
    // rate per second of CPU time (which other processes inflate less) is the one asserted.
    // The floor is a regression guard against a generator several times slower (an object or a
    // string a field), not a target, and machines of this kind differ threefold: alone in vitest,
    // the AMD EPYC of 2026-12-05 measured 0.9M to 1.2M rows/s, and 0.58M to 0.68M in CI beside the
    // other test files (floors of 1M and 0.7M failed there); the slower EPYC host of 2026-12-06's
    // late night 0.35M to 0.39M alone and 0.42M in the suite (a 0.5M floor failed), where the
    // charts and the KPIs ran 2.3 to 3 times as long as on the Intel Xeon (docs/BENCHMARKS.md).
    generateKpiDataset({
      dir: temp.make('playtally-kpi-speed-'),
      start: START,
      days: 1,
      streamsPerDay: 100_000,
    }); // warm-up
    let best = 0;
    for (let attempt = 0; attempt < 3 && best < 2_000_000; attempt++) {
      const out = temp.make('playtally-kpi-speed-');
      const cpu = process.cpuUsage();
      const started = performance.now();
      const s = generateKpiDataset({ dir: out, start: START, days: 1, streamsPerDay: 1_000_000 });
      const wallMs = performance.now() - started;
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000;
      const rate = 1_000_000 / (Math.max(cpuMs, 1) / 1000);
      best = Math.max(best, rate);
      const bytes = s.files.streams.reduce((n, p) => n + readFileSync(p).length, 0);
      console.log(
        `kpi-dataset: 1M stream rows (${(bytes / 1e6).toFixed(0)} MB) in ${wallMs.toFixed(0)} ms wall, ` +
          `${cpuMs.toFixed(0)} ms CPU: ${(1_000_000 / wallMs / 1e3).toFixed(2)}M rows/s wall, ` +
          `${(rate / 1e6).toFixed(2)}M rows/s CPU (summary: ${(s.rowsPerSecond / 1e6).toFixed(2)}M rows/s)`,
      );
      rmSync(out, { recursive: true, force: true });
    }
    expect(best).toBeGreaterThanOrEqual(150_000);
  });
});

describe('withinDays (the demo: KPI days = the week of its logs)', () => {
  /** The UTC days of every valid listen_time of a dataset of 3 days from START. */
  function listenDays(withinDays: boolean): { days: number[]; summary: KpiDatasetSummary } {
    const out = temp.make('playtally-kpi-within-');
    const s = generateKpiDataset({
      ...OPTIONS,
      dir: out,
      days: 3,
      streamsPerDay: 6_000,
      bad: false,
      withinDays,
    });
    const days = new Set<number>();
    for (const path of s.files.streams) {
      for (const row of readCsv(path).rows) {
        const ms = utcMs(row.listen_time!);
        if (ms !== undefined) days.add(Math.floor(ms / DAY_MS));
      }
    }
    return { days: [...days].sort((a, b) => a - b), summary: s };
  }

  it('keeps every valid listen_time on a day of start..start+days-1; without it, some fall on the day before and after', () => {
    const within = listenDays(true);
    expect(within.days).toEqual([START, START + 1, START + 2]);
    // Still late rows and offsets across midnight between the dataset's own days.
    expect(within.summary.streams.utcDayBefore).toBeGreaterThan(0);
    expect(within.summary.streams.timestamps.offset).toBeGreaterThan(0);
    expect(listenDays(false).days).toEqual([START - 1, START, START + 1, START + 2, START + 3]);
  });
});
