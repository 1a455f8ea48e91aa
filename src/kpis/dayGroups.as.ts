/**
 * The counting sort of a day's rows by user (loadDayGroups in formats/kpiPartials.ts), in
 * AssemblyScript, compiled to WebAssembly (`npm run build:wasm` writes dayGroups.wasm.ts;
 * dayGroups.ts loads it, lays its memory out and says why it is not JavaScript). Its two passes
 * over a chunk of a partial's rows: the users counted, then each row's track and time placed in
 * its user's group. Every address is the caller's; the state words at 0 say what a call found.
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

/** State: 1 when a row's user or track number was out of range (damage: the caller throws). */
const S_OUT_OF_RANGE: usize = 0;
/** State: the picked row at which placeRows stopped (a time not on a whole millisecond), or -1. */
const S_STOPPED: usize = 4;

const MS_PER_DAY: f64 = 86_400_000;

/** The rows of `[0, n)` kept, their indexes from `picked`: `kept` (a byte a user number) if not 0, else the numbered ones. */
function pick(users: usize, n: i32, userIds: usize, known: u32, kept: usize, picked: usize): i32 {
  let count = 0;
  for (let i = 0; i < n; i++) {
    store<i32>(picked + ((<usize>count) << 2), i);
    const u = load<u32>(users + ((<usize>i) << 2));
    // Without a branch on the row: kept or not, at random.
    const inRange = u < known;
    const slot = inRange ? u : 0;
    const keep =
      kept !== 0
        ? <i32>load<u8>(kept + <usize>slot) & 1
        : <i32>(load<i32>(userIds + ((<usize>slot) << 2)) >= 0);
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
 * its user's cursor (`counters + 4 * (id + 1)`, moved on) in `groupTracks` and `msTimes`. Stops at
 * the first row whose time is not on a whole millisecond of the day (S_STOPPED: its place among
 * the picked rows, listed at `picked`, none of it placed). Returns `sum` plus the mix of the ids
 * placed; a track number past `knownTracks`, or a row past `rows`, sets S_OUT_OF_RANGE.
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
  groupTracks: usize,
  msTimes: usize,
  rows: u32,
  dayStart: f64,
  sum: i32,
): i32 {
  let total = sum;
  store<i32>(S_STOPPED, -1);
  const count = pick(users, n, userIds, known, kept, picked);
  for (let k = 0; k < count; k++) {
    const i = <usize>load<i32>(picked + ((<usize>k) << 2));
    const time = load<f64>(times + (i << 3));
    const ms = (time - dayStart) / 1000;
    if (!(ms >= 0 && ms < MS_PER_DAY && ms === Math.floor(ms))) {
      store<i32>(S_STOPPED, k);
      return total;
    }
    const id = load<u32>(userIds + ((<usize>load<u32>(users + (i << 2))) << 2));
    if (id >= groups) {
      store<i32>(S_OUT_OF_RANGE, 1);
      continue;
    }
    const cursor = counters + ((<usize>id + 1) << 2);
    const at = load<u32>(cursor);
    store<u32>(cursor, at + 1);
    total += (<i32>id + 1) * 0x9e3779b1;
    const t = load<u32>(tracks + (i << 2));
    if (t >= knownTracks || at >= rows) {
      store<i32>(S_OUT_OF_RANGE, 1);
      continue;
    }
    store<u32>(groupTracks + ((<usize>at) << 2), load<u32>(trackIds + ((<usize>t) << 2)));
    store<u32>(msTimes + ((<usize>at) << 2), <u32>ms);
  }
  return total;
}
