import { ExtendedInterner, type IdInterner } from '../parse/idInterner.js';
import { utcHourOf } from '../parse/timestamps.js';
import type { TrackGenres } from '../parse/trackGenres.js';
import type { DayGroupKernel } from './dayGroups.js';
import type { UserGroups } from './streamDays.js';

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
  /** Every track_id and its genres. */
  tracks: TrackGenres;
  /** Every user_id of the users files, by its bytes (millions of them: no string kept a user). */
  users: IdInterner;
}

const TOP_TRACKS = 3;
/**
 * The most (bucket, track) keys the day kernel counts plays of: 2 MB of counts. Its memory never
 * shrinks, and it holds a copy of the catalogue's genres and its counts copied out, so a large
 * catalogue is held twice on each day worker: by the hour over 200,000 tracks (19 MB of counts)
 * that put a run of 2M users past 512 MB of peak RSS (525 against 489 MB). The JavaScript loop
 * counts those, as it did; 24 hours of the 20,000 tracks of the benchmark's data are the kernel's.
 */
const KERNEL_PLAY_KEYS = 1 << 19;
const MS_PER_HOUR = 3_600_000;
const TOP_GENRES = 5;

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
  /**
   * Plays of each (bucket, track), keyed bucket * `tracks` + the track's number: with `ids`, key
   * `ids[i]` played `counts[i]` times (the keys played); without, `counts[key]` for every key
   * (when most are played: 4 bytes a key rather than 12 a key played). A track's plays count for
   * each of its genres, which the catalogue tells (finishDayKpis): a list an entry per genre, as
   * JavaScript arrays, was about 25 MB of the main thread's heap as a day of 200,000 tracks was
   * merged.
   */
  plays: { tracks: number; counts: Uint32Array; ids?: Float64Array };
  counts: DayStreamCounts;
}

/** The catalogue's genres in byte order. */
export function catalogGenres(catalog: Pick<Catalog, 'tracks'>): string[] {
  return [...catalog.tracks.genres].sort(byteOrder);
}

/**
 * The catalogue as the numbers of a run's tracks and users see it (formats/kpiPartials.ts'
 * PartialNames): all that aggregateDay reads of it, in typed arrays, so that a day's part crosses
 * to a worker without names or catalogue (each worker parsed the catalogue and numbered every name
 * of the day's partials again: a third of its time at 10M rows).
 */
export interface NumberedCatalog {
  /** Every genre of the catalogue, in byte order. */
  genres: string[];
  /**
   * Track t's genres are `trackGenres[trackFrom[t] .. trackFrom[t + 1])` (indices into `genres`),
   * with their durations at the same places of `trackDurations`; a track in no songs file has none.
   */
  trackFrom: Uint32Array;
  trackGenres: Uint32Array;
  trackDurations: Float64Array;
  /** Per track number: 1 for a track in a songs file. */
  knownTracks: Uint8Array;
  /** The users numbered below this are in a users file (the run numbers them by the catalogue's ids). */
  knownUsers: number;
}

/**
 * A catalogue as a run numbers its names: its users and its tracks by the catalogue's own ids
 * (`users`, `tracks`), those in no users or songs file after them, so that a track's genres are
 * the catalogue's own arrays, read where it lies. (A run's tracks numbered afresh, then each looked
 * up in the catalogue and its genres copied, cost the main thread about 0.4 s at 1M songs.)
 */
export class CatalogNumbering {
  readonly genres: string[];
  /**
   * The run's users: the catalogue's by its ids, the others from its size on. Looked up by their
   * bytes, with no second table: a numbering of its own and a lookup of each new user in the
   * catalogue held two tables of 2M users on this thread (about 120 MB each).
   */
  readonly users: ExtendedInterner;
  /** The run's tracks, the same way: the songs catalogue's by its ids, then the unknown ones. */
  readonly tracks: ExtendedInterner;
  /**
   * The catalogue's genres of its entries as indices into `genres`, and their durations: in shared
   * memory, so that a day's parts reach the workers without a copy each.
   */
  private readonly trackGenres: Uint32Array;
  private readonly trackDurations: Float64Array;
  /** The last NumberedCatalog made, for as many tracks as it numbers. */
  private numbered?: NumberedCatalog;

  constructor(private readonly catalog: Catalog) {
    this.genres = catalogGenres(catalog);
    const index = new Map(this.genres.map((g, i) => [g, i]));
    const genreIndex = Uint32Array.from(catalog.tracks.genres, (g) => index.get(g)!);
    this.users = new ExtendedInterner(catalog.users);
    this.tracks = new ExtendedInterner(catalog.tracks.numbering);
    const { genreOf, durations } = catalog.tracks.layout;
    this.trackGenres = new Uint32Array(new SharedArrayBuffer(genreOf.byteLength));
    for (let e = 0; e < genreOf.length; e++) this.trackGenres[e] = genreIndex[genreOf[e]!]!;
    this.trackDurations = new Float64Array(new SharedArrayBuffer(durations.byteLength));
    this.trackDurations.set(durations);
  }

  /** The catalogue for the tracks numbered so far by `tracks` and the users by `users`. */
  of(): NumberedCatalog {
    const tracks = this.tracks.size;
    if (this.numbered?.knownTracks.length === tracks) return this.numbered;
    const inCatalog = this.catalog.tracks.size;
    const { from } = this.catalog.tracks.layout;
    // The tracks in no songs file have no genres: their entries start and end where the last
    // catalogue track's entries end.
    const trackFrom = new Uint32Array(new SharedArrayBuffer(4 * (tracks + 1)));
    trackFrom.set(from);
    trackFrom.fill(from[inCatalog]!, inCatalog + 1);
    const knownTracks = new Uint8Array(new SharedArrayBuffer(tracks));
    knownTracks.fill(1, 0, inCatalog);
    this.numbered = {
      genres: this.genres,
      trackFrom,
      trackGenres: this.trackGenres,
      trackDurations: this.trackDurations,
      knownTracks,
      knownUsers: this.catalog.users.size,
    };
    return this.numbered;
  }
}

/**
 * The day's rows, grouped by user (`users` numbers), added up. Within a user's group exact
 * duplicates are found in a set of their (track, time) pairs, and the user's genres are seen
 * together: a user is one unique listener of every genre (and hour) they played, exactly, with no
 * set of users kept. A track listed under several genres counts for each of them, as a join of
 * streams and songs does.
 *
 * Groups that `kernel` holds (loadDayGroups', times in milliseconds), with the plays counted
 * densely in at most KERNEL_PLAY_KEYS keys, are added up by the kernel (dayGroups.as.ts: the same
 * loop, in WebAssembly, about twice as fast); the others (times in microseconds, plays too
 * sparse for a dense counter or too many keys) by the loop below, which the tests hold the
 * kernel to.
 */
export function aggregateDay(
  groups: UserGroups,
  users: number,
  catalog: NumberedCatalog,
  granularity: Granularity,
  kernel?: DayGroupKernel,
): DayAggregate {
  const genreNames = catalog.genres;
  const G = genreNames.length;
  const buckets = granularity === 'hour' ? 24 : 1;
  const { trackFrom: from, trackGenres: genresOf, trackDurations: durations, knownTracks: known } = catalog;
  const T = known.length;
  const knownUsers = catalog.knownUsers;
  const rows = groups.starts[users]!;
  if (kernel?.holds(groups) && countsDensely(buckets * T, rows) && buckets * T <= KERNEL_PLAY_KEYS) {
    const { listen, total, unique, plays, ...counts } = kernel.aggregate(catalog, G, buckets === 24);
    return {
      genres: genreNames,
      buckets,
      listen,
      total,
      unique,
      plays: playList(T, denseCounter(plays)),
      counts: { rows, ...counts },
    };
  }

  const listen = new Float64Array(buckets * G);
  const total = new Float64Array(buckets * G);
  const unique = new Float64Array(buckets * G);
  /** Which user last counted as a listener of (bucket, genre), plus one. */
  const lastListener = new Uint32Array(buckets * G);
  // Plays are counted per (bucket, track) and given to each of the track's genres at the end: the
  // same sums as counting per (bucket, genre, track), with one add per row. In a Map when the rows
  // are far fewer than the keys (a small day by the hour: 50,000 rows against 24 x 200,000 keys,
  // a dense counter of 19 MB).
  const plays = playCounter(buckets * T, rows);
  const counts: DayStreamCounts = {
    rows,
    duplicates: 0,
    unknownTrack: 0,
    unknownUser: 0,
    counted: 0,
  };
  const seen = new RowSet();
  const { starts, tracks: rowTracks, times: rowTimes } = groups;
  // Row i's track and time at i * stride (pairs, or columns: UserGroups); its time in milliseconds
  // since the day's midnight, or microseconds since the epoch.
  const stride = groups.stride ?? 1;
  const msOfDay = groups.dayStart !== undefined;
  let duplicates = 0;
  let unknownTrack = 0;
  let unknownUser = 0;
  let counted = 0;
  for (let u = 0; u < users; u++) {
    const start = starts[u]!;
    const end = starts[u + 1]!;
    if (start === end) continue;
    const knownUser = u < knownUsers;
    seen.clear(end - start);
    for (let i = start; i < end; i++) {
      const at = i * stride;
      const track = rowTracks[at]!;
      const time = rowTimes[at]!;
      if (!seen.add(at, track, time, rowTracks, rowTimes)) {
        duplicates++;
        continue;
      }
      if (known[track] === 0) {
        unknownTrack++;
        continue;
      }
      counted++;
      if (!knownUser) unknownUser++;
      const bucket = buckets === 1 ? 0 : msOfDay ? Math.floor(time / MS_PER_HOUR) : utcHourOf(time);
      plays.add(bucket * T + track);
      for (let e = from[track]!; e < from[track + 1]!; e++) {
        const k = bucket * G + genresOf[e]!;
        listen[k]!++;
        total[k]! += durations[e]!;
        if (lastListener[k] !== u + 1) {
          lastListener[k] = u + 1;
          unique[k]!++;
        }
      }
    }
  }
  counts.duplicates = duplicates;
  counts.unknownTrack = unknownTrack;
  counts.unknownUser = unknownUser;
  counts.counted = counted;
  return {
    genres: genreNames,
    buckets,
    listen,
    total,
    unique,
    plays: playList(T, plays),
    counts,
  };
}

/**
 * A set of a user's rows of a day by (track, time), for finding exact duplicates: open
 * addressing over row numbers, emptied per user by a generation stamp rather than by clearing.
 */
class RowSet {
  private rows = new Uint32Array(1024);
  private stamps = new Uint32Array(1024);
  private mask = 1023;
  private stamp = 0;

  /** Empty the set, with room for `n` rows. */
  clear(n: number): void {
    if (n * 2 > this.mask) {
      let size = this.rows.length;
      while (n * 2 > size - 1) size *= 2;
      this.rows = new Uint32Array(size);
      this.stamps = new Uint32Array(size);
      this.mask = size - 1;
      this.stamp = 0;
    }
    this.stamp++;
    if (this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
  }

  /**
   * Add `row` (where its track and time are in `tracks` and `times`); false if a row with its
   * track and time is in already.
   */
  add(
    row: number,
    track: number,
    time: number,
    tracks: Uint32Array,
    times: Float64Array | Uint32Array,
  ): boolean {
    // The time's low 32 bits (ToUint32 is modulo 2^32) vary most within a user's day.
    let h = Math.imul(track ^ Math.imul(time >>> 0, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    const mask = this.mask;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      if (this.stamps[slot] !== this.stamp) {
        this.stamps[slot] = this.stamp;
        this.rows[slot] = row;
        return true;
      }
      const other = this.rows[slot]!;
      if (tracks[other] === track && times[other] === time) return false;
    }
  }
}

/** The sum of aggregates of disjoint sets of users (same catalogue and granularity). */
export function mergeAggregates(parts: DayAggregate[]): DayAggregate {
  const sum = new AggregateSum(parts.length);
  for (const part of parts) sum.add(part);
  return sum.result();
}

/**
 * The running sum of a day's `parts` aggregates (disjoint sets of users, same catalogue and
 * granularity), each added as it comes and let go: the parts' plays at hour granularity are tens of
 * MB each, all held until the last came when they were merged at once.
 */
export class AggregateSum {
  private sum?: Omit<DayAggregate, 'plays'> & { tracks: number; plays: PlayCounter };

  constructor(private readonly parts: number) {}

  add(part: DayAggregate): void {
    let sum = this.sum;
    if (sum === undefined) {
      // The parts number tracks alike (one run's numbering): a (bucket, track) has one key in all.
      // About as many keys played in each part as in the first (a hash of the user cuts them).
      const keys = part.buckets * part.plays.tracks;
      sum = {
        genres: part.genres,
        buckets: part.buckets,
        tracks: part.plays.tracks,
        listen: new Float64Array(part.listen.length),
        total: new Float64Array(part.total.length),
        unique: new Float64Array(part.unique.length),
        plays: playCounter(keys, Math.min(keys, playedKeys(part.plays) * this.parts)),
        counts: { rows: 0, duplicates: 0, unknownTrack: 0, unknownUser: 0, counted: 0 },
      };
      this.sum = sum;
    }
    for (const [into, values] of [
      [sum.listen, part.listen],
      [sum.total, part.total],
      [sum.unique, part.unique],
    ] as const)
      for (let i = 0; i < values.length; i++) into[i]! += values[i]!;
    const plays = sum.plays;
    forEachPlay(part.plays, (key, n) => plays.add(key, n));
    const counts = sum.counts;
    for (const key of Object.keys(counts) as (keyof DayStreamCounts)[]) counts[key] += part.counts[key];
  }

  result(): DayAggregate {
    const sum = this.sum;
    if (sum === undefined) throw new Error('no aggregate to sum');
    const { tracks, plays, ...rest } = sum;
    return { ...rest, plays: playList(tracks, plays) };
  }
}

/**
 * Rank an aggregate into the day's KPI rows and top genres (`catalog`: the one it was computed
 * with, for the tracks' genres; `trackName`: a track number's id).
 */
export function finishDayKpis(
  day: number,
  granularity: Granularity,
  agg: DayAggregate,
  catalog: Pick<NumberedCatalog, 'trackFrom' | 'trackGenres'>,
  trackName: (track: number) => string,
): DayKpis {
  const { genres: genreNames, buckets, listen, total, unique } = agg;
  const G = genreNames.length;
  const top = topTracks(agg.plays, G, catalog, trackName);
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

/** Plays per (bucket, track) key. */
interface PlayCounter {
  add(key: number, plays?: number): void;
  /** A dense counter's counts, every key's. */
  readonly dense?: Uint32Array;
  /** The keys with plays. */
  size(): number;
  forEach(visit: (plays: number, key: number) => void): void;
}

/**
 * Each key played of a DayAggregate's plays, with its plays: in order of key for dense counts, in
 * the counter's own order for a list (the sums and the top tracks' ties do not depend on it).
 */
function forEachPlay(plays: DayAggregate['plays'], visit: (key: number, n: number) => void): void {
  const { ids, counts } = plays;
  if (ids === undefined) {
    for (let key = 0; key < counts.length; key++) if (counts[key] !== 0) visit(key, counts[key]!);
  } else {
    for (let i = 0; i < ids.length; i++) visit(ids[i]!, counts[i]!);
  }
}

/** How many keys of a DayAggregate's plays are played. */
function playedKeys(plays: DayAggregate['plays']): number {
  return plays.ids !== undefined ? plays.ids.length : nonZero(plays.counts);
}

/** How many of `counts` are not 0 (a dense counter's keys played). */
function nonZero(counts: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) n++;
  return n;
}

/**
 * A counter's plays as a DayAggregate's, for keys bucket * `tracks` + track: a dense counter's own
 * counts when a third of its keys or more are played (no list of them made), else the list.
 */
function playList(tracks: number, counter: PlayCounter): DayAggregate['plays'] {
  const size = counter.size();
  if (counter.dense !== undefined && size * 3 >= counter.dense.length)
    return { tracks, counts: counter.dense };
  const ids = new Float64Array(size);
  const counts = new Uint32Array(size);
  let i = 0;
  counter.forEach((n, key) => {
    ids[i] = key;
    counts[i++] = n;
  });
  return { tracks, ids, counts };
}

/**
 * Dense counts when the key space is small enough (a day: hours x tracks), else a hash table of
 * its own (hashCounter); that too when at most `entries` keys are coming and they are fewer than a
 * quarter of the space (the parts' plays merged: a dense array of every hour and track for a few
 * of them played).
 */
function playCounter(keys: number, entries = keys): PlayCounter {
  if (countsDensely(keys, entries)) return denseCounter(new Uint32Array(keys));
  if (keys <= 2 ** 31) return hashCounter(entries);
  const counts = new Map<number, number>();
  return {
    add: (key, plays = 1) => {
      counts.set(key, (counts.get(key) ?? 0) + plays);
    },
    size: () => counts.size,
    forEach: (visit) => counts.forEach(visit),
  };
}

/** Whether playCounter counts `keys` keys densely, for `entries` keys coming. */
function countsDensely(keys: number, entries: number): boolean {
  return keys <= 1 << 24 && entries * 4 >= keys;
}

/** A counter over `counts`, a count for every key. */
function denseCounter(counts: Uint32Array): PlayCounter {
  return {
    dense: counts,
    add: (key, plays = 1) => {
      counts[key]! += plays;
    },
    size: () => nonZero(counts),
    forEach: (visit) => {
      for (let key = 0; key < counts.length; key++) if (counts[key] !== 0) visit(counts[key]!, key);
    },
  };
}

/**
 * Counts of keys below 2^31 in typed arrays: open addressing, linear probing, a key's home slot
 * from the high bits of a multiplicative hash, doubled past 5/8 full; sized for `entries` keys up
 * to a million, then grown as they come (`entries` is the rows, far more than the keys they play).
 * 8 bytes a slot, 13 to 26 bytes a key played, where a Map took 60 and more: the plays of a day
 * by the hour over 1M tracks (24M keys, past a dense counter's 2^24) held a Map of millions of
 * entries on each worker and on the main thread, whose heap reached 200 MB (docs/BENCHMARKS.md,
 * "Genre KPIs with 5M users and 1M songs").
 */
function hashCounter(entries: number): PlayCounter {
  let bits = 10;
  while (bits < 21 && (1 << bits) * 0.625 < entries) bits++;
  let keys = new Int32Array(1 << bits).fill(-1);
  let counts = new Uint32Array(1 << bits);
  let size = 0;
  const slotOf = (key: number, table: Int32Array, shift: number): number => {
    const mask = table.length - 1;
    let slot = Math.imul(key, 0x9e3779b1) >>> shift;
    while (table[slot] !== -1 && table[slot] !== key) slot = (slot + 1) & mask;
    return slot;
  };
  const grow = (): void => {
    const oldKeys = keys;
    const oldCounts = counts;
    bits++;
    keys = new Int32Array(1 << bits).fill(-1);
    counts = new Uint32Array(1 << bits);
    for (let s = 0; s < oldKeys.length; s++) {
      if (oldKeys[s] === -1) continue;
      const slot = slotOf(oldKeys[s]!, keys, 32 - bits);
      keys[slot] = oldKeys[s]!;
      counts[slot] = oldCounts[s]!;
    }
  };
  return {
    add: (key, plays = 1) => {
      const slot = slotOf(key, keys, 32 - bits);
      if (keys[slot] === -1) {
        keys[slot] = key;
        size++;
      }
      counts[slot]! += plays;
      if (size > (keys.length >>> 3) * 5) grow();
    },
    size: () => size,
    forEach: (visit) => {
      for (let s = 0; s < keys.length; s++) if (keys[s] !== -1) visit(counts[s]!, keys[s]!);
    },
  };
}

/**
 * Each (bucket, genre)'s 3 most played tracks (key bucket * `genres` + genre): plays descending,
 * then track_id ascending. A track's plays count for each of its genres.
 */
function topTracks(
  plays: DayAggregate['plays'],
  genres: number,
  catalog: Pick<NumberedCatalog, 'trackFrom' | 'trackGenres'>,
  trackName: (track: number) => string,
): Map<number, { track: string; plays: number }[]> {
  const top = new Map<number, { track: string; plays: number }[]>();
  const T = plays.tracks;
  const { trackFrom: from, trackGenres: genresOf } = catalog;
  forEachPlay(plays, (key, n) => {
    const bucket = Math.floor(key / T);
    const track = key - bucket * T;
    for (let e = from[track]!; e < from[track + 1]!; e++)
      enterTop(top, bucket * genres + genresOf[e]!, track, n, trackName);
  });
  return top;
}

/** Track `track`'s `n` plays offered to the top tracks of key `k`. */
function enterTop(
  top: Map<number, { track: string; plays: number }[]>,
  k: number,
  track: number,
  n: number,
  trackName: (track: number) => string,
): void {
  let list = top.get(k);
  if (list === undefined) {
    list = [];
    top.set(k, list);
  }
  // Fewer plays than the third of a full list: out, its name not even decoded (a name and an
  // object for each of 200,000 tracks' plays were most of the day's end).
  if (list.length === TOP_TRACKS && n < list[TOP_TRACKS - 1]!.plays) return;
  const entry = { track: trackName(track), plays: n };
  if (list.length === TOP_TRACKS && !better(entry, list[TOP_TRACKS - 1]!)) return;
  let at = list.length;
  while (at > 0 && better(entry, list[at - 1]!)) at--;
  list.splice(at, 0, entry);
  if (list.length > TOP_TRACKS) list.pop();
}

/** Whether a top track comes before another: more plays, then its track_id first in byte order. */
function better(a: { track: string; plays: number }, b: { track: string; plays: number }): boolean {
  return a.plays > b.plays || (a.plays === b.plays && byteOrder(a.track, b.track) < 0);
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
