import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregatePacked,
  type aggregatePairs,
  checksumSegments,
  SEGMENT_KEYS,
} from '../../src/partials/aggregatePairs.js';
import { ByteWriter } from '../../src/partials/varint.js';
import {
  type BlockSpan,
  type MergeCounts,
  MergeScratch,
  mergeLimits,
  mergeSpans,
  mergeTopK,
  wordReads,
} from '../../src/window/mergeTopK.js';
import {
  addPairs,
  addPlays,
  aggregate,
  type BlockContent,
  blocksArb,
  decodeBlock,
  type Entry,
  encodeBlock,
  expectedBlock,
  expectedCharts,
  MAX,
  packedPairs,
  type Totals,
  TWO_32,
  weightedBlocksArb,
} from '../support/chartBlocks.js';
import { mulberry32 } from '../support/prng.js';

/**
 * The window's merge (src/window/mergeTopK.ts) of the days' blocks into the top K of each key,
 * against a Map computation: whole blocks (mergeTopK) and the spans of segments that hold a range
 * of keys (mergeSpans, over the segments aggregatePairs cuts and checksums).
 */

function runMerge(
  blocks: Uint8Array[],
  k: number,
  scratch?: MergeScratch,
): { charts: BlockContent } & MergeCounts {
  const charts: BlockContent = [];
  const stats = mergeTopK(
    blocks,
    k,
    (key, songs, plays, n) => {
      charts.push([key, Array.from({ length: n }, (_, i) => [songs[i]!, plays[i]!] as Entry)]);
    },
    scratch,
  );
  return { charts, ...stats };
}

/** The day entries (key, song, plays) the blocks hold. */
const entriesOf = (blocks: Uint8Array[]): number =>
  blocks.reduce((n, block) => n + decodeBlock(block).reduce((m, [, entries]) => m + entries.length, 0), 0);

/** Days of (key, song, plays) triples encoded as blocks, and the totals of all of them. */
function encodeWeighted(blocks: [number, number, number][][]): { encoded: Uint8Array[]; totals: Totals } {
  const totals: Totals = new Map();
  const encoded = blocks.map((triples) => {
    const day: Totals = new Map();
    for (const [key, song, plays] of triples) {
      addPlays(day, key, song, plays);
      addPlays(totals, key, song, plays);
    }
    return encodeBlock(expectedBlock(day));
  });
  return { encoded, totals };
}

/**
 * The segments `[first, end)` whose keys meet `[low, high)`, of segments starting at `keys`: from
 * the last starting at or before `low` (else the first) to the first starting at or after `high`.
 */
function segmentsHolding(keys: number[], low: number, high: number): [number, number] {
  let first = 0;
  while (first + 1 < keys.length && keys[first + 1]! <= low) first++;
  let end = first;
  while (end < keys.length && keys[end]! < high) end++;
  return [first, end];
}

describe('segments and mergeSpans', () => {
  /** A block with many keys (several segments), its segments' CRCs filled in. */
  function segmentedBlock(
    seed: number,
    keyCount: number,
  ): { block: Uint8Array; stats: ReturnType<typeof aggregatePairs>; totals: Totals } {
    const random = mulberry32(seed);
    const keys: number[] = [];
    const songs: number[] = [];
    for (let i = 0; i < keyCount * 3; i++) {
      keys.push(Math.floor(random() * keyCount * 5) * 11 + (seed % 3));
      songs.push(Math.floor(random() * 40));
    }
    const { block, stats } = aggregate(keys, songs);
    checksumSegments(stats.segments, block);
    const totals: Totals = new Map();
    addPairs(totals, keys, songs);
    return { block, stats, totals };
  }

  it('cuts a block every SEGMENT_KEYS keys, each segment decodable from its base with a correct CRC', () => {
    const { block, stats, totals } = segmentedBlock(1, 5000);
    const { keys, bases, offsets, crcs } = stats.segments;
    expect(keys.length).toBe(Math.ceil(totals.size / SEGMENT_KEYS));
    const content = expectedBlock(totals);
    keys.forEach((key, i) => {
      const end = offsets[i + 1] ?? block.length;
      expect(crcs[i]).toBe(crc32(block.subarray(offsets[i]!, end)));
      // Re-encode the segment's keys relative to its base: the same bytes as in the block.
      const first = i * SEGMENT_KEYS;
      const part = content.slice(first, first + SEGMENT_KEYS);
      expect(part[0]![0]).toBe(key);
      expect(bases[i]).toBe(i === 0 ? 0 : content[first - 1]![0]);
      const shifted = part.map(([k, e]) => [k - bases[i]!, e] as [number, Entry[]]);
      expect(Buffer.from(block.subarray(offsets[i]!, end)).equals(Buffer.from(encodeBlock(shifted)))).toBe(
        true,
      );
    });
  });

  it('mergeSpans over the segments holding [low, high) of several blocks equals the Map computation', () => {
    const days = [segmentedBlock(2, 3000), segmentedBlock(5, 2500), segmentedBlock(8, 4000)];
    const all: Totals = new Map();
    for (const d of days)
      for (const [key, m] of d.totals) for (const [song, n] of m) addPlays(all, key, song, n);
    const sorted = [...all.keys()].sort((a, b) => a - b);
    const random = mulberry32(9);
    for (let trial = 0; trial < 30; trial++) {
      const a = sorted[Math.floor(random() * sorted.length)]!;
      const b = sorted[Math.floor(random() * sorted.length)]! + Math.floor(random() * 3);
      const low = trial === 0 ? Number.NEGATIVE_INFINITY : Math.min(a, b);
      const high = trial === 1 ? Number.POSITIVE_INFINITY : Math.max(a, b);
      const spans: BlockSpan[] = [];
      for (const { block, stats } of days) {
        const { bases, offsets } = stats.segments;
        const [first, end] = segmentsHolding(stats.segments.keys, low, high);
        if (end === first) continue;
        const bytes = block.slice(offsets[first]!, offsets[end] ?? block.length);
        spans.push({ bytes, start: 0, end: bytes.length, base: bases[first]! });
      }
      const charts: BlockContent = [];
      mergeSpans(spans, 7, low, high, (key, songs, plays, n) => {
        charts.push([key, Array.from({ length: n }, (_, i) => [songs[i]!, plays[i]!] as Entry)]);
      });
      const inRange: Totals = new Map([...all].filter(([key]) => key >= low && key < high));
      expect(charts).toEqual(expectedCharts(inRange, 7));
    }
  });
});

describe('mergeSpans with grouped spans', () => {
  /**
   * Days of random (key, song) pairs, each day cut into `parts` blocks by key (as a day's
   * partitions are), a block's group its part modulo `groups` (the window's coarsest count), the
   * spans handed over in a shuffled order: the charts equal the Map computation whatever the
   * grouping, with ids near 2^53 (the branch-free merge's products must stay exact) and plays
   * past the counting sort's histogram.
   */
  it('equals the Map computation for random days, partition counts, groupings and wide ids', () => {
    for (let trial = 0; trial < 60; trial++) {
      const random = mulberry32(1000 + trial);
      const groups = 2 ** Math.floor(random() * 3);
      const all: Totals = new Map();
      const spans: BlockSpan[] = [];
      const days = 1 + Math.floor(random() * 7);
      const wide = trial % 3 === 0;
      for (let d = 0; d < days; d++) {
        const parts = groups * 2 ** Math.floor(random() * 2);
        const keys: number[][] = Array.from({ length: parts }, () => []);
        const songs: number[][] = Array.from({ length: parts }, () => []);
        const rows = Math.floor(random() * 400);
        for (let i = 0; i < rows; i++) {
          const key = wide && random() < 0.3 ? MAX - Math.floor(random() * 20) : Math.floor(random() * 60);
          const song = wide && random() < 0.3 ? MAX - Math.floor(random() * 9) : Math.floor(random() * 25);
          // One heavy pair now and then: plays beyond the histogram take the TopK path.
          const repeat = random() < 0.01 ? 3000 : 1;
          for (let r = 0; r < repeat; r++) {
            keys[key % parts]!.push(key);
            songs[key % parts]!.push(song);
          }
          addPlays(all, key, song, repeat);
        }
        for (let p = 0; p < parts; p++) {
          if (keys[p]!.length === 0) continue;
          const { block } = aggregate(keys[p]!, songs[p]!);
          spans.push({ bytes: block, start: 0, end: block.length, base: 0, group: p % groups });
        }
      }
      for (let i = spans.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [spans[i], spans[j]] = [spans[j]!, spans[i]!];
      }
      const charts: BlockContent = [];
      const k = 1 + Math.floor(random() * 8);
      const stats = mergeSpans(
        spans,
        k,
        Number.NEGATIVE_INFINITY,
        Number.POSITIVE_INFINITY,
        (key, songs, plays, n) => {
          charts.push([key, Array.from({ length: n }, (_, i) => [songs[i]!, plays[i]!] as Entry)]);
        },
      );
      expect(charts).toEqual(expectedCharts(all, k));
      expect(stats.keys).toBe(all.size);
    }
  });
});

describe('mergeTopK', () => {
  it('sums a song across blocks and ranks by plays then song id', () => {
    const a = aggregate([1, 1, 1, 2], [10, 10, 20, 5]).block;
    const b = aggregate([1, 3, 1], [20, 7, 30]).block;
    const c = aggregate([1, 1], [20, 30]).block;
    // key 1: 10 -> 2, 20 -> 3, 30 -> 2; key 2: 5 -> 1; key 3: 7 -> 1
    const out = runMerge([a, b, c], 2);
    expect(out.charts).toEqual([
      [
        1,
        [
          [20, 3],
          [10, 2],
        ],
      ],
      [2, [[5, 1]]],
      [3, [[7, 1]]],
    ]);
    expect(out.keys).toBe(3);
    expect(out.entries).toBe(8);
  });

  it('handles no blocks and empty blocks', () => {
    expect(runMerge([], 50)).toEqual({ charts: [], keys: 0, entries: 0, fromCandidates: 0 });
    const empty = aggregate([], []).block;
    const one = aggregate([MAX], [MAX]).block;
    expect(runMerge([empty, one, empty], 50)).toEqual({
      charts: [[MAX, [[MAX, 1]]]],
      keys: 1,
      entries: 1,
      fromCandidates: 0,
    });
  });

  it('equals a Map computation of totals and top K over random aggregated blocks', () => {
    fc.assert(
      fc.property(blocksArb, fc.constantFrom(1, 2, 3, 5, 50), (blocks, k) => {
        const totals: Totals = new Map();
        const encoded = blocks.map((pairs) => {
          const keys = pairs.map((p) => p[0]);
          const songs = pairs.map((p) => p[1]);
          addPairs(totals, keys, songs);
          return aggregate(keys, songs).block;
        });
        const out = runMerge(encoded, k);
        expect(out.charts).toEqual(expectedCharts(totals, k));
        expect(out.keys).toBe(totals.size);
        expect(out.entries).toBe(entriesOf(encoded));
      }),
      { numRuns: 300 },
    );
  });

  it('equals a Map computation over random blocks with any play counts', () => {
    fc.assert(
      fc.property(weightedBlocksArb, fc.constantFrom(1, 2, 3, 5, 50), (blocks, k) => {
        const { encoded, totals } = encodeWeighted(blocks);
        const out = runMerge(encoded, k);
        expect(out.charts).toEqual(expectedCharts(totals, k));
        expect(out.keys).toBe(totals.size);
        expect(out.entries).toBe(entriesOf(encoded));
      }),
      { numRuns: 300 },
    );
  });

  it('gives each merge its own result when merges share one scratch (country partitions on a worker)', () => {
    const scratch = new MergeScratch();
    fc.assert(
      fc.property(weightedBlocksArb, fc.constantFrom(1, 3, 50), (blocks, k) => {
        const { encoded, totals } = encodeWeighted(blocks);
        // What the previous merges left in the scratch arrays must not leak into this one.
        expect(runMerge(encoded, k, scratch).charts).toEqual(expectedCharts(totals, k));
      }),
      { numRuns: 300 },
    );
    // A key with more songs than the scratch held: it grows, and later merges use the larger arrays.
    const wide = aggregate(
      Array.from({ length: 5000 }, () => 7),
      Array.from({ length: 5000 }, (_, i) => i),
    ).block;
    const before = scratch.runSongs;
    expect(runMerge([wide, wide], 2, scratch).charts).toEqual([
      [
        7,
        [
          [0, 2],
          [1, 2],
        ],
      ],
    ]);
    expect(scratch.runSongs).not.toBe(before);
    expect(scratch.runSongs.length).toBeGreaterThanOrEqual(10_000);
    const grown = scratch.runSongs;
    expect(runMerge([wide], 1, scratch).charts).toEqual([[7, [[0, 1]]]]);
    expect(scratch.runSongs).toBe(grown);
  });

  it('sums counts below 2^21 per day to totals above it', () => {
    const half = 2 ** 20 + 1;
    const day = encodeBlock([
      [
        7,
        [
          [1, half],
          [2, half - 1],
          [3, 5],
        ],
      ],
    ]);
    const out = runMerge([day, day, day], 2);
    expect(out.charts).toEqual([
      [
        7,
        [
          [1, 3 * half],
          [2, 3 * (half - 1)],
        ],
      ],
    ]);
  });

  it('ranks totals at the 2^21 edge among more than 16 songs', () => {
    const edge = 2 ** 21;
    // One day, one key, 40 songs: plays around 2^21, and small ones.
    const entries: Entry[] = Array.from({ length: 40 }, (_, i) => [
      i * 3,
      i % 4 === 0 ? edge + (i % 3) - 1 : 1 + (i % 5),
    ]);
    const totals: Totals = new Map();
    for (const [song, plays] of entries) addPlays(totals, 1, song, plays);
    const one = encodeBlock([[1, entries]]);
    for (const k of [3, 12, 50]) {
      expect(runMerge([one], k).charts, `k = ${k}`).toEqual(expectedCharts(totals, k));
    }
    // Two days whose sums land exactly on 2^21.
    const a = encodeBlock([[1, entries.map(([s], i) => [s, i % 2 === 0 ? edge - 1 : 2] as Entry)]]);
    const b = encodeBlock([[1, entries.map(([s]) => [s, 1] as Entry)]]);
    const sum: Totals = new Map();
    entries.forEach(([s], i) => {
      addPlays(sum, 1, s, (i % 2 === 0 ? edge - 1 : 2) + 1);
    });
    for (const k of [3, 12, 50]) {
      expect(runMerge([a, b], k).charts, `two days, k = ${k}`).toEqual(expectedCharts(sum, k));
    }
  });

  it('ranks correctly whatever the largest play count relative to the number of songs', () => {
    // Largest counts from tiny to huge relative to m, with ties at the top, middle and bottom.
    for (const m of [1, 2, 10, 300]) {
      for (const most of [
        1,
        2,
        m,
        1023,
        1024,
        1025,
        2048,
        2 * m + 1023,
        2 * m + 1024,
        2 * m + 1025,
        5000,
        2 ** 21,
        2 ** 45,
      ]) {
        const entries: Entry[] = Array.from({ length: m }, (_, i) => [
          1000 - i * 3,
          i === m - 1 ? most : 1 + ((i * 7) % Math.max(1, Math.min(most, 5))),
        ]);
        entries.sort((a, b) => a[0] - b[0]);
        const totals: Totals = new Map();
        for (const [song, plays] of entries) addPlays(totals, 4, song, plays);
        // As one day, and split over three days (odd number of runs to merge).
        const days = [0, 1, 2].map((d) => {
          const part = entries.filter((_, i) => i % 3 === d || m < 3);
          const content: BlockContent = part.length > 0 ? [[4, part]] : [];
          return encodeBlock(content);
        });
        for (const k of [1, 3, 50]) {
          expect(runMerge([encodeBlock([[4, entries]])], k).charts, `m ${m} most ${most} k ${k}`).toEqual(
            expectedCharts(totals, k),
          );
          const split: Totals = new Map();
          days.forEach((block) => {
            for (const [key, e] of decodeBlock(block)) for (const [s, p] of e) addPlays(split, key, s, p);
          });
          expect(runMerge(days, k).charts, `3 days, m ${m} most ${most} k ${k}`).toEqual(
            expectedCharts(split, k),
          );
        }
      }
    }
  });

  it('ranks a key with thousands of small songs over seven days, for several k', () => {
    const rnd = mulberry32(11);
    const totals: Totals = new Map();
    const days: BlockContent[] = [];
    for (let d = 0; d < 7; d++) {
      const day: Totals = new Map();
      // key 3: 3000 distinct songs per day from 5000 (long runs); key 9: a few songs.
      for (let i = 0; i < 3000; i++) {
        const song = Math.floor(rnd() * 5000) * 101;
        const plays = 1 + Math.floor(rnd() * 4);
        addPlays(day, 3, song, plays);
        addPlays(totals, 3, song, plays);
      }
      for (const song of [5, 6, 7]) {
        addPlays(day, 9, song, d + 1);
        addPlays(totals, 9, song, d + 1);
      }
      days.push(expectedBlock(day));
    }
    const blocks = days.map(encodeBlock);
    for (const k of [1, 50, 700, 2000, 6000]) {
      const out = runMerge(blocks, k);
      expect(out.charts, `k = ${k}`).toEqual(expectedCharts(totals, k));
      expect(out.entries).toBe(entriesOf(blocks));
    }
  });

  it('equals a Map computation on seven larger days with top 50', () => {
    const rnd = mulberry32(7);
    const keyPool = Array.from({ length: 300 }, (_, i) =>
      i % 3 === 0 ? i : i % 3 === 1 ? TWO_32 + i * 977 : MAX - i * 31,
    );
    // Half the keys see only 32-bit song ids (the packed path), the rest any id.
    const smallSongs = Array.from({ length: 400 }, (_, i) => i * 13);
    const anySongs = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? i * 13 : MAX - i * 7));
    const totals: Totals = new Map();
    const blocks: Uint8Array[] = [];
    for (let day = 0; day < 7; day++) {
      const keys: number[] = [];
      const songs: number[] = [];
      for (let i = 0; i < 8000; i++) {
        const keyIndex = Math.floor(rnd() * keyPool.length);
        const pool = keyIndex % 2 === 0 ? smallSongs : anySongs;
        keys.push(keyPool[keyIndex]!);
        // Skewed song choice so that play counts differ and also tie.
        songs.push(pool[Math.floor(rnd() ** 2 * pool.length)]!);
      }
      addPairs(totals, keys, songs);
      blocks.push(aggregate(keys, songs).block);
    }
    const out = runMerge(blocks, 50);
    expect(out.charts).toEqual(expectedCharts(totals, 50));
    expect(out.charts.every(([, entries]) => entries.length === 50)).toBe(true);
    expect(out.entries).toBe(entriesOf(blocks));
  });
});

describe('ranking from candidates (keys with thousands of entries)', () => {
  /**
   * Days of a few keys with thousands of songs each and skewed plays (a country's week in one
   * partition): a few songs with hundreds of plays a day, a long tail of ones and twos.
   */
  function skewedDays(
    random: () => number,
    days: number,
    wide: boolean,
  ): { blocks: Uint8Array[]; totals: Totals } {
    const totals: Totals = new Map();
    const blocks: Uint8Array[] = [];
    const keys = [3, 40, wide ? MAX - 2 : 41];
    for (let d = 0; d < days; d++) {
      const day: Totals = new Map();
      for (const key of keys) {
        const songs = 300 + Math.floor(random() * 1500);
        for (let i = 0; i < songs; i++) {
          // Zipf-like: song rank r drawn towards 0, plays falling with the rank.
          const r = Math.floor(random() ** 3 * 4000);
          const song = wide && r % 5 === 0 ? MAX - r : r * 7 + 1;
          const plays = Math.max(1, Math.floor(3000 / (r + 1) + random() * 3));
          addPlays(day, key, song, plays);
          addPlays(totals, key, song, plays);
        }
      }
      blocks.push(encodeBlock(expectedBlock(day)));
    }
    return { blocks, totals };
  }

  it('equals the Map computation over random skewed weeks, ranking most keys from candidates', () => {
    let fromCandidates = 0;
    let keys = 0;
    for (let trial = 0; trial < 40; trial++) {
      const random = mulberry32(500 + trial);
      const { blocks, totals } = skewedDays(random, 2 + Math.floor(random() * 6), trial % 4 === 0);
      const k = [1, 3, 10, 50, 128][trial % 5]!;
      const out = runMerge(blocks, k);
      expect(out.charts, `trial ${trial}, k ${k}`).toEqual(expectedCharts(totals, k));
      expect(out.entries).toBe(entriesOf(blocks));
      fromCandidates += out.fromCandidates;
      keys += out.keys;
    }
    // The path under test was taken for most keys (a flat key falls back to the merge).
    expect(fromCandidates).toBeGreaterThan(keys / 2);
  });

  it('ranks from candidates in mergeSpans too: grouped spans of a key range, the same as the Map computation', () => {
    const random = mulberry32(900);
    const { blocks, totals } = skewedDays(random, 7, false);
    // Each day's block a span of its own group (one coarse partition): the keys 3, 40 and 41.
    const spans: BlockSpan[] = blocks.map((bytes) => ({
      bytes,
      start: 0,
      end: bytes.length,
      base: 0,
      group: 0,
    }));
    for (const [low, high] of [
      [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY],
      [4, 41],
      [40, 42],
    ] as const) {
      const charts: BlockContent = [];
      const counts = mergeSpans(spans, 50, low, high, (key, songs, plays, n) => {
        charts.push([key, Array.from({ length: n }, (_, i) => [songs[i]!, plays[i]!] as Entry)]);
      });
      const inRange: Totals = new Map([...totals].filter(([key]) => key >= low && key < high));
      expect(charts, `[${low}, ${high})`).toEqual(expectedCharts(inRange, 50));
      expect(counts.fromCandidates).toBe(inRange.size);
    }
  });

  it('keeps a song that reaches the k-th total with exactly total / days plays each day, and its tie', () => {
    // Seven days of one key: songs 1000.. with plays falling from 700 (2048+ entries in all);
    // song 5 has 100 plays every day, a total of 700, which ties the seeds' least total: the
    // bound / days = 100 plays a day is exactly what makes it a candidate. Its smaller id ranks
    // it above the song it ties.
    const days = 7;
    const totals: Totals = new Map();
    const blocks: Uint8Array[] = [];
    for (let d = 0; d < days; d++) {
      const entries: Entry[] = [[5, 100]];
      for (let i = 0; i < 400; i++) {
        // Songs 1000, 1001 and 1002 have 700 plays on day 0 (the seeds: the first longest
        // run's best), every other song 1 (the tail).
        const plays = d === 0 && i < 3 ? 700 : 1;
        entries.push([1000 + i + d * 400, plays]);
      }
      entries.sort((a, b) => a[0] - b[0]);
      for (const [song, plays] of entries) addPlays(totals, 9, song, plays);
      blocks.push(encodeBlock([[9, entries]]));
    }
    const out = runMerge(blocks, 3);
    expect(out.fromCandidates).toBe(1);
    expect(out.charts).toEqual([
      [
        9,
        [
          [5, 700],
          [1000, 700],
          [1001, 700],
        ],
      ],
    ]);
    expect(out.charts).toEqual(expectedCharts(totals, 3));
  });

  it('falls back to the merge for a flat key, with the same result', () => {
    const random = mulberry32(77);
    const totals: Totals = new Map();
    const blocks: Uint8Array[] = [];
    for (let d = 0; d < 7; d++) {
      const day: Totals = new Map();
      for (let i = 0; i < 2000; i++) {
        const song = Math.floor(random() * 6000);
        addPlays(day, 1, song, 1);
        addPlays(totals, 1, song, 1);
      }
      blocks.push(encodeBlock(expectedBlock(day)));
    }
    const out = runMerge(blocks, 50);
    expect(out.fromCandidates).toBe(0);
    expect(out.charts).toEqual(expectedCharts(totals, 50));
  });
});

describe("mergeSpans over 'words' blocks (version 3)", () => {
  /** A day of random (key, song) pairs: its block in the 'words' or the varint layout, and its totals. */
  function day(
    random: () => number,
    words: boolean,
    segmentKeys: number,
    segmentPairs: number,
  ): { block: Uint8Array; stats: ReturnType<typeof aggregatePacked>; totals: Totals } {
    const rows = 200 + Math.floor(random() * 3000);
    const keys: number[] = [];
    const songs: number[] = [];
    const totals: Totals = new Map();
    for (let i = 0; i < rows; i++) {
      keys.push(Math.floor(random() * 400) * 3);
      // Song ids up to 2^32 - 1 (the words hold any 32-bit id), some played many times.
      songs.push(
        random() < 0.1 ? TWO_32 - 1 - Math.floor(random() * 5) : Math.floor(random() ** 2 * 5000) * 7919,
      );
      addPlays(totals, keys[i]!, songs[i]!, 1);
    }
    let encoded: { block: Uint8Array; stats: ReturnType<typeof aggregatePacked> };
    if (words) {
      const out = new ByteWriter(16);
      const stats = aggregatePacked(packedPairs(keys, songs), keys.length, out, segmentKeys, segmentPairs);
      encoded = { block: out.result().slice(), stats };
    } else encoded = aggregate(keys, songs, segmentKeys, segmentPairs);
    checksumSegments(encoded.stats.segments, encoded.block);
    return { ...encoded, totals };
  }

  /**
   * Random weeks of 'words' and varint days, a random key range of each merged from runs of its
   * segments laid anywhere in one buffer at their place modulo 4 (as readPieces lays them).
   */
  function mergesLikeTheMap(): void {
    for (let trial = 0; trial < 40; trial++) {
      const random = mulberry32(7000 + trial);
      const segmentKeys = [1, 3, 16, 64][trial % 4]!;
      // Segments also cut by pairs (a users block's heavy keys, USER_SEGMENT_PAIRS), in some trials.
      const segmentPairs = [Number.POSITIVE_INFINITY, 20, 90][Math.floor(trial / 4) % 3]!;
      const days = Array.from({ length: 1 + (trial % 7) }, (_, d) =>
        day(random, d % 3 !== 1, segmentKeys, segmentPairs),
      );
      const all: Totals = new Map();
      for (const d of days)
        for (const [key, songs] of d.totals) for (const [song, n] of songs) addPlays(all, key, song, n);
      const sorted = [...all.keys()].sort((a, b) => a - b);
      const a = sorted[Math.floor(random() * sorted.length)]!;
      const b = sorted[Math.floor(random() * sorted.length)]! + 1;
      const low = trial % 5 === 0 ? Number.NEGATIVE_INFINITY : Math.min(a, b);
      const high = trial % 5 === 1 ? Number.POSITIVE_INFINITY : Math.max(a, b);
      // Every day's run of segments copied into one buffer, after a random gap, at the place
      // modulo 4 it has in its block (as readPieces lays them).
      const buffer = new Uint8Array(days.reduce((n, d) => n + d.block.length + 40, 0));
      let at = 0;
      const spans: BlockSpan[] = [];
      for (const { block, stats } of days) {
        const { bases, offsets } = stats.segments;
        const [first, end] = segmentsHolding(stats.segments.keys, low, high);
        if (end === first) continue;
        const from = offsets[first]!;
        const to = offsets[end] ?? block.length;
        at += Math.floor(random() * 9);
        at += (((from - at) % 4) + 4) % 4;
        buffer.set(block.subarray(from, to), at);
        const bytes = buffer.subarray(at, at + to - from);
        at += to - from;
        spans.push({
          bytes,
          start: 0,
          end: bytes.length,
          base: bases[first]!,
          ...(stats.layout ? { layout: stats.layout } : {}),
        });
      }
      const charts: BlockContent = [];
      const k = [1, 5, 50][trial % 3]!;
      mergeSpans(spans, k, low, high, (key, songs, plays, n) => {
        charts.push([key, Array.from({ length: n }, (_, i) => [songs[i]!, plays[i]!] as Entry)]);
      });
      const inRange: Totals = new Map([...all].filter(([key]) => key >= low && key < high));
      expect(charts, `trial ${trial}`).toEqual(expectedCharts(inRange, k));
    }
  }

  it('equals the Map computation for runs of segments laid anywhere in a buffer at their place modulo 4', () => {
    mergesLikeTheMap();
  });

  it('equals it too with every key ranked from its blocks as they lie (scanKey, as a huge key is)', () => {
    const scanFrom = mergeLimits.scanFrom;
    mergeLimits.scanFrom = 1;
    try {
      mergesLikeTheMap();
      // And with the songs of 'words' blocks assembled from their bytes (a big-endian machine).
      wordReads.inPlace = false;
      mergesLikeTheMap();
    } finally {
      mergeLimits.scanFrom = scanFrom;
      wordReads.inPlace = true;
    }
  });

  it('equals it too with the songs assembled from the bytes, as on a big-endian machine', () => {
    wordReads.inPlace = false;
    try {
      mergesLikeTheMap();
    } finally {
      wordReads.inPlace = true;
    }
  });

  /**
   * A 'words' day of a few keys whose songs have plays that take 1 to 3 varint bytes (1 to 3,
   * 126 to 129, 16382 to 16385), built from one pair a play.
   */
  function heavyWordsDay(random: () => number): { block: Uint8Array; totals: Totals } {
    const keys: number[] = [];
    const songs: number[] = [];
    const totals: Totals = new Map();
    for (const key of [5, 9, 700, 701]) {
      const count = 1 + Math.floor(random() * 12);
      for (let s = 0; s < count; s++) {
        // Songs shared across days and keys, ids up to 2^32 - 1.
        const song =
          random() < 0.2 ? TWO_32 - 1 - Math.floor(random() * 3) : Math.floor(random() * 40) * 104729;
        const r = random();
        const plays =
          r < 0.5
            ? 1 + Math.floor(random() * 3)
            : r < 0.8
              ? 126 + Math.floor(random() * 4)
              : 16382 + Math.floor(random() * 4);
        for (let p = 0; p < plays; p++) {
          keys.push(key);
          songs.push(song);
        }
        addPlays(totals, key, song, plays);
      }
    }
    const out = new ByteWriter(16);
    aggregatePacked(packedPairs(keys, songs), keys.length, out);
    return { block: out.result().slice(), totals };
  }

  it('sums words days whose plays take one to three varint bytes, and counts their day entries', () => {
    for (let trial = 0; trial < 30; trial++) {
      const random = mulberry32(9100 + trial);
      const days = Array.from({ length: 2 + (trial % 6) }, () => heavyWordsDay(random));
      const all: Totals = new Map();
      for (const d of days)
        for (const [key, songs] of d.totals) for (const [song, n] of songs) addPlays(all, key, song, n);
      const charts: BlockContent = [];
      const k = [3, 50][trial % 2]!;
      const spans: BlockSpan[] = days.map(({ block }) => ({
        bytes: block,
        start: 0,
        end: block.length,
        base: 0,
        layout: 'words',
      }));
      const counts = mergeSpans(spans, k, -Infinity, Infinity, (key, songs, plays, n) => {
        charts.push([key, Array.from({ length: n }, (_, i) => [songs[i]!, plays[i]!] as Entry)]);
      });
      expect(charts, `trial ${trial}`).toEqual(expectedCharts(all, k));
      const dayEntries = days.reduce((n, d) => n + [...d.totals.values()].reduce((m, x) => m + x.size, 0), 0);
      expect(counts.entries).toBe(dayEntries);
    }
  });

  it('throws on a words block cut short in its songs or its plays beside a whole one', () => {
    const random = mulberry32(4);
    const [first, second] = [heavyWordsDay(random), heavyWordsDay(random)];
    for (const cut of [1, 3, 9]) {
      const short = second.block.slice(0, second.block.length - cut);
      expect(() =>
        mergeSpans(
          [first.block, short].map((bytes) => ({
            bytes,
            start: 0,
            end: bytes.length,
            base: 0,
            layout: 'words' as const,
          })),
          5,
          -Infinity,
          Infinity,
          () => {},
        ),
      ).toThrow(/truncated/);
    }
  });

  it('throws on a words block cut short, rather than read past it', () => {
    const random = mulberry32(3);
    const { block, stats } = day(random, true, 64, Number.POSITIVE_INFINITY);
    expect(stats.layout).toBe('words');
    const cut = block.slice(0, block.length - 3);
    expect(() =>
      mergeSpans(
        [{ bytes: cut, start: 0, end: cut.length, base: 0, layout: 'words' }],
        5,
        -Infinity,
        Infinity,
        () => {},
      ),
    ).toThrow(/truncated/);
  });
});
