import { IdInterner } from '../parse/idInterner.js';
import type { StreamRowSink } from '../parse/streamRows.js';
import { utcDayOf } from '../parse/timestamps.js';

/** The valid stream rows of one UTC day, as columns that grow by doubling. */
export class DayStreams {
  users: Uint32Array;
  tracks: Uint32Array;
  times: Float64Array;
  length = 0;

  constructor(capacity = 1024) {
    this.users = new Uint32Array(capacity);
    this.tracks = new Uint32Array(capacity);
    this.times = new Float64Array(capacity);
  }

  push(user: number, track: number, time: number): void {
    if (this.length === this.users.length) this.grow();
    this.users[this.length] = user;
    this.tracks[this.length] = track;
    this.times[this.length] = time;
    this.length++;
  }

  private grow(): void {
    const capacity = this.users.length * 2;
    const users = new Uint32Array(capacity);
    users.set(this.users);
    const tracks = new Uint32Array(capacity);
    tracks.set(this.tracks);
    const times = new Float64Array(capacity);
    times.set(this.times);
    this.users = users;
    this.tracks = tracks;
    this.times = times;
  }
}

/** Valid rows by UTC day of their listen time. */
export class StreamDays implements StreamRowSink {
  readonly users = new IdInterner();
  readonly tracks = new IdInterner();
  readonly days = new Map<number, DayStreams>();

  /** A row by its users' and tracks' ids; returns its day. */
  addRow(user: number, track: number, time: number): number {
    const day = utcDayOf(time);
    // Rows come mostly in runs of one day: the last day's columns are kept at hand.
    let rows = day === this.lastDay ? this.lastRows! : this.days.get(day);
    if (rows === undefined) {
      rows = new DayStreams();
      this.days.set(day, rows);
    }
    this.lastDay = day;
    this.lastRows = rows;
    rows.push(user, track, time);
    return day;
  }

  /** A row by names (tests and small inputs). */
  add(user: string, track: string, time: number): number {
    return this.addRow(this.users.id(user), this.tracks.id(track), time);
  }

  private lastDay = Number.NaN;
  private lastRows: DayStreams | undefined;
}

/** A day's rows by user: user u's are `tracks[i]`, `times[i]` for i in `starts[u]` .. `starts[u + 1]`. */
export interface UserGroups {
  starts: Uint32Array;
  tracks: Uint32Array;
  times: Float64Array;
}

/**
 * The rows of a day grouped by user: a counting sort on the user number (linear, stable: a
 * group keeps its rows in their order), which copies each row's track and time into its group's
 * place. User u's rows are `tracks[i]`, `times[i]` for i in `starts[u]` .. `starts[u + 1]`: read
 * in order, not through a permutation (a read through one missed the cache on every row).
 */
export function groupByUser(rows: DayStreams, users: number): UserGroups {
  const starts = new Uint32Array(users + 1);
  const ids = rows.users;
  const n = rows.length;
  for (let i = 0; i < n; i++) starts[ids[i]! + 1]!++;
  for (let u = 0; u < users; u++) starts[u + 1]! += starts[u]!;
  const next = starts.slice(0, users);
  const tracks = new Uint32Array(n);
  const times = new Float64Array(n);
  const rowTracks = rows.tracks;
  const rowTimes = rows.times;
  for (let i = 0; i < n; i++) {
    const at = next[ids[i]!]!++;
    tracks[at] = rowTracks[i]!;
    times[at] = rowTimes[i]!;
  }
  return { starts, tracks, times };
}

/** Which of `parts` parts a user falls in: FNV-1a over the id's UTF-16 code units. */
export function userPart(user: string, parts: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < user.length; i++) h = Math.imul(h ^ user.charCodeAt(i), 0x01000193);
  return (h >>> 0) % parts;
}
