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
 *     source       a source's user ids, track ids (i32) and kept bytes, copied in by `source`
 *     histogram    a count a user number of the source (u32), when it has few (histogramUpTo)
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
  private sourceAt = 0;
  private countersAt = 0;
  private users = 0;
  private known = 0;
  private knownTracks = 0;
  private keptAt = 0;
  /**
   * Where a source's histogram is laid (0: no room, the day's sources have too many user numbers),
   * whether this source's first pass is one, and whether it waits to be folded.
   */
  private histogramAt = 0;
  private histogram = false;
  private histogramPending = false;
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
  constructor(private readonly histogramUpTo = HISTOGRAM_UP_TO) {
    this.memory = new WebAssembly.Memory({ initial: pagesFor(SOURCE_AT + SLACK, "a day's groups") });
    this.exports = kernelInstance<KernelExports>(WASM_BASE64, this.memory);
    this.views();
  }

  /**
   * A day of `users` groups laid out, its counters zeroed: room for sources of up to `known` user
   * numbers and `knownTracks` track numbers.
   */
  lay(users: number, known: number, knownTracks: number): Uint32Array {
    this.users = users;
    this.sourceAt = SOURCE_AT;
    const sourceEnd = alignTo(SOURCE_AT + 4 * known + 4 * knownTracks + known, 8);
    // Room for a histogram of the largest source's numbers, when they are few enough for one.
    this.histogramAt = known <= this.histogramUpTo ? sourceEnd : 0;
    this.histogramPending = false;
    this.countersAt = this.histogramAt === 0 ? sourceEnd : sourceEnd + 4 * known;
    this.ensure(this.countersAt + 4 * (users + 2));
    const counters = new Uint32Array(this.memory.buffer, this.countersAt, users + 2);
    counters.fill(0);
    this.i32[S_OUT_OF_RANGE] = 0;
    return counters;
  }

  /**
   * A source's user numbers (and its track numbers, and its kept bytes: see loadDayGroups) copied
   * in. `rows`: how many it holds of the day, for its first pass (a histogram of its user numbers
   * when they are no more than its rows and there is room for one: countUsers).
   */
  source(userIds: Int32Array, trackIds?: Int32Array, kept?: Uint8Array, rows?: number): void {
    if (this.histogramPending) throw new Error('a source counted but not folded (sourceCounted)');
    this.histogram = this.histogramAt !== 0 && rows !== undefined && userIds.length <= rows;
    const buffer = this.memory.buffer;
    new Int32Array(buffer, this.sourceAt, userIds.length).set(userIds);
    this.known = userIds.length;
    const tracksAt = this.sourceAt + 4 * userIds.length;
    this.knownTracks = trackIds?.length ?? 0;
    if (trackIds !== undefined) new Int32Array(buffer, tracksAt, trackIds.length).set(trackIds);
    this.keptAt = 0;
    if (kept !== undefined) {
      this.keptAt = tracksAt + 4 * this.knownTracks;
      new Uint8Array(buffer, this.keptAt, kept.length).set(kept);
    }
  }

  /**
   * The first pass over a chunk's user numbers (CHUNK_ROWS at most); returns `sum` and the mix of
   * the ids counted. Read where they are when they are in this memory (read into `chunkBytes`).
   * A source of few user numbers against its rows is counted as a histogram of them instead, its
   * rows neither picked nor looked up one by one (a day worker's first pass over 10M rows of
   * 50,000 users: 160 ms of the kernel's): its ids are counted, and its mix added, only by
   * `sourceCounted`, which every source's chunks end with.
   */
  countUsers(users: Uint32Array, sum: number): number {
    if (this.histogram) {
      if (!this.histogramPending) {
        new Uint32Array(this.memory.buffer, this.histogramAt, this.known).fill(0);
        this.histogramPending = true;
      }
      this.exports.histogramUsers(
        this.placeOf(users, this.chunkUsers),
        users.length,
        this.known,
        this.histogramAt,
      );
      return sum;
    }
    return this.exports.countUsers(
      this.placeOf(users, this.chunkUsers),
      users.length,
      this.sourceAt,
      this.known,
      this.keptAt,
      PICKED_AT,
      this.countersAt,
      this.users,
      sum,
    );
  }

  /** A source's first pass ended (after its last countUsers): returns `sum` and the mix of the ids it counted. */
  sourceCounted(sum: number): number {
    if (!this.histogramPending) return sum;
    this.histogramPending = false;
    return this.exports.foldUsers(
      this.histogramAt,
      this.known,
      this.sourceAt,
      this.keptAt,
      this.countersAt,
      this.users,
      sum,
    );
  }

  /** The counts made starts, and the groups' pairs laid after them: returns the rows. */
  startGroups(): number {
    if (this.histogramPending) throw new Error('a source counted but not folded (sourceCounted)');
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
   * this memory); returns `sum` and the mix of the ids placed. `stopped` is then the index among
   * `picked` of the first row it left (a time not on a whole millisecond of the day), or -1.
   */
  placeRows(
    chunk: { users: Uint32Array; tracks: Uint32Array; times: Float64Array },
    dayStart: number,
    sum: number,
  ): number {
    return this.exports.placeRows(
      this.placeOf(chunk.users, this.chunkUsers),
      this.placeOf(chunk.tracks, this.chunkTracks),
      this.placeOf(chunk.times, this.chunkTimes),
      chunk.users.length,
      this.sourceAt,
      this.known,
      this.keptAt,
      this.sourceAt + 4 * this.known,
      this.knownTracks,
      PICKED_AT,
      this.countersAt,
      this.users,
      this.pairsAt,
      this.rows,
      dayStart,
      sum,
    );
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
const SOURCE_AT = PICKED_AT + 4 * CHUNK_ROWS;
/**
 * The most user numbers of a source whose first pass is a histogram (4 MB of it, in every day
 * worker). A file of more (2M users: 1.5M a file) has its rows counted one by one, as before: its
 * histogram would be as large as a third of its rows, and memory at that size counts against the
 * budget.
 */
const HISTOGRAM_UP_TO = 1 << 20;
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
