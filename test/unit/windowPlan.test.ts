import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { DayPartial } from '../../src/engines/embedded/dayPartial.js';
import { type MemoryPlan, planMemory } from '../../src/engines/embedded/memoryPlan.js';
import {
  countrySources,
  NEW_TEXT_HEADROOM,
  planWindow,
  RANGE_MEMORY_FACTOR,
  RANGES_PER_BLOCK_SEGMENT,
  ReusedBuffer,
  rangeTextWriter,
  readCountrySpans,
  readRangeSpans,
  type WindowPlan,
} from '../../src/engines/embedded/windowPlan.js';
import { writeChartLine } from '../../src/formats/chartFiles.js';
import type { DayRecord } from '../../src/formats/manifest.js';
import { type BlockRef, type PartialDirectory, PartialWriter } from '../../src/formats/partialFile.js';
import {
  aggregatePacked,
  aggregatePairs,
  type BlockStats,
  checksumSegments,
  emptySegments,
  SEGMENT_KEYS,
} from '../../src/partials/aggregatePairs.js';
import { hashId } from '../../src/partials/hash.js';
import { ByteWriter } from '../../src/partials/varint.js';
import { mergeSpans } from '../../src/window/mergeTopK.js';
import { packedPairs } from '../support/chartBlocks.js';
import { mulberry32 } from '../support/prng.js';
import { firstDifference, TempDirs } from '../support/tempDirs.js';

/**
 * How the window is merged (src/engine/windowPlan.ts). Countries: partition q of the smallest
 * partition count P reads every finer block f with f mod P = q. Users: the user chart is cut into
 * contiguous user ranges [low, high), -inf..+inf in all, at least 4 per thread and at least
 * ceil(RANGE_MEMORY_FACTOR x users bytes / partitionBytes) when the segments allow; range r reads, from every users
 * block of every day, the whole segments that hold its users, and nothing else.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());

function planWith(partitionBytes: number): MemoryPlan {
  return { ...planMemory(1024 ** 3, 2), partitionBytes };
}

// ---- synthetic directories: the plan only reads the directory -----------------------------------

/** A users block ref with segments starting at `keys` (every segment `segmentBytes` long). */
function usersRef(offset: number, keys: number[], segmentBytes = 100): BlockRef {
  return {
    offset,
    length: keys.length * segmentBytes,
    crc: 0,
    keys: keys.length,
    pairs: keys.length,
    plays: keys.length,
    segments: {
      keys,
      bases: keys.map((_, i) => (i === 0 ? 0 : keys[i]! - 1)),
      offsets: keys.map((_, i) => i * segmentBytes),
      crcs: keys.map((_, i) => i),
    },
  };
}

function countryRef(offset: number): BlockRef {
  return { offset, length: 10, crc: 0, keys: 1, pairs: 1, plays: 1, segments: emptySegments() };
}

/** A day partial whose partition p has a users block with segments at `keysByPartition[p]`. */
function fakeDay(path: string, keysByPartition: number[][], segmentBytes = 100): DayPartial {
  const directory: PartialDirectory<DayRecord> = {
    version: 2,
    partitions: keysByPartition.length,
    users: keysByPartition.map((keys, p) => usersRef(64 + p * 1_000_000, keys, segmentBytes)),
    countries: keysByPartition.map((_, p) => countryRef(64 + p * 1_000_000 + 900_000)),
    meta: {} as DayRecord,
  };
  return { record: {} as DayRecord, directory, path, built: false };
}

function expectContiguous(plan: WindowPlan): void {
  const ranges = plan.userRanges;
  expect(ranges.length).toBeGreaterThan(0);
  expect(ranges[0]!.low).toBe(Number.NEGATIVE_INFINITY);
  expect(ranges[ranges.length - 1]!.high).toBe(Number.POSITIVE_INFINITY);
  ranges.forEach((r, i) => {
    expect(r.range).toBe(i);
    expect(r.low).toBeLessThan(r.high);
    if (i > 0) expect(r.low).toBe(ranges[i - 1]!.high);
  });
}

const evenKeys = (from: number, count: number, step: number): number[] =>
  Array.from({ length: count }, (_, i) => from + i * step);

describe('planWindow: user ranges from the segment keys', () => {
  it('at least 4 ranges per thread when the input is small against the budget', () => {
    const day = fakeDay('a.ptp', [evenKeys(0, 100, 10), evenKeys(5, 100, 10)]);
    for (const threads of [1, 2, 3, 8]) {
      const plan = planWindow([day], planWith(1024 ** 3), threads);
      expectContiguous(plan);
      expect(plan.userRanges).toHaveLength(threads * 4);
    }
  });

  it('ceil(RANGE_MEMORY_FACTOR x users bytes / partitionBytes) ranges when that is more', () => {
    // 2 blocks of 500 segments of 100 bytes: 100,000 bytes of users blocks.
    const day = fakeDay('a.ptp', [evenKeys(0, 500, 2), evenKeys(1, 500, 2)]);
    const userBytes = 2 * 500 * 100;
    for (const expected of [9, 20, 33, 100, 250]) {
      // The smallest budget that still gives `expected` ranges, and the largest.
      for (const partitionBytes of [
        Math.ceil((userBytes * RANGE_MEMORY_FACTOR) / expected),
        Math.floor((userBytes * RANGE_MEMORY_FACTOR) / (expected - 1)) - 1,
      ]) {
        expect(Math.ceil((userBytes * RANGE_MEMORY_FACTOR) / partitionBytes)).toBe(expected);
        const plan = planWindow([day], planWith(partitionBytes), 2);
        expectContiguous(plan);
        expect(plan.userRanges).toHaveLength(expected);
      }
    }
  });

  it('counts the users blocks of every day and every partition in the budget', () => {
    const days = [
      fakeDay('a.ptp', [evenKeys(0, 300, 3)]),
      fakeDay('b.ptp', [evenKeys(1, 300, 3), evenKeys(2, 300, 3)]),
    ];
    // 900 segments of 100 bytes: 90,000 bytes x 14 / 14,000 = 90 ranges.
    expect(RANGE_MEMORY_FACTOR).toBe(14);
    const plan = planWindow(days, planWith(14_000), 1);
    expect(plan.userRanges).toHaveLength(90);
  });

  it('cuts at segment keys, about equal numbers of segments per range', () => {
    const day = fakeDay('a.ptp', [evenKeys(0, 1000, 1)]);
    const plan = planWindow([day], planWith(1024 ** 3), 2); // 8 ranges
    expect(plan.userRanges.map((r) => r.high)).toEqual([
      125,
      250,
      375,
      500,
      625,
      750,
      875,
      Number.POSITIVE_INFINITY,
    ]);
  });

  it('a budget too small for the input: as many ranges as segment keys allow, one segment a block each', () => {
    const days = [
      fakeDay('a.ptp', [evenKeys(0, 50, 4), evenKeys(2, 50, 4)]),
      fakeDay('b.ptp', [evenKeys(1, 50, 4), evenKeys(0, 50, 4)]), // the same keys as day a's first block
    ];
    const plan = planWindow(days, planWith(1), 4);
    expectContiguous(plan);
    const distinct = new Set(days.flatMap((d) => d.directory.users.flatMap((u) => u.segments.keys)));
    expect(plan.userRanges.length).toBeLessThanOrEqual(distinct.size + 1);
    expect(plan.userRanges.length).toBeGreaterThanOrEqual(distinct.size);
    for (const r of plan.userRanges) {
      for (const source of r.sources)
        for (const span of source.spans) expect(span.segmentStarts).toEqual([0]);
    }
  });

  it('no more than RANGES_PER_BLOCK_SEGMENT ranges a segment a block holds, however small the budget', () => {
    // 8 days of 8 partitions, 2 segments a block, all keys distinct: 128 keys in 64 blocks.
    const days = Array.from({ length: 8 }, (_, d) =>
      fakeDay(
        `${d}.ptp`,
        Array.from({ length: 8 }, (_, p) => evenKeys(d * 8 + p, 2, 64)),
      ),
    );
    expect(RANGES_PER_BLOCK_SEGMENT).toBe(8);
    const tiny = planWindow(days, planWith(1), 2);
    expectContiguous(tiny);
    expect(tiny.userRanges).toHaveLength(8 * 2); // not one a key (128)
    // The budget still rules when it asks for fewer; and 4 ranges a thread at least.
    const userBytes = 128 * 100;
    expect(
      planWindow(days, planWith(Math.ceil((userBytes * RANGE_MEMORY_FACTOR) / 10)), 1).userRanges,
    ).toHaveLength(10);
    expect(planWindow(days, planWith(1), 8).userRanges).toHaveLength(32);
  });

  it("each range's inputBytes is its share of the users blocks: about equal, together the whole", () => {
    // 3 days of 4 partitions, 40 segments each: many small ranges, each reading its boundary
    // segments whole (the sum of its spans is far more than its share).
    const days = ['a.ptp', 'b.ptp', 'c.ptp'].map((path, d) =>
      fakeDay(
        path,
        Array.from({ length: 4 }, (_, p) => evenKeys(d + p * 7, 40, 1000)),
        100,
      ),
    );
    const userBytes = days.reduce((n, day) => n + day.directory.users.reduce((m, b) => m + b.length, 0), 0);
    const plan = planWindow(days, planWith(userBytes), 2);
    expectContiguous(plan);
    expect(plan.userRanges.length).toBeGreaterThan(4);
    const shares = plan.userRanges.map((r) => r.inputBytes);
    const total = shares.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(userBytes);
    expect(total).toBeLessThanOrEqual(userBytes + shares.length);
    expect(Math.max(...shares)).toBeLessThanOrEqual((2 * userBytes) / shares.length + 1);
  });

  it('no users at all: one range over everything that reads nothing', () => {
    const day = fakeDay('a.ptp', [[], [], [], []]);
    const plan = planWindow([day, fakeDay('b.ptp', [[]])], planWith(1), 8);
    expect(plan.userRanges).toEqual([
      {
        range: 0,
        low: Number.NEGATIVE_INFINITY,
        high: Number.POSITIVE_INFINITY,
        inputBytes: 0,
        sources: [
          { path: 'a.ptp', spans: [] },
          { path: 'b.ptp', spans: [] },
        ],
      },
    ]);
  });

  it('a span is whole segments: file offset, length, base, starts and CRCs of the segments it covers', () => {
    // One block at file offset 64: 8 segments of 100 bytes at keys 10, 20, ... 80; bases 0, 19, 29...
    const day = fakeDay('a.ptp', [evenKeys(10, 8, 10)]);
    const plan = planWindow([day], planWith(1024 ** 3), 1); // 4 ranges: cut at keys 30, 50, 70
    expect(plan.userRanges.map((r) => [r.low, r.high])).toEqual([
      [Number.NEGATIVE_INFINITY, 30],
      [30, 50],
      [50, 70],
      [70, Number.POSITIVE_INFINITY],
    ]);
    expect(plan.userRanges.map((r) => r.sources[0]!.spans)).toEqual([
      [{ offset: 64, length: 200, base: 0, group: 0, segmentStarts: [0, 100], crcs: [0, 1] }],
      [{ offset: 264, length: 200, base: 29, group: 0, segmentStarts: [0, 100], crcs: [2, 3] }],
      [{ offset: 464, length: 200, base: 49, group: 0, segmentStarts: [0, 100], crcs: [4, 5] }],
      // The last segment runs to the end of the block.
      [{ offset: 664, length: 200, base: 69, group: 0, segmentStarts: [0, 100], crcs: [6, 7] }],
    ]);
  });

  it('a range reads, from each block, exactly the segments whose keys [k_i, k_i+1) meet [low, high)', () => {
    const day = fakeDay('a.ptp', [[0, 1000, 2000]]);
    const other = fakeDay('b.ptp', [[500, 1000, 1500, 2500]]);
    for (const threads of [1, 2, 3]) {
      const plan = planWindow([day, other], planWith(1024 ** 3), threads);
      expectContiguous(plan);
      for (const r of plan.userRanges) {
        r.sources.forEach((source, s) => {
          const keys = [day, other][s]!.directory.users[0]!.segments.keys;
          const meets = keys
            .map((_k, i) => i)
            .filter((i) => keys[i]! < r.high && (keys[i + 1] ?? Number.POSITIVE_INFINITY) > r.low);
          // Partition 0's block starts at byte 64 and its segments are 100 bytes long.
          const read = source.spans.flatMap((span) =>
            span.segmentStarts.map((start) => (span.offset - 64 + start) / 100),
          );
          expect(read).toEqual(meets);
        });
      }
    }
  });
});

describe('planWindow / countrySources: country partitions', () => {
  it('merges by the smallest partition count; partition q reads every block f with f mod P = q, once', () => {
    const counts = [4, 2, 8, 16];
    const days = counts.map((p, i) =>
      fakeDay(
        `d${i}.ptp`,
        Array.from({ length: p }, () => []),
      ),
    );
    const plan = planWindow(days, planWith(1024 ** 3), 2);
    expect(plan.countryPartitions).toBe(2);
    const seen = days.map((d) => new Array<number>(d.directory.partitions).fill(0));
    for (let q = 0; q < plan.countryPartitions; q++) {
      const sources = countrySources(days, q, plan.countryPartitions);
      expect(sources.map((s) => s.path)).toEqual(days.map((d) => d.path));
      sources.forEach((s, i) => {
        const refs = days[i]!.directory.countries;
        for (const block of s.blocks) {
          const f = refs.indexOf(block);
          expect(f % plan.countryPartitions).toBe(q);
          seen[i]![f]!++;
        }
      });
    }
    expect(seen.flat().every((n) => n === 1)).toBe(true);
  });

  it('one day, or days of one partition count: every partition by itself', () => {
    const days = [fakeDay('a.ptp', [[], [], [], []]), fakeDay('b.ptp', [[], [], [], []])];
    const plan = planWindow(days, planWith(1024 ** 3), 1);
    expect(plan.countryPartitions).toBe(4);
    expect(countrySources(days, 3, 4).map((s) => s.blocks)).toEqual([
      [days[0]!.directory.countries[3]],
      [days[1]!.directory.countries[3]],
    ]);
  });
});

// ---- real partials: the plan's ranges read every user of the window exactly once ----------------

interface ListenPair {
  user: number;
  song: number;
}

/**
 * One partition's block of (key, song) pairs (`user` the key), its segments' CRCs filled in: in
 * the 'words' layout (every id below 2^32) as version 3 writes it, or of varints (aggregatePairs,
 * as version 2 did and the general path does).
 */
function encodeTable(
  pairs: ListenPair[],
  words: boolean,
  segments?: SegmentLimits,
): { bytes: Uint8Array; stats: BlockStats } {
  const out = new ByteWriter(1024);
  const keys = pairs.map((x) => x.user);
  const songs = pairs.map((x) => x.song);
  const stats: BlockStats = words
    ? aggregatePacked(packedPairs(keys, songs), keys.length, out, segments?.keys, segments?.pairs)
    : aggregatePairs(
        Float64Array.from(keys),
        Float64Array.from(songs),
        pairs.length,
        out,
        segments?.keys,
        segments?.pairs,
      );
  const bytes = out.result().slice();
  checksumSegments(stats.segments, bytes);
  return { bytes, stats };
}

/** Where a users block's segments are cut (aggregatePairs' segmentKeys and segmentPairs). */
interface SegmentLimits {
  keys: number;
  pairs: number;
}

/**
 * Write a real day partial of `pairs` split into `partitions` by hash(user), as phase 2 does;
 * `words`: its users blocks in the 'words' layout (every id below 2^32), as version 3 writes them.
 */
function writeDay(
  dir: string,
  name: string,
  pairs: ListenPair[],
  partitions: number,
  words = false,
  segments?: SegmentLimits,
): DayPartial {
  const path = join(dir, name);
  const writer = new PartialWriter(path, partitions);
  for (let p = 0; p < partitions; p++) {
    const mine = pairs.filter((x) => (hashId(x.user) & (partitions - 1)) === p);
    const { bytes, stats } = encodeTable(mine, words, segments);
    writer.writePartition(bytes, stats, new Uint8Array(0), {
      keys: 0,
      pairs: 0,
      plays: 0,
      segments: emptySegments(),
    });
  }
  const directory = writer.commit({} as DayRecord);
  return { record: {} as DayRecord, directory, path, built: true };
}

/** Every user the plan's ranges give, in order, with its song plays, merged as the workers merge. */
function mergeByPlan(plan: WindowPlan): { users: number[]; plays: Map<number, Map<number, number>> } {
  const users: number[] = [];
  const plays = new Map<number, Map<number, number>>();
  for (const r of plan.userRanges) {
    // The worker's reading of a range: each segment's CRC is checked, so a span cut off a segment
    // boundary fails here.
    const spans = readRangeSpans(r.sources);
    mergeSpans(spans, 10_000, r.low, r.high, (user, songs, counts, n) => {
      // (no expect() per user: thousands of them take seconds)
      if (!(user >= r.low && user < r.high)) expect.fail(`user ${user} outside range ${r.range}`);
      users.push(user);
      const m = new Map<number, number>();
      for (let i = 0; i < n; i++) m.set(songs[i]!, counts[i]!);
      plays.set(user, m);
    });
  }
  return { users, plays };
}

/** The same merge, with the spans read into one reused buffer (as a worker reads them). */
function mergeByPlanReused(plan: WindowPlan): ReturnType<typeof mergeByPlan> {
  const into = new ReusedBuffer();
  const users: number[] = [];
  const plays = new Map<number, Map<number, number>>();
  for (const r of plan.userRanges) {
    mergeSpans(readRangeSpans(r.sources, into), 10_000, r.low, r.high, (user, songs, counts, n) => {
      users.push(user);
      const m = new Map<number, number>();
      for (let i = 0; i < n; i++) m.set(songs[i]!, counts[i]!);
      plays.set(user, m);
    });
  }
  return { users, plays };
}

function reference(days: ListenPair[][]): Map<number, Map<number, number>> {
  const plays = new Map<number, Map<number, number>>();
  for (const x of days.flat()) {
    let m = plays.get(x.user);
    if (m === undefined) plays.set(x.user, (m = new Map()));
    m.set(x.song, (m.get(x.song) ?? 0) + 1);
  }
  return plays;
}

function expectWholeWindow(partials: DayPartial[], days: ListenPair[][], plan: WindowPlan): void {
  const merged = mergeByPlan(plan);
  const expected = reference(days);
  // Every user once, ascending across ranges: the chart file is written range after range.
  const users = [...expected.keys()].sort((a, b) => a - b);
  expect(firstDifference(merged.users.join('\n'), users.join('\n'))).toBeUndefined();
  // Each with the plays of every song of every day (compared as text: toEqual on thousands of
  // Maps takes seconds).
  expect(firstDifference(playsText(merged.plays, users), playsText(expected, users))).toBeUndefined();
  expect(partials.length).toBe(days.length);
  // Read range after range into one reused buffer, as a worker reads them: the same.
  const reused = mergeByPlanReused(plan);
  expect(reused.users.join('\n')).toBe(merged.users.join('\n'));
  expect(playsText(reused.plays, users)).toBe(playsText(merged.plays, users));
}

function playsText(plays: Map<number, Map<number, number>>, users: number[]): string {
  return users
    .map((user) => {
      const songs = [...(plays.get(user) ?? new Map<number, number>())].sort((a, b) => a[0] - b[0]);
      return `${user}: ${songs.map(([song, n]) => `${song}x${n}`).join(' ')}`;
    })
    .join('\n');
}

describe('planWindow on real partials', () => {
  const dir = temp.make('window-plan-');
  /** Users 0, 1, ... spread over the whole id range, with an id at each edge that matters. */
  const userIds = (n: number, seed: number): number[] =>
    Array.from({ length: n }, (_, i) => (i * 2654435761 + seed) % 2 ** 40).concat([
      0,
      2 ** 32 - 1,
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
    ]);
  const pairsOf = (users: number[], songsEach: number): ListenPair[] =>
    users.flatMap((user, i) =>
      Array.from({ length: songsEach }, (_, s) => ({ user, song: (i * 31 + s * 7) % 50 })),
    );
  // Day a: 2 partitions of about 2,500 users (3 segments each); day b: 4 of about 1,500; day c: one small block.
  const a = pairsOf(userIds(5000, 1), 2);
  const b = pairsOf(userIds(6000, 7).slice(1000), 3);
  const c = pairsOf([5, 2 ** 32, 77, Number.MAX_SAFE_INTEGER], 4);
  const partials = [writeDay(dir, 'a.ptp', a, 2), writeDay(dir, 'b.ptp', b, 4), writeDay(dir, 'c.ptp', c, 1)];

  it('the days have several segments per block (the case worth cutting)', () => {
    for (const u of partials[0]!.directory.users) expect(u.segments.keys.length).toBeGreaterThan(1);
    expect(partials[0]!.directory.users[0]!.keys).toBeGreaterThan(SEGMENT_KEYS);
  });

  it('for budgets from generous to far too small, the ranges give every user once, in order, with its plays', () => {
    const userBytes = partials.flatMap((p) => p.directory.users).reduce((n, u) => n + u.length, 0);
    for (const [partitionBytes, threads] of [
      [1024 ** 3, 1],
      [1024 ** 3, 3],
      [Math.ceil((userBytes * RANGE_MEMORY_FACTOR) / 13), 2],
      [1, 2],
    ] as const) {
      const plan = planWindow(partials, planWith(partitionBytes), threads);
      expectContiguous(plan);
      expect(plan.countryPartitions).toBe(1);
      expectWholeWindow(partials, [a, b, c], plan);
    }
  });

  it("'words' users blocks (version 3) and varint ones in one window: every user once, with its plays", () => {
    const words = temp.make('window-plan-words-');
    const narrow = (n: number, seed: number): number[] =>
      Array.from({ length: n }, (_, i) => (i * 2654435761 + seed) % 2 ** 32).concat([0, 2 ** 32 - 1]);
    // Songs of several bytes up to 2^32 - 1, so that groups and segments end at any byte.
    const songsOf = (users: number[], each: number): ListenPair[] =>
      users.flatMap((user, i) =>
        Array.from({ length: each + (i % 3) }, (_, s) => ({
          user,
          song: ((i * 31 + s * 7) % 50) * 85_899_345,
        })),
      );
    const w1 = songsOf(narrow(4000, 3), 2);
    const w2 = songsOf(narrow(3000, 11), 1);
    const v1 = songsOf(narrow(2000, 5), 3);
    const days = [
      writeDay(words, 'w1.ptp', w1, 2, true),
      writeDay(words, 'v1.ptp', v1, 4),
      writeDay(words, 'w2.ptp', w2, 4, true),
    ];
    expect(days[0]!.directory.users.every((u) => u.layout === 'words')).toBe(true);
    expect(days[1]!.directory.users.every((u) => u.layout === undefined)).toBe(true);
    for (const [partitionBytes, threads] of [
      [1024 ** 3, 1],
      [1, 2],
    ] as const) {
      const plan = planWindow(days, planWith(partitionBytes), threads);
      expectContiguous(plan);
      expectWholeWindow(days, [w1, v1, w2], plan);
    }
  });

  it('heavy users: segments cut by pairs give each range about its share of the week, not every block whole', () => {
    const heavy = temp.make('window-plan-heavy-');
    // 3 days of 60 users with 400 songs a day each: 128-key segments alone hold a whole block.
    const users = Array.from({ length: 60 }, (_, i) => (i * 2654435761 + 9) % 2 ** 32);
    const dayPairs = (d: number): ListenPair[] =>
      users.flatMap((user, i) =>
        Array.from({ length: 400 }, (_, s) => ({ user, song: (i * 7 + s * 13 + d) % 5000 })),
      );
    const days = [0, 1, 2].map(dayPairs);
    const readPerRange = (segments: SegmentLimits): { ranges: number; largest: number; total: number } => {
      const partials = days.map((pairs, d) =>
        writeDay(heavy, `${segments.pairs}-${d}.ptp`, pairs, 2, true, segments),
      );
      const plan = planWindow(partials, planWith(1), 2);
      expectContiguous(plan);
      expectWholeWindow(partials, days, plan);
      const read = plan.userRanges.map((r) =>
        r.sources.reduce((n, s) => n + s.spans.reduce((m, span) => m + span.length, 0), 0),
      );
      const total = partials.flatMap((p) => p.directory.users).reduce((n, u) => n + u.length, 0);
      return { ranges: read.length, largest: Math.max(...read), total };
    };
    // Keys alone: one segment a block, so every range reads the whole week.
    const byKeys = readPerRange({ keys: 128, pairs: Number.POSITIVE_INFINITY });
    expect(byKeys.largest).toBe(byKeys.total);
    // At most 1,000 pairs a segment (3 users): many ranges, each reading a small part of the week.
    const byPairs = readPerRange({ keys: 128, pairs: 1000 });
    expect(byPairs.ranges).toBeGreaterThanOrEqual(16);
    expect(byPairs.largest).toBeLessThan(byPairs.total / 4);
    // A window of partials from before (segments of keys alone) and after: every user once.
    const mixed = days.map((pairs, d) =>
      writeDay(heavy, `mixed-${d}.ptp`, pairs, 2, true, {
        keys: 128,
        pairs: d === 0 ? Number.POSITIVE_INFINITY : 1000,
      }),
    );
    for (const partitionBytes of [1, 1024 ** 3]) {
      const plan = planWindow(mixed, planWith(partitionBytes), 2);
      expectContiguous(plan);
      expectWholeWindow(mixed, days, plan);
    }
  });

  it('property: random windows and budgets read every user exactly once', () => {
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            users: fc.array(
              fc.oneof(
                fc.integer({ min: 0, max: 3000 }),
                fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
              ),
              { maxLength: 2500 },
            ),
            partitions: fc.constantFrom(1, 2, 4),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 1, max: 4 }),
        (spec, partitionBytes, threads) => {
          const days = spec.map((d) => d.users.map((user, i) => ({ user, song: i % 5 })));
          const written = days.map((pairs, i) =>
            writeDay(dir, `prop-${n}-${i}.ptp`, pairs, spec[i]!.partitions),
          );
          n++;
          const plan = planWindow(written, planWith(partitionBytes), threads);
          expectContiguous(plan);
          expect(plan.countryPartitions).toBe(Math.min(...spec.map((d) => d.partitions)));
          expectWholeWindow(written, days, plan);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('ReusedBuffer and rangeTextWriter: buffers kept from range to range', () => {
  it('ReusedBuffer gives views of one buffer, regrown (by a quarter more) only when asked for more', () => {
    const into = new ReusedBuffer();
    const a = into.take(1000);
    expect(a.length).toBe(1000);
    expect(a.buffer.byteLength).toBe(1250);
    const b = into.take(800);
    expect(b.length).toBe(800);
    expect(b.buffer).toBe(a.buffer);
    const c = into.take(1251);
    expect(c.length).toBe(1251);
    expect(c.buffer).not.toBe(a.buffer);
    expect(into.take(1500).buffer).toBe(c.buffer);
  });

  it('rangeTextWriter writes into a returned buffer large enough for the range, else a new one', () => {
    const needed = Math.ceil(1000 * 1.6) + (1 << 16);
    const big = new ArrayBuffer(needed);
    const out = rangeTextWriter(1000, big);
    expect(out.bytes.buffer).toBe(big);
    expect(out.length).toBe(0);
    writeChartLine(out, 42, Float64Array.of(7, 9), Float64Array.of(3, 1), 2);
    expect(Buffer.from(out.result()).toString()).toBe('42|7:3,9:1\n');
    const small = new ArrayBuffer(needed - 1);
    const fresh = rangeTextWriter(1000, small);
    expect(fresh.bytes.buffer).not.toBe(small);
    // With room for a later range up to a quarter larger, which can then reuse it.
    expect(fresh.bytes.length).toBe(Math.ceil(needed * NEW_TEXT_HEADROOM));
    expect(NEW_TEXT_HEADROOM).toBe(1.25);
    // A later range a fifth larger: its text fits the new buffer, which it takes.
    expect(rangeTextWriter(1200, fresh.bytes.buffer as ArrayBuffer).bytes.buffer).toBe(fresh.bytes.buffer);
    expect(rangeTextWriter(1000).bytes.length).toBe(Math.ceil(needed * NEW_TEXT_HEADROOM));
  });
});

describe("readCountrySpans: a partition's countries blocks of every day", () => {
  it("reads 'words' and varint blocks of days of different partition counts; merged, the Map computation", () => {
    const dir = temp.make('window-plan-countries-');
    const random = mulberry32(21);
    const totals = new Map<number, Map<number, number>>();
    /** A day of `partitions` whose countries blocks hold random (country, song) pairs by song partition. */
    const day = (name: string, partitions: number, words: boolean): DayPartial => {
      const pairs = Array.from({ length: 3000 }, () => ({
        user: Math.floor(random() * 40),
        song: Math.floor(random() ** 2 * 900) * 4_771_111,
      }));
      const path = join(dir, name);
      const writer = new PartialWriter(path, partitions);
      for (let p = 0; p < partitions; p++) {
        const mine = pairs.filter((x) => (hashId(x.song) & (partitions - 1)) === p);
        for (const { user: country, song } of mine) {
          let m = totals.get(country);
          if (m === undefined) totals.set(country, (m = new Map()));
          m.set(song, (m.get(song) ?? 0) + 1);
        }
        const { bytes, stats } = encodeTable(mine, words);
        // An odd-sized users block before it: the countries block must still start at a multiple of 4.
        const users = encodeTable([{ user: p, song: 3 }], false);
        writer.writePartition(users.bytes, users.stats, bytes, stats);
      }
      return { record: {} as DayRecord, directory: writer.commit({} as DayRecord), path, built: true };
    };
    const days = [day('a.ptp', 4, true), day('b.ptp', 2, false), day('c.ptp', 8, true)];
    expect(days[0]!.directory.countries.every((c) => c.layout === 'words' && c.offset % 4 === 0)).toBe(true);
    const plan = planWindow(days, planWith(1024 ** 3), 2);
    const into = new ReusedBuffer();
    const merged = new Map<number, Map<number, number>>();
    for (let q = 0; q < plan.countryPartitions; q++) {
      const spans = readCountrySpans(countrySources(days, q, plan.countryPartitions), into);
      mergeSpans(
        spans,
        100_000,
        Number.NEGATIVE_INFINITY,
        Number.POSITIVE_INFINITY,
        (country, songs, plays, n) => {
          let m = merged.get(country);
          if (m === undefined) merged.set(country, (m = new Map()));
          for (let i = 0; i < n; i++) {
            if (m.has(songs[i]!)) expect.fail(`song ${songs[i]} of country ${country} in two partitions`);
            m.set(songs[i]!, plays[i]!);
          }
        },
      );
    }
    const text = (t: Map<number, Map<number, number>>): string =>
      [...t.keys()]
        .sort((a, b) => a - b)
        .map((c) => `${c}: ${[...t.get(c)!].sort((a, b) => a[0] - b[0]).join(' ')}`)
        .join('\n');
    expect(text(merged)).toBe(text(totals));
  });
});
