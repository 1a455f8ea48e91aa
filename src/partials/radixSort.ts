/**
 * An LSD radix sort of packed (key, song) pairs, the sort of a day's partial (aggregatePacked).
 *
 * A pair is two uint32 words, song (low half) then key (high half): read as one little-endian
 * uint64 it is `key * 2^32 + song`, and the sort orders by that value. V8 sorts a BigUint64Array
 * with a comparison sort (about 60 to 80 ns a pair on a partition of 600,000 pairs here); this
 * sorts in a few linear passes over typed arrays (about 25 to 35 ns a pair):
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
 */

/** Widest digit: 2^14 counters per histogram. */
const MAX_DIGIT_BITS = 14;
/** A word's varying span takes at most this many digits (32 bits / 14 = 3). */
const DIGITS_PER_WORD = 3;
const BUCKETS = 1 << MAX_DIGIT_BITS;

/**
 * The histograms, kept from one sort to the next (zeroed each time): a day's 64 sorts made 29 MB
 * of them anew, memory outside V8's heap that stayed until a collection (peak RSS about 30 MB
 * higher in a cold week).
 */
let histogramScratch: Int32Array | undefined;

/**
 * Sort the first `n` pairs of `pairs` (2n words: song, key, song, key, ...) ascending by key, then
 * song. `scratch` must hold at least 2n words. Returns the array that holds the sorted pairs:
 * `pairs` or `scratch` (passes alternate between them), its other words left as they were.
 */
export function sortPackedPairs(pairs: Uint32Array, n: number, scratch: Uint32Array): Uint32Array {
  if (scratch.length < 2 * n || pairs.length < 2 * n)
    throw new RangeError('sortPackedPairs: arrays too short');
  if (n < 2) return pairs;
  // The bits in which some pair differs from the first, in each word.
  const firstSong = pairs[0]!;
  const firstKey = pairs[1]!;
  let songBits = 0;
  let keyBits = 0;
  for (let i = 0; i < n; i++) {
    songBits |= pairs[2 * i]! ^ firstSong;
    keyBits |= pairs[2 * i + 1]! ^ firstKey;
  }
  const songDigits = digitsOf(songBits);
  const keyDigits = digitsOf(keyBits);
  if (songDigits.length + keyDigits.length === 0) return pairs;
  const counts = histograms(pairs, n, songDigits, keyDigits);
  let src = pairs;
  let dst = scratch;
  let h = 0;
  for (const [word, digits] of [
    [0, songDigits],
    [1, keyDigits],
  ] as const) {
    for (const digit of digits) {
      scatter(src, dst, n, word, digit.shift, digit.mask, counts.subarray(h * BUCKETS, (h + 1) * BUCKETS));
      h++;
      const t = src;
      src = dst;
      dst = t;
    }
  }
  return src;
}

interface Digit {
  shift: number;
  mask: number;
}

/**
 * The span from the lowest to the highest set bit of `varying`, cut into the fewest digits of at
 * most MAX_DIGIT_BITS, of even widths (a 27-bit song span: 3 digits of 9 bits, not 12, 12 and 3).
 */
function digitsOf(varying: number): Digit[] {
  if (varying === 0) return [];
  const low = 31 - Math.clz32(varying & -varying);
  const bits = 32 - Math.clz32(varying) - low;
  const count = Math.ceil(bits / MAX_DIGIT_BITS);
  const width = Math.ceil(bits / count);
  const digits: Digit[] = [];
  for (let at = 0; at < bits; at += width) {
    // A mask of 2^32 - 1 never occurs: a digit is at most 12 bits wide.
    digits.push({ shift: low + at, mask: (1 << Math.min(width, bits - at)) - 1 });
  }
  return digits;
}

/**
 * Every digit's histogram in one pass, turned into starting offsets. Unused digit slots have a
 * mask of 0 and count into bucket 0 of a histogram no pass reads. Two loop shapes: one of 4
 * counters a pair for plans of at most 2 digits a word (a countries table: songs below 2^28 and a
 * one-byte key; a users table whose ids are below 2^28), one of 6 for the others. With one shape
 * of 6, a countries table counted 3 unused slots a pair into the one spare counter, each increment
 * waiting for the last: 5.2 ns a pair against 3.3 (a micro-benchmark of 620,000 pairs).
 */
function histograms(pairs: Uint32Array, n: number, songDigits: Digit[], keyDigits: Digit[]): Int32Array {
  const used = songDigits.length + keyDigits.length;
  histogramScratch ??= new Int32Array((2 * DIGITS_PER_WORD + 1) * BUCKETS);
  // The histograms read (the spare slot's counts are never read).
  const counts = histogramScratch.fill(0, 0, used * BUCKETS);
  const slot = (digits: Digit[], d: number, index: number): [number, number, number] =>
    d < digits.length
      ? [digits[d]!.shift, digits[d]!.mask, index * BUCKETS]
      : [0, 0, 2 * DIGITS_PER_WORD * BUCKETS];
  const [ls0, lm0, lo0] = slot(songDigits, 0, 0);
  const [ls1, lm1, lo1] = slot(songDigits, 1, 1);
  const [ls2, lm2, lo2] = slot(songDigits, 2, 2);
  const base = songDigits.length;
  const [ks0, km0, ko0] = slot(keyDigits, 0, base);
  const [ks1, km1, ko1] = slot(keyDigits, 1, base + 1);
  const [ks2, km2, ko2] = slot(keyDigits, 2, base + 2);
  if (songDigits.length <= 2 && keyDigits.length <= 2) {
    for (let i = 0; i < n; i++) {
      const song = pairs[2 * i]!;
      const key = pairs[2 * i + 1]!;
      counts[lo0 + ((song >>> ls0) & lm0)]!++;
      counts[lo1 + ((song >>> ls1) & lm1)]!++;
      counts[ko0 + ((key >>> ks0) & km0)]!++;
      counts[ko1 + ((key >>> ks1) & km1)]!++;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const song = pairs[2 * i]!;
      const key = pairs[2 * i + 1]!;
      counts[lo0 + ((song >>> ls0) & lm0)]!++;
      counts[lo1 + ((song >>> ls1) & lm1)]!++;
      counts[lo2 + ((song >>> ls2) & lm2)]!++;
      counts[ko0 + ((key >>> ks0) & km0)]!++;
      counts[ko1 + ((key >>> ks1) & km1)]!++;
      counts[ko2 + ((key >>> ks2) & km2)]!++;
    }
  }
  for (let d = 0; d < used; d++) {
    let sum = 0;
    for (let b = d * BUCKETS, end = b + BUCKETS; b < end; b++) {
      const c = counts[b]!;
      counts[b] = sum;
      sum += c;
    }
  }
  return counts;
}

/** One stable pass: pairs from `src` to `dst` by the digit of `word` at `shift`; `starts` is consumed. */
function scatter(
  src: Uint32Array,
  dst: Uint32Array,
  n: number,
  word: number,
  shift: number,
  mask: number,
  starts: Int32Array,
): void {
  if (word === 0) {
    for (let i = 0; i < n; i++) {
      const song = src[2 * i]!;
      const key = src[2 * i + 1]!;
      const at = 2 * starts[(song >>> shift) & mask]!++;
      dst[at] = song;
      dst[at + 1] = key;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const song = src[2 * i]!;
      const key = src[2 * i + 1]!;
      const at = 2 * starts[(key >>> shift) & mask]!++;
      dst[at] = song;
      dst[at + 1] = key;
    }
  }
}
