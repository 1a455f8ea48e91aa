import { utcDayOf } from '../parse/timestamps.js';

/**
 * Ids seen in the streams, numbered in order of appearance: the aggregation works on small
 * integers, and the names come back only for the output (top tracks) and for ordering ties.
 */
export class Interner {
  private readonly ids = new Map<string, number>();
  readonly names: string[] = [];

  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  get size(): number {
    return this.names.length;
  }
}

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

  /** Append rows whose ids are numbered by another interner: `userIds[u]`, `trackIds[t]` are ours. */
  append(
    users: Uint32Array,
    tracks: Uint32Array,
    times: Float64Array,
    userIds: Uint32Array,
    trackIds: Uint32Array,
  ): void {
    while (this.length + users.length > this.users.length) this.grow();
    for (let i = 0; i < users.length; i++) {
      this.users[this.length + i] = userIds[users[i]!]!;
      this.tracks[this.length + i] = trackIds[tracks[i]!]!;
    }
    this.times.set(times, this.length);
    this.length += users.length;
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
export class StreamDays {
  readonly users = new Interner();
  readonly tracks = new Interner();
  readonly days = new Map<number, DayStreams>();

  /** Merge a file's rows parsed elsewhere (a worker), with its own id numbering. */
  merge(
    users: string[],
    tracks: string[],
    days: { day: number; users: Uint32Array; tracks: Uint32Array; times: Float64Array }[],
  ): void {
    const userIds = Uint32Array.from(users, (name) => this.users.id(name));
    const trackIds = Uint32Array.from(tracks, (name) => this.tracks.id(name));
    for (const d of days) {
      let rows = this.days.get(d.day);
      if (rows === undefined) {
        rows = new DayStreams(Math.max(1024, d.users.length));
        this.days.set(d.day, rows);
      }
      rows.append(d.users, d.tracks, d.times, userIds, trackIds);
    }
  }

  add(user: string, track: string, time: number): number {
    const day = utcDayOf(time);
    let rows = this.days.get(day);
    if (rows === undefined) {
      rows = new DayStreams();
      this.days.set(day, rows);
    }
    rows.push(this.users.id(user), this.tracks.id(track), time);
    return day;
  }
}

/**
 * The rows of a day grouped by user (a counting sort on the user number: linear), each user's
 * rows sorted by track then time: a user's exact duplicates end up side by side. Returns the row
 * order and where each user's group starts (`starts[u]` .. `starts[u + 1]`).
 */
export function groupByUser(rows: DayStreams, users: number): { order: Uint32Array; starts: Uint32Array } {
  const starts = new Uint32Array(users + 1);
  for (let i = 0; i < rows.length; i++) starts[rows.users[i]! + 1]!++;
  for (let u = 0; u < users; u++) starts[u + 1]! += starts[u]!;
  const next = starts.slice(0, users);
  const order = new Uint32Array(rows.length);
  for (let i = 0; i < rows.length; i++) order[next[rows.users[i]!]!++] = i;
  // Groups are mostly small (a user's plays of one day): insertion sort by (track, time); a large
  // one (a bot, a shared account) is sorted with a comparator instead.
  const { tracks, times } = rows;
  for (let u = 0; u < users; u++) {
    const end = starts[u + 1]!;
    if (end - starts[u]! > 64) {
      const group = Array.from(order.subarray(starts[u]!, end));
      group.sort((x, y) => tracks[x]! - tracks[y]! || times[x]! - times[y]!);
      order.set(group, starts[u]!);
      continue;
    }
    for (let a = starts[u]! + 1; a < end; a++) {
      const row = order[a]!;
      const t = tracks[row]!;
      const at = times[row]!;
      let b = a - 1;
      while (b >= starts[u]!) {
        const other = order[b]!;
        const ot = tracks[other]!;
        if (ot < t || (ot === t && times[other]! <= at)) break;
        order[b + 1] = other;
        b--;
      }
      order[b + 1] = row;
    }
  }
  return { order, starts };
}

/** Which of `parts` parts a user falls in: FNV-1a over the id's UTF-16 code units. */
export function userPart(user: string, parts: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < user.length; i++) h = Math.imul(h ^ user.charCodeAt(i), 0x01000193);
  return (h >>> 0) % parts;
}
