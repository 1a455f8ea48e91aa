import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PairSorter, sortPackedPairs } from '../../src/partials/radixSort.js';
import { mulberry32 } from '../support/prng.js';

/**
 * The radix sort of packed (key, song) pairs (src/partials/radixSort.ts) against a simple
 * reference: the pairs as BigInt values `key * 2^32 + song`, sorted by comparison. Random pairs of
 * every shape, and the adversarial ones: all equal, already sorted, reversed, every bit varying,
 * the maximum values, one varying word only, one varying bit at the top or the bottom.
 */

const MAX_U32 = 0xffffffff;

type Pair = [key: number, song: number];

/** The reference: pairs ordered as the uint64 values key * 2^32 + song. */
function reference(pairs: Pair[]): Pair[] {
  return pairs
    .map(([key, song]) => (BigInt(key) << 32n) | BigInt(song))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((v) => [Number(v >> 32n), Number(v & 0xffffffffn)]);
}

/** Sort with sortPackedPairs, with junk words past the pairs (they must stay). */
function sorted(pairs: Pair[], slack = 3): Pair[] {
  const n = pairs.length;
  const words = new Uint32Array(2 * n + slack).fill(0xdeadbeef);
  pairs.forEach(([key, song], i) => {
    words[2 * i] = song;
    words[2 * i + 1] = key;
  });
  sortPackedPairs(words, n);
  for (let i = 2 * n; i < words.length; i++) expect(words[i]).toBe(0xdeadbeef);
  return Array.from({ length: n }, (_, i) => [words[2 * i + 1]!, words[2 * i]!] as Pair);
}

const u32 = fc.integer({ min: 0, max: MAX_U32 });
/** Values that stress digit edges: small, around 2^12, 2^24, 2^31, the maximum, anything. */
const wordArb = fc.oneof(
  fc.integer({ min: 0, max: 20 }),
  fc.integer({ min: 4090, max: 4100 }),
  fc.integer({ min: 2 ** 24 - 3, max: 2 ** 24 + 3 }),
  fc.integer({ min: 2 ** 31 - 3, max: 2 ** 31 + 3 }),
  fc.integer({ min: MAX_U32 - 5, max: MAX_U32 }),
  u32,
);

describe('sortPackedPairs', () => {
  it('orders random pairs as the reference does', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(wordArb, wordArb), { maxLength: 400 }), (pairs) => {
        expect(sorted(pairs)).toEqual(reference(pairs));
      }),
      { numRuns: 400 },
    );
  });

  it('orders pairs with few distinct keys or songs (a country table, a user with many songs)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), u32), { maxLength: 300 }),
        fc.boolean(),
        (pairs, swap) => {
          const input: Pair[] = swap ? pairs.map(([a, b]) => [b, a]) : pairs;
          expect(sorted(input)).toEqual(reference(input));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('orders plans of at most 2 digits a word: songs and keys below 2^28 (a countries table, small user ids)', () => {
    // Such plans are counted by a loop of their own.
    const below = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(below(8), below(28)), below(28)), { maxLength: 300 }),
        fc.integer({ min: 0, max: 4 }),
        (pairs, shift) => {
          // Shifted up: the varying bits start above bit 0, as a partition's fixed low bits would.
          const input: Pair[] = pairs.map(([key, song]) => [(key << shift) >>> 0, (song << shift) >>> 0]);
          expect(sorted(input)).toEqual(reference(input));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles the adversarial shapes', () => {
    const rnd = mulberry32(19);
    const n = 5000;
    const random = (): number => Math.floor(rnd() * 2 ** 32);
    const shapes: Record<string, Pair[]> = {
      empty: [],
      one: [[MAX_U32, MAX_U32]],
      allEqual: Array.from({ length: n }, () => [123456789, 987654321]),
      allMax: Array.from({ length: n }, () => [MAX_U32, MAX_U32]),
      allZero: Array.from({ length: n }, () => [0, 0]),
      sorted: reference(Array.from({ length: n }, () => [random(), random()])),
      reversed: reference(Array.from({ length: n }, () => [random(), random()])).reverse(),
      maxAndZero: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? [MAX_U32, 0] : [0, MAX_U32])),
      topBitOnly: Array.from({ length: n }, () => [rnd() < 0.5 ? 2 ** 31 : 0, rnd() < 0.5 ? 2 ** 31 : 0]),
      bottomBitOnly: Array.from({ length: n }, () => [Math.floor(rnd() * 2), Math.floor(rnd() * 2)]),
      keysOnly: Array.from({ length: n }, () => [random(), 42]),
      songsOnly: Array.from({ length: n }, () => [42, random()]),
      everyBit: [
        ...Array.from({ length: n }, (_, i): Pair => [i % 2 ? MAX_U32 : 0, i % 4 < 2 ? MAX_U32 : 0]),
        ...Array.from({ length: n }, (): Pair => [random(), random()]),
      ],
      // Every digit of a 12-bit plan at its edges.
      digitEdges: Array.from({ length: n }, () => [
        [0, 4095, 4096, 2 ** 24 - 1, 2 ** 24, MAX_U32][Math.floor(rnd() * 6)]!,
        [0, 4095, 4096, 2 ** 24 - 1, 2 ** 24, MAX_U32][Math.floor(rnd() * 6)]!,
      ]),
    };
    for (const [name, pairs] of Object.entries(shapes)) {
      expect(sorted(pairs), name).toEqual(reference(pairs));
    }
  });

  it('sorts a large random partition', () => {
    const rnd = mulberry32(7);
    const pairs: Pair[] = Array.from({ length: 200_000 }, () => [
      Math.floor(rnd() * 2 ** 32),
      Math.floor(rnd() * 1e8),
    ]);
    expect(sorted(pairs)).toEqual(reference(pairs));
  });

  it('refuses an array shorter than the pairs', () => {
    expect(() => sortPackedPairs(new Uint32Array(3), 2)).toThrow(RangeError);
  });
});

describe('PairSorter', () => {
  /** Fill the sorter with `pairs`, sort, and read the sorted pairs back. */
  function sortIn(sorter: PairSorter, pairs: Pair[]): Pair[] {
    pairs.forEach(([key, song], i) => {
      sorter.pairs[2 * i] = song;
      sorter.pairs[2 * i + 1] = key;
    });
    const out = sorter.sort(pairs.length);
    expect(out.length).toBe(2 * pairs.length);
    return Array.from({ length: pairs.length }, (_, i) => [out[2 * i + 1]!, out[2 * i]!] as Pair);
  }

  it('sorts partition after partition of other shapes in the same memory', () => {
    // A worker's sorter takes a users table, then a countries table (one key digit), then others:
    // each sort must start from zeroed histograms and its own digits.
    const rnd = mulberry32(11);
    const sorter = new PairSorter(50_000);
    const shapes: (() => Pair)[] = [
      () => [Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 27)],
      () => [Math.floor(rnd() * 250), Math.floor(rnd() * 2 ** 27)],
      () => [7, Math.floor(rnd() * 2 ** 32)],
      () => [Math.floor(rnd() * 2 ** 32), 5],
      () => [Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 32)],
      () => [Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 27)],
    ];
    for (const [i, shape] of shapes.entries()) {
      const pairs = Array.from({ length: 50_000 - 7_000 * i }, shape);
      expect(sortIn(sorter, pairs)).toEqual(reference(pairs));
    }
  });

  it('refuses more pairs than its room, and room past a 4 GiB memory', () => {
    expect(() => new PairSorter(10).sort(11)).toThrow(RangeError);
    expect(() => new PairSorter(2 ** 28)).toThrow(/4 GiB/);
  });
});
