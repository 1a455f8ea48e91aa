import { crc32 } from '../ops/crc32.js';
import { kernelInstance } from '../ops/wasmKernel.js';
import { type PairSorter, sortPackedPairs } from './radixSort.js';
import type { ByteWriter } from './varint.js';
import { WASM_BASE64 as WORDS_BLOCK_WASM } from './wordsBlock.wasm.js';

/** Counts of what one aggregated block holds. */
export interface BlockStats {
  /** Distinct keys (users or countries). */
  keys: number;
  /** Distinct (key, song) pairs. */
  pairs: number;
  /** Plays, the sum of all counts. */
  plays: number;
  /**
   * The block cut into segments of a fixed number of keys (SEGMENT_KEYS for a countries block,
   * segmentKeysFor the day's partitions for a users block), a users block's segment cut sooner
   * where its keys hold many pairs (USER_SEGMENT_PAIRS), for random access: the window stage
   * reads one user range from every block, starting at the segment that holds its first key.
   */
  segments: Segments;
  /**
   * How the block's songs are encoded: absent, varint deltas; 'words', each key's songs as 32-bit
   * words (see aggregatePacked), read in place by the window's merge.
   */
  layout?: 'words';
}

/**
 * Segment i starts at byte offsets[i] of the block with the group of key keys[i]; bases[i] is the
 * key before it (0 for the first segment), from which its first key delta counts; crcs[i] is the
 * CRC-32 of its bytes (filled in by the caller once the block is encoded).
 */
export interface Segments {
  keys: number[];
  bases: number[];
  offsets: number[];
  crcs: number[];
}

export const SEGMENT_KEYS = 1024;

/** Keys a segment of a users block, at most: see segmentKeysFor. */
export const USER_SEGMENT_KEYS = 128;

/**
 * Keys a segment of a users block, for a day cut into `partitions` (a power of two):
 * USER_SEGMENT_KEYS up to 256 partitions, then halved each time the partitions double, down to 64.
 * The window's merge reads a whole segment at each end of a user range in every users block of
 * every day, and decodes it from its start, so what a range reads and skips beyond its own users
 * is the window's blocks times a segment. With 1,024-key segments a range of the default budget
 * (7 x 20M rows, 32 partitions a day) read a third to a half more than it merged, and a week of
 * 256 partitions a day (--memory 256MB) held 84 MB a range whatever the budget. Readers take any
 * segment sizes (the directory lists each segment), so partials of either kind merge together.
 */
export function segmentKeysFor(partitions: number): number {
  return Math.max(64, Math.min(USER_SEGMENT_KEYS, Math.floor((USER_SEGMENT_KEYS * 256) / partitions)));
}

/**
 * A users block's segment ends before its next key once it holds this many pairs, however few its
 * keys: a user range can only be cut at segments, and reads the whole segment at each end of its
 * span of every block. With segments of keys alone, a week of heavy users (1,000 users, 5M rows a
 * day: one segment of 190,000 pairs a block) gave each user range every block whole: the daily
 * run held 400 to 490 MB at the default budget, and 1.4 GB with 2,000 users of 20M rows a day
 * (docs/BENCHMARKS.md, "Heavy users"). A day of the
 * benchmark's 20M rows has at most about 2,000 pairs a segment: its segments are cut by keys.
 */
export const USER_SEGMENT_PAIRS = 8192;

export function emptySegments(): Segments {
  return { keys: [], bases: [], offsets: [], crcs: [] };
}

/**
 * Aggregates (key, song) pairs into per-(key, song) play counts and encodes them as a block:
 * keys ascending, songs ascending within a key. The encoding, repeated per key:
 *
 *     varint(key - previousKey) varint(songCount) { varint(song - previousSong) varint(plays) }*
 *
 * with previousKey starting at 0 for the block and previousSong at 0 for each key.
 *
 * The general path, for ids up to 2^53 - 1 (aggregatePacked is the one for ids below 2^32): the
 * pairs sorted (sortWide), then each key's run of songs counted and written.
 */
export function aggregatePairs(
  keys: Float64Array,
  songs: Float64Array,
  n: number,
  out: ByteWriter,
  segmentKeys = SEGMENT_KEYS,
  segmentPairs = Number.POSITIVE_INFINITY,
): BlockStats {
  if (n === 0) return { keys: 0, pairs: 0, plays: n, segments: emptySegments() };
  const sortedKeys = new Float64Array(n);
  const sortedSongs = new Float64Array(n);
  sortWide(keys, songs, n, sortedKeys, sortedSongs);
  let keyCount = 0;
  let pairs = 0;
  let previousKey = 0;
  const segments = emptySegments();
  const cut = new SegmentCut(segmentKeys, segmentPairs);
  let i = 0;
  while (i < n) {
    const key = sortedKeys[i]!;
    let end = i + 1;
    let songCount = 1;
    while (end < n && sortedKeys[end] === key) {
      songCount += +(sortedSongs[end] !== sortedSongs[end - 1]);
      end++;
    }
    if (cut.startsAt(pairs)) startSegment(segments, key, previousKey, out.length);
    out.reserve(16 + songCount * 16);
    out.varint(key - previousKey);
    out.varint(songCount);
    previousKey = key;
    let previousSong = 0;
    let k = i;
    while (k < end) {
      const song = sortedSongs[k]!;
      let m = k + 1;
      while (m < end && sortedSongs[m] === song) m++;
      out.varint(song - previousSong);
      out.varint(m - k);
      previousSong = song;
      k = m;
    }
    keyCount++;
    pairs += songCount;
    i = end;
  }
  return { keys: keyCount, pairs, plays: n, segments };
}

const TWO_32 = 2 ** 32;

/**
 * The first `n` pairs sorted by key, then song, into `sortedKeys` and `sortedSongs`. When the keys
 * and the songs each span less than 2^32 (ids past 2^32 in a band, as a service's 11-digit ids
 * are), as offsets from their least, by the radix sort of aggregatePacked (sortPackedPairs).
 * Otherwise (ids spread over the whole range up to 2^53): keys numbered densely through a hash
 * table, the pairs placed by a counting sort on their key's rank, each key's songs sorted in
 * place. (A radix sort over four 32-bit words a pair took 8 passes for such ids, slower.)
 */
function sortWide(
  keys: Float64Array,
  songs: Float64Array,
  n: number,
  sortedKeys: Float64Array,
  sortedSongs: Float64Array,
): void {
  let leastKey = keys[0]!;
  let mostKey = leastKey;
  let leastSong = songs[0]!;
  let mostSong = leastSong;
  for (let i = 1; i < n; i++) {
    const key = keys[i]!;
    const song = songs[i]!;
    if (key < leastKey) leastKey = key;
    if (key > mostKey) mostKey = key;
    if (song < leastSong) leastSong = song;
    if (song > mostSong) mostSong = song;
  }
  if (mostKey - leastKey < TWO_32 && mostSong - leastSong < TWO_32) {
    const packed = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) {
      packed[2 * i] = songs[i]! - leastSong;
      packed[2 * i + 1] = keys[i]! - leastKey;
    }
    sortPackedPairs(packed, n);
    for (let i = 0; i < n; i++) {
      sortedSongs[i] = packed[2 * i]! + leastSong;
      sortedKeys[i] = packed[2 * i + 1]! + leastKey;
    }
    return;
  }
  const dense = new Int32Array(n);
  const distinct = denseIds(keys, n, dense);
  const keyCount = distinct.length;
  // rankOfDense[d]: position of dense key d in ascending key order.
  const byRank = distinct.slice().sort();
  const rankOfDense = new Int32Array(keyCount);
  if (keyCount > 1) {
    const lookup = new Map<number, number>();
    for (let d = 0; d < keyCount; d++) lookup.set(distinct[d]!, d);
    for (let r = 0; r < keyCount; r++) rankOfDense[lookup.get(byRank[r]!)!] = r;
  }
  const starts = new Int32Array(keyCount + 1);
  for (let i = 0; i < n; i++) starts[rankOfDense[dense[i]!]! + 1]!++;
  for (let r = 0; r < keyCount; r++) starts[r + 1]! += starts[r]!;
  const cursor = starts.slice(0, keyCount);
  for (let i = 0; i < n; i++) sortedSongs[cursor[rankOfDense[dense[i]!]!]!++] = songs[i]!;
  for (let r = 0; r < keyCount; r++) {
    sortedKeys.fill(byRank[r]!, starts[r]!, starts[r + 1]!);
    sortRange(sortedSongs, starts[r]!, starts[r + 1]!);
  }
}

/**
 * The fast path of aggregatePairs for a partition whose ids all fit 32 bits: the first `n` pairs
 * of `sorter` (two words each, the song then the key: `key * 2^32 + song` as a uint64), read into
 * its memory by the caller, sorted there by an LSD radix sort on their two uint32 halves
 * (radixSort.ts: a few linear passes, where V8's BigUint64Array#sort, a comparison sort, took 60
 * to 80 ns a pair and the general path about 200), then run-length encoded into the 'words'
 * layout (encodeWords: a partial's blocks since version 3; the general path writes varints).
 */
export function aggregatePacked(
  sorter: PairSorter,
  n: number,
  out: ByteWriter,
  segmentKeys = SEGMENT_KEYS,
  segmentPairs = Number.POSITIVE_INFINITY,
): BlockStats {
  const sorted = sorter.sort(n);
  return (
    encodeInKernel(sorter, sorted, n, out, segmentKeys, segmentPairs) ??
    encodeWords(sorted, n, out, new SegmentCut(segmentKeys, segmentPairs))
  );
}

interface WordsBlockExports {
  encode(v: number, n: number, out: number, end: number, segmentKeys: number, segmentPairs: number): number;
  keys(): number;
  pairs(): number;
  segments(): number;
}

/**
 * Whether aggregatePacked encodes in WebAssembly (encodeInKernel) where it can. Read at each call:
 * the tests turn it off to compare the kernel's blocks with encodeWords', byte for byte.
 */
export const wordsBlocks = { inKernel: true };

/** The wordsBlock kernel over each sorter's memory (an instance a memory). */
const wordsBlockKernels = new WeakMap<WebAssembly.Memory, WordsBlockExports>();

/**
 * encodeWords in WebAssembly (wordsBlock.as.ts), over the sorter's memory: the block written into
 * the region the sort left free, then copied into `out`. In JavaScript the loop's typed-array
 * accesses were most of a day's encoding (0.55 s of a daily run's CPU, docs/BENCHMARKS.md).
 * Undefined when the block and its segments would not fit that region (8 bytes a pair of the
 * sorter's capacity: a block takes 5 to 6 a pair, and up to 22 where every key has one song), and
 * where the writer holds a length not a multiple of 4: encodeWords writes those.
 */
export function encodeInKernel(
  sorter: PairSorter,
  sorted: Uint32Array,
  n: number,
  out: ByteWriter,
  segmentKeys: number,
  segmentPairs: number,
): BlockStats | undefined {
  // Its padding counts from the block's start, encodeWords' from the writer's: the same at 0 mod 4.
  if (!wordsBlocks.inKernel || out.length % 4 !== 0) return undefined;
  let kernel = wordsBlockKernels.get(sorter.memory);
  if (kernel === undefined) {
    kernel = kernelInstance<WordsBlockExports>(WORDS_BLOCK_WASM, sorter.memory);
    wordsBlockKernels.set(sorter.memory, kernel);
  }
  // The block from the region's start, its segments' table from its end (see wordsBlock.as.ts).
  const { start, end } = sorter.spare(sorted);
  const pairsCut = Number.isFinite(segmentPairs) ? Math.min(segmentPairs, 0x7fffffff) : 0x7fffffff;
  const bytes = kernel.encode(sorted.byteOffset, n, start, end, segmentKeys, pairsCut);
  if (bytes < 0) return undefined;
  const memory = new Uint8Array(sorter.memory.buffer);
  out.reserve(bytes);
  out.bytes.set(memory.subarray(start, start + bytes), out.length);
  const base = out.length;
  out.length += bytes;
  const count = kernel.segments();
  const table = new Uint32Array(sorter.memory.buffer, end - 12 * count, 3 * count);
  const segments = emptySegments();
  for (let s = 3 * (count - 1); s >= 0; s -= 3) {
    segments.keys.push(table[s]!);
    segments.bases.push(table[s + 1]!);
    segments.offsets.push(base + table[s + 2]!);
  }
  return { keys: kernel.keys(), pairs: kernel.pairs(), plays: n, segments, layout: 'words' };
}

/**
 * The sorted pairs `v` (song, key words) as a block of the 'words' layout, repeated per key:
 *
 *     varint(key - previousKey) varint(songCount) zero bytes to a multiple of 4 from the block's
 *     start, { uint32 song, little endian }*songCount, { varint(plays) }*songCount
 *
 * A key's songs are read in place as 32-bit words (a Uint32Array over the bytes, the block laid at
 * a multiple of 4 in the file and in memory): the merge of the window finds no varint end, where
 * walking the varints of a week of 7 x 20M rows was 1.3 s of the user chart's CPU
 * (docs/BENCHMARKS.md). The padding costs about a sixth of a byte a pair there.
 */
function encodeWords(v: Uint32Array, n: number, out: ByteWriter, cut: SegmentCut): BlockStats {
  let keys = 0;
  let pairs = 0;
  let previousKey = 0;
  const segments = emptySegments();
  let bytes = out.bytes;
  let pos = out.length;
  let i = 0;
  while (i < n) {
    const key = v[2 * i + 1]!;
    if (cut.startsAt(pairs)) startSegment(segments, key, previousKey, pos);
    let end = i + 1;
    let songCount = 1;
    while (end < n && v[2 * end + 1] === key) {
      songCount += +(v[2 * end] !== v[2 * end - 2]);
      end++;
    }
    // Two varints of at most 5 bytes, 3 of padding, then 4 bytes a song and 5 for its plays.
    const need = 13 + songCount * 9;
    if (pos + need > bytes.length) {
      out.length = pos;
      out.reserve(need);
      bytes = out.bytes;
    }
    pos = putUint32(bytes, pos, key - previousKey);
    previousKey = key;
    pos = putUint32(bytes, pos, songCount);
    while ((pos & 3) !== 0) bytes[pos++] = 0;
    let playsAt = pos + 4 * songCount;
    let k = i;
    while (k < end) {
      const song = v[2 * k]!;
      let m = k + 1;
      while (m < end && v[2 * m] === song) m++;
      bytes[pos] = song & 0xff;
      bytes[pos + 1] = (song >>> 8) & 0xff;
      bytes[pos + 2] = (song >>> 16) & 0xff;
      bytes[pos + 3] = song >>> 24;
      pos += 4;
      playsAt = putUint32(bytes, playsAt, m - k);
      k = m;
    }
    pos = playsAt;
    keys++;
    pairs += songCount;
    i = end;
  }
  out.length = pos;
  return { keys, pairs, plays: n, segments, layout: 'words' };
}

/** ByteWriter.varint for a value below 2^32, on a buffer with room: `>>>` is exact up to there. */
function putUint32(bytes: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    bytes[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  bytes[pos++] = value;
  return pos;
}

/**
 * Where a block's segments start: at its first key, then after `keys` keys, or sooner at a key
 * once the segment holds `pairs` pairs. Asked once at each key, in order, with the block's pairs
 * before that key.
 */
class SegmentCut {
  private keysIn = 0;
  private pairsBefore = 0;

  constructor(
    private readonly keys: number,
    private readonly pairs: number,
  ) {}

  startsAt(pairsBefore: number): boolean {
    const starts =
      this.keysIn === 0 || this.keysIn === this.keys || pairsBefore - this.pairsBefore >= this.pairs;
    if (starts) {
      this.keysIn = 0;
      this.pairsBefore = pairsBefore;
    }
    this.keysIn++;
    return starts;
  }
}

function startSegment(segments: Segments, key: number, base: number, offset: number): void {
  segments.keys.push(key);
  segments.bases.push(base);
  segments.offsets.push(offset);
}

/** Fill in each segment's CRC-32 once the block's bytes are final. */
export function checksumSegments(segments: Segments, block: Uint8Array): void {
  const { offsets } = segments;
  segments.crcs = offsets.map((start, i) => crc32(block.subarray(start, offsets[i + 1] ?? block.length)));
}

/** Sort `values[from, to)` ascending. */
function sortRange(values: Float64Array, from: number, to: number): void {
  if (to - from <= 16) {
    for (let i = from + 1; i < to; i++) {
      const v = values[i]!;
      let j = i - 1;
      while (j >= from && values[j]! > v) {
        values[j + 1] = values[j]!;
        j--;
      }
      values[j + 1] = v;
    }
  } else values.subarray(from, to).sort();
}

/**
 * Fills dense[i] with a small id for keys[i] and returns the distinct keys by id. Small keys
 * (country indexes) are looked up directly; others go through an open-addressing table.
 */
function denseIds(keys: Float64Array, n: number, dense: Int32Array): Float64Array {
  let max = 0;
  for (let i = 0; i < n; i++) if (keys[i]! > max) max = keys[i]!;
  if (max < 4096) {
    const idOf = new Int32Array(max + 1).fill(-1);
    const distinct: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      let d = idOf[k]!;
      if (d < 0) {
        d = idOf[k] = distinct.length;
        distinct.push(k);
      }
      dense[i] = d;
    }
    return Float64Array.from(distinct);
  }
  let capacity = 1024;
  while (capacity < n * 2) capacity *= 2;
  // Distinct keys are usually far fewer than pairs; start smaller and grow when half full.
  capacity = Math.max(1024, capacity >>> 2);
  let mask = capacity - 1;
  let slotKey = new Float64Array(capacity);
  let slotId = new Int32Array(capacity).fill(-1);
  let distinct = new Float64Array(Math.max(16, capacity >>> 1));
  let count = 0;
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    let s = mix(k) & mask;
    let d: number;
    for (;;) {
      d = slotId[s]!;
      if (d < 0 || slotKey[s] === k) break;
      s = (s + 1) & mask;
    }
    if (d < 0) {
      d = count++;
      slotId[s] = d;
      slotKey[s] = k;
      if (count > distinct.length) {
        const grown = new Float64Array(distinct.length * 2);
        grown.set(distinct);
        distinct = grown;
      }
      distinct[d] = k;
      if (count * 2 > capacity) {
        capacity *= 2;
        mask = capacity - 1;
        slotKey = new Float64Array(capacity);
        slotId = new Int32Array(capacity).fill(-1);
        for (let e = 0; e < count; e++) {
          const ek = distinct[e]!;
          let es = mix(ek) & mask;
          while (slotId[es]! >= 0) es = (es + 1) & mask;
          slotId[es] = e;
          slotKey[es] = ek;
        }
      }
    }
    dense[i] = d;
  }
  return distinct.slice(0, count);
}

function mix(k: number): number {
  let h = k < 4294967296 ? k | 0 : (k >>> 0) ^ Math.floor(k / 4294967296);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}
