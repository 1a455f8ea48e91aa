import { ByteReader, POWERS_OF_TWO } from '../partials/varint.js';
import { TopK } from './topK.js';

/** What a merge went through. */
export interface MergeCounts {
  /** Keys charted. */
  keys: number;
  /** Day entries (key, song, plays) read for them. */
  entries: number;
  /** Keys ranked from candidates, without a full merge of their runs (rankFromCandidates). */
  fromCandidates: number;
}

/** Receives one key's chart: `n` songs best first (the arrays are reused after the call). */
export type KeyChart = (key: number, songs: Float64Array, plays: Float64Array, n: number) => void;

/**
 * A stretch of a partial block to merge: bytes[start, end) holds whole key groups, the first one's
 * key delta counting from `base` (0 at a block's start; a segment's base inside a block). `group`:
 * spans of different groups hold disjoint keys (the user blocks of one coarse partition of every
 * day form a group; see MergeState), so a key is looked for in its group's few spans only.
 */
export interface BlockSpan {
  bytes: Uint8Array;
  start: number;
  end: number;
  base: number;
  group?: number;
  /**
   * 'words': the block's songs are 32-bit words at multiples of 4 from the block's start
   * (aggregatePairs' encodeWords); `bytes` must then lie at the same place modulo 4 in its buffer
   * as in the block (readPieces sees to it), so that they are read from a Uint32Array in place.
   */
  layout?: 'words';
}

/**
 * K-way merge of partial blocks (each sorted by key, then song; see aggregatePairs for the
 * encoding) that sums the plays of equal (key, song) pairs across blocks and hands each key's top
 * `k` songs (more plays first, then smaller id) to `onKey`, keys ascending. The blocks together
 * must hold every (key, song) of the keys they cover: the same partition of different days, or
 * the same key range of every partition of every day. Whole blocks of varints (aggregatePairs'
 * encoding); mergeSpans takes either layout, and is what the workers call.
 */
export function mergeTopK(
  blocks: Uint8Array[],
  k: number,
  onKey: KeyChart,
  scratch?: MergeScratch,
): MergeCounts {
  return mergeSpans(
    blocks.map((bytes) => ({ bytes, start: 0, end: bytes.length, base: 0 })),
    k,
    Number.NEGATIVE_INFINITY,
    Number.POSITIVE_INFINITY,
    onKey,
    scratch,
  );
}

/**
 * A merge's scratch arrays (a key's decoded songs and plays, the histogram of its plays), kept by
 * a caller for its next merges: a country holds up to a million songs over a week, and arrays made
 * anew for each partition cost their page faults each time (about 11 us a 4 KiB page on these
 * VMs; docs/BENCHMARKS.md). One merge at a time may use it.
 */
export class MergeScratch {
  runSongs = new Float64Array(1024);
  runPlays = new Float64Array(1024);
  mergedSongs = new Float64Array(1024);
  mergedPlays = new Float64Array(1024);
  slots = new Int32Array(1024);
}

/**
 * mergeTopK over spans of blocks, for the keys in [low, high) only.
 *
 * Written for speed over clarity, after profiling (docs/BENCHMARKS.md, "Where the daily run's
 * time goes"). Cursor state lives in typed arrays. Cursors are grouped (BlockSpan.group): a heap
 * orders the groups by their smallest key, and a group's key is found by a scan of its few
 * cursors; with one heap over every span, a user range's 7 days x 32 partitions = 224 cursors
 * cost 7 pops and 7 pushes of 8 levels per user. Each key's songs are decoded in one tight loop
 * into scratch arrays; the day runs are merged there (still in song order) without a branch on
 * the comparison; ranking is a counting sort on plays, which keeps equal plays in song order: the
 * chart order without any comparison sort. Plays too large for the histogram take a TopK heap.
 * A key with thousands of entries (a country's week) is ranked from the few songs that can reach
 * its top k instead of merged (rankFromCandidates); one with 4M and more (a bot's user) from its
 * blocks as they lie, with no arrays of its entries (scanKey).
 */
export function mergeSpans(
  spans: BlockSpan[],
  k: number,
  low: number,
  high: number,
  onKey: KeyChart,
  scratch = new MergeScratch(),
): MergeCounts {
  const state = new MergeState(spans, k, low, high, scratch);
  let keys = 0;
  let entries = 0;
  // The work is split into small functions called once per key: one long function called once
  // per partition only gets optimized on-stack and was deoptimized again at every new branch.
  for (;;) {
    const key = state.popKey();
    if (key === Number.POSITIVE_INFINITY) break;
    decodeKey(state);
    entries += state.runStart[state.runs]!;
    const m = state.runs > 1 ? mergeKey(state) : state.runStart[1]!;
    const n = rank(state, m);
    onKey(key, state.outSongs, state.outPlays, n);
    keys++;
  }
  return { keys, entries, fromCandidates: state.fromCandidates };
}

const DONE = Number.POSITIVE_INFINITY;

/** Cursors over the spans and scratch arrays of one merge, in typed arrays. */
class MergeState {
  readonly count: number;
  readonly bytes: Uint8Array[];
  /** Per cursor: whether its span is of the 'words' layout. */
  readonly wordLayout: boolean[];
  /** Per cursor of a 'words' span: its buffer as 32-bit words (undefined where not wordReads.inPlace). */
  readonly words: (Uint32Array | undefined)[];
  readonly position: Float64Array;
  readonly end: Float64Array;
  /** The cursor's current key; DONE once it has no key left below `high`. */
  readonly blockKey: Float64Array;
  readonly songCount: Float64Array;
  /** Cursors of group g: groupStart[g] .. groupStart[g + 1] - 1 (cursors are in group order). */
  readonly groupStart: Int32Array;
  /** A group's smallest cursor key. */
  readonly groupKey: Float64Array;
  /** Min-heap of live groups by groupKey. */
  readonly heap: Int32Array;
  heapSize = 0;
  /** The group being merged and its cursors at the key being merged. */
  group = 0;
  readonly active: Int32Array;
  activeCount = 0;
  readonly runStart: Int32Array;
  readonly outSongs: Float64Array;
  readonly outPlays: Float64Array;
  readonly top: TopK;
  runs = 0;
  /** Whether songs/plays of the current key are in the merged arrays (else in the run arrays). */
  merged = false;
  /** Whether the current key's chart is in outSongs/outPlays already (scanKey), and its length. */
  ranked = false;
  rankedCount = 0;
  /**
   * Per run of a key scanned in its blocks (scanKey): its cursor, its current song (DONE past its
   * last) and plays, the songs left after it, where its next song word is read ('words' layout),
   * and the reader of its varints (its plays; in the varint layout, its song deltas too).
   */
  readonly scanCursor: Int32Array;
  readonly scanSong: Float64Array;
  readonly scanPlays: Float64Array;
  readonly scanLeft: Float64Array;
  readonly scanSongAt: Float64Array;
  readonly scanReaders: ByteReader[] = [];
  /** Keys ranked from candidates so far (rankFromCandidates). */
  fromCandidates = 0;

  constructor(
    spans: BlockSpan[],
    readonly k: number,
    readonly low: number,
    readonly high: number,
    /** The current key's decoded songs and plays, and the histogram of its plays. */
    readonly scratch: MergeScratch,
  ) {
    const count = spans.length;
    this.count = count;
    // Cursors in group order (stable), renumbered 0..groups-1.
    const order = spans
      .map((_, i) => i)
      .sort((a, b) => (spans[a]!.group ?? 0) - (spans[b]!.group ?? 0) || a - b);
    const sorted = order.map((i) => spans[i]!);
    this.bytes = sorted.map((s) => s.bytes);
    // One view of words a buffer (a range's spans share the worker's buffer).
    const views = new Map<ArrayBufferLike, Uint32Array>();
    this.wordLayout = sorted.map((s) => s.layout === 'words');
    this.words = sorted.map((s) => {
      if (s.layout !== 'words' || !wordReads.inPlace) return undefined;
      const buffer = s.bytes.buffer;
      let view = views.get(buffer);
      if (view === undefined) {
        view = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
        views.set(buffer, view);
      }
      return view;
    });
    const starts: number[] = [];
    sorted.forEach((s, c) => {
      if (c === 0 || (s.group ?? 0) !== (sorted[c - 1]!.group ?? 0)) starts.push(c);
    });
    starts.push(count);
    const groups = starts.length - 1;
    this.groupStart = Int32Array.from(starts);
    this.groupKey = new Float64Array(groups);
    this.position = new Float64Array(count);
    this.end = new Float64Array(count);
    this.blockKey = new Float64Array(count).fill(DONE);
    this.songCount = new Float64Array(count);
    this.heap = new Int32Array(groups);
    this.active = new Int32Array(count);
    this.scanCursor = new Int32Array(count);
    this.scanSong = new Float64Array(count);
    this.scanPlays = new Float64Array(count);
    this.scanLeft = new Float64Array(count);
    this.scanSongAt = new Float64Array(count);
    this.runStart = new Int32Array(count + 1);
    this.outSongs = new Float64Array(k);
    this.outPlays = new Float64Array(k);
    this.top = new TopK(k);
    sorted.forEach((span, c) => {
      this.end[c] = span.end;
      this.blockKey[c] = span.base;
      if (span.start >= span.end) {
        this.blockKey[c] = DONE;
        return;
      }
      readGroupHeader(span.bytes, c, span.start, this.position, this.blockKey, this.songCount);
      // Skip the keys before the range (a span starts at the segment holding `low`).
      const words = this.wordLayout[c]!;
      while (this.blockKey[c]! < low) {
        const pos = words
          ? skipWordSongs(span.bytes, this.position[c]!, this.songCount[c]!)
          : skipSongs(span.bytes, this.position[c]!, this.songCount[c]!);
        if (pos >= span.end) {
          this.blockKey[c] = DONE;
          return;
        }
        readGroupHeader(span.bytes, c, pos, this.position, this.blockKey, this.songCount);
      }
      if (this.blockKey[c]! >= high) this.blockKey[c] = DONE;
    });
    for (let g = 0; g < groups; g++) this.settle(g);
  }

  /**
   * Put every cursor of the smallest key's group at that key into `active`, take the group off
   * the heap, and return the key (Infinity: done). decodeKey settles the group again.
   */
  popKey(): number {
    if (this.heapSize === 0) return DONE;
    const g = this.heap[0]!;
    const key = this.groupKey[g]!;
    const last = this.heap[--this.heapSize]!;
    if (this.heapSize > 0) this.siftDown(last);
    const { blockKey, active } = this;
    let n = 0;
    for (let c = this.groupStart[g]!, end = this.groupStart[g + 1]!; c < end; c++) {
      if (blockKey[c] === key) active[n++] = c;
    }
    this.activeCount = n;
    this.group = g;
    return key;
  }

  /** Recompute group g's smallest key from its cursors and put it back on the heap if it has one. */
  settle(g: number): void {
    const { blockKey } = this;
    let key = DONE;
    for (let c = this.groupStart[g]!, end = this.groupStart[g + 1]!; c < end; c++) {
      if (blockKey[c]! < key) key = blockKey[c]!;
    }
    this.groupKey[g] = key;
    if (key !== DONE) this.push(g);
  }

  private push(g: number): void {
    const { heap, groupKey } = this;
    const key = groupKey[g]!;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (groupKey[heap[parent]!]! <= key) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = g;
  }

  private siftDown(g: number): void {
    const { heap, groupKey } = this;
    const size = this.heapSize;
    const key = groupKey[g]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && groupKey[heap[child + 1]!]! < groupKey[heap[child]!]!) child++;
      if (groupKey[heap[child]!]! >= key) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = g;
  }

  /** Run arrays for `total` entries (the current key's decoded runs). */
  ensureCapacity(total: number): void {
    const scratch = this.scratch;
    if (total <= scratch.runSongs.length) return;
    const size = 2 ** Math.ceil(Math.log2(total));
    scratch.runSongs = new Float64Array(size);
    scratch.runPlays = new Float64Array(size);
  }

  /** Merged arrays for `total` entries: grown apart from the run arrays, which a huge key needs alone. */
  ensureMerged(total: number): void {
    const scratch = this.scratch;
    if (total <= scratch.mergedSongs.length) return;
    const size = 2 ** Math.ceil(Math.log2(total));
    scratch.mergedSongs = new Float64Array(size);
    scratch.mergedPlays = new Float64Array(size);
  }

  /** A histogram for plays up to `most`. */
  ensureSlots(most: number): Int32Array {
    const scratch = this.scratch;
    if (most >= scratch.slots.length) scratch.slots = new Int32Array(2 ** Math.ceil(Math.log2(most + 1)));
    return scratch.slots;
  }
}

/** Decode the active cursors' songs, one sorted run per cursor, and advance them. */
function decodeKey(state: MergeState): void {
  const {
    active,
    activeCount,
    songCount,
    position,
    end,
    blockKey,
    bytes,
    wordLayout,
    words,
    runStart,
    high,
  } = state;
  let total = 0;
  for (let a = 0; a < activeCount; a++) total += songCount[active[a]!]!;
  if (total >= mergeLimits.scanFrom) {
    scanKey(state, total);
    return;
  }
  state.ensureCapacity(total);
  const runSongs = state.scratch.runSongs;
  const runPlays = state.scratch.runPlays;
  let at = 0;
  for (let a = 0; a < activeCount; a++) {
    const c = active[a]!;
    runStart[a] = at;
    const block = bytes[c]!;
    at = wordLayout[c]
      ? decodeWordSongs(block, words[c], position[c]!, songCount[c]!, runSongs, runPlays, at)
      : decodeSongs(block, position[c]!, songCount[c]!, runSongs, runPlays, at);
    const pos = decodedEnd;
    if (pos < end[c]!) {
      readGroupHeader(block, c, pos, position, blockKey, songCount);
      if (blockKey[c]! >= high) blockKey[c] = DONE;
    } else blockKey[c] = DONE;
  }
  state.settle(state.group);
  runStart[activeCount] = at;
  state.runs = activeCount;
  state.merged = false;
}

/**
 * A key of at least this many day entries is ranked from its blocks as they lie (scanKey), not
 * decoded into arrays: a user of 2M listens a day (a bot) holds about 10M entries over a week,
 * 160 MB as arrays of songs and plays and as much again merged, where every other user holds
 * about a hundred (docs/BENCHMARKS.md, "Heavy users"). Not lower: a country of a window
 * partition holds 1M to 3M entries when one country has every row, and is ranked faster from its
 * candidates (at 2^20, a week of 5M rows all in one country took 2.27 s daily against 1.91 s).
 * Read as each key is merged: the tests lower it to run that path on every key.
 */
export const mergeLimits = { scanFrom: 1 << 22 };

/**
 * The current key's chart read straight from its groups in the blocks, each run walked in song
 * order, the smallest song first (a scan of the run heads: a key this large has its few days'
 * runs), its plays summed over the runs and offered to a TopK; the cursors advanced as decodeKey
 * advances them. Leaves the chart in outSongs/outPlays (`ranked`).
 */
function scanKey(state: MergeState, total: number): void {
  const { active, activeCount, songCount, position, end, blockKey, bytes, wordLayout, high, top } = state;
  const { scanCursor, scanSong, scanPlays, scanLeft, scanSongAt, scanReaders } = state;
  for (let a = 0; a < activeCount; a++) {
    const c = active[a]!;
    const block = bytes[c]!;
    const start = position[c]!;
    const n = songCount[c]!;
    scanCursor[a] = c;
    scanLeft[a] = n;
    scanSong[a] = 0;
    let groupEnd: number;
    if (wordLayout[c]) {
      const songsAt = start + wordPadding(block, start);
      scanSongAt[a] = songsAt;
      scanReaders[a] = new ByteReader(block, songsAt + 4 * n, end[c]);
      groupEnd = skipWordSongs(block, start, n);
    } else {
      scanReaders[a] = new ByteReader(block, start, end[c]);
      groupEnd = skipSongs(block, start, n);
    }
    nextScanned(state, a);
    if (groupEnd < end[c]!) {
      readGroupHeader(block, c, groupEnd, position, blockKey, songCount);
      if (blockKey[c]! >= high) blockKey[c] = DONE;
    } else blockKey[c] = DONE;
  }
  state.settle(state.group);
  top.clear();
  for (;;) {
    let song = DONE;
    for (let a = 0; a < activeCount; a++) if (scanSong[a]! < song) song = scanSong[a]!;
    if (song === DONE) break;
    let sum = 0;
    for (let a = 0; a < activeCount; a++) {
      if (scanSong[a] === song) {
        sum += scanPlays[a]!;
        nextScanned(state, a);
      }
    }
    top.offer(song, sum);
  }
  state.rankedCount = top.drain(state.outSongs, state.outPlays);
  state.ranked = true;
  state.runStart[0] = 0;
  state.runStart[1] = total;
  state.runs = 1;
  state.merged = false;
}

/** Run `a` of a scanned key to its next song and plays (scanSong DONE past its last). */
function nextScanned(state: MergeState, a: number): void {
  const { scanCursor, scanSong, scanPlays, scanLeft, scanSongAt } = state;
  if (scanLeft[a] === 0) {
    scanSong[a] = DONE;
    return;
  }
  scanLeft[a]!--;
  const c = scanCursor[a]!;
  const block = state.bytes[c]!;
  if (state.wordLayout[c]) {
    const at = scanSongAt[a]!;
    const words = state.words[c];
    scanSong[a] =
      words !== undefined
        ? words[(block.byteOffset + at) >>> 2]!
        : (block[at]! | (block[at + 1]! << 8) | (block[at + 2]! << 16) | (block[at + 3]! << 24)) >>> 0;
    scanSongAt[a] = at + 4;
    scanPlays[a] = state.scanReaders[a]!.varint();
  } else {
    const reader = state.scanReaders[a]!;
    scanSong[a] = scanSong[a]! + reader.varint();
    scanPlays[a] = reader.varint();
  }
}

/** The position after `n` (song delta, plays) varint pairs from `pos`. */
function skipSongs(bytes: Uint8Array, pos: number, n: number): number {
  for (let varints = 2 * n; varints > 0; varints--) while (bytes[pos++]! >= 0x80);
  if (pos > bytes.length) throw new Error('partial block is truncated');
  return pos;
}

/** The position after a 'words' group's `n` songs and their plays from `pos` (its padding first). */
function skipWordSongs(bytes: Uint8Array, pos: number, n: number): number {
  pos += wordPadding(bytes, pos) + 4 * n;
  for (let varints = n; varints > 0; varints--) while (bytes[pos++]! >= 0x80);
  if (pos > bytes.length) throw new Error('partial block is truncated');
  return pos;
}

/** The zero bytes after a 'words' group's header at `pos`: to a multiple of 4 in the buffer. */
function wordPadding(bytes: Uint8Array, pos: number): number {
  return -(bytes.byteOffset + pos) & 3;
}

/**
 * Whether a 'words' block's songs are read in place through a Uint32Array: only on a machine that
 * stores a Uint32Array's words little endian, as the blocks are; elsewhere decodeWordSongs
 * assembles them from the bytes. Read as each merge starts: the tests turn it off to run that
 * path on a little-endian machine.
 */
export const wordReads = { inPlace: new Uint8Array(Uint32Array.of(1).buffer)[0] === 1 };

/**
 * decodeSongs for a 'words' group: its `n` songs read in place from `words` (the buffer of
 * `bytes` as 32-bit words; undefined on a big-endian machine, which assembles them from the bytes),
 * then their plays (varints); returns the new `at`.
 */
function decodeWordSongs(
  bytes: Uint8Array,
  words: Uint32Array | undefined,
  pos: number,
  n: number,
  songs: Float64Array,
  plays: Float64Array,
  at: number,
): number {
  pos += wordPadding(bytes, pos);
  const first = (bytes.byteOffset + pos) >>> 2;
  let p = pos + 4 * n;
  if (p > bytes.length) throw new Error('partial block is truncated');
  for (let i = 0; i < n; i++) {
    if (words !== undefined) songs[at] = words[first + i]!;
    else {
      const q = pos + 4 * i;
      songs[at] = (bytes[q]! | (bytes[q + 1]! << 8) | (bytes[q + 2]! << 16) | (bytes[q + 3]! << 24)) >>> 0;
    }
    let byte = bytes[p++]!;
    let value = byte & 0x7f;
    for (let shift = 7; byte >= 0x80; shift += 7) {
      byte = bytes[p++]!;
      value += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * POWERS_OF_TWO[shift]!;
    }
    plays[at] = value;
    at++;
  }
  if (p > bytes.length) throw new Error('partial block is truncated');
  decodedEnd = p;
  return at;
}

/** Where the last decodeSongs or decodeWordSongs call stopped reading. */
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
      value += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * POWERS_OF_TWO[shift]!;
    }
    song += value;
    byte = bytes[pos++]!;
    value = byte & 0x7f;
    for (let shift = 7; byte >= 0x80; shift += 7) {
      byte = bytes[pos++]!;
      value += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * POWERS_OF_TWO[shift]!;
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
 * A key with at least this many day entries, and CANDIDATES_PER_RANK times the chart's length, is
 * first ranked from candidates (rankFromCandidates): a country's week in one partition holds about
 * ten thousand entries for a chart of 50, and the full merge moves every one three times.
 */
const CANDIDATES_FROM = 2048;
const CANDIDATES_PER_RANK = 16;

/**
 * Merge the current key's runs, or rank it from candidates when it has many entries; returns the
 * number of songs for rank().
 */
function mergeKey(state: MergeState): number {
  const entries = state.runStart[state.runs]!;
  if (entries >= CANDIDATES_FROM && entries >= CANDIDATES_PER_RANK * state.k) {
    const m = rankFromCandidates(state);
    if (m >= 0) {
      state.fromCandidates++;
      return m;
    }
  }
  state.ensureMerged(entries);
  return mergeRuns(state);
}

/**
 * Rank the current key from the few songs that can reach its top k, without merging its runs:
 *
 * 1. A lower bound of the k-th best total: the k best songs of the longest run (k distinct songs)
 *    with their totals over every run; the least of those totals. At least k songs reach it.
 * 2. A song whose total reaches the bound has, in one of the `runs` runs it is in, at least
 *    bound / runs plays: the entries with that many are the candidates; any song of the top k
 *    (ties at the k-th total included) is one of them.
 * 3. The distinct candidates, ascending, with their exact totals (a binary search in each run),
 *    take the merged arrays' place for rank().
 *
 * Returns the candidates' number, or -1 (the runs left to mergeRuns) when the longest run is
 * shorter than k or the candidates are more than a quarter of the entries (a flat key: small plays
 * everywhere), where the merge is the cheaper.
 */
function rankFromCandidates(state: MergeState): number {
  const { runStart, k } = state;
  const runs = state.runs;
  const { runSongs: songs, runPlays: plays } = state.scratch;
  const total = runStart[runs]!;
  let longest = 0;
  for (let r = 1; r < runs; r++) {
    if (runStart[r + 1]! - runStart[r]! > runStart[longest + 1]! - runStart[longest]!) longest = r;
  }
  if (runStart[longest + 1]! - runStart[longest]! < k) return -1;
  const top = state.top;
  top.clear();
  for (let i = runStart[longest]!, end = runStart[longest + 1]!; i < end; i++)
    top.offer(songs[i]!, plays[i]!);
  // outSongs/outPlays are rank()'s output, free until then.
  const seeds = top.drain(state.outSongs, state.outPlays);
  let bound = Number.POSITIVE_INFINITY;
  for (let j = 0; j < seeds; j++) {
    const sum = totalOf(state, state.outSongs[j]!);
    if (sum < bound) bound = sum;
  }
  const least = Math.ceil(bound / runs);
  // Every entry a candidate: a small key's flat plays.
  if (least <= 1) return -1;
  state.ensureMerged(total);
  const candidates = state.scratch.mergedSongs;
  let c = 0;
  for (let i = 0; i < total; i++) {
    candidates[c] = songs[i]!;
    c += +(plays[i]! >= least);
  }
  if (c > total >> 2) return -1;
  candidates.subarray(0, c).sort();
  const sums = state.scratch.mergedPlays;
  let m = 0;
  for (let i = 0; i < c; i++) {
    const song = candidates[i]!;
    if (m > 0 && candidates[m - 1] === song) continue;
    candidates[m] = song;
    sums[m++] = totalOf(state, song);
  }
  state.merged = true;
  return m;
}

/**
 * A song's plays summed over the current key's runs: in each run (sorted by song), a binary search
 * without a branch on the comparison (the last entry at or below the song, then whether it is it).
 */
function totalOf(state: MergeState, song: number): number {
  const { runStart } = state;
  const { runSongs: songs, runPlays: plays } = state.scratch;
  let sum = 0;
  for (let r = 0, runs = state.runs; r < runs; r++) {
    let at = runStart[r]!;
    let n = runStart[r + 1]! - at;
    if (n === 0) continue;
    while (n > 1) {
      const half = n >>> 1;
      at += half * +(songs[at + half]! <= song);
      n -= half;
    }
    sum += plays[at]! * +(songs[at] === song);
  }
  return sum;
}

/**
 * Merge the current key's runs (each sorted by song) into one list, summing the plays of equal
 * songs: pairwise rounds of two-way merges, so each entry moves log2(runs) times with one
 * comparison per move (a linear scan of the run heads cost runs x 2 reads per entry).
 * Returns the number of distinct songs; they end in the arrays `state.merged` designates.
 */
function mergeRuns(state: MergeState): number {
  let runs = state.runs;
  const bounds = state.runStart;
  let fromSongs = state.scratch.runSongs;
  let fromPlays = state.scratch.runPlays;
  let toSongs = state.scratch.mergedSongs;
  let toPlays = state.scratch.mergedPlays;
  let inMerged = false;
  while (runs > 1) {
    let out = 0;
    let next = 0;
    for (let r = 0; r < runs; r += 2) {
      const start = out;
      if (r + 1 === runs) {
        for (let i = bounds[r]!; i < bounds[r + 1]!; i++) {
          toSongs[out] = fromSongs[i]!;
          toPlays[out++] = fromPlays[i]!;
        }
      } else {
        let i = bounds[r]!;
        const iEnd = bounds[r + 1]!;
        let j = iEnd;
        const jEnd = bounds[r + 2]!;
        // Without a branch on the comparison (which songs come first is a coin toss, and a
        // mispredicted branch per entry cost a third of the merge): take a when a <= b, b when
        // b <= a, both (summed) when equal. Songs and plays are integers below 2^53, so the
        // products by 0 and 1 are exact.
        while (i < iEnd && j < jEnd) {
          const a = fromSongs[i]!;
          const b = fromSongs[j]!;
          const takeA = +(a <= b);
          const takeB = +(b <= a);
          toSongs[out] = a * takeA + b * (1 - takeA);
          toPlays[out++] = fromPlays[i]! * takeA + fromPlays[j]! * takeB;
          i += takeA;
          j += takeB;
        }
        for (; i < iEnd; i++) {
          toSongs[out] = fromSongs[i]!;
          toPlays[out++] = fromPlays[i]!;
        }
        for (; j < jEnd; j++) {
          toSongs[out] = fromSongs[j]!;
          toPlays[out++] = fromPlays[j]!;
        }
      }
      bounds[next++] = start;
    }
    bounds[next] = out;
    runs = next;
    const songs = fromSongs;
    const plays = fromPlays;
    fromSongs = toSongs;
    fromPlays = toPlays;
    toSongs = songs;
    toPlays = plays;
    inMerged = !inMerged;
  }
  state.merged = inMerged;
  return bounds[1]!;
}

/** Put the current key's best k songs, best first, in outSongs/outPlays; returns how many. */
function rank(state: MergeState, m: number): number {
  if (state.ranked) {
    state.ranked = false;
    return state.rankedCount;
  }
  const { runSongs, runPlays, mergedSongs, mergedPlays } = state.scratch;
  const songs = state.merged ? mergedSongs : runSongs;
  const plays = state.merged ? mergedPlays : runPlays;
  let most = 0;
  for (let i = 0; i < m; i++) if (plays[i]! > most) most = plays[i]!;
  if (most > 2 * m + 1024) return rankGeneral(state, songs, plays, m);
  // Counting sort on plays, descending. `songs` is ascending, so walking it in order places equal
  // plays in ascending song order: exactly the chart order.
  const slots = state.ensureSlots(most);
  slots.fill(0, 0, most + 1);
  for (let i = 0; i < m; i++) slots[plays[i]!]!++;
  let before = 0;
  for (let p = most; p > 0; p--) {
    const n = slots[p]!;
    slots[p] = before;
    before += n;
  }
  const k = state.k;
  const { outSongs, outPlays } = state;
  for (let i = 0; i < m; i++) {
    const p = plays[i]!;
    const at = slots[p]!;
    if (at < k) {
      outSongs[at] = songs[i]!;
      outPlays[at] = p;
    }
    slots[p] = at + 1;
  }
  return m < k ? m : k;
}

/** Ranking when plays are too large for a histogram: a TopK heap over the entries. */
function rankGeneral(state: MergeState, songs: Float64Array, plays: Float64Array, m: number): number {
  const heap = state.top;
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
    delta += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * POWERS_OF_TWO[shift]!;
  }
  byte = bytes[pos++]!;
  let n = byte & 0x7f;
  for (let shift = 7; byte >= 0x80; shift += 7) {
    byte = bytes[pos++]!;
    n += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * POWERS_OF_TWO[shift]!;
  }
  if (pos > bytes.length) throw new Error('partial block is truncated');
  blockKey[b] = blockKey[b]! + delta;
  songCount[b] = n;
  position[b] = pos;
}
