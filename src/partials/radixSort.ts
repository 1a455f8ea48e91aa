import { kernelInstance, WASM_MAX_PAGES, WASM_PAGE_BYTES } from '../ops/wasmKernel.js';
import { WASM_BASE64 } from './radixSort.wasm.js';

/**
 * An LSD radix sort of packed (key, song) pairs, the sort of a day's partial (aggregatePacked).
 *
 * A pair is two uint32 words, song (low half) then key (high half): read as one little-endian
 * uint64 it is `key * 2^32 + song`, and the sort orders by that value. V8 sorts a BigUint64Array
 * with a comparison sort (about 60 to 80 ns a pair on a partition of 600,000 pairs here); this
 * sorts in a few linear passes:
 *
 * - one pass finds the bits that vary between pairs (OR of each word XOR the first pair's);
 *   the bits that do not vary (a partition's high song bits, a country key's 24 high bits) cost no
 *   pass at all;
 * - the varying span of each word is cut into at most 3 digits of at most 14 bits (a 64 KB
 *   histogram, in the L2 cache), song digits first: a song id below 2^28 takes 2 passes, where
 *   12-bit digits took 3 (docs/BENCHMARKS.md, "14-bit digits");
 * - one pass counts every digit's histogram at once, then one stable scatter pass per digit.
 *
 * Stable LSD passes over the song's digits then the key's leave the pairs ordered by key, then
 * song: exactly the order of a numeric sort of the uint64 values.
 *
 * The loops are WebAssembly, compiled from radixSort.as.ts (AssemblyScript): in JavaScript every
 * typed-array access of the passes re-checks its array (map, bounds, base pointer) after the
 * loop's interrupt check, five or six loads a pair where the kernel does one, and the same sort
 * took 1.7 to 1.9 times as long on a real day's partitions (docs/BENCHMARKS.md, "The radix sort
 * in WebAssembly").
 */

/** Histogram counters of a digit (2^14): the kernel's BUCKETS. */
const BUCKETS = 1 << 14;
/**
 * The kernel's memory before the pairs: the digits' shifts and masks (64 bytes), then 7
 * histograms (the 6 digits a pair can have and a spare one); checked against its HEADER_BYTES.
 */
const HEADER_BYTES = 64 + 7 * BUCKETS * 4;

interface KernelExports {
  sortPairs(pairs: number, scratch: number, n: number): number;
  HEADER_BYTES: WebAssembly.Global;
}

/**
 * The sort's memory and its kernel: room for `capacity` pairs and as many again to sort through.
 * Fill `pairs` (or its buffer, as bytes), then `sort(n)`. A sorter is kept from one sort to the
 * next (the embedded engine's workers keep one for a day's partitions); its memory is let go with
 * it, as a WebAssembly memory cannot shrink.
 */
export class PairSorter {
  /** The pairs to sort, two words a pair (song, key), `capacity` pairs: the caller fills them. */
  readonly pairs: Uint32Array;
  private readonly exports: KernelExports;
  /** The memory of the pairs and the sort (another kernel may run over it: aggregatePairs.ts' encodeWords). */
  readonly memory: WebAssembly.Memory;

  constructor(readonly capacity: number) {
    const bytes = HEADER_BYTES + 16 * Math.max(1, capacity);
    const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
    if (!Number.isSafeInteger(capacity) || capacity < 0 || pages > WASM_MAX_PAGES)
      throw new RangeError(`PairSorter: room for ${capacity} pairs is past a 4 GiB WebAssembly memory`);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.exports = kernelInstance<KernelExports>(WASM_BASE64, this.memory);
    if (this.exports.HEADER_BYTES.value !== HEADER_BYTES)
      throw new Error('radixSort.wasm.ts does not match radixSort.ts: run npm run build:wasm');
    this.pairs = new Uint32Array(this.memory.buffer, HEADER_BYTES, 2 * capacity);
  }

  /**
   * Sort the first `n` pairs of `pairs` ascending by key, then song. Returns a view of the sorted
   * 2n words: `pairs` itself or the second region of this sorter's memory, valid until the next
   * sort.
   */
  sort(n: number): Uint32Array {
    if (n > this.capacity) throw new RangeError(`PairSorter: ${n} pairs, room for ${this.capacity}`);
    const scratchAt = this.scratchAt();
    const inScratch = this.exports.sortPairs(HEADER_BYTES, scratchAt, n) === 1;
    return inScratch ? new Uint32Array(this.memory.buffer, scratchAt, 2 * n) : this.pairs.subarray(0, 2 * n);
  }

  /**
   * The region of this sorter's memory that `sorted` (sort's answer) is not in, as byte addresses
   * [start, end): free until the next sort (8 bytes a pair of the capacity).
   */
  spare(sorted: Uint32Array): { start: number; end: number } {
    const scratchAt = this.scratchAt();
    const start = sorted.byteOffset === scratchAt ? HEADER_BYTES : scratchAt;
    return { start, end: start + 8 * this.capacity };
  }

  /** Where the sort's second region starts, after the pairs. */
  private scratchAt(): number {
    return HEADER_BYTES + 8 * this.capacity;
  }
}

/**
 * Sort the first `n` pairs of `pairs` (2n words: song, key, song, key, ...) in place, ascending by
 * key, then song; the words past them are left as they were. For a single sort: a worker sorting
 * partition after partition keeps a PairSorter and fills it instead (no copy in or out).
 */
export function sortPackedPairs(pairs: Uint32Array, n: number): void {
  if (pairs.length < 2 * n) throw new RangeError('sortPackedPairs: array too short');
  if (n < 2) return;
  const sorter = new PairSorter(n);
  sorter.pairs.set(pairs.subarray(0, 2 * n));
  pairs.set(sorter.sort(n));
}
