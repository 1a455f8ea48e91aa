/**
 * The counting sort of a day's rows by user (loadDayGroups in formats/kpiPartials.ts), and the
 * groups' sums (aggregateDay in genreKpis.ts), in AssemblyScript, compiled to WebAssembly (`npm
 * run build:wasm` writes dayGroups.wasm.ts; dayGroups.ts loads it, lays its memory out and says
 * why it is not JavaScript). The sort's two passes over a chunk of a partial's rows: the users
 * counted (row by row, or as a histogram of a source's user numbers), then each row's track and
 * time placed in its user's group (found from its run number, or, for a source counted as a
 * histogram, from a cursor a user number: `cursorsOf`); then `aggregate` over the groups. Every
 * address is the caller's; the state words at 0 say what a call found.
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

/** State: 1 when a row's user or track number was out of range (damage: the caller throws). */
const S_OUT_OF_RANGE: usize = 0;
/** State: the picked row at which placeRows or placeByNumber stopped (a time not on a whole millisecond), or -1. */
const S_STOPPED: usize = 4;
/** State: what `aggregate` found, a u32 each (DayStreamCounts in genreKpis.ts). */
const S_DUPLICATES: usize = 8;
const S_UNKNOWN_TRACK: usize = 12;
const S_UNKNOWN_USER: usize = 16;
const S_COUNTED: usize = 20;

/** A user number's cursor when its rows are not placed (not kept, or none counted). */
const NO_CURSOR: u32 = 0xffffffff;

const MS_PER_DAY: f64 = 86_400_000;
const MS_PER_HOUR: u32 = 3_600_000;

/** 1 when user number `u` (in range) is kept: by `kept` (a byte a user number) if not 0, else when it is numbered. */
function keeps(u: u32, userIds: usize, kept: usize): i32 {
  return kept !== 0 ? <i32>load<u8>(kept + <usize>u) & 1 : <i32>(load<i32>(userIds + ((<usize>u) << 2)) >= 0);
}

/** The rows of `[0, n)` kept (keeps), their indexes from `picked`. */
function pick(users: usize, n: i32, userIds: usize, known: u32, kept: usize, picked: usize): i32 {
  let count = 0;
  for (let i = 0; i < n; i++) {
    store<i32>(picked + ((<usize>count) << 2), i);
    const u = load<u32>(users + ((<usize>i) << 2));
    // Without a branch on the row: kept or not, at random.
    const inRange = u < known;
    const keep = keeps(inRange ? u : 0, userIds, kept);
    count += inRange ? keep : 0;
  }
  return count;
}

/**
 * The first pass over a chunk of `n` user numbers at `users`: each kept row's user (its run
 * number, from `userIds`) counted at `counters + 4 * (id + 2)`. Returns `sum` plus a mix of the
 * ids counted (the second pass must see the same rows); a number past `known` sets S_OUT_OF_RANGE.
 */
export function countUsers(
  users: usize,
  n: i32,
  userIds: usize,
  known: u32,
  kept: usize,
  picked: usize,
  counters: usize,
  groups: u32,
  sum: i32,
): i32 {
  let total = sum;
  for (let i = 0; i < n; i++) {
    if (load<u32>(users + ((<usize>i) << 2)) >= known) store<i32>(S_OUT_OF_RANGE, 1);
  }
  const count = pick(users, n, userIds, known, kept, picked);
  for (let k = 0; k < count; k++) {
    const i = <usize>load<i32>(picked + ((<usize>k) << 2));
    const id = load<u32>(userIds + ((<usize>load<u32>(users + (i << 2))) << 2));
    if (id >= groups) {
      store<i32>(S_OUT_OF_RANGE, 1);
      continue;
    }
    const at = counters + ((<usize>id + 2) << 2);
    store<u32>(at, load<u32>(at) + 1);
    total += (<i32>id + 1) * 0x9e3779b1;
  }
  return total;
}

/**
 * The first pass as a histogram, for a source of few user numbers against its rows: each of the `n`
 * user numbers at `users` counted at `histogram` (u32 a number, zeroed by the caller before the
 * source's first chunk), whether its row is kept or not (`foldUsers` tells, a number at a time
 * rather than a row at a time); a number past `known` sets S_OUT_OF_RANGE and is not counted.
 */
export function histogramUsers(users: usize, n: i32, known: u32, histogram: usize): void {
  let bad: u32 = 0;
  for (let i = 0; i < n; i++) {
    const u = load<u32>(users + ((<usize>i) << 2));
    // Without a branch on the row: a number out of range adds 0 at slot 0.
    const inRange = u < known;
    bad |= inRange ? 0 : 1;
    const at = histogram + ((<usize>(inRange ? u : 0)) << 2);
    store<u32>(at, load<u32>(at) + (inRange ? 1 : 0));
  }
  if (bad !== 0) store<i32>(S_OUT_OF_RANGE, 1);
}

/**
 * A source's histogram (histogramUsers) counted into the groups' counters as countUsers counts its
 * rows: the kept numbers only (keeps, as pick keeps rows), each its count at `counters + 4 * (id +
 * 2)`; the count of a number not kept made 0 (cursorsOf reads the histogram next). Returns `sum`
 * plus a mix of the user numbers counted (count times (u + 1) * 0x9e3779b1, modulo 2^32, as
 * placeByNumber adds a row at a time); an id past `groups` sets S_OUT_OF_RANGE.
 */
export function foldUsers(
  histogram: usize,
  known: u32,
  userIds: usize,
  kept: usize,
  counters: usize,
  groups: u32,
  sum: i32,
): i32 {
  let total = sum;
  for (let u: u32 = 0; u < known; u++) {
    const slot = histogram + ((<usize>u) << 2);
    const count = load<u32>(slot);
    if (count === 0) continue;
    if (keeps(u, userIds, kept) === 0) {
      store<u32>(slot, 0);
      continue;
    }
    const id = load<u32>(userIds + ((<usize>u) << 2));
    if (id >= groups) {
      store<i32>(S_OUT_OF_RANGE, 1);
      store<u32>(slot, 0);
      continue;
    }
    const at = counters + ((<usize>id + 2) << 2);
    store<u32>(at, load<u32>(at) + count);
    total += <i32>count * ((<i32>u + 1) * 0x9e3779b1);
  }
  return total;
}

/**
 * A source's folded histogram (foldUsers) made, in place, a cursor a user number for its second
 * pass (placeByNumber): where its next row goes in its group (`counters + 4 * (id + 1)`, the
 * group's cursor, then moved past the source's rows of that user), or NO_CURSOR when it has no row
 * to place. The second pass then finds a row's place from its user number alone, with one load
 * (not the number's run id, then the id's cursor: two loads at random, of 8 MB each at 2M users).
 */
export function cursorsOf(histogram: usize, known: u32, userIds: usize, counters: usize): void {
  for (let u: u32 = 0; u < known; u++) {
    const slot = histogram + ((<usize>u) << 2);
    const count = load<u32>(slot);
    if (count === 0) {
      store<u32>(slot, NO_CURSOR);
      continue;
    }
    const at = counters + ((<usize>load<u32>(userIds + ((<usize>u) << 2)) + 1) << 2);
    const cursor = load<u32>(at);
    store<u32>(at, cursor + count);
    store<u32>(slot, cursor);
  }
}

/** The counts made group starts: counter u + 1 += counter u, for u in 1 .. groups; returns the rows. */
export function startsOf(counters: usize, groups: i32): u32 {
  for (let u = 1; u <= groups; u++) {
    const at = counters + ((<usize>u + 1) << 2);
    store<u32>(at, load<u32>(at) + load<u32>(at - 4));
  }
  return load<u32>(counters + ((<usize>groups + 1) << 2));
}

/**
 * The second pass over a chunk of `n` rows (users, tracks, times): each kept row's track (its run
 * number, from `trackIds`) and its time, in milliseconds since `dayStart` (microseconds), placed at
 * its user's cursor (`counters + 4 * (id + 1)`, moved on) in `pairs`, as one 8-byte pair (the
 * track, then the time: u32 each), so that a row's place is one store to one line, not two
 * stores to lines of two columns (the pass is a store to a random place a row). Stops at
 * the first row whose time is not on a whole millisecond of the day (S_STOPPED: its place among
 * the picked rows, listed at `picked`, none of it placed; the rows before it are). Returns `sum`
 * plus the mix of the ids placed; a track number past `knownTracks`, or a row past `rows`, sets
 * S_OUT_OF_RANGE. The pairs go through `stage` (16 bytes a row of the chunk: stagePair).
 */
export function placeRows(
  users: usize,
  tracks: usize,
  times: usize,
  n: i32,
  userIds: usize,
  known: u32,
  kept: usize,
  trackIds: usize,
  knownTracks: u32,
  picked: usize,
  counters: usize,
  groups: u32,
  pairs: usize,
  rows: u32,
  stage: usize,
  dayStart: f64,
  sum: i32,
): i32 {
  let total = sum;
  store<i32>(S_STOPPED, -1);
  const count = pick(users, n, userIds, known, kept, picked);
  let staged: usize = 0;
  for (let k = 0; k < count; k++) {
    const i = <usize>load<i32>(picked + ((<usize>k) << 2));
    const ms = millisOf(load<f64>(times + (i << 3)), dayStart);
    if (ms < 0) {
      store<i32>(S_STOPPED, k);
      break;
    }
    const id = load<u32>(userIds + ((<usize>load<u32>(users + (i << 2))) << 2));
    if (id >= groups) {
      store<i32>(S_OUT_OF_RANGE, 1);
      continue;
    }
    total += (<i32>id + 1) * 0x9e3779b1;
    const cursor = counters + ((<usize>id + 1) << 2);
    const t = load<u32>(tracks + (i << 2));
    staged += stageAt(cursor, t, <u32>ms, trackIds, knownTracks, rows, stage, staged);
  }
  scatter(stage, staged, pairs);
  return total;
}

/**
 * placeRows for a source whose first pass was a histogram: a kept row's place is its user number's
 * cursor (cursorsOf, at `cursors`: `known` of them, NO_CURSOR for a number not kept), moved on;
 * the mix added is of the user numbers placed (as foldUsers counted them). The rest as placeRows:
 * it stops likewise, and a track number past `knownTracks` or a row past `rows` sets
 * S_OUT_OF_RANGE.
 */
export function placeByNumber(
  users: usize,
  tracks: usize,
  times: usize,
  n: i32,
  cursors: usize,
  known: u32,
  trackIds: usize,
  knownTracks: u32,
  picked: usize,
  pairs: usize,
  rows: u32,
  stage: usize,
  dayStart: f64,
  sum: i32,
): i32 {
  let total = sum;
  store<i32>(S_STOPPED, -1);
  let count = 0;
  for (let i = 0; i < n; i++) {
    store<i32>(picked + ((<usize>count) << 2), i);
    const u = load<u32>(users + ((<usize>i) << 2));
    // Without a branch on the row, as pick: a number out of range reads slot 0 and is not kept.
    const inRange = u < known;
    const cursor = load<u32>(cursors + ((<usize>(inRange ? u : 0)) << 2));
    count += inRange && cursor !== NO_CURSOR ? 1 : 0;
  }
  let staged: usize = 0;
  for (let k = 0; k < count; k++) {
    const i = <usize>load<i32>(picked + ((<usize>k) << 2));
    const ms = millisOf(load<f64>(times + (i << 3)), dayStart);
    if (ms < 0) {
      store<i32>(S_STOPPED, k);
      break;
    }
    const u = load<u32>(users + (i << 2));
    total += (<i32>u + 1) * 0x9e3779b1;
    const t = load<u32>(tracks + (i << 2));
    staged += stageAt(cursors + ((<usize>u) << 2), t, <u32>ms, trackIds, knownTracks, rows, stage, staged);
  }
  scatter(stage, staged, pairs);
  return total;
}

/** A listen time (microseconds) in whole milliseconds since `dayStart`, or -1 when it is not one of that day's. */
function millisOf(time: f64, dayStart: f64): f64 {
  const ms = (time - dayStart) / 1000;
  return ms >= 0 && ms < MS_PER_DAY && ms === Math.floor(ms) ? ms : -1;
}

/**
 * A kept row (its track number `t`, its time `ms`) staged at the place the cursor at `cursor` holds,
 * the cursor moved on: returns 1, or 0 with S_OUT_OF_RANGE set for a track number past
 * `knownTracks` or a place past `rows` (nothing staged). Both second passes, whichever cursor.
 */
function stageAt(
  cursor: usize,
  t: u32,
  ms: u32,
  trackIds: usize,
  knownTracks: u32,
  rows: u32,
  stage: usize,
  staged: usize,
): usize {
  const at = load<u32>(cursor);
  store<u32>(cursor, at + 1);
  if (t >= knownTracks || at >= rows) {
    store<i32>(S_OUT_OF_RANGE, 1);
    return 0;
  }
  stagePair(stage, staged, at, load<u32>(trackIds + ((<usize>t) << 2)), ms);
  return 1;
}

/**
 * A row's pair (its track, then its time) staged with its place, as record `k` of 16 bytes at
 * `stage` (a chunk's rows at most): the pass computes every place first and `scatter` then stores
 * the pairs in a loop of stores alone, where a store to a random place in the middle of the pass's
 * loads cost twice as much (a part of 5M rows: 256 against 200 ms for the pass).
 */
function stagePair(stage: usize, k: usize, at: u32, track: u32, ms: u32): void {
  const record = stage + (k << 4);
  store<u64>(record, <u64>track | ((<u64>ms) << 32));
  store<u32>(record, at, 8);
}

/** The `staged` pairs at `stage` stored at their places in `pairs`. */
function scatter(stage: usize, staged: usize, pairs: usize): void {
  for (let k: usize = 0; k < staged; k++) {
    const record = stage + (k << 4);
    store<u64>(pairs + ((<usize>load<u32>(record, 8)) << 3), load<u64>(record));
  }
}

/** The most rows of a group, of the `users` groups whose starts are at `starts` (u32, users + 1). */
export function largestGroup(starts: usize, users: i32): u32 {
  let most: u32 = 0;
  let start = load<u32>(starts);
  for (let u = 1; u <= users; u++) {
    const end = load<u32>(starts + ((<usize>u) << 2));
    const n = end - start;
    most = n > most ? n : most;
    start = end;
  }
  return most;
}

/**
 * aggregateDay's loop (genreKpis.ts, whose comments say what it counts and why), over the groups
 * this kernel placed: user u's rows are the (track, milliseconds of the day) pairs of `pairs` from
 * `starts[u]` to `starts[u + 1]`. A track's genres are `trackGenres[trackFrom[t] ..
 * trackFrom[t + 1])`, their durations at the same places of `durations` (f64); `known` a byte a
 * track (1: in a songs file). Adds into `listen`, `total`, `unique` (f64) and `lastListener`
 * (u32), bucket * `genres` + genre, and into `plays` (u32), bucket * `tracks` + track, all zeroed
 * by the caller; a bucket is the UTC hour when `hourly`, else 0. A user's (track, time) pairs are
 * in a set of `setMask + 1` slots (rows at `setRows`, stamps at `setStamps`, zeroed by the caller,
 * at least twice the largest group). The counts go to the state words; a track number past
 * `tracks` sets S_OUT_OF_RANGE (damage: none is placed so).
 */
export function aggregate(
  starts: usize,
  users: i32,
  pairs: usize,
  knownUsers: u32,
  trackFrom: usize,
  trackGenres: usize,
  durations: usize,
  known: usize,
  tracks: u32,
  genres: u32,
  hourly: i32,
  listen: usize,
  total: usize,
  unique: usize,
  lastListener: usize,
  plays: usize,
  setRows: usize,
  setStamps: usize,
  setMask: u32,
): void {
  let duplicates: u32 = 0;
  let unknownTrack: u32 = 0;
  let unknownUser: u32 = 0;
  let counted: u32 = 0;
  let start = load<u32>(starts);
  for (let u = 0; u < users; u++) {
    const end = load<u32>(starts + ((<usize>u + 1) << 2));
    // The set's stamp and the listener mark of user u, unique within the call (both zeroed).
    const stamp = <u32>u + 1;
    const knownUser = <u32>u < knownUsers;
    for (let i = start; i < end; i++) {
      const pair = load<u64>(pairs + ((<usize>i) << 3));
      const track = <u32>pair;
      const time = <u32>(pair >> 32);
      let h = (track ^ (time * 0x9e3779b1)) * 0x85ebca6b;
      h ^= h >>> 15;
      let slot = h & setMask;
      let duplicate = false;
      for (;;) {
        const at = (<usize>slot) << 2;
        if (load<u32>(setStamps + at) !== stamp) {
          store<u32>(setStamps + at, stamp);
          store<u32>(setRows + at, i);
          break;
        }
        if (load<u64>(pairs + ((<usize>load<u32>(setRows + at)) << 3)) === pair) {
          duplicate = true;
          break;
        }
        slot = (slot + 1) & setMask;
      }
      if (duplicate) {
        duplicates++;
        continue;
      }
      if (track >= tracks) {
        store<i32>(S_OUT_OF_RANGE, 1);
        continue;
      }
      if (load<u8>(known + <usize>track) === 0) {
        unknownTrack++;
        continue;
      }
      counted++;
      if (!knownUser) unknownUser++;
      const bucket: u32 = hourly !== 0 ? time / MS_PER_HOUR : 0;
      const key = (<usize>(bucket * tracks + track)) << 2;
      store<u32>(plays + key, load<u32>(plays + key) + 1);
      const from = load<u32>(trackFrom + ((<usize>track) << 2));
      const to = load<u32>(trackFrom + ((<usize>track + 1) << 2));
      for (let e = from; e < to; e++) {
        const k = <usize>(bucket * genres + load<u32>(trackGenres + ((<usize>e) << 2)));
        store<f64>(listen + (k << 3), load<f64>(listen + (k << 3)) + 1);
        store<f64>(total + (k << 3), load<f64>(total + (k << 3)) + load<f64>(durations + ((<usize>e) << 3)));
        if (load<u32>(lastListener + (k << 2)) !== stamp) {
          store<u32>(lastListener + (k << 2), stamp);
          store<f64>(unique + (k << 3), load<f64>(unique + (k << 3)) + 1);
        }
      }
    }
    start = end;
  }
  store<u32>(S_DUPLICATES, duplicates);
  store<u32>(S_UNKNOWN_TRACK, unknownTrack);
  store<u32>(S_UNKNOWN_USER, unknownUser);
  store<u32>(S_COUNTED, counted);
}
