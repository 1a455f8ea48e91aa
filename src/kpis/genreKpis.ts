import type { TrackGenre } from '../parse/catalogs.js';
import { utcHourOf } from '../parse/timestamps.js';
import { type DayStreams, groupByUser, type Interner } from './streamDays.js';

export type Granularity = 'day' | 'hour';

/**
 * One genre's KPIs of a day (or of an hour of it): the one KPI row type, computed by both engines,
 * written and read by formats/kpiFiles.ts, stored, sent to DynamoDB and answered by the API.
 */
export interface GenreKpi {
  /** null for day granularity; the UTC hour (0-23) for hour granularity. */
  hour: number | null;
  genre: string;
  listenCount: number;
  uniqueListeners: number;
  totalListeningMs: number;
  /** total / unique, rounded half up to 2 decimals, as text (exact: computed on integers). */
  avgListeningMsPerListener: string;
  top3: { track: string; plays: number }[];
}

export interface TopGenre {
  /** As GenreKpi's. */
  hour: number | null;
  rank: number;
  genre: string;
  listenCount: number;
}

/** What happened to the valid rows of the day (their listen time is on it). */
export interface DayStreamCounts {
  /** Valid rows, duplicates included. */
  rows: number;
  /** Exact duplicates (same user, track and listen time), counted once across every file. */
  duplicates: number;
  /** Unique rows whose track is in no songs file: rejected. */
  unknownTrack: number;
  /** Unique rows of a known track whose user is in no users file: counted and kept. */
  unknownUser: number;
  /** Unique rows of known tracks: the rows the KPIs count. */
  counted: number;
}

export interface DayKpis {
  day: number;
  granularity: Granularity;
  /** Ordered by hour, then genre (byte order). */
  genres: GenreKpi[];
  /** Per hour (one group for day granularity): the 5 genres with most listens. */
  topGenres: TopGenre[];
  streams: DayStreamCounts;
}

export interface Catalog {
  /** track_id -> its genres. */
  tracks: Map<string, TrackGenre[]>;
  users: Set<string>;
}

const TOP_TRACKS = 3;
const TOP_GENRES = 5;

/**
 * The genre KPIs of one day from its valid rows. Rows are grouped by user and sorted by (track,
 * time), so exact duplicates are adjacent and each user's genres are seen together: a user is one
 * unique listener of every genre (and hour) they played, exactly, with no set of users kept. A
 * track listed under several genres counts for each of them, as a join of streams and songs does.
 */
export function computeDayKpis(
  day: number,
  rows: DayStreams,
  users: Interner,
  tracks: Interner,
  catalog: Catalog,
  granularity: Granularity,
): DayKpis {
  return finishDayKpis(day, granularity, aggregateDay(rows, users, tracks, catalog, granularity));
}

/**
 * What a day's rows add up to, before ranking. Aggregates of days cut by user (each user's rows all
 * in one part) sum exactly (see mergeAggregates): that is how workers share a day between them.
 */
export interface DayAggregate {
  /** Every genre of the catalogue, in byte order: index g of the arrays below. */
  genres: string[];
  buckets: number;
  /** By bucket * genres + g. */
  listen: Float64Array;
  total: Float64Array;
  unique: Float64Array;
  /** Plays of each (bucket * genres + g, track) with any: parallel lists. */
  plays: { keys: number[]; tracks: string[]; counts: number[] };
  counts: DayStreamCounts;
}

/** The catalogue's genres in byte order. */
export function catalogGenres(catalog: Pick<Catalog, 'tracks'>): string[] {
  return [...new Set([...catalog.tracks.values()].flatMap((list) => list.map((g) => g.genre)))].sort(
    byteOrder,
  );
}

export function aggregateDay(
  rows: DayStreams,
  users: Interner,
  tracks: Interner,
  catalog: Catalog,
  granularity: Granularity,
  genreNames = catalogGenres(catalog),
): DayAggregate {
  const genreIndex = new Map(genreNames.map((g, i) => [g, i]));
  const G = genreNames.length;
  const buckets = granularity === 'hour' ? 24 : 1;
  const T = tracks.size;
  // Each interned track's genres, resolved once: [genre index, duration] pairs, or none if unknown.
  const trackGenres: (Float64Array | null)[] = tracks.names.map((name) => {
    const list = catalog.tracks.get(name);
    if (list === undefined) return null;
    const pairs = new Float64Array(list.length * 2);
    list.forEach((g, i) => {
      pairs[2 * i] = genreIndex.get(g.genre)!;
      pairs[2 * i + 1] = g.durationMs;
    });
    return pairs;
  });

  const listen = new Float64Array(buckets * G);
  const total = new Float64Array(buckets * G);
  const unique = new Float64Array(buckets * G);
  /** Which user last counted as a listener of (bucket, genre), plus one. */
  const lastListener = new Uint32Array(buckets * G);
  const plays = playCounter(buckets * G * T);
  const counts: DayStreamCounts = {
    rows: rows.length,
    duplicates: 0,
    unknownTrack: 0,
    unknownUser: 0,
    counted: 0,
  };

  const { order, starts } = groupByUser(rows, users.size);
  for (let u = 0; u < users.size; u++) {
    const end = starts[u + 1]!;
    if (starts[u] === end) continue;
    const knownUser = catalog.users.has(users.names[u]!);
    let lastTrack = -1;
    let lastTime = Number.NaN;
    for (let i = starts[u]!; i < end; i++) {
      const row = order[i]!;
      const track = rows.tracks[row]!;
      const time = rows.times[row]!;
      if (track === lastTrack && time === lastTime) {
        counts.duplicates++;
        continue;
      }
      lastTrack = track;
      lastTime = time;
      const genres = trackGenres[track];
      if (genres === null || genres === undefined) {
        counts.unknownTrack++;
        continue;
      }
      counts.counted++;
      if (!knownUser) counts.unknownUser++;
      const bucket = buckets === 1 ? 0 : utcHourOf(time);
      for (let g = 0; g < genres.length; g += 2) {
        const k = bucket * G + genres[g]!;
        listen[k]!++;
        total[k]! += genres[g + 1]!;
        if (lastListener[k] !== u + 1) {
          lastListener[k] = u + 1;
          unique[k]!++;
        }
        plays.add(k * T + track);
      }
    }
  }
  const keys: number[] = [];
  const trackNames: string[] = [];
  const playCounts: number[] = [];
  plays.forEach((n, key) => {
    const k = Math.floor(key / T);
    keys.push(k);
    trackNames.push(tracks.names[key - k * T]!);
    playCounts.push(n);
  });
  return {
    genres: genreNames,
    buckets,
    listen,
    total,
    unique,
    plays: { keys, tracks: trackNames, counts: playCounts },
    counts,
  };
}

/** The sum of aggregates of disjoint sets of users (same catalogue and granularity). */
export function mergeAggregates(parts: DayAggregate[]): DayAggregate {
  const first = parts[0]!;
  const sum = (pick: (a: DayAggregate) => Float64Array): Float64Array => {
    const out = new Float64Array(pick(first).length);
    for (const part of parts) {
      const values = pick(part);
      for (let i = 0; i < values.length; i++) out[i]! += values[i]!;
    }
    return out;
  };
  const plays = new Map<string, { k: number; track: string; n: number }>();
  for (const part of parts) {
    part.plays.keys.forEach((k, i) => {
      const track = part.plays.tracks[i]!;
      const id = `${k}\u0000${track}`;
      const entry = plays.get(id);
      if (entry) entry.n += part.plays.counts[i]!;
      else plays.set(id, { k, track, n: part.plays.counts[i]! });
    });
  }
  const counts: DayStreamCounts = { rows: 0, duplicates: 0, unknownTrack: 0, unknownUser: 0, counted: 0 };
  for (const part of parts) {
    for (const key of Object.keys(counts) as (keyof DayStreamCounts)[]) counts[key] += part.counts[key];
  }
  const entries = [...plays.values()];
  return {
    genres: first.genres,
    buckets: first.buckets,
    listen: sum((a) => a.listen),
    total: sum((a) => a.total),
    unique: sum((a) => a.unique),
    plays: {
      keys: entries.map((e) => e.k),
      tracks: entries.map((e) => e.track),
      counts: entries.map((e) => e.n),
    },
    counts,
  };
}

/** Rank an aggregate into the day's KPI rows and top genres. */
export function finishDayKpis(day: number, granularity: Granularity, agg: DayAggregate): DayKpis {
  const { genres: genreNames, buckets, listen, total, unique } = agg;
  const G = genreNames.length;
  const top = topTracks(agg.plays);
  const genres: GenreKpi[] = [];
  const topGenres: TopGenre[] = [];
  for (let b = 0; b < buckets; b++) {
    const hour = granularity === 'hour' ? b : null;
    const ranked: number[] = [];
    for (let g = 0; g < G; g++) {
      const k = b * G + g;
      if (listen[k] === 0) continue;
      ranked.push(g);
      genres.push({
        hour,
        genre: genreNames[g]!,
        listenCount: listen[k]!,
        uniqueListeners: unique[k]!,
        totalListeningMs: total[k]!,
        avgListeningMsPerListener: roundedRatio(total[k]!, unique[k]!),
        top3: top.get(k) ?? [],
      });
    }
    // Genre indices follow byte order, so a stable sort on listens keeps ties in genre order.
    ranked.sort((x, y) => listen[b * G + y]! - listen[b * G + x]!);
    ranked.slice(0, TOP_GENRES).forEach((g, i) => {
      topGenres.push({ hour, rank: i + 1, genre: genreNames[g]!, listenCount: listen[b * G + g]! });
    });
  }
  return { day, granularity, genres, topGenres, streams: agg.counts };
}

/** Plays per (bucket, genre, track) key. */
interface PlayCounter {
  add(key: number): void;
  forEach(visit: (plays: number, key: number) => void): void;
}

/** Dense counts when the key space is small enough (a day: genres x tracks), else a Map. */
function playCounter(keys: number): PlayCounter {
  if (keys <= 1 << 24) {
    const counts = new Uint32Array(keys);
    return {
      add: (key) => {
        counts[key]!++;
      },
      forEach: (visit) => {
        for (let key = 0; key < keys; key++) if (counts[key] !== 0) visit(counts[key]!, key);
      },
    };
  }
  const counts = new Map<number, number>();
  return {
    add: (key) => {
      counts.set(key, (counts.get(key) ?? 0) + 1);
    },
    forEach: (visit) => counts.forEach(visit),
  };
}

/** Each (bucket, genre)'s 3 most played tracks: plays descending, then track_id ascending. */
function topTracks(plays: DayAggregate['plays']): Map<number, { track: string; plays: number }[]> {
  const top = new Map<number, { track: string; plays: number }[]>();
  const better = (a: { track: string; plays: number }, b: { track: string; plays: number }): boolean =>
    a.plays > b.plays || (a.plays === b.plays && byteOrder(a.track, b.track) < 0);
  plays.keys.forEach((k, i) => {
    const entry = { track: plays.tracks[i]!, plays: plays.counts[i]! };
    let list = top.get(k);
    if (list === undefined) {
      list = [];
      top.set(k, list);
    }
    if (list.length === TOP_TRACKS && !better(entry, list[TOP_TRACKS - 1]!)) return;
    let at = list.length;
    while (at > 0 && better(entry, list[at - 1]!)) at--;
    list.splice(at, 0, entry);
    if (list.length > TOP_TRACKS) list.pop();
  });
  return top;
}

/** `numerator / denominator` (whole numbers) rounded half up to 2 decimals, exactly (in BigInt). */
export function roundedRatio(numerator: number, denominator: number): string {
  const d = BigInt(denominator);
  const hundredths = (BigInt(numerator) * 200n + d) / (2n * d);
  return `${hundredths / 100n}.${String(hundredths % 100n).padStart(2, '0')}`;
}

/** Code units from U+D800 up, where UTF-16 order and UTF-8 byte order can disagree. */
const HIGH_UNITS = /[\uD800-\uFFFF]/;

/** Order of strings by their UTF-8 bytes, as SQL engines order VARCHAR (and `LC_ALL=C sort`). */
export function byteOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (!HIGH_UNITS.test(a) && !HIGH_UNITS.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
