import { TopK } from './topK.js';

/** Receives one key's chart: `n` songs best first (the arrays are reused after the call). */
export type KeyChart = (key: number, songs: Float64Array, plays: Float64Array, n: number) => void;

const TWO_32 = 4294967296;
/** Plays below this pack with a 32-bit song id into one exactly-ordered double (21 + 32 bits). */
const PLAYS_LIMIT = 2 ** 21;

/**
 * K-way merge of partial blocks (each sorted by key, then song; see aggregatePairs for the
 * encoding) that sums the plays of equal (key, song) pairs across blocks and hands each key's top
 * `k` songs (more plays first, then smaller id) to `onKey`, keys ascending. The blocks are the same
 * partition of different days, so every key's songs are complete here.
 *
 * Written for speed over clarity, after profiling (about 4x faster than the first version with a
 * cursor object per block): block state lives in typed arrays, each key's songs are decoded in
 * one tight loop into scratch arrays, runs from several days are merged there, and ranking sorts
 * one double per song, `(PLAYS_LIMIT - 1 - plays) * 2^32 + song`, whose numeric order is the chart
 * order. Songs or counts too large to pack take the general path (a TopK heap).
 */
export function mergeTopK(blocks: Uint8Array[], k: number, onKey: KeyChart): { keys: number; pairs: number } {
  const state = new MergeState(blocks, k);
  let keys = 0;
  let pairs = 0;
  // The work is split into small functions called once per key: one long function called once
  // per partition only gets optimized on-stack and was deoptimized again at every new branch.
  for (;;) {
    const key = state.nextKey();
    if (key === Number.POSITIVE_INFINITY) break;
    decodeKey(state, key);
    const m = state.runs > 1 ? mergeRuns(state) : state.runStart[1]!;
    pairs += m;
    const n = rank(state, m);
    onKey(key, state.outSongs, state.outPlays, n);
    keys++;
  }
  return { keys, pairs };
}

/** Block cursors and scratch arrays of one merge, in typed arrays. */
class MergeState {
  readonly count: number;
  readonly position: Float64Array;
  readonly blockKey: Float64Array;
  readonly songCount: Float64Array;
  readonly live: Uint8Array;
  readonly runStart: Int32Array;
  readonly runAt: Int32Array;
  readonly outSongs: Float64Array;
  readonly outPlays: Float64Array;
  readonly heap: TopK;
  runs = 0;
  runSongs = new Float64Array(1024);
  runPlays = new Float64Array(1024);
  mergedSongs = new Float64Array(1024);
  mergedPlays = new Float64Array(1024);
  packed = new Float64Array(1024);
  /** Whether songs/plays of the current key are in the merged arrays (else in the run arrays). */
  merged = false;

  constructor(
    readonly blocks: Uint8Array[],
    readonly k: number,
  ) {
    const count = blocks.length;
    this.count = count;
    this.position = new Float64Array(count);
    this.blockKey = new Float64Array(count);
    this.songCount = new Float64Array(count);
    this.live = new Uint8Array(count);
    this.runStart = new Int32Array(count + 1);
    this.runAt = new Int32Array(count);
    this.outSongs = new Float64Array(k);
    this.outPlays = new Float64Array(k);
    this.heap = new TopK(k);
    for (let b = 0; b < count; b++) {
      if (blocks[b]!.length > 0) {
        this.live[b] = 1;
        readGroupHeader(blocks[b]!, b, 0, this.position, this.blockKey, this.songCount);
      }
    }
  }

  /** The smallest current key over the live blocks (Infinity when all are done). */
  nextKey(): number {
    let key = Number.POSITIVE_INFINITY;
    for (let b = 0; b < this.count; b++)
      if (this.live[b] === 1 && this.blockKey[b]! < key) key = this.blockKey[b]!;
    return key;
  }

  ensureCapacity(total: number): void {
    if (total <= this.runSongs.length) return;
    const size = 2 ** Math.ceil(Math.log2(total));
    this.runSongs = new Float64Array(size);
    this.runPlays = new Float64Array(size);
    this.mergedSongs = new Float64Array(size);
    this.mergedPlays = new Float64Array(size);
    this.packed = new Float64Array(size);
  }
}

/** Decode `key`'s songs from every block that has it, one sorted run per block, and advance them. */
function decodeKey(state: MergeState, key: number): void {
  const { count, live, blockKey, songCount, position, blocks, runStart } = state;
  let total = 0;
  for (let b = 0; b < count; b++) if (live[b] === 1 && blockKey[b] === key) total += songCount[b]!;
  state.ensureCapacity(total);
  const runSongs = state.runSongs;
  const runPlays = state.runPlays;
  let runs = 0;
  let at = 0;
  for (let b = 0; b < count; b++) {
    if (live[b] !== 1 || blockKey[b] !== key) continue;
    runStart[runs++] = at;
    const bytes = blocks[b]!;
    at = decodeSongs(bytes, position[b]!, songCount[b]!, runSongs, runPlays, at);
    const pos = decodedEnd;
    if (pos >= bytes.length) live[b] = 0;
    else readGroupHeader(bytes, b, pos, position, blockKey, songCount);
  }
  runStart[runs] = at;
  state.runs = runs;
  state.merged = false;
}

/** Where the last decodeSongs call stopped reading. */
let decodedEnd = 0;

/** Decode `n` (song delta, plays) varint pairs from `pos` into the arrays at `at`; returns the new `at`. */
function decodeSongs(
  bytes: Uint8Array,
  pos: number,
  n: number,
  songs: Float64Array,
  plays: Float64Array,
  at: number,
): number {
  let song = 0;
  for (let i = 0; i < n; i++) {
    let byte = bytes[pos++]!;
    let value = byte & 0x7f;
    for (let shift = 7; byte >= 0x80; shift += 7) {
      byte = bytes[pos++]!;
      value += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * 2 ** shift;
    }
    song += value;
    byte = bytes[pos++]!;
    value = byte & 0x7f;
    for (let shift = 7; byte >= 0x80; shift += 7) {
      byte = bytes[pos++]!;
      value += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * 2 ** shift;
    }
    songs[at] = song;
    plays[at] = value;
    at++;
  }
  if (pos > bytes.length) throw new Error('partial block is truncated');
  decodedEnd = pos;
  return at;
}

/**
 * Combine the runs of the current key into one list of distinct songs with summed plays (into
 * the merged arrays); returns its length. Songs and plays that fit 32 + 21 bits are packed into
 * one double, sorted, and summed in one pass (cheaper than a k-way merge for the usual 7 short
 * runs); long or unpackable runs take a k-way merge.
 */
function mergeRuns(state: MergeState): number {
  const total = state.runStart[state.runs]!;
  // Long runs (a country's songs) merge in linear time; sorting pays off for short ones.
  if (total > 512) return mergeRunsGeneral(state);
  const { runSongs, runPlays, packed, mergedSongs, mergedPlays } = state;
  let packable = true;
  for (let i = 0; i < total; i++) {
    if (runSongs[i]! >= TWO_32 || runPlays[i]! >= PLAYS_LIMIT) {
      packable = false;
      break;
    }
    packed[i] = runSongs[i]! * PLAYS_LIMIT + runPlays[i]!;
  }
  if (!packable) return mergeRunsGeneral(state);
  sortPrefix(packed, total);
  let m = -1;
  let previous = -1;
  for (let i = 0; i < total; i++) {
    const value = packed[i]!;
    const song = Math.floor(value / PLAYS_LIMIT);
    const plays = value - song * PLAYS_LIMIT;
    if (song === previous) mergedPlays[m] = mergedPlays[m]! + plays;
    else {
      m++;
      mergedSongs[m] = song;
      mergedPlays[m] = plays;
      previous = song;
    }
  }
  state.merged = true;
  return m + 1;
}

/** k-way merge of the sorted runs, summing plays of the same song; works for any ids. */
function mergeRunsGeneral(state: MergeState): number {
  const { runs, runStart, runAt, runSongs, runPlays, mergedSongs, mergedPlays } = state;
  for (let r = 0; r < runs; r++) runAt[r] = runStart[r]!;
  let m = 0;
  for (;;) {
    let next = Number.POSITIVE_INFINITY;
    for (let r = 0; r < runs; r++) {
      const i = runAt[r]!;
      if (i < runStart[r + 1]! && runSongs[i]! < next) next = runSongs[i]!;
    }
    if (next === Number.POSITIVE_INFINITY) break;
    let sum = 0;
    for (let r = 0; r < runs; r++) {
      const i = runAt[r]!;
      if (i < runStart[r + 1]! && runSongs[i] === next) {
        sum += runPlays[i]!;
        runAt[r] = i + 1;
      }
    }
    mergedSongs[m] = next;
    mergedPlays[m] = sum;
    m++;
  }
  state.merged = true;
  return m;
}

/** Put the current key's best k songs, best first, in outSongs/outPlays; returns how many. */
function rank(state: MergeState, m: number): number {
  const songs = state.merged ? state.mergedSongs : state.runSongs;
  const plays = state.merged ? state.mergedPlays : state.runPlays;
  const k = state.k;
  const { packed, outSongs, outPlays } = state;
  for (let i = 0; i < m; i++) {
    if (songs[i]! >= TWO_32 || plays[i]! >= PLAYS_LIMIT) return rankGeneral(state, songs, plays, m);
  }
  let n = m < k ? m : k;
  if (m <= 4 * k) {
    for (let i = 0; i < m; i++) packed[i] = (PLAYS_LIMIT - 1 - plays[i]!) * TWO_32 + songs[i]!;
    sortPrefix(packed, m);
  } else n = smallestPacked(songs, plays, m, k, packed);
  for (let i = 0; i < n; i++) {
    const value = packed[i]!;
    const high = Math.floor(value / TWO_32);
    outSongs[i] = value - high * TWO_32;
    outPlays[i] = PLAYS_LIMIT - 1 - high;
  }
  return n;
}

/** Ranking for ids or counts too large to pack: a TopK heap over the entries. */
function rankGeneral(state: MergeState, songs: Float64Array, plays: Float64Array, m: number): number {
  const heap = state.heap;
  heap.clear();
  for (let i = 0; i < m; i++) heap.offer(songs[i]!, plays[i]!);
  return heap.drain(state.outSongs, state.outPlays);
}

/** Read a group header (key delta, song count) at `pos` for block b. */
function readGroupHeader(
  bytes: Uint8Array,
  b: number,
  pos: number,
  position: Float64Array,
  blockKey: Float64Array,
  songCount: Float64Array,
): void {
  let byte = bytes[pos++]!;
  let delta = byte & 0x7f;
  for (let shift = 7; byte >= 0x80; shift += 7) {
    byte = bytes[pos++]!;
    delta += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * 2 ** shift;
  }
  byte = bytes[pos++]!;
  let n = byte & 0x7f;
  for (let shift = 7; byte >= 0x80; shift += 7) {
    byte = bytes[pos++]!;
    n += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * 2 ** shift;
  }
  if (pos > bytes.length) throw new Error('partial block is truncated');
  blockKey[b] = blockKey[b]! + delta;
  songCount[b] = n;
  position[b] = pos;
}

/**
 * Sort values[0, n) ascending. The values are integers below 2^53, so beyond a few elements they
 * are split into two uint32 halves of a BigUint64Array scratch and sorted there: V8 sorts
 * BigUint64Array with std::sort in C++, measured 5x faster than Float64Array#sort (which must
 * order NaN and -0) at 200 elements, conversions included. Insertion sort for tiny arrays.
 */
function sortPrefix(values: Float64Array, n: number): void {
  if (n <= 16) {
    for (let i = 1; i < n; i++) {
      const v = values[i]!;
      let j = i - 1;
      while (j >= 0 && values[j]! > v) {
        values[j + 1] = values[j]!;
        j--;
      }
      values[j + 1] = v;
    }
    return;
  }
  if (n > sortScratch.length) {
    sortScratch = new BigUint64Array(2 ** Math.ceil(Math.log2(n)));
    sortHalves = new Uint32Array(sortScratch.buffer);
  }
  const halves = sortHalves;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const high = Math.floor(v / TWO_32);
    halves[2 * i + 1] = high;
    halves[2 * i] = v - high * TWO_32;
  }
  sortScratch.subarray(0, n).sort();
  for (let i = 0; i < n; i++) values[i] = halves[2 * i + 1]! * TWO_32 + halves[2 * i]!;
}

let sortScratch = new BigUint64Array(1024);
let sortHalves = new Uint32Array(sortScratch.buffer);

/**
 * The k smallest packed values of m entries, sorted, into out[0, k): a max-heap of size k, so
 * most entries of a long list cost one comparison with the heap's root.
 */
function smallestPacked(
  songs: Float64Array,
  plays: Float64Array,
  m: number,
  k: number,
  out: Float64Array,
): number {
  let size = 0;
  for (let i = 0; i < m; i++) {
    const v = (PLAYS_LIMIT - 1 - plays[i]!) * TWO_32 + songs[i]!;
    if (size < k) {
      let j = size++;
      while (j > 0) {
        const parent = (j - 1) >> 1;
        if (out[parent]! >= v) break;
        out[j] = out[parent]!;
        j = parent;
      }
      out[j] = v;
    } else if (v < out[0]!) {
      let j = 0;
      for (;;) {
        const left = 2 * j + 1;
        if (left >= size) break;
        const child = left + 1 < size && out[left + 1]! > out[left]! ? left + 1 : left;
        if (out[child]! <= v) break;
        out[j] = out[child]!;
        j = child;
      }
      out[j] = v;
    }
  }
  sortPrefix(out, size);
  return size;
}
