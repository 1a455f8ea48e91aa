import { alignTo, growTo, kernelInstance, pagesFor } from '../ops/wasmKernel.js';
import { WASM_BASE64 } from './dayGroups.wasm.js';
import type { UserGroups } from './streamDays.js';

/**
 * The memory and the kernel of a day's counting sort by user (dayGroups.as.ts): the passes of
 * loadDayGroups (formats/kpiPartials.ts) over a chunk of a partial's rows, and then the groups'
 * sums (aggregateDay in genreKpis.ts), in WebAssembly. In JavaScript the passes were about half of
 * a day worker's time and the sums most of the rest: typed-array loops whose every access V8
 * checks (docs/BENCHMARKS.md, "The streams parse in WebAssembly" and "More of the KPI run in
 * WebAssembly").
 *
 * The memory, laid out for a day by `lay`:
 *
 *     [0, 64)      the kernel's state words
 *     chunk        a chunk of rows: users, tracks (u32) and times (f64), CHUNK_ROWS of each
 *     picked       the indexes of a chunk's rows kept (i32)
 *     stage        a chunk's rows placed, before they are stored (16 bytes each: see placeRows)
 *     source       a source's user ids, track ids (i32) and kept bytes, copied in by countSource
 *                  and placeSource
 *     histograms   for each source counted as a histogram (see lay), a count a user number (u32),
 *                  made a cursor a user number for its second pass
 *     counters     the sort's counters (users + 2), then the groups: a (track, time) pair a
 *                  row (u32 each: the time in milliseconds of the day)
 *     sums         laid by `aggregate` after the groups: its sums, the catalogue's arrays, its
 *                  plays and its set of a user's rows
 *
 * One a thread (GroupArrays holds it): its groups are views valid until the next day is laid
 * out; a WebAssembly memory is given back only at some later collection, so one is kept.
 */
export class DayGroupKernel {
  private readonly memory: WebAssembly.Memory;
  private readonly exports: KernelExports;
  private countersAt = 0;
  private users = 0;
  private known = 0;
  private knownTracks = 0;
  private keptAt = 0;
  /** Per source of the day: where its histogram is laid, or undefined when its rows are counted one by one. */
  private histogramsAt: (number | undefined)[] = [];
  /** The source copied in last, and whether its first pass waits to be folded (sourceCounted). */
  private current = -1;
  private counting = false;
  private pairsAt = 0;
  private rows = 0;
  /** The state words read as unsigned (the counts `aggregate` leaves there). */
  private u32!: Uint32Array;
  /** Where a chunk's rows are copied in when they are not read into `chunkBytes`. */
  private chunkUsers!: Uint32Array;
  private chunkTracks!: Uint32Array;
  private chunkTimes!: Float64Array;
  /**
   * Room for a chunk's rows to be read into (forEachRowChunk's `into`: a partial block's columns
   * end to end), so that the passes read them where they are. Made anew when the memory grows.
   */
  chunkBytes!: Uint8Array;
  /** The rows kept of the last chunk placed, by index. */
  picked!: Int32Array;
  private i32!: Int32Array;

  /**
   * `histogramUpTo`: the most user numbers of a source whose first pass is a histogram (the
   * tests' 0 counts every source row by row).
   */
  constructor(private readonly histogramUpTo = Number.MAX_SAFE_INTEGER) {
    this.memory = new WebAssembly.Memory({ initial: pagesFor(SOURCE_AT + SLACK, "a day's groups") });
    this.exports = kernelInstance<KernelExports>(WASM_BASE64, this.memory);
    this.views();
  }

  /**
   * A day of `users` groups laid out, its counters zeroed, for `sources` (in the order the passes
   * take them: each one's user numbers, track numbers and rows of the day), the day cut into
   * `parts` by user.
   *
   * A source of no more user numbers than rows has its first pass counted as a histogram of them
   * (a day worker's first pass over 10M rows of 50,000 users: 160 ms of the kernel's counted row by
   * row), and its second finds a row's place from its user number alone (cursorsOf): a histogram
   * a source, kept from one pass to the other, of 4 bytes a user number, while their sum is at
   * most half the part's rows (2 bytes a row of the part, a quarter of its groups'; at 2M users
   * one file's of three, 6 MB): they stay in this memory through the day's sums, and at the whole
   * part's rows a day by the hour at 2M users peaked at 515 to 523 MB against 488. The sources past
   * that are counted and placed row by row, by run id.
   * Either way a user's rows keep their order, source after source, as a source's user numbers
   * are of distinct users (a partial segment's names are distinct).
   */
  lay(users: number, sources: readonly DayShape[], parts = 1): Uint32Array {
    if (this.counting) throw new Error('a source counted but not folded (sourceCounted)');
    this.users = users;
    this.current = -1;
    this.pairsAt = 0;
    this.rows = 0;
    const known = Math.max(0, ...sources.map((s) => s.users));
    const knownTracks = Math.max(0, ...sources.map((s) => s.tracks));
    let at = alignTo(SOURCE_AT + 4 * known + 4 * knownTracks + known, 8);
    const histogramsFrom = at;
    let budget = Math.ceil(sources.reduce((n, s) => n + s.rows, 0) / (2 * parts));
    this.histogramsAt = sources.map((source) => {
      if (source.users > source.rows || source.users > this.histogramUpTo || source.users > budget)
        return undefined;
      budget -= source.users;
      const histogram = at;
      at += 4 * source.users;
      return histogram;
    });
    this.countersAt = alignTo(at, 8);
    this.ensure(this.countersAt + 4 * (users + 2));
    new Uint8Array(this.memory.buffer, histogramsFrom, at - histogramsFrom).fill(0);
    const counters = new Uint32Array(this.memory.buffer, this.countersAt, users + 2);
    counters.fill(0);
    this.i32[S_OUT_OF_RANGE] = 0;
    return counters;
  }

  /** Source `s` (of those laid out) copied in for its first pass: its user numbers and kept bytes (see loadDayGroups). */
  countSource(s: number, userIds: Int32Array, kept?: Uint8Array): void {
    if (this.counting) throw new Error('a source counted but not folded (sourceCounted)');
    this.copyIn(s, userIds, undefined, kept);
    this.counting = true;
  }

  /**
   * Source `s` copied in for its second pass (after startGroups): its user numbers, track numbers
   * and kept bytes; a source counted as a histogram has it made its user numbers' cursors.
   */
  placeSource(s: number, userIds: Int32Array, trackIds: Int32Array, kept?: Uint8Array): void {
    if (this.counting || this.pairsAt === 0) throw new Error('a source placed before the groups started');
    this.copyIn(s, userIds, trackIds, kept);
    const histogram = this.histogramsAt[s];
    if (histogram !== undefined) this.exports.cursorsOf(histogram, this.known, SOURCE_AT, this.countersAt);
  }

  /**
   * The first pass over a chunk's user numbers (CHUNK_ROWS at most); returns `sum` and the mix of
   * the ids counted. Read where they are when they are in this memory (read into `chunkBytes`).
   * A source counted as a histogram (lay) has its rows neither picked nor looked up one by one:
   * its ids are counted, and its mix added, only by `sourceCounted`, which every source's chunks
   * end with.
   */
  countUsers(users: Uint32Array, sum: number): number {
    const histogram = this.histogramsAt[this.current];
    if (histogram !== undefined) {
      this.exports.histogramUsers(this.placeOf(users, this.chunkUsers), users.length, this.known, histogram);
      return sum;
    }
    return this.exports.countUsers(
      this.placeOf(users, this.chunkUsers),
      users.length,
      SOURCE_AT,
      this.known,
      this.keptAt,
      PICKED_AT,
      this.countersAt,
      this.users,
      sum,
    );
  }

  /** A source's first pass ended (after its last countUsers): returns `sum` and the mix of the numbers it counted. */
  sourceCounted(sum: number): number {
    this.counting = false;
    const histogram = this.histogramsAt[this.current];
    if (histogram === undefined) return sum;
    return this.exports.foldUsers(
      histogram,
      this.known,
      SOURCE_AT,
      this.keptAt,
      this.countersAt,
      this.users,
      sum,
    );
  }

  /** The counts made starts, and the groups' pairs laid after them: returns the rows. */
  startGroups(): number {
    if (this.counting) throw new Error('a source counted but not folded (sourceCounted)');
    this.rows = this.exports.startsOf(this.countersAt, this.users) >>> 0;
    this.pairsAt = alignTo(this.countersAt + 4 * (this.users + 2), 8);
    this.ensure(this.pairsAt + 8 * this.rows);
    return this.rows;
  }

  /**
   * The sort's counters (starts, then cursors) and the groups' pairs: row i's track at `2 * i`,
   * its time in milliseconds of the day at `2 * i + 1`.
   */
  groups(): { counters: Uint32Array; pairs: Uint32Array } {
    const buffer = this.memory.buffer;
    return {
      counters: new Uint32Array(buffer, this.countersAt, this.users + 2),
      pairs: new Uint32Array(buffer, this.pairsAt, 2 * this.rows),
    };
  }

  /**
   * The source being placed's cursors, a user number each (NO_CURSOR: its rows are not placed),
   * when it was counted as a histogram: where the second pass goes on from when it stops (a time
   * off the millisecond, placed in JavaScript: placeInMicros in formats/kpiPartials.ts).
   */
  cursors(): Uint32Array | undefined {
    const histogram = this.histogramsAt[this.current];
    return histogram === undefined ? undefined : new Uint32Array(this.memory.buffer, histogram, this.known);
  }

  /**
   * The groups placed (once every row is: the cursors are then the next groups' starts) as the
   * day's UserGroups, in place: the pairs seen from their first track and from their first time,
   * a stride of 2; the times in milliseconds since `dayStart` (microseconds).
   */
  userGroups(dayStart: number): UserGroups {
    const buffer = this.memory.buffer;
    const { rows } = this;
    return {
      starts: new Uint32Array(buffer, this.countersAt, this.users + 1),
      tracks: new Uint32Array(buffer, this.pairsAt, 2 * rows),
      // From the first time on (one less: the last pair's track is not a time's).
      times: new Uint32Array(buffer, this.pairsAt + 4, Math.max(0, 2 * rows - 1)),
      dayStart,
      stride: 2,
    };
  }

  /**
   * The second pass over a chunk's rows (CHUNK_ROWS at most; read where they are when they are in
   * this memory); returns `sum` and the mix of the numbers placed. `stopped` is then the index
   * among `picked` of the first row it left (a time not on a whole millisecond of the day), or -1.
   */
  placeRows(
    chunk: { users: Uint32Array; tracks: Uint32Array; times: Float64Array },
    dayStart: number,
    sum: number,
  ): number {
    const users = this.placeOf(chunk.users, this.chunkUsers);
    const tracks = this.placeOf(chunk.tracks, this.chunkTracks);
    const times = this.placeOf(chunk.times, this.chunkTimes);
    const n = chunk.users.length;
    const trackIds = SOURCE_AT + 4 * this.known;
    const histogram = this.histogramsAt[this.current];
    if (histogram !== undefined) {
      return this.exports.placeByNumber(
        users,
        tracks,
        times,
        n,
        histogram,
        this.known,
        trackIds,
        this.knownTracks,
        PICKED_AT,
        this.pairsAt,
        this.rows,
        STAGE_AT,
        dayStart,
        sum,
      );
    }
    return this.exports.placeRows(
      users,
      tracks,
      times,
      n,
      SOURCE_AT,
      this.known,
      this.keptAt,
      trackIds,
      this.knownTracks,
      PICKED_AT,
      this.countersAt,
      this.users,
      this.pairsAt,
      this.rows,
      STAGE_AT,
      dayStart,
      sum,
    );
  }

  /** Source `s`'s numbers (and kept bytes) copied in, for either pass. */
  private copyIn(s: number, userIds: Int32Array, trackIds?: Int32Array, kept?: Uint8Array): void {
    if (s < 0 || s >= this.histogramsAt.length) throw new RangeError(`source ${s} was not laid out`);
    this.current = s;
    const buffer = this.memory.buffer;
    new Int32Array(buffer, SOURCE_AT, userIds.length).set(userIds);
    this.known = userIds.length;
    const tracksAt = SOURCE_AT + 4 * userIds.length;
    this.knownTracks = trackIds?.length ?? 0;
    if (trackIds !== undefined) new Int32Array(buffer, tracksAt, trackIds.length).set(trackIds);
    this.keptAt = 0;
    if (kept !== undefined) {
      this.keptAt = tracksAt + 4 * this.knownTracks;
      new Uint8Array(buffer, this.keptAt, kept.length).set(kept);
    }
  }

  /** Where `column` is in this memory: its own place when it is a view of it, else copied to `into`'s. */
  private placeOf(column: Uint32Array | Float64Array, into: Uint32Array | Float64Array): number {
    if (column.buffer === this.memory.buffer) return column.byteOffset;
    into.set(column);
    return into.byteOffset;
  }

  get stopped(): number {
    return this.i32[S_STOPPED]!;
  }

  /** Whether a row's user or track number was out of range since the day was laid out. */
  get outOfRange(): boolean {
    return this.i32[S_OUT_OF_RANGE] === 1;
  }

  /** Whether `groups` are this kernel's own, as loadDayGroups returns them with times in milliseconds (pairs). */
  holds(groups: UserGroups): boolean {
    const buffer = this.memory.buffer;
    return (
      groups.starts.buffer === buffer &&
      groups.starts.byteOffset === this.countersAt &&
      groups.starts.length === this.users + 1 &&
      groups.stride === 2 &&
      groups.tracks.buffer === buffer &&
      groups.tracks.byteOffset === this.pairsAt &&
      groups.times.buffer === buffer &&
      groups.times.byteOffset === this.pairsAt + 4
    );
  }

  /**
   * aggregateDay's sums of the groups this kernel holds (`holds`), with `catalog`'s tracks and
   * genres, by the hour when `hourly`: copies, and the counts of the rows. `plays` is dense, a
   * count for every bucket * tracks + track (the caller keeps the sparse cases). It may grow the
   * memory, which detaches the groups' views: make them anew after it (`groups`).
   */
  aggregate(catalog: SumsCatalog, genres: number, hourly: boolean): KernelSums {
    const users = this.users;
    const buckets = hourly ? 24 : 1;
    const tracks = catalog.knownTracks.length;
    const entries = catalog.trackGenres.length;
    const cells = buckets * genres;
    const keys = buckets * tracks;
    const setSlots = slotsFor(this.exports.largestGroup(this.countersAt, users) >>> 0);
    const listenAt = alignTo(this.pairsAt + 8 * this.rows, 8);
    const totalAt = listenAt + 8 * cells;
    const uniqueAt = totalAt + 8 * cells;
    const durationsAt = uniqueAt + 8 * cells;
    const lastAt = durationsAt + 8 * entries;
    const fromAt = lastAt + 4 * cells;
    const genresAt = fromAt + 4 * (tracks + 1);
    const playsAt = genresAt + 4 * entries;
    const setRowsAt = playsAt + 4 * keys;
    const stampsAt = setRowsAt + 4 * setSlots;
    const knownAt = stampsAt + 4 * setSlots;
    this.ensure(knownAt + tracks);
    const buffer = this.memory.buffer;
    new Uint8Array(buffer, listenAt, durationsAt - listenAt).fill(0);
    new Float64Array(buffer, durationsAt, entries).set(catalog.trackDurations);
    new Uint8Array(buffer, lastAt, fromAt - lastAt).fill(0);
    new Uint32Array(buffer, fromAt, tracks + 1).set(catalog.trackFrom.subarray(0, tracks + 1));
    new Uint32Array(buffer, genresAt, entries).set(catalog.trackGenres);
    new Uint8Array(buffer, playsAt, setRowsAt - playsAt).fill(0);
    new Uint8Array(buffer, stampsAt, knownAt - stampsAt).fill(0);
    new Uint8Array(buffer, knownAt, tracks).set(catalog.knownTracks);
    this.exports.aggregate(
      this.countersAt,
      users,
      this.pairsAt,
      catalog.knownUsers,
      fromAt,
      genresAt,
      durationsAt,
      knownAt,
      tracks,
      genres,
      hourly ? 1 : 0,
      listenAt,
      totalAt,
      uniqueAt,
      lastAt,
      playsAt,
      setRowsAt,
      stampsAt,
      setSlots - 1,
    );
    if (this.outOfRange) throw new RangeError("a day's track number past the catalogue's");
    const u32 = this.u32;
    return {
      listen: new Float64Array(buffer, listenAt, cells).slice(),
      total: new Float64Array(buffer, totalAt, cells).slice(),
      unique: new Float64Array(buffer, uniqueAt, cells).slice(),
      plays: new Uint32Array(buffer, playsAt, keys).slice(),
      duplicates: u32[S_DUPLICATES]!,
      unknownTrack: u32[S_UNKNOWN_TRACK]!,
      unknownUser: u32[S_UNKNOWN_USER]!,
      counted: u32[S_COUNTED]!,
    };
  }

  private ensure(bytes: number): void {
    if (growTo(this.memory, bytes + SLACK, "a day's groups")) this.views();
  }

  private views(): void {
    const buffer = this.memory.buffer;
    this.i32 = new Int32Array(buffer, 0, 16);
    this.u32 = new Uint32Array(buffer, 0, 16);
    this.chunkBytes = new Uint8Array(buffer, CHUNK_AT, 16 * CHUNK_ROWS);
    this.chunkUsers = new Uint32Array(buffer, CHUNK_AT, CHUNK_ROWS);
    this.chunkTracks = new Uint32Array(buffer, CHUNK_AT + 4 * CHUNK_ROWS, CHUNK_ROWS);
    this.chunkTimes = new Float64Array(buffer, CHUNK_AT + 8 * CHUNK_ROWS, CHUNK_ROWS);
    this.picked = new Int32Array(buffer, PICKED_AT, CHUNK_ROWS);
  }
}

/** What `lay` is told of each source of a day: how many user and track numbers it has, and its rows of the day. */
export interface DayShape {
  users: number;
  tracks: number;
  rows: number;
}

/** What `aggregate` reads of a catalogue (NumberedCatalog's arrays, in genreKpis.ts). */
export interface SumsCatalog {
  trackFrom: Uint32Array;
  trackGenres: Uint32Array;
  trackDurations: Float64Array;
  knownTracks: Uint8Array;
  knownUsers: number;
}

/** What `aggregate` gives: the sums by bucket * genres + genre, the plays by bucket * tracks + track. */
export interface KernelSums {
  listen: Float64Array;
  total: Float64Array;
  unique: Float64Array;
  plays: Uint32Array;
  duplicates: number;
  unknownTrack: number;
  unknownUser: number;
  counted: number;
}

interface KernelExports {
  countUsers(
    users: number,
    n: number,
    userIds: number,
    known: number,
    kept: number,
    picked: number,
    counters: number,
    groups: number,
    sum: number,
  ): number;
  histogramUsers(users: number, n: number, known: number, histogram: number): void;
  foldUsers(
    histogram: number,
    known: number,
    userIds: number,
    kept: number,
    counters: number,
    groups: number,
    sum: number,
  ): number;
  cursorsOf(histogram: number, known: number, userIds: number, counters: number): void;
  startsOf(counters: number, groups: number): number;
  placeRows(
    users: number,
    tracks: number,
    times: number,
    n: number,
    userIds: number,
    known: number,
    kept: number,
    trackIds: number,
    knownTracks: number,
    picked: number,
    counters: number,
    groups: number,
    pairs: number,
    rows: number,
    stage: number,
    dayStart: number,
    sum: number,
  ): number;
  placeByNumber(
    users: number,
    tracks: number,
    times: number,
    n: number,
    cursors: number,
    known: number,
    trackIds: number,
    knownTracks: number,
    picked: number,
    pairs: number,
    rows: number,
    stage: number,
    dayStart: number,
    sum: number,
  ): number;
  largestGroup(starts: number, users: number): number;
  aggregate(
    starts: number,
    users: number,
    pairs: number,
    knownUsers: number,
    trackFrom: number,
    trackGenres: number,
    durations: number,
    known: number,
    tracks: number,
    genres: number,
    hourly: number,
    listen: number,
    total: number,
    unique: number,
    lastListener: number,
    plays: number,
    setRows: number,
    setStamps: number,
    setMask: number,
  ): void;
}

/** Rows of a chunk: as formats/kpiPartials.ts reads them (a partial's block). */
export const CHUNK_ROWS = 1 << 16;
const CHUNK_AT = 64;
const PICKED_AT = CHUNK_AT + 16 * CHUNK_ROWS;
const STAGE_AT = PICKED_AT + 4 * CHUNK_ROWS;
const SOURCE_AT = STAGE_AT + 16 * CHUNK_ROWS;
/** A user number's cursor when none of its rows is placed (cursors): not kept, or none counted. */
export const NO_CURSOR = 0xffffffff;
const S_OUT_OF_RANGE = 0;
const S_STOPPED = 1;
const S_DUPLICATES = 2;
const S_UNKNOWN_TRACK = 3;
const S_UNKNOWN_USER = 4;
const S_COUNTED = 5;
const SLACK = 64;

/** A set's slots for a group of `rows`: a power of two, at least twice them (and 1,024). */
function slotsFor(rows: number): number {
  let slots = 1024;
  while (slots < 2 * rows) slots *= 2;
  return slots;
}
