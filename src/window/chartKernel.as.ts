/**
 * The window's charts from spans of 'words' blocks, in AssemblyScript, compiled to WebAssembly
 * (`npm run build:wasm` writes chartKernel.wasm.ts; chartKernel.ts loads it, lays its memory out
 * and says when it is used and why it is not JavaScript): a user range's rows of text, or a window
 * partition's country charts as records. The algorithm is mergeTopK.ts's: cursors grouped, a heap
 * of groups, each key's day runs decoded, merged in pairwise rounds without a branch on the
 * comparison, ranked by a counting sort on plays (or a heap of the k best, where the plays are too
 * large for the histogram), then written; a key of many entries (a country's week) ranked from the
 * few songs that can reach its chart instead of merged (rankFromCandidates). What it does not
 * handle (a key of more entries than its room, a day entry of 2^23 plays or more, a truncated
 * group) stops it: the caller merges those spans in JavaScript instead. Every address is the
 * caller's.
 *
 * An entry is one u64: its song in the high word, its plays in the low word, so that a merge step
 * moves one value and the sum of equal songs is one addition.
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

/** The bytes at the start of the memory this kernel uses itself: "00".."99" as byte pairs. */
export const FIXED_BYTES: i32 = 256;
const DIGIT_PAIRS: usize = 0;

/** What `run` returns. */
const DONE: i32 = 0;
const TEXT_FULL: i32 = 1;
const CANNOT: i32 = 2;

/** A key past the range, or a cursor with no key left. */
const NO_KEY: u64 = 0xffffffffffffffff;
/** A day entry's most plays: a key's sums of up to MAX_RUNS runs stay below 2^32. */
const MOST_PLAYS: u32 = 1 << 23;
const MAX_RUNS: i32 = 511;
const LOW_WORD: u64 = 0xffffffff;

// The layout (set by `open`): per cursor, its next group's address (u32), its span's end (u32), its
// key (u64) and the group's song count (u32); per group of cursors its first cursor (i32, groups +
// 1 of them), its least key (u64) and the heap of groups (i32); the active cursors (i32) and the
// runs' starts (i32, cursors + 1); two entry arrays of `room` u64; the histogram (i32, 2 * room +
// 1026); the chart (k u64). The text window at `text`, past them.
let cursors: i32 = 0;
let groups: i32 = 0;
let posAt: usize = 0;
let endAt: usize = 0;
let keyAt: usize = 0;
let countAt: usize = 0;
let groupStartAt: usize = 0;
let groupKeyAt: usize = 0;
let heapAt: usize = 0;
let activeAt: usize = 0;
let runStartAt: usize = 0;
let entriesA: usize = 0;
let entriesB: usize = 0;
let slotsAt: usize = 0;
let chartAt: usize = 0;
let textAt: usize = 0;
let room: i32 = 0;
let textRoom: i32 = 0;
let k: i32 = 0;
let high: u64 = 0;
/** Each key's chart written as a record (key, count, entries: u64 each), not as a text row. */
let records = false;

let heapSize: i32 = 0;
/** The histogram's slots known to be zero since `open` (rank zeroes more as it needs them). */
let zeroedSlots: usize = 0;
/** Bytes of the text window written by the last `run`. */
let textLength: i32 = 0;
/** A ranked key not yet written (the window was full): its key and its chart's length. */
let pendingKey: u64 = NO_KEY;
let pendingCount: i32 = 0;
/** Keys written, keys ranked from candidates and day entries read since `open`. */
let keysDone: i32 = 0;
let candidateKeys: i32 = 0;
let entriesDone: f64 = 0;

/**
 * A key of at least this many day entries, and CANDIDATES_PER_RANK times the chart's length, is
 * first ranked from candidates (rankFromCandidates), as mergeTopK.ts ranks it: a country's week in
 * one window partition holds up to hundreds of thousands of entries for a chart of 50.
 */
const CANDIDATES_FROM: i32 = 2048;
const CANDIDATES_PER_RANK: i32 = 16;

/** The digit pairs; called once per instance. */
export function init(): void {
  for (let i = 0; i < 100; i++) {
    store<u8>(DIGIT_PAIRS + 2 * <usize>i, <u8>(48 + i / 10));
    store<u8>(DIGIT_PAIRS + 2 * <usize>i + 1, <u8>(48 + (i % 10)));
  }
}

/** Bytes written to the text window by the last `run`. */
export function written(): i32 {
  return textLength;
}

/** Keys written since `open`. */
export function keys(): i32 {
  return keysDone;
}

/** Keys ranked from candidates since `open` (rankFromCandidates). */
export function candidates(): i32 {
  return candidateKeys;
}

/** Day entries read since `open`. */
export function entries(): f64 {
  return entriesDone;
}

/**
 * Start a range: the layout's address (see above), its cursors' spans already set (a cursor's
 * next-group address at its span's start, its end, its key at its span's base, in group order),
 * `firsts` the groups' first cursors (groups + 1). Reads each cursor's first group past `low`.
 * Returns DONE, or CANNOT (a truncated group).
 */
export function open(
  cursorCount: i32,
  groupCount: i32,
  layout: usize,
  entryRoom: i32,
  textBytes: i32,
  chartLength: i32,
  text: usize,
  low: f64,
  below: f64,
  asRecords: i32,
): i32 {
  records = asRecords !== 0;
  cursors = cursorCount;
  groups = groupCount;
  room = entryRoom;
  textRoom = textBytes;
  k = chartLength;
  posAt = layout;
  endAt = posAt + 4 * <usize>cursors;
  keyAt = align8(endAt + 4 * <usize>cursors);
  countAt = keyAt + 8 * <usize>cursors;
  groupStartAt = countAt + 4 * <usize>cursors;
  groupKeyAt = align8(groupStartAt + 4 * (<usize>groups + 1));
  heapAt = groupKeyAt + 8 * <usize>groups;
  activeAt = heapAt + 4 * <usize>groups;
  runStartAt = activeAt + 4 * <usize>cursors;
  entriesA = align8(runStartAt + 4 * (<usize>cursors + 1));
  entriesB = entriesA + 8 * <usize>room;
  slotsAt = entriesB + 8 * <usize>room;
  chartAt = align8(slotsAt + 4 * (2 * <usize>room + 1026));
  textAt = text;
  const lowKey: u64 = low <= 0 ? 0 : <u64>Math.ceil(low);
  high = below >= 18446744073709551615.0 ? NO_KEY : <u64>Math.ceil(below);
  // The histogram is zeroed as rank first needs it (zeroedSlots), not here: a country partition's
  // is 8 MB, of which its keys use a few; zeroing it whole made every page of it the thread's.
  zeroedSlots = 0;
  heapSize = 0;
  textLength = 0;
  pendingKey = NO_KEY;
  keysDone = 0;
  candidateKeys = 0;
  entriesDone = 0;
  for (let c = 0; c < cursors; c++) {
    const end = load<u32>(endAt + 4 * <usize>c);
    let pos = load<u32>(posAt + 4 * <usize>c);
    if (pos >= end) {
      store<u64>(keyAt + 8 * <usize>c, NO_KEY);
      continue;
    }
    if (!readHeader(c, pos)) return CANNOT;
    while (load<u64>(keyAt + 8 * <usize>c) < lowKey) {
      pos = skipGroup(load<u32>(posAt + 4 * <usize>c), load<u32>(countAt + 4 * <usize>c), end);
      if (pos > end) return CANNOT;
      if (pos === end) break;
      if (!readHeader(c, pos)) return CANNOT;
    }
    if (pos === end || load<u64>(keyAt + 8 * <usize>c) >= high) store<u64>(keyAt + 8 * <usize>c, NO_KEY);
  }
  for (let g = 0; g < groups; g++) settle(g);
  return DONE;
}

/**
 * Merge, rank and write keys into the text window from its start until the range is done (DONE),
 * the window is full (TEXT_FULL: take `written()` bytes, then call again) or a key cannot be
 * handled here (CANNOT).
 */
export function run(): i32 {
  textLength = 0;
  if (pendingKey !== NO_KEY) {
    if (!emit(pendingKey, pendingCount)) return CANNOT;
    pendingKey = NO_KEY;
  }
  while (heapSize > 0) {
    const g = load<i32>(heapAt);
    const key = load<u64>(groupKeyAt + 8 * <usize>g);
    heapSize--;
    if (heapSize > 0) siftDown(load<i32>(heapAt + 4 * <usize>heapSize));
    const runs = activate(g, key);
    if (runs > MAX_RUNS) return CANNOT;
    const total = decode(runs);
    if (total < 0) return CANNOT;
    settle(g);
    entriesDone += <f64>total;
    let n =
      runs > 1 && total >= CANDIDATES_FROM && total >= CANDIDATES_PER_RANK * k
        ? rankFromCandidates(runs, total)
        : -1;
    if (n >= 0) candidateKeys++;
    else {
      let from = entriesA;
      let m = total;
      if (runs > 1) {
        m = mergeRuns(runs);
        if (m < 0) {
          m = -m;
          from = entriesB;
        }
      }
      n = rank(from, m);
    }
    keysDone++;
    if (!emit(key, n)) {
      if (textLength === 0) return CANNOT;
      pendingKey = key;
      pendingCount = n;
      return TEXT_FULL;
    }
  }
  return DONE;
}

function align8(at: usize): usize {
  return (at + 7) & ~(<usize>7);
}

/** A varint at `pos`'s value (below 2^35) and the position after it, or false past `end`. */
let varintValue: u64 = 0;
function varint(pos: u32, end: u32): u32 {
  let value: u64 = 0;
  let shift: u64 = 0;
  for (;;) {
    if (pos >= end || shift > 28) return 0;
    const byte = <u64>load<u8>(pos++);
    value |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  varintValue = value;
  return pos;
}

/** Cursor c's group header at `pos`: its key (from the cursor's key) and song count. */
function readHeader(c: i32, pos: u32): bool {
  const end = load<u32>(endAt + 4 * <usize>c);
  pos = varint(pos, end);
  if (pos === 0) return false;
  const delta = varintValue;
  pos = varint(pos, end);
  if (pos === 0) return false;
  store<u64>(keyAt + 8 * <usize>c, load<u64>(keyAt + 8 * <usize>c) + delta);
  store<u32>(countAt + 4 * <usize>c, <u32>varintValue);
  store<u32>(posAt + 4 * <usize>c, pos);
  return true;
}

/**
 * The position after a group's `n` songs and plays from `pos` (its padding first); past `end` when
 * the group runs past it.
 */
function skipGroup(pos: u32, n: u32, end: u32): u32 {
  pos = ((pos + 3) & ~3) + 4 * n;
  for (let i: u32 = 0; i < n; i++) {
    for (;;) {
      if (pos >= end) return end + 1;
      if (load<u8>(pos++) < 0x80) break;
    }
  }
  return pos;
}

/** Group g's cursors at `key` into the active list; returns how many. */
function activate(g: i32, key: u64): i32 {
  let n = 0;
  const last = load<i32>(groupStartAt + 4 * (<usize>g + 1));
  for (let c = load<i32>(groupStartAt + 4 * <usize>g); c < last; c++) {
    if (load<u64>(keyAt + 8 * <usize>c) === key) {
      store<i32>(activeAt + 4 * <usize>n, c);
      n++;
    }
  }
  return n;
}

/**
 * The active cursors' groups decoded into entriesA, one run each (runStart), the cursors moved to
 * their next group; returns the entries, or -1 (more than `room`, plays past MOST_PLAYS, a group
 * past its span's end).
 */
function decode(runs: i32): i32 {
  let at = 0;
  for (let a = 0; a < runs; a++) {
    const c = load<i32>(activeAt + 4 * <usize>a);
    const n = <i32>load<u32>(countAt + 4 * <usize>c);
    const end = load<u32>(endAt + 4 * <usize>c);
    store<i32>(runStartAt + 4 * <usize>a, at);
    if (n > room - at) return -1;
    const songs = (load<u32>(posAt + 4 * <usize>c) + 3) & ~3;
    let p = songs + 4 * <u32>n;
    if (p > end) return -1;
    let out = entriesA + 8 * <usize>at;
    for (let i = 0; i < n; i++) {
      let byte = <u32>load<u8>(p++);
      let plays = byte & 0x7f;
      let shift: u32 = 7;
      while (byte >= 0x80) {
        byte = <u32>load<u8>(p++);
        plays |= (byte & 0x7f) << shift;
        shift += 7;
        if (shift > 21) {
          if (byte >= 0x80) return -1;
          break;
        }
      }
      if (plays >= MOST_PLAYS) return -1;
      store<u64>(out, ((<u64>load<u32>(songs + 4 * <u32>i)) << 32) | <u64>plays);
      out += 8;
    }
    if (p > end) return -1;
    at += n;
    if (p < end) {
      if (!readHeader(c, p)) return -1;
      if (load<u64>(keyAt + 8 * <usize>c) >= high) store<u64>(keyAt + 8 * <usize>c, NO_KEY);
    } else store<u64>(keyAt + 8 * <usize>c, NO_KEY);
  }
  store<i32>(runStartAt + 4 * <usize>runs, at);
  return at;
}

/**
 * The runs merged into one list by song, the plays of equal songs summed: pairwise rounds of
 * two-way merges between entriesA and entriesB. Returns the distinct songs: positive when they end
 * in entriesA, negated when in entriesB.
 */
function mergeRuns(runs: i32): i32 {
  let from = entriesA;
  let to = entriesB;
  let inB = false;
  while (runs > 1) {
    let out: usize = 0;
    let next = 0;
    for (let r = 0; r < runs; r += 2) {
      const start = out;
      let i = <usize>load<i32>(runStartAt + 4 * <usize>r);
      const iEnd = <usize>load<i32>(runStartAt + 4 * (<usize>r + 1));
      if (r + 1 === runs) {
        for (; i < iEnd; i++) store<u64>(to + 8 * out++, load<u64>(from + 8 * i));
      } else {
        const jEnd = <usize>load<i32>(runStartAt + 4 * (<usize>r + 2));
        out = mergePair(from + 8 * i, from + 8 * iEnd, from + 8 * jEnd, to, out);
      }
      store<i32>(runStartAt + 4 * <usize>next, <i32>start);
      next++;
    }
    store<i32>(runStartAt + 4 * <usize>next, <i32>out);
    runs = next;
    const swap = from;
    from = to;
    to = swap;
    inB = !inB;
  }
  const m = load<i32>(runStartAt + 4);
  return inB ? -m : m;
}

/**
 * Two runs, [a, b) and [b, end) (addresses), merged into `to` from entry `out`, the plays of equal
 * songs summed; returns the entry after the last written. Without a branch on the comparison
 * (which run holds the next song is a coin toss): take a when its song <= b's, b when b's <= a's,
 * and both, summed, when equal. From both ends at once: each step waits on the one before it
 * (its loads on the comparison), so two chains, the smallest songs written forward and the
 * largest backward from the end of the room both runs fill, keep the core busy twice as often;
 * what is left between them is merged forward, then the backward part moved down after it. They
 * meet without sharing an entry: each side takes only entries the other has not, and a song that
 * is in both runs is taken by one side as a pair.
 */
function mergePair(a: usize, b: usize, end: usize, to: usize, out: usize): usize {
  let pa = a;
  let pb = b;
  // The backward heads, inclusive: below pa (or pb) when a run is empty.
  let qa = b - 8;
  let qb = end - 8;
  let po = to + 8 * out;
  const room = po + (end - a);
  let qo = room;
  while (pa < qa && pb < qb) {
    const x = load<u64>(pa);
    const y = load<u64>(pb);
    const takeX = x >> 32 <= y >> 32;
    const takeY = y >> 32 <= x >> 32;
    store<u64>(po, select<u64>(x, y, takeX) + select<u64>(y & LOW_WORD, 0, takeX & takeY));
    po += 8;
    pa += (<usize>takeX) << 3;
    pb += (<usize>takeY) << 3;
    const u = load<u64>(qa);
    const v = load<u64>(qb);
    const backU = u >> 32 >= v >> 32;
    const backV = v >> 32 >= u >> 32;
    qo -= 8;
    store<u64>(qo, select<u64>(u, v, backU) + select<u64>(v & LOW_WORD, 0, backU & backV));
    qa -= (<usize>backU) << 3;
    qb -= (<usize>backV) << 3;
  }
  while (pa <= qa && pb <= qb) {
    const x = load<u64>(pa);
    const y = load<u64>(pb);
    const takeX = x >> 32 <= y >> 32;
    const takeY = y >> 32 <= x >> 32;
    store<u64>(po, select<u64>(x, y, takeX) + select<u64>(y & LOW_WORD, 0, takeX & takeY));
    po += 8;
    pa += (<usize>takeX) << 3;
    pb += (<usize>takeY) << 3;
  }
  for (; pa <= qa; pa += 8, po += 8) store<u64>(po, load<u64>(pa));
  for (; pb <= qb; pb += 8, po += 8) store<u64>(po, load<u64>(pb));
  const back = room - qo;
  memory.copy(po, qo, back);
  return (po + back - to) >> 3;
}

/**
 * The best k of the `m` entries at `from` (ascending by song), best first, into the chart: a
 * counting sort on plays, descending, which keeps equal plays in song order; or, when the plays
 * are too large for the histogram (more than 2m + 1024, as mergeTopK's rank), rankByHeap.
 * Returns how many.
 */
function rank(from: usize, m: i32): i32 {
  // The histogram is all zeros between keys up to zeroedSlots (zeroed here as a key first needs
  // it, and after each use), its slots 0 to limit used.
  const limit = <u64>(2 * m + 1024);
  if (<usize>limit + 1 > zeroedSlots) {
    memory.fill(slotsAt + 4 * zeroedSlots, 0, 4 * (<usize>limit + 1 - zeroedSlots));
    zeroedSlots = <usize>limit + 1;
  }
  let most: u32 = 0;
  for (let i = 0; i < m; i++) {
    const p = <u32>(load<u64>(from + 8 * <usize>i) & LOW_WORD);
    if (<u64>p > limit) {
      memory.fill(slotsAt, 0, 4 * (<usize>most + 1));
      return rankByHeap(from, m);
    }
    most = max(most, p);
    const at = slotsAt + 4 * <usize>p;
    store<i32>(at, load<i32>(at) + 1);
  }
  let before = 0;
  for (let p = most; p > 0; p--) {
    const at = slotsAt + 4 * <usize>p;
    const n = load<i32>(at);
    store<i32>(at, before);
    before += n;
  }
  for (let i = 0; i < m; i++) {
    const e = load<u64>(from + 8 * <usize>i);
    const slot = slotsAt + 4 * <usize>(e & LOW_WORD);
    const at = load<i32>(slot);
    if (at < k) store<u64>(chartAt + 8 * <usize>at, e);
    store<i32>(slot, at + 1);
  }
  memory.fill(slotsAt, 0, 4 * (<usize>most + 1));
  return m < k ? m : k;
}

/**
 * The current key ranked from the few songs that can reach its top k, its runs (decoded in
 * entriesA) not merged; mergeTopK.ts' rankFromCandidates, whose proof this follows:
 *
 * 1. A lower bound of the k-th best total: the k best songs of the longest run (k distinct songs),
 *    with their totals over every run; the least of those totals. At least k songs reach it.
 * 2. A song whose total reaches the bound has, in one of the `runs` runs, at least bound / runs
 *    plays: the entries with that many are the candidates; every song of the top k (ties at the
 *    k-th total included) is one of them, and any other song's total is below the bound.
 * 3. The distinct candidates, ascending by song, with their exact totals (a binary search in each
 *    run), ranked as a merged key is.
 *
 * Returns the chart's length, or -1 (the key left to the merge, entriesA as it was) when the
 * longest run is shorter than k or the candidates are more than a quarter of the entries (a flat
 * key: small plays everywhere), where the merge is the cheaper.
 */
function rankFromCandidates(runs: i32, total: i32): i32 {
  let longest = 0;
  let longestLength = 0;
  for (let r = 0; r < runs; r++) {
    const length = load<i32>(runStartAt + 4 * (<usize>r + 1)) - load<i32>(runStartAt + 4 * <usize>r);
    if (length > longestLength) {
      longest = r;
      longestLength = length;
    }
  }
  if (longestLength < k) return -1;
  // The longest run's k best songs (a run is ascending by song, as rank asks) into the chart.
  const seeds = rank(entriesA + 8 * <usize>load<i32>(runStartAt + 4 * <usize>longest), longestLength);
  let bound: u32 = 0xffffffff;
  for (let j = 0; j < seeds; j++) bound = min(bound, totalOf(runs, load<u64>(chartAt + 8 * <usize>j) >> 32));
  const least = (bound + <u32>runs - 1) / <u32>runs;
  if (least <= 1) return -1;
  // The candidates' entries into entriesB, without a branch on whether each is one.
  let c: usize = 0;
  for (let i = 0; i < total; i++) {
    const e = load<u64>(entriesA + 8 * <usize>i);
    store<u64>(entriesB + 8 * c, e);
    c += <usize>(<u32>(e & LOW_WORD) >= least);
  }
  if (c > <usize>(total >> 2)) return -1;
  sortEntries(entriesB, c);
  // The distinct songs in place, each with its total over every run (below 2^32: MOST_PLAYS).
  let m: usize = 0;
  let previous = NO_KEY;
  for (let i: usize = 0; i < c; i++) {
    const song = load<u64>(entriesB + 8 * i) >> 32;
    if (song === previous) continue;
    previous = song;
    store<u64>(entriesB + 8 * m++, (song << 32) | <u64>totalOf(runs, song));
  }
  return rank(entriesB, <i32>m);
}

/**
 * A song's plays summed over the current key's runs (decoded in entriesA, each ascending by song):
 * in each run a binary search without a branch on the comparison (the last entry at or below the
 * song), then whether it is the song.
 */
function totalOf(runs: i32, song: u64): u32 {
  let sum: u32 = 0;
  for (let r = 0; r < runs; r++) {
    let at = <usize>load<i32>(runStartAt + 4 * <usize>r);
    let n = <usize>load<i32>(runStartAt + 4 * (<usize>r + 1)) - at;
    if (n === 0) continue;
    while (n > 1) {
      const half = n >> 1;
      at += select<usize>(half, 0, load<u64>(entriesA + 8 * (at + half)) >> 32 <= song);
      n -= half;
    }
    const e = load<u64>(entriesA + 8 * at);
    sum += select<u32>(<u32>(e & LOW_WORD), 0, e >> 32 === song);
  }
  return sum;
}

/** `n` u64 values at `at` sorted ascending, in place (a heap sort: no memory of its own). */
function sortEntries(at: usize, n: usize): void {
  if (n < 2) return;
  for (let i = n >> 1; i > 0; i--) siftLargest(at, i - 1, n);
  for (let size = n - 1; size > 0; size--) {
    const largest = load<u64>(at);
    store<u64>(at, load<u64>(at + 8 * size));
    store<u64>(at + 8 * size, largest);
    siftLargest(at, 0, size);
  }
}

/** The heap of `size` values at `at`, the one at `i` sifted down (the largest on top). */
function siftLargest(at: usize, i: usize, size: usize): void {
  const value = load<u64>(at + 8 * i);
  for (;;) {
    let child: usize = 2 * i + 1;
    if (child >= size) break;
    let cv = load<u64>(at + 8 * child);
    if (child + 1 < size) {
      const right = load<u64>(at + 8 * (child + 1));
      if (right > cv) {
        child++;
        cv = right;
      }
    }
    if (cv <= value) break;
    store<u64>(at + 8 * i, cv);
    i = child;
  }
  store<u64>(at + 8 * i, value);
}

/**
 * The best k of the `m` entries at `from` by a heap of the k best so far, its worst on top: an
 * entry's rank as one u64, its plays high and its song's complement low, so that a smaller value
 * is a worse entry (fewer plays; at equal plays, a larger song). The entries come in song order,
 * so a later one displaces the worst only with more plays. Then the heap sorted, best first.
 */
function rankByHeap(from: usize, m: i32): i32 {
  const n = m < k ? m : k;
  for (let i = 0; i < n; i++) store<u64>(chartAt + 8 * <usize>i, rankOf(load<u64>(from + 8 * <usize>i)));
  for (let i = (n >> 1) - 1; i >= 0; i--) siftWorst(i, n);
  for (let i = n; i < m; i++) {
    const r = rankOf(load<u64>(from + 8 * <usize>i));
    if (r > load<u64>(chartAt)) {
      store<u64>(chartAt, r);
      siftWorst(0, n);
    }
  }
  // The worst to the end, one at a time: best first.
  for (let size = n - 1; size > 0; size--) {
    const worst = load<u64>(chartAt);
    store<u64>(chartAt, load<u64>(chartAt + 8 * <usize>size));
    store<u64>(chartAt + 8 * <usize>size, worst);
    siftWorst(0, size);
  }
  for (let i = 0; i < n; i++) {
    const r = load<u64>(chartAt + 8 * <usize>i);
    store<u64>(chartAt + 8 * <usize>i, ((~r & LOW_WORD) << 32) | (r >> 32));
  }
  return n;
}

/** An entry (song high, plays low) as its rank: plays high, the song's complement low. */
function rankOf(e: u64): u64 {
  return ((e & LOW_WORD) << 32) | (~(e >> 32) & LOW_WORD);
}

/** The chart's heap of `size` ranks, the one at `i` sifted down (the least on top). */
function siftWorst(i: i32, size: i32): void {
  const r = load<u64>(chartAt + 8 * <usize>i);
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    let cr = load<u64>(chartAt + 8 * <usize>child);
    if (child + 1 < size) {
      const right = load<u64>(chartAt + 8 * (<usize>child + 1));
      if (right < cr) {
        child++;
        cr = right;
      }
    }
    if (cr >= r) break;
    store<u64>(chartAt + 8 * <usize>i, cr);
    i = child;
  }
  store<u64>(chartAt + 8 * <usize>i, r);
}

/** The key's chart into the window as a row of text, or as a record; false when it has no room. */
function emit(key: u64, n: i32): bool {
  return records ? writeRecord(key, n) : write(key, n);
}

/** The key's chart as a record: the key, n, then its n entries (song high, plays low), u64 each. */
function writeRecord(key: u64, n: i32): bool {
  const bytes = 16 + 8 * n;
  if (textLength + bytes > textRoom) return false;
  const at = textAt + <usize>textLength;
  store<u64>(at, key);
  store<u64>(at + 8, <u64>n);
  memory.copy(at + 16, chartAt, 8 * <usize>n);
  textLength += bytes;
  return true;
}

/** The key's row of `n` chart entries into the text window, or false when it has no room. */
function write(key: u64, n: i32): bool {
  let pos = textAt + <usize>textLength;
  // The key (20 digits at most), its bar, n entries of at most 10 + 1 + 10 digits and a comma.
  if (<usize>textLength + 22 + 22 * <usize>n > <usize>textRoom) return false;
  pos = putKey(pos, key);
  store<u8>(pos++, 124);
  for (let i = 0; i < n; i++) {
    const e = load<u64>(chartAt + 8 * <usize>i);
    if (i > 0) store<u8>(pos++, 44);
    pos = putDecimal(pos, <u32>(e >> 32));
    store<u8>(pos++, 58);
    pos = putDecimal(pos, <u32>(e & LOW_WORD));
  }
  store<u8>(pos++, 10);
  textLength = <i32>(pos - textAt);
  return true;
}

/** A u64 in decimal at `pos`: the digits above the last 8, then those 8. */
function putKey(pos: usize, key: u64): usize {
  if (key <= 0xffffffff) return putDecimal(pos, <u32>key);
  const top = key / 100_000_000;
  pos = putKey(pos, top);
  let v = <u32>(key - top * 100_000_000);
  for (let at = pos + 8; at > pos; ) {
    const q = v / 100;
    at -= 2;
    store<u16>(at, load<u16>(DIGIT_PAIRS + 2 * <usize>(v - q * 100)));
    v = q;
  }
  return pos + 8;
}

/** A u32 in decimal at `pos`; returns the position after it. */
function putDecimal(pos: usize, value: u32): usize {
  if (value < 100) {
    if (value < 10) {
      store<u8>(pos, <u8>(48 + value));
      return pos + 1;
    }
    store<u16>(pos, load<u16>(DIGIT_PAIRS + 2 * <usize>value));
    return pos + 2;
  }
  if (value < 10000) return putSmall(pos, value);
  if (value < 100000000) {
    // The digits above the last 4, then those 4: two short chains of divisions, not one long one.
    const high = value / 10000;
    pos = putSmall(pos, high);
    putFour(pos, value - high * 10000);
    return pos + 4;
  }
  const top = value / 100000000;
  pos = top < 10 ? storeDigit(pos, top) : storePair(pos, top);
  const rest = value - top * 100000000;
  const high = rest / 10000;
  putFour(pos, high);
  putFour(pos + 4, rest - high * 10000);
  return pos + 8;
}

/** 1 to 9,999 in decimal at `pos`; returns the position after it. */
function putSmall(pos: usize, value: u32): usize {
  if (value < 100) return value < 10 ? storeDigit(pos, value) : storePair(pos, value);
  const high = value / 100;
  pos = high < 10 ? storeDigit(pos, high) : storePair(pos, high);
  return storePair(pos, value - high * 100);
}

/** Below 10,000 as exactly 4 digits at `pos`. */
function putFour(pos: usize, value: u32): void {
  const high = value / 100;
  store<u16>(pos, load<u16>(DIGIT_PAIRS + 2 * <usize>high));
  store<u16>(pos + 2, load<u16>(DIGIT_PAIRS + 2 * <usize>(value - high * 100)));
}

function storeDigit(pos: usize, value: u32): usize {
  store<u8>(pos, <u8>(48 + value));
  return pos + 1;
}

function storePair(pos: usize, value: u32): usize {
  store<u16>(pos, load<u16>(DIGIT_PAIRS + 2 * <usize>value));
  return pos + 2;
}

/** Group g's least cursor key; the group back on the heap if it has one. */
function settle(g: i32): void {
  let key = NO_KEY;
  const last = load<i32>(groupStartAt + 4 * (<usize>g + 1));
  for (let c = load<i32>(groupStartAt + 4 * <usize>g); c < last; c++) {
    const ck = load<u64>(keyAt + 8 * <usize>c);
    if (ck < key) key = ck;
  }
  store<u64>(groupKeyAt + 8 * <usize>g, key);
  if (key !== NO_KEY) push(g, key);
}

function push(g: i32, key: u64): void {
  let i = heapSize++;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const pg = load<i32>(heapAt + 4 * <usize>parent);
    if (load<u64>(groupKeyAt + 8 * <usize>pg) <= key) break;
    store<i32>(heapAt + 4 * <usize>i, pg);
    i = parent;
  }
  store<i32>(heapAt + 4 * <usize>i, g);
}

function siftDown(g: i32): void {
  const key = load<u64>(groupKeyAt + 8 * <usize>g);
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= heapSize) break;
    let cg = load<i32>(heapAt + 4 * <usize>child);
    let ck = load<u64>(groupKeyAt + 8 * <usize>cg);
    if (child + 1 < heapSize) {
      const rg = load<i32>(heapAt + 4 * (<usize>child + 1));
      const rk = load<u64>(groupKeyAt + 8 * <usize>rg);
      if (rk < ck) {
        child++;
        cg = rg;
        ck = rk;
      }
    }
    if (ck >= key) break;
    store<i32>(heapAt + 4 * <usize>i, cg);
    i = child;
  }
  store<i32>(heapAt + 4 * <usize>i, g);
}
