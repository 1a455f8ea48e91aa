/**
 * The radix sort of a day's partial, in AssemblyScript, compiled to WebAssembly
 * (`npm run build:wasm` writes radixSort.wasm.ts; radixSort.ts loads it and says why it is not
 * JavaScript). The algorithm is radixSort.ts's; this file holds only its loops, over the module's
 * memory, which radixSort.ts lays out:
 *
 *     [0, 64)             the digits' shifts and masks (8 of each, i32)
 *     [64, 64 + 448 KiB)  the histograms: 7 of BUCKETS i32 (slot 6 a spare no pass reads)
 *     pairs, scratch      two regions of 8 bytes a pair: song (low word), key (high word)
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

const MAX_DIGIT_BITS: i32 = 14;
const BUCKETS: i32 = 1 << MAX_DIGIT_BITS;
const SHIFTS: usize = 0;
const MASKS: usize = 32;
const COUNTS: usize = 64;

/** The bytes of memory before the pairs: the digits and the histograms. */
export const HEADER_BYTES: i32 = <i32>COUNTS + 7 * BUCKETS * 4;

/**
 * The span of `varying`'s set bits cut into the fewest digits of at most MAX_DIGIT_BITS, of even
 * widths, stored from digit slot `at`; returns how many.
 */
function digitsOf(varying: u32, at: i32): i32 {
  if (varying === 0) return 0;
  const low = <i32>ctz(varying);
  const bits = 32 - <i32>clz(varying) - low;
  const count = (bits + MAX_DIGIT_BITS - 1) / MAX_DIGIT_BITS;
  const width = (bits + count - 1) / count;
  let d = 0;
  for (let a = 0; a < bits; a += width) {
    store<i32>(SHIFTS + ((<usize>(at + d)) << 2), low + a);
    store<u32>(MASKS + ((<usize>(at + d)) << 2), (1 << min(width, bits - a)) - 1);
    d++;
  }
  return d;
}

/** The histogram of digit slot `d` (the spare one past `used`). */
function histogram(d: i32, used: i32): usize {
  const slot: i32 = d < used ? d : 6;
  return COUNTS + ((<usize>slot * <usize>BUCKETS) << 2);
}

/** One more in the counter at byte `at`. */
function count(at: usize): void {
  store<i32>(at, load<i32>(at) + 1);
}

/**
 * Sort the `n` pairs at byte `pairs` by key, then song, through the region at byte `scratch`.
 * Returns 0 when the sorted pairs are at `pairs`, 1 when at `scratch`.
 */
export function sortPairs(pairs: usize, scratch: usize, n: i32): i32 {
  if (n < 2) return 0;
  // The bits in which some pair differs from the first, in each word.
  const firstSong = load<u32>(pairs);
  const firstKey = load<u32>(pairs, 4);
  let songBits: u32 = 0;
  let keyBits: u32 = 0;
  for (let i = 0; i < n; i++) {
    const p = pairs + ((<usize>i) << 3);
    songBits |= load<u32>(p) ^ firstSong;
    keyBits |= load<u32>(p, 4) ^ firstKey;
  }
  const songDigits = digitsOf(songBits, 0);
  const keyDigits = digitsOf(keyBits, songDigits);
  const used = songDigits + keyDigits;
  if (used === 0) return 0;
  countDigits(pairs, n, songDigits, keyDigits);
  for (let d = 0; d < used; d++) {
    let sum = 0;
    const base = histogram(d, used);
    for (let b = 0; b < BUCKETS; b++) {
      const at = base + ((<usize>b) << 2);
      const c = load<i32>(at);
      store<i32>(at, sum);
      sum += c;
    }
  }
  let src = pairs;
  let dst = scratch;
  let flipped = 0;
  for (let d = 0; d < used; d++) {
    scatter(src, dst, n, d < songDigits ? 0 : 4, d);
    const t = src;
    src = dst;
    dst = t;
    flipped ^= 1;
  }
  return flipped;
}

/**
 * Every digit's histogram in one pass. Two loop shapes, as the JavaScript had: one of 4 counters
 * a pair for plans of at most 2 digits a word, one of 6 for the others, so that a countries table
 * (a one-digit key) does not count unused slots into one spare counter, each increment waiting for
 * the last.
 */
function countDigits(pairs: usize, n: i32, songDigits: i32, keyDigits: i32): void {
  const used = songDigits + keyDigits;
  memory.fill(COUNTS, 0, (<usize>(used * BUCKETS)) << 2);
  // Unused slots: shift 0, mask 0, the spare histogram.
  const ls0 = slotShift(0, songDigits, 0);
  const ls1 = slotShift(1, songDigits, 0);
  const ls2 = slotShift(2, songDigits, 0);
  const lm0 = slotMask(0, songDigits, 0);
  const lm1 = slotMask(1, songDigits, 0);
  const lm2 = slotMask(2, songDigits, 0);
  const lo0 = histogram(0, songDigits);
  const lo1 = histogram(1, songDigits);
  const lo2 = histogram(2, songDigits);
  const ks0 = slotShift(0, keyDigits, songDigits);
  const ks1 = slotShift(1, keyDigits, songDigits);
  const ks2 = slotShift(2, keyDigits, songDigits);
  const km0 = slotMask(0, keyDigits, songDigits);
  const km1 = slotMask(1, keyDigits, songDigits);
  const km2 = slotMask(2, keyDigits, songDigits);
  const ko0 = keyDigits > 0 ? histogram(songDigits, used) : histogram(6, 0);
  const ko1 = keyDigits > 1 ? histogram(songDigits + 1, used) : histogram(6, 0);
  const ko2 = keyDigits > 2 ? histogram(songDigits + 2, used) : histogram(6, 0);
  if (songDigits <= 2 && keyDigits <= 2) {
    for (let i = 0; i < n; i++) {
      const p = pairs + ((<usize>i) << 3);
      const song = load<u32>(p);
      const key = load<u32>(p, 4);
      count(lo0 + ((<usize>((song >>> ls0) & lm0)) << 2));
      count(lo1 + ((<usize>((song >>> ls1) & lm1)) << 2));
      count(ko0 + ((<usize>((key >>> ks0) & km0)) << 2));
      count(ko1 + ((<usize>((key >>> ks1) & km1)) << 2));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const p = pairs + ((<usize>i) << 3);
      const song = load<u32>(p);
      const key = load<u32>(p, 4);
      count(lo0 + ((<usize>((song >>> ls0) & lm0)) << 2));
      count(lo1 + ((<usize>((song >>> ls1) & lm1)) << 2));
      count(lo2 + ((<usize>((song >>> ls2) & lm2)) << 2));
      count(ko0 + ((<usize>((key >>> ks0) & km0)) << 2));
      count(ko1 + ((<usize>((key >>> ks1) & km1)) << 2));
      count(ko2 + ((<usize>((key >>> ks2) & km2)) << 2));
    }
  }
}

/** Digit `d` of a word whose digits start at slot `base`: its shift, 0 when it has none. */
function slotShift(d: i32, digits: i32, base: i32): u32 {
  return d < digits ? load<u32>(SHIFTS + ((<usize>(base + d)) << 2)) : 0;
}

/** Digit `d` of a word whose digits start at slot `base`: its mask, 0 when it has none. */
function slotMask(d: i32, digits: i32, base: i32): u32 {
  return d < digits ? load<u32>(MASKS + ((<usize>(base + d)) << 2)) : 0;
}

/** One stable pass by digit slot `d` of the word at byte `word` of each pair (0 song, 4 key). */
function scatter(src: usize, dst: usize, n: i32, word: usize, d: i32): void {
  const shift = load<u32>(SHIFTS + ((<usize>d) << 2));
  const mask = load<u32>(MASKS + ((<usize>d) << 2));
  const starts = COUNTS + ((<usize>(d * BUCKETS)) << 2);
  for (let i = 0; i < n; i++) {
    const p = src + ((<usize>i) << 3);
    const pair = load<u64>(p);
    const at = starts + ((<usize>((load<u32>(p + word) >>> shift) & mask)) << 2);
    const to = load<i32>(at);
    store<i32>(at, to + 1);
    store<u64>(dst + ((<usize>to) << 3), pair);
  }
}
