import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregatePacked,
  aggregatePairs,
  encodeInKernel,
  SEGMENT_KEYS,
  segmentKeysFor,
  USER_SEGMENT_KEYS,
  USER_SEGMENT_PAIRS,
  wordsBlocks,
} from '../../src/partials/aggregatePairs.js';
import { ByteWriter } from '../../src/partials/varint.js';
import {
  addPairs,
  aggregate,
  blocksArb,
  decodeBlock,
  decodeWordsBlock,
  distinctPairs,
  encodeBlock,
  expectedBlock,
  MAX,
  packedPairs,
  type Totals,
  TWO_32,
} from '../support/chartBlocks.js';
import { mulberry32 } from '../support/prng.js';

/**
 * A day's (key, song) pairs counted into a block (src/partials/aggregatePairs.ts): the documented
 * encoding of a Map count, for any ids up to 2^53 - 1, and the packed path for ids below 2^32.
 */

/** aggregatePairs' block of the pairs is exactly the documented encoding of their Map count. */
function expectMapEncoding(keys: number[], songs: number[]): void {
  const totals: Totals = new Map();
  addPairs(totals, keys, songs);
  const { block, stats } = aggregate(keys, songs);
  expect(Array.from(block)).toEqual(Array.from(encodeBlock(expectedBlock(totals))));
  expect(stats).toMatchObject({ keys: totals.size, pairs: distinctPairs(totals), plays: keys.length });
}

describe('aggregatePairs', () => {
  it('encodes the documented layout', () => {
    const { block, stats } = aggregate([5, 3, 5, 3, 5], [10, 2, 10, 7, 1]);
    // key 3: songs 2 (1), 7 (1); key 5: songs 1 (1), 10 (2)
    expect(Array.from(block)).toEqual([3, 2, 2, 1, 5, 1, 2, 2, 1, 1, 9, 2]);
    expect(stats).toMatchObject({ keys: 2, pairs: 4, plays: 5 });
  });

  it('writes nothing for no pairs', () => {
    const { block, stats } = aggregate([], []);
    expect(block.length).toBe(0);
    expect(stats).toMatchObject({ keys: 0, pairs: 0, plays: 0 });
  });

  it('uses only the first n pairs', () => {
    const w = new ByteWriter(16);
    const stats = aggregatePairs(Float64Array.from([1, 2, 3]), Float64Array.from([7, 8, 9]), 2, w);
    expect(stats).toMatchObject({ keys: 2, pairs: 2, plays: 2 });
    expect(decodeBlock(w.result())).toEqual([
      [1, [[7, 1]]],
      [2, [[8, 1]]],
    ]);
  });

  it('appends after what the writer already holds', () => {
    const w = new ByteWriter(4);
    w.reserve(3);
    w.bytes.set([9, 9, 9]);
    w.length = 3;
    aggregatePairs(Float64Array.from([MAX, 0]), Float64Array.from([MAX, MAX]), 2, w);
    expect(Array.from(w.result().subarray(0, 3))).toEqual([9, 9, 9]);
    expect(decodeBlock(w.result().subarray(3))).toEqual([
      [0, [[MAX, 1]]],
      [MAX, [[MAX, 1]]],
    ]);
  });

  it('gives exactly the bytes of the documented encoding of a Map count, on random pairs', () => {
    fc.assert(
      fc.property(blocksArb, (blocks) => {
        for (const pairs of blocks) {
          expectMapEncoding(
            pairs.map((p) => p[0]),
            pairs.map((p) => p[1]),
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('handles thousands of large distinct keys and long song runs', () => {
    const rnd = mulberry32(42);
    const keys: number[] = [];
    const songs: number[] = [];
    // 6000 distinct keys above 2^32 (the key table must grow several times) ...
    for (let i = 0; i < 6000; i++) {
      const key = TWO_32 + Math.floor(rnd() * (MAX - TWO_32));
      const count = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < count; j++) {
        keys.push(key);
        songs.push(Math.floor(rnd() * 50));
      }
    }
    // ... and a few keys with hundreds of songs (native sort path), including 2^53 - 1.
    for (const key of [0, 4095, 4096, MAX]) {
      for (let j = 0; j < 700; j++) {
        keys.push(key);
        songs.push(rnd() < 0.5 ? Math.floor(rnd() * 120) : MAX - Math.floor(rnd() * 120));
      }
    }
    // Shuffle so that keys are not grouped.
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      [songs[i], songs[j]] = [songs[j]!, songs[i]!];
    }
    const totals: Totals = new Map();
    addPairs(totals, keys, songs);
    expect(totals.size).toBeGreaterThan(5990);
    const { block, stats } = aggregate(keys, songs);
    expect(decodeBlock(block)).toEqual(expectedBlock(totals));
    expect(stats).toMatchObject({ keys: totals.size, pairs: distinctPairs(totals), plays: keys.length });
  });

  it('gives the bytes of the Map encoding for ids past 2^32 in a band (spans below 2^32) and just wider', () => {
    const offset = fc.oneof(
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: TWO_32 - 5, max: TWO_32 - 1 }),
      fc.integer({ min: 0, max: TWO_32 - 1 }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(TWO_32, 2 ** 45, MAX - (TWO_32 - 1)),
        fc.constantFrom(0, 10_000_000_000, MAX - (TWO_32 - 1)),
        fc.array(fc.tuple(offset, offset), { minLength: 1, maxLength: 200 }),
        fc.boolean(),
        (keyBase, songBase, offsets, wider) => {
          const keys = offsets.map(([k]) => keyBase + k);
          const songs = offsets.map(([, s]) => songBase + s);
          // One song 2^32 above the least: a span of 2^32, the general sort's.
          if (wider && songBase + TWO_32 <= MAX) {
            keys.push(keyBase);
            songs.push(Math.min(...songs) + TWO_32);
          }
          expectMapEncoding(keys, songs);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles small keys only (the direct lookup) at the 4095 edge', () => {
    const keys = [4095, 0, 4095, 17, 0, 4095];
    const songs = [1, 2, 1, MAX, 2, 0];
    const totals: Totals = new Map();
    addPairs(totals, keys, songs);
    expect(decodeBlock(aggregate(keys, songs).block)).toEqual(expectedBlock(totals));
  });
});

/**
 * What aggregatePacked wrote for `keys`/`songs`, against aggregatePairs' block of them: the same
 * content (each decoded by its own independent decoder), counts and segment keys and bases;
 * 'words' as its layout; each segment decodable from its offset, holding its keys.
 */
function expectSameAsGeneral(
  block: Uint8Array,
  stats: ReturnType<typeof aggregatePacked>,
  keys: number[],
  songs: number[],
  segmentKeys = SEGMENT_KEYS,
  segmentPairs = Number.POSITIVE_INFINITY,
): void {
  const general = aggregate(keys, songs, segmentKeys, segmentPairs);
  const { layout, segments, ...counts } = stats;
  const { segments: expectedSegments, ...expectedCounts } = general.stats;
  expect(layout).toBe('words');
  expect(counts).toEqual(expectedCounts);
  const content = decodeBlock(general.block);
  expect(decodeWordsBlock(block)).toEqual(content);
  expect(segments.keys).toEqual(expectedSegments.keys);
  expect(segments.bases).toEqual(expectedSegments.bases);
  const expectedKeys = segmentStarts(
    content.map(([, songList]) => songList.length),
    segmentKeys,
    segmentPairs,
  ).map((k) => content[k]![0]);
  expect(segments.keys).toEqual(expectedKeys);
  segments.offsets.forEach((offset, i) => {
    const first = decodeWordsBlock(block, offset, segments.offsets[i + 1] ?? block.length);
    expect(first[0]![0] + segments.bases[i]!).toBe(segments.keys[i]);
  });
}

/**
 * The keys (indexes) a block's segments start at, for keys of `pairs[k]` songs each: the first
 * key, then the key after `segmentKeys` keys of a segment, or any key before which the segment
 * holds `segmentPairs` pairs or more.
 */
function segmentStarts(pairs: number[], segmentKeys: number, segmentPairs: number): number[] {
  const starts: number[] = [];
  let keysIn = 0;
  let pairsIn = 0;
  pairs.forEach((n, k) => {
    if (k === 0 || keysIn === segmentKeys || pairsIn >= segmentPairs) {
      starts.push(k);
      keysIn = 0;
      pairsIn = 0;
    }
    keysIn++;
    pairsIn += n;
  });
  return starts;
}

/** (key, song) pairs whose ids fit 32 bits, their keys spread by a scale, and segment cuts. */
const packablePairsArb = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: TWO_32 - 1 })),
  { maxLength: 3000 },
);
const keyScaleArb = fc.integer({ min: 0, max: 200 });
const segmentKeysArb = fc.constantFrom(1, 2, 64, 128);
const segmentPairsArb = fc.constantFrom(Number.POSITIVE_INFINITY, 1, 3, 40, 500);

describe("aggregatePacked ('words' layout)", () => {
  it('writes a song count of 2 and 3 varint bytes before its padding (128 and 16,384 songs and more)', () => {
    const rnd = mulberry32(3);
    const keys: number[] = [];
    const songs: number[] = [];
    // Keys with 127, 128, 300, 16,383 and 20,000 distinct songs (some played twice), and small keys between.
    [127, 128, 300, 16_383, 20_000].forEach((count, k) => {
      for (let s = 0; s < count; s++) {
        keys.push(10 * k + 5);
        songs.push(s * 977 + (k === 4 ? TWO_32 - 20_000 * 977 - 1 : 0));
        if (rnd() < 0.1) {
          keys.push(10 * k + 5);
          songs.push(s * 977 + (k === 4 ? TWO_32 - 20_000 * 977 - 1 : 0));
        }
      }
      keys.push(10 * k + 6);
      songs.push(k);
    });
    // Shuffled, so that the sort has work to do.
    const order = keys.map((_, i) => i).sort(() => rnd() - 0.5);
    const w = new ByteWriter(16);
    const stats = aggregatePacked(packedPairs(keys, songs, order), keys.length, w);
    expectSameAsGeneral(w.result(), stats, keys, songs);
  });

  it("holds aggregatePairs' content for ids below 2^32, with the same counts and segments", () => {
    fc.assert(
      fc.property(
        packablePairsArb,
        keyScaleArb,
        segmentKeysArb,
        segmentPairsArb,
        (pairs, keyScale, segmentKeys, segmentPairs) => {
          // Keys spread over a wider range (up to 2^32 - 1) when keyScale is large; some pairs
          // played again.
          const keys = pairs.flatMap(([k], i) => {
            const key = Math.min(TWO_32 - 1, k * (keyScale * 7000 + 1));
            return i % 5 === 0 ? [key, key] : [key];
          });
          const songs = pairs.flatMap(([, s], i) => (i % 5 === 0 ? [s, s] : [s]));
          const w = new ByteWriter(16);
          const stats = aggregatePacked(packedPairs(keys, songs), keys.length, w, segmentKeys, segmentPairs);
          expectSameAsGeneral(w.result(), stats, keys, songs, segmentKeys, segmentPairs);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("aggregatePacked's blocks encoded in WebAssembly (wordsBlock.as.ts)", () => {
  /** aggregatePacked's block and stats, by the kernel (where it can) and by encodeWords. */
  function bothWays(keys: number[], songs: number[], segmentKeys: number, segmentPairs: number, before = 0) {
    return [true, false].map((inKernel) => {
      wordsBlocks.inKernel = inKernel;
      try {
        const w = new ByteWriter(16);
        w.length = before;
        const stats = aggregatePacked(packedPairs(keys, songs), keys.length, w, segmentKeys, segmentPairs);
        return { bytes: Array.from(w.result()), stats };
      } finally {
        wordsBlocks.inKernel = true;
      }
    });
  }

  it("writes encodeWords' bytes and segments, byte for byte", () => {
    fc.assert(
      fc.property(
        packablePairsArb,
        keyScaleArb,
        segmentKeysArb,
        segmentPairsArb,
        fc.constantFrom(0, 4, 8),
        (pairs, keyScale, segmentKeys, segmentPairs, before) => {
          // Songs played up to 300 times (plays of 1 and 2 varint bytes), keys of 1 to 5 bytes.
          const keys = pairs.flatMap(([k], i) => {
            const key = Math.min(TWO_32 - 1, k * (keyScale * 7000 + 1));
            return Array(i % 7 === 0 ? 1 + (i % 300) : 1).fill(key);
          });
          const songs = pairs.flatMap(([, s], i) => Array(i % 7 === 0 ? 1 + (i % 300) : 1).fill(s));
          const [kernel, js] = bothWays(keys, songs, segmentKeys, segmentPairs, before);
          expect(kernel).toEqual(js);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('encodes in the kernel a partition of many songs a key, as encodeWords does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: TWO_32 - 1 })), {
          minLength: 300,
          maxLength: 3000,
        }),
        fc.constantFrom(1, 2, 64, 128),
        fc.constantFrom(Number.POSITIVE_INFINITY, 3, 40, 500),
        (pairs, segmentKeys, segmentPairs) => {
          // Few keys (at most 41), each with many songs, some played up to 300 times: a block of
          // about 5 to 6 bytes a pair, which the region the sort leaves free (8 a pair) holds.
          const keys = pairs.flatMap(([k], i) => Array(i % 9 === 0 ? 1 + (i % 300) : 1).fill(k * 100_000));
          const songs = pairs.flatMap(([, s], i) => Array(i % 9 === 0 ? 1 + (i % 300) : 1).fill(s));
          const sorter = packedPairs(keys, songs);
          const w = new ByteWriter(16);
          const stats = encodeInKernel(
            sorter,
            sorter.sort(keys.length),
            keys.length,
            w,
            segmentKeys,
            segmentPairs,
          );
          expect(stats).toBeDefined();
          const [, js] = bothWays(keys, songs, segmentKeys, segmentPairs);
          expect({ bytes: Array.from(w.result()), stats }).toEqual(js);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('leaves to encodeWords a block past the room the sort left free, with the same bytes', () => {
    // Every key with one song: a block of about 10 bytes a pair, past the 8 of the free region.
    const keys = Array.from({ length: 20_000 }, (_, i) => i * 100_003);
    const songs = keys.map((_, i) => (i * 7919) % 1_000_000);
    const [kernel, js] = bothWays(keys, songs, 128, Number.POSITIVE_INFINITY);
    expect(kernel).toEqual(js);
    expect(js!.bytes.length).toBeGreaterThan(8 * keys.length);
  });
});

describe('segment sizes (segmentKeysFor)', () => {
  it('128 keys a segment of a users block up to 256 partitions, halved as they double, at least 64', () => {
    expect([1, 16, 32, 64, 128, 256, 512, 1024, 1 << 16].map(segmentKeysFor)).toEqual([
      USER_SEGMENT_KEYS,
      128,
      128,
      128,
      128,
      128,
      64,
      64,
      64,
    ]);
  });

  it('both paths start a segment every segmentKeys keys; the block bytes do not depend on it', () => {
    // 1,000 keys of 1 to 3 songs each.
    const keys: number[] = [];
    const songs: number[] = [];
    for (let k = 0; k < 1000; k++) {
      for (let s = 0; s <= k % 3; s++) {
        keys.push(k * 7 + 1);
        songs.push(s * 11);
      }
    }
    const packedBlocks: Uint8Array[] = [];
    const generalBlocks: Uint8Array[] = [];
    for (const segmentKeys of [SEGMENT_KEYS, 128, 64]) {
      const packedOut = new ByteWriter(16);
      const packedStats = aggregatePacked(packedPairs(keys, songs), keys.length, packedOut, segmentKeys);
      const general = aggregate(keys, songs, segmentKeys);
      // Segment i starts at the (i x segmentKeys)-th key, whose id is that times 7, plus 1.
      const starts = Array.from({ length: Math.ceil(1000 / segmentKeys) }, (_, i) => i * segmentKeys * 7 + 1);
      expect(packedStats.segments.keys).toEqual(starts);
      expect(general.stats.segments.keys).toEqual(starts);
      expectSameAsGeneral(packedOut.result(), packedStats, keys, songs, segmentKeys);
      packedBlocks.push(packedOut.result().slice());
      generalBlocks.push(general.block);
    }
    for (const blocks of [packedBlocks, generalBlocks]) {
      expect(blocks[1]).toEqual(blocks[0]);
      expect(blocks[2]).toEqual(blocks[0]);
    }
  });

  it('a segment also ends before a key once it holds segmentPairs pairs (heavy keys), the bytes the same', () => {
    // 300 keys: every tenth has 5,000 songs, the others 2.
    const keys: number[] = [];
    const songs: number[] = [];
    for (let k = 0; k < 300; k++) {
      for (let s = 0; s < (k % 10 === 0 ? 5000 : 2); s++) {
        keys.push(k * 3);
        songs.push(s * 13);
      }
    }
    const byKeys = new ByteWriter(16);
    aggregatePacked(packedPairs(keys, songs), keys.length, byKeys, 128);
    const out = new ByteWriter(16);
    const stats = aggregatePacked(packedPairs(keys, songs), keys.length, out, 128, USER_SEGMENT_PAIRS);
    expect(out.result()).toEqual(byKeys.result());
    // A heavy key every 10 keys: a segment reaches 8,192 pairs with its second heavy key and ends
    // after it: segments start at keys 0, 11, 31, 51, ..., 291 (ids 3 times that).
    const starts = [0, ...Array.from({ length: 15 }, (_, i) => 11 + 20 * i)];
    expect(stats.segments.keys).toEqual(starts.map((k) => k * 3));
    // The general path cuts at the same keys (expectSameAsGeneral compares them).
    expectSameAsGeneral(out.result(), stats, keys, songs, 128, USER_SEGMENT_PAIRS);
  });
});
