import { IdInterner } from '../parse/idInterner.js';
import type { StreamRowSink } from '../parse/streamRows.js';
import { utcDayOf } from '../parse/timestamps.js';
import { DayGroupKernel } from './dayGroups.js';

/** A stretch of a day's rows: `length` rows used of the arrays' capacity. */
interface RowBlock {
  users: Uint32Array;
  tracks: Uint32Array;
  times: Float64Array;
  length: number;
}

/**
 * The largest block of rows: 16 bytes a row, 1 MiB. Also the largest block of a KPI partial
 * (formats/kpiPartials.ts), which is written a block at a time as they fill.
 */
export const BLOCK_ROWS = 1 << 16;

/** Rows of a run copied one by one rather than by three typed-array copies (each a view made). */
const SHORT_RUN = 16;

/** Where full blocks of a day's rows go as they fill: a partial being written. */
export type BlockOut = (users: Uint32Array, tracks: Uint32Array, times: Float64Array) => void;

/**
 * The valid stream rows of one UTC day, as columns in blocks: each block twice the size of the
 * last up to 65,536 rows, then that size. Rows are never copied as the day grows (doubling one
 * array copied them, and held the old and the new array at once), a day of a few rows costs a few
 * kilobytes, and a big one at most one block more than its rows. With `out`, each block goes
 * there as it fills and is used again: the day holds one block, whatever its rows (`flush` sends
 * the last, and `columns` and `forEach` then have nothing to give).
 */
export class DayStreams {
  length = 0;
  private readonly blocks: RowBlock[] = [];
  private block: RowBlock;

  constructor(
    capacity = 1024,
    private readonly out?: BlockOut,
  ) {
    this.block = newBlock(Math.min(capacity, BLOCK_ROWS));
    this.blocks.push(this.block);
  }

  /** Rows `from` to `to` of the columns given, copied in (a block at a time). */
  pushRun(users: Uint32Array, tracks: Uint32Array, times: Float64Array, from: number, to: number): void {
    let at = from;
    while (at < to) {
      let block = this.block;
      if (block.length === block.users.length) block = this.nextBlock();
      const take = Math.min(to - at, block.users.length - block.length);
      const into = block.length;
      if (take < SHORT_RUN) {
        for (let k = 0; k < take; k++) {
          block.users[into + k] = users[at + k]!;
          block.tracks[into + k] = tracks[at + k]!;
          block.times[into + k] = times[at + k]!;
        }
      } else {
        block.users.set(users.subarray(at, at + take), into);
        block.tracks.set(tracks.subarray(at, at + take), into);
        block.times.set(times.subarray(at, at + take), into);
      }
      block.length += take;
      this.length += take;
      at += take;
    }
  }

  push(user: number, track: number, time: number): void {
    let block = this.block;
    if (block.length === block.users.length) block = this.nextBlock();
    const at = block.length++;
    block.users[at] = user;
    block.tracks[at] = track;
    block.times[at] = time;
    this.length++;
  }

  /** Sends the rows not yet sent to `out`. */
  flush(): void {
    if (this.out === undefined) return;
    const b = this.block;
    this.out(b.users.subarray(0, b.length), b.tracks.subarray(0, b.length), b.times.subarray(0, b.length));
    b.length = 0;
  }

  private nextBlock(): RowBlock {
    const full = this.block;
    if (this.out !== undefined) {
      this.out(full.users, full.tracks, full.times);
      this.blocks.length = 0;
      if (full.users.length === BLOCK_ROWS) {
        full.length = 0;
        this.blocks.push(full);
        return full;
      }
    }
    this.block = newBlock(Math.min(full.users.length * 2, BLOCK_ROWS));
    this.blocks.push(this.block);
    return this.block;
  }

  /** The rows' columns, as the blocks' used parts in order (views, not copies). */
  columns(): { users: Uint32Array[]; tracks: Uint32Array[]; times: Float64Array[] } {
    const used = this.blocks.filter((b) => b.length > 0);
    return {
      users: used.map((b) => b.users.subarray(0, b.length)),
      tracks: used.map((b) => b.tracks.subarray(0, b.length)),
      times: used.map((b) => b.times.subarray(0, b.length)),
    };
  }

  /** Calls `visit` with each row in order. */
  forEach(visit: (user: number, track: number, time: number, row: number) => void): void {
    let row = 0;
    for (const b of this.blocks)
      for (let i = 0; i < b.length; i++) visit(b.users[i]!, b.tracks[i]!, b.times[i]!, row++);
  }
}

function newBlock(rows: number): RowBlock {
  return {
    users: new Uint32Array(rows),
    tracks: new Uint32Array(rows),
    times: new Float64Array(rows),
    length: 0,
  };
}

/**
 * Valid rows by UTC day of their listen time. With `out`, each day's blocks go there as they
 * fill (see DayStreams), and `flush` sends the rest at the end.
 */
export class StreamDays implements StreamRowSink {
  readonly users: IdInterner;
  readonly tracks: IdInterner;
  readonly days = new Map<number, DayStreams>();

  /**
   * `firstBlockRows`: the rows of each day's first block (tests make it small). `interners`: the
   * users' and tracks' (empty), kept by a worker from file to file (IdInterner.clear); fresh ones
   * by default.
   */
  constructor(
    private readonly out?: (
      day: number,
      users: Uint32Array,
      tracks: Uint32Array,
      times: Float64Array,
    ) => void,
    private readonly firstBlockRows = 1024,
    interners: { users: IdInterner; tracks: IdInterner } = {
      users: new IdInterner(),
      tracks: new IdInterner(),
    },
  ) {
    this.users = interners.users;
    this.tracks = interners.tracks;
  }

  /** Each day's rows not yet sent to `out`, sent, in order of day. */
  flush(): void {
    for (const day of [...this.days.keys()].sort((a, b) => a - b)) this.days.get(day)!.flush();
  }

  /** A row by its users' and tracks' ids; returns its day. */
  addRow(user: number, track: number, time: number): number {
    const day = utcDayOf(time);
    this.rowsOf(day).push(user, track, time);
    return day;
  }

  /** A batch of rows in runs of one day (StreamRowSink.addRuns): each run copied in at once. */
  addRuns(
    users: Uint32Array,
    tracks: Uint32Array,
    times: Float64Array,
    rows: number,
    runFrom: Int32Array,
    runDays: Int32Array,
    runs: number,
  ): void {
    for (let r = 0; r < runs; r++) {
      const to = r + 1 < runs ? runFrom[r + 1]! : rows;
      this.rowsOf(runDays[r]!).pushRun(users, tracks, times, runFrom[r]!, to);
    }
  }

  /** Day `day`'s columns, made at its first row. */
  private rowsOf(day: number): DayStreams {
    // Rows come mostly in runs of one day: the last day's columns are kept at hand.
    let rows = day === this.lastDay ? this.lastRows! : this.days.get(day);
    if (rows === undefined) {
      const out = this.out;
      rows = new DayStreams(
        this.firstBlockRows,
        out && ((users, tracks, times) => out(day, users, tracks, times)),
      );
      this.days.set(day, rows);
    }
    this.lastDay = day;
    this.lastRows = rows;
    return rows;
  }

  /** A row by names (tests and small inputs). */
  add(user: string, track: string, time: number): number {
    return this.addRow(this.users.id(user), this.tracks.id(track), time);
  }

  private lastDay = Number.NaN;
  private lastRows: DayStreams | undefined;
}

/**
 * A day's rows by user: user u's are `tracks[i * stride]`, `times[i * stride]` for i in
 * `starts[u]` .. `starts[u + 1]`.
 */
export interface UserGroups {
  starts: Uint32Array;
  tracks: Uint32Array;
  /**
   * Each row's listen time: microseconds since the epoch, or, with `dayStart`, milliseconds since
   * that microsecond (the day's midnight). The second when every row is on a whole millisecond,
   * as listen logs are: 4 bytes a row instead of 8, a third of a day part's groups (at 10M rows a
   * day, 20 MB a worker).
   */
  times: Float64Array | Uint32Array;
  dayStart?: number;
  /**
   * 2 when the tracks and the times (in milliseconds) are one array of (track, time) pairs, which
   * the day's counting sort places a row at a time (DayGroupKernel): `tracks` is its view from
   * the first pair, `times` from the first pair's time. 1 when absent: two columns.
   */
  stride?: number;
}

/** Row i's track. */
export function groupTrack(groups: UserGroups, i: number): number {
  return groups.tracks[i * (groups.stride ?? 1)]!;
}

/** Row i's listen time in microseconds since the epoch. */
export function listenTime(groups: UserGroups, i: number): number {
  const t = groups.times[i * (groups.stride ?? 1)]!;
  return groups.dayStart === undefined ? t : groups.dayStart + t * 1000;
}

/**
 * The memory a day's groups are built in, kept for the next day or part: a worker computes a
 * large day's parts one after the other, each about 100 MB of groups, and fresh arrays a part
 * left the last part's to the garbage collector, which in a worker freed them late (peak RSS 540
 * to 600 MB at 30M rows a day, about 430 MB with the arrays reused). The counters and the groups
 * are in the counting sort's WebAssembly memory (DayGroupKernel), which only grows; the times in
 * microseconds (a day with times off the millisecond) in an array that grows by a 64th beyond what
 * is asked, so that parts of nearly equal size (a hash of the user cuts them, within a fraction of
 * a percent of each other) share it: an eighth was 7 MB a worker at 2M users.
 */
export class GroupArrays {
  private times = new Float64Array(0);
  private tracks = new Uint32Array(0);
  private dayGroups: DayGroupKernel | undefined;

  /** The counting sort's kernel and memory (made at the first day). */
  kernel(): DayGroupKernel {
    this.dayGroups ??= new DayGroupKernel();
    return this.dayGroups;
  }

  /** A column of `rows` listen times in microseconds (its contents are whatever was left in it). */
  timesFor(rows: number): Float64Array {
    if (this.times.length < rows) {
      // The old array is let go before the new one is made: not both at once.
      this.times = new Float64Array(0);
      this.times = new Float64Array(roomFor(rows));
    }
    return this.times.subarray(0, rows);
  }

  /** A column of `rows` tracks, for the times in microseconds (its contents are whatever was left in it). */
  tracksFor(rows: number): Uint32Array {
    if (this.tracks.length < rows) {
      this.tracks = new Uint32Array(0);
      this.tracks = new Uint32Array(roomFor(rows));
    }
    return this.tracks.subarray(0, rows);
  }
}

function roomFor(n: number): number {
  return n + Math.ceil(n / 64);
}

/**
 * The rows of a day grouped by user: a counting sort on the user number (linear, stable: a
 * group keeps its rows in their order), which copies each row's track and time into its group's
 * place. User u's rows are `tracks[i]`, `times[i]` for i in `starts[u]` .. `starts[u + 1]`: read
 * in order, not through a permutation (a read through one missed the cache on every row).
 */
export function groupByUser(rows: DayStreams, users: number): UserGroups {
  const starts = new Uint32Array(users + 1);
  rows.forEach((user) => {
    starts[user + 1]!++;
  });
  for (let u = 0; u < users; u++) starts[u + 1]! += starts[u]!;
  const next = starts.slice(0, users);
  const tracks = new Uint32Array(rows.length);
  const times = new Float64Array(rows.length);
  rows.forEach((user, track, time) => {
    const at = next[user]!++;
    tracks[at] = track;
    times[at] = time;
  });
  return { starts, tracks, times };
}

/**
 * Which of `parts` parts of a day the user numbered `id` in a run falls in: a hash of the number,
 * so that users spread evenly however they are numbered (by a catalogue sorted by anything). Any
 * function of the user sums exactly over the parts; one of the number needs no table of each
 * numbered user's part (from a hash of the id's bytes, once: a worker read it at random).
 */
export function partOfUser(id: number, parts: number): number {
  // murmur3's finalizer: every bit of the number reaches the low bits the modulo keeps (a plain
  // multiply left numbers of a stride of 4 all in part 0 of 2).
  let h = id ^ (id >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 1) % parts;
}
