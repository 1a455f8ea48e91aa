import { describe, expect, it } from 'vitest';
import { writeChartLine } from '../../src/formats/chartFiles.js';
import { aggregatePacked, checksumSegments } from '../../src/partials/aggregatePairs.js';
import { ByteWriter } from '../../src/partials/varint.js';
import { ChartKernel } from '../../src/window/chartKernel.js';
import type { CountryChart } from '../../src/window/countryCharts.js';
import { type BlockSpan, mergeSpans } from '../../src/window/mergeTopK.js';
import {
  addPlays,
  aggregate,
  type BlockContent,
  expectedCharts,
  leb128,
  packedPairs,
  type Totals,
  TWO_32,
} from '../support/chartBlocks.js';
import { mulberry32 } from '../support/prng.js';

/**
 * The window's chart kernel (src/window/chartKernel.ts, WebAssembly) against a Map computation:
 * user rows from weeks of 'words' days cut into partitions (a span's group, as a user range reads
 * them), key ranges, charts long and short, a text larger than its window; country charts of
 * large plays (ranked by a heap) and many entries; and the spans it leaves to mergeSpans.
 */

/** The chart rows as the user chart file holds them. */
function chartText(charts: BlockContent): string {
  return charts
    .map(([key, entries]) => `${key}|${entries.map(([s, p]) => `${s}:${p}`).join(',')}\n`)
    .join('');
}

interface Day {
  /** One block a partition (keys of partition p are those with key % partitions === p). */
  blocks: { block: Uint8Array; bases: number[]; keys: number[]; offsets: number[]; words: boolean }[];
}

/** A day's (key, song) rows, encoded a block per partition ('words' unless `varint`). */
function encodeDay(
  keys: number[],
  songs: number[],
  partitions: number,
  segmentKeys: number,
  varint = false,
): Day {
  const blocks: Day['blocks'] = [];
  for (let p = 0; p < partitions; p++) {
    const at = keys.map((_, i) => i).filter((i) => keys[i]! % partitions === p);
    if (at.length === 0) continue;
    const k = at.map((i) => keys[i]!);
    const s = at.map((i) => songs[i]!);
    let block: Uint8Array;
    let stats: ReturnType<typeof aggregatePacked>;
    if (varint) ({ block, stats } = aggregate(k, s, segmentKeys));
    else {
      const out = new ByteWriter(16);
      stats = aggregatePacked(packedPairs(k, s), k.length, out, segmentKeys);
      block = out.result().slice();
    }
    checksumSegments(stats.segments, block);
    const { bases, keys: firstKeys, offsets } = stats.segments;
    blocks.push({ block, bases: [...bases], keys: [...firstKeys], offsets: [...offsets], words: !varint });
  }
  return { blocks };
}

/**
 * The spans of [low, high) of every block of every day, laid in the kernel's memory as readPieces
 * lays them (each at its place modulo 4, after a gap), grouped by partition.
 */
function laySpans(
  kernel: ChartKernel,
  days: Day[],
  low: number,
  high: number,
  k: number,
  partitions: number,
  /** Laid as a partition's countries blocks (ChartKernel.countryRoom), not a user range's spans. */
  country = false,
) {
  const pieces: { bytes: Uint8Array; base: number; group: number; words: boolean }[] = [];
  for (const day of days) {
    day.blocks.forEach(({ block, bases, keys, offsets, words }, b) => {
      let first = 0;
      while (first + 1 < keys.length && keys[first + 1]! <= low) first++;
      let end = first;
      while (end < keys.length && keys[end]! < high) end++;
      if (end === first) return;
      const from = offsets[first]!;
      const to = offsets[end] ?? block.length;
      pieces.push({ bytes: block.subarray(from, to), base: bases[first]!, group: b % partitions, words });
    });
  }
  const total = pieces.reduce((n, p) => n + p.bytes.length + 12, 0);
  const memory = (country ? kernel.countryRoom(k) : kernel.userRoom(k)).take(total, pieces.length);
  let at = 0;
  return pieces.map((piece, i): BlockSpan => {
    at += i % 3;
    at += (((piece.bytes.byteOffset - at) % 4) + 4) % 4;
    memory.set(piece.bytes, at);
    const bytes = memory.subarray(at, at + piece.bytes.length);
    at += piece.bytes.length;
    return {
      bytes,
      start: 0,
      end: bytes.length,
      base: piece.base,
      group: piece.group,
      ...(piece.words ? { layout: 'words' as const } : {}),
    };
  });
}

/** A 'words' day of one key's one song and its plays, encoded by hand (plays of any size). */
function handWordsDay(key: number, song: number, plays: number): Day {
  const bytes = [...leb128(key), 1];
  while (bytes.length % 4 !== 0) bytes.push(0);
  bytes.push(song & 0xff, (song >>> 8) & 0xff, (song >>> 16) & 0xff, song >>> 24, ...leb128(plays));
  return { blocks: [{ block: Uint8Array.from(bytes), bases: [0], keys: [key], offsets: [0], words: true }] };
}

/** Country charts as the Map computation ranks them. */
function expectedCountries(
  totals: Totals,
  k: number,
): { country: number; songs: number[]; plays: number[] }[] {
  return expectedCharts(totals, k).map(([country, entries]) => ({
    country,
    songs: entries.map(([song]) => song),
    plays: entries.map(([, plays]) => plays),
  }));
}

/** The kernel's country charts (`undefined`: left to mergeSpans, a failure here) as the Map computation ranks them. */
function expectCountryCharts(
  charts: CountryChart[] | undefined,
  all: Totals,
  k: number,
  label: string,
): void {
  expect(charts, label).toBeDefined();
  expect(
    charts!.map((c) => ({ country: c.country, songs: Array.from(c.songs), plays: Array.from(c.plays) })),
    label,
  ).toEqual(expectedCountries(all, k));
}

const text = (out: ByteWriter): string => Buffer.from(out.result()).toString('latin1');

describe('ChartKernel', () => {
  it('writes what the Map computation ranks, for random weeks, ranges and chart lengths', () => {
    const kernel = new ChartKernel();
    for (let trial = 0; trial < 30; trial++) {
      const random = mulberry32(9100 + trial);
      const partitions = 1 + (trial % 4);
      const segmentKeys = [1, 4, 32][trial % 3]!;
      const all: Totals = new Map();
      // Keys up to 2^32 - 1 in some trials (a 32-bit id space), songs too; plays of 1 to 3 bytes.
      const keyBase = trial % 2 === 0 ? 0 : TWO_32 - 5000;
      // Songs of every length from 1 to 10 digits (each written its own way).
      const songPool = Array.from({ length: 400 }, (_, i) =>
        Math.floor(random() * Math.min(10 ** (1 + (i % 10)), TWO_32)),
      );
      const days = Array.from({ length: 1 + (trial % 7) }, () => {
        const keys: number[] = [];
        const songs: number[] = [];
        for (let i = 0, rows = 300 + Math.floor(random() * 3000); i < rows; i++) {
          const key = keyBase + Math.floor(random() * 1200);
          const hot = random() < 0.05;
          const song = hot
            ? TWO_32 - 1 - Math.floor(random() * 3)
            : songPool[Math.floor(random() ** 2 * 400)]!;
          // A few pairs played hundreds of times a day: plays of two varint bytes.
          for (let r = hot && random() < 0.2 ? 200 : 1; r > 0; r--) {
            keys.push(key);
            songs.push(song);
            addPlays(all, key, song, 1);
          }
        }
        return encodeDay(keys, songs, partitions, segmentKeys);
      });
      const sorted = [...all.keys()].sort((a, b) => a - b);
      const a = sorted[Math.floor(random() * sorted.length)]!;
      const b = sorted[Math.floor(random() * sorted.length)]! + 1;
      const low = trial % 5 === 0 ? Number.NEGATIVE_INFINITY : Math.min(a, b);
      const high = trial % 5 === 1 ? Number.POSITIVE_INFINITY : Math.max(a, b);
      const k = [1, 5, 50][trial % 3]!;
      const spans = laySpans(kernel, days, low, high, k, partitions);
      const out = new ByteWriter(8);
      out.bytes.set([35], 0);
      out.length = 1;
      const rows = kernel.userRows(spans, k, low, high, out);
      const expected = expectedCharts(new Map([...all].filter(([key]) => key >= low && key < high)), k);
      expect(rows, `trial ${trial}`).toBe(expected.length);
      // Appended after what the writer held.
      expect(text(out), `trial ${trial}`).toBe(`#${chartText(expected)}`);
    }
  });

  it('writes a range whose text is many times its window, a row across each window end', () => {
    const kernel = new ChartKernel();
    const random = mulberry32(77);
    const all: Totals = new Map();
    const days = Array.from({ length: 7 }, () => {
      const keys: number[] = [];
      const songs: number[] = [];
      for (let i = 0; i < 60_000; i++) {
        const key = 1_000_000_000 + Math.floor(random() * 8000);
        const song = 100_000_000 + Math.floor(random() * 3000);
        keys.push(key);
        songs.push(song);
        addPlays(all, key, song, 1);
      }
      return encodeDay(keys, songs, 2, 128);
    });
    const spans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 50, 2);
    const out = new ByteWriter(8);
    expect(kernel.userRows(spans, 50, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, out)).toBe(
      all.size,
    );
    const expected = chartText(expectedCharts(all, 50));
    expect(expected.length).toBeGreaterThan(8 * (1 << 18));
    expect(text(out)).toBe(expected);
  });

  it('writes ids and plays at each edge of a decimal length, 1 to 10 digits', () => {
    // The kernel writes a number by its length (putDecimal: 1, 2, up to 4, up to 8, then 9 or 10
    // digits, each its own way): every length, each power of ten and the numbers either side of it,
    // and numbers above 10^8 whose last 8 digits start with zeros.
    const edges = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 9999, 10_000, 10_001, 99_999, 100_000];
    for (let p = 6; p <= 9; p++) edges.push(10 ** p - 1, 10 ** p, 10 ** p + 1);
    edges.push(
      100_000_010,
      100_200_000,
      123_456_789,
      1_000_000_009,
      1_099_999_999,
      4_000_000_007,
      TWO_32 - 1,
    );
    const kernel = new ChartKernel();
    const all: Totals = new Map();
    const keys: number[] = [];
    const songs: number[] = [];
    edges.forEach((key, i) => {
      // Each key's songs: 12 of the edge values, plays 1 to 3 (up to 12 digits a row's entry).
      for (let j = 0; j < 12; j++) {
        const song = edges[(i + 5 * j) % edges.length]!;
        for (let t = 0; t <= j % 3; t++) {
          keys.push(key);
          songs.push(song);
          addPlays(all, key, song, 1);
        }
      }
    });
    const days = [encodeDay(keys, songs, 1, 8)];
    // Plays of 6 to 9 digits: a key's song played 2^23 - 1 times a day, for up to 13 days.
    const most = 2 ** 23 - 1;
    for (let d = 0; d < 13; d++) {
      for (const [key, song, lastDay] of [
        [12_345, 10 ** 8, 12],
        [12_346, 7, 1],
        [12_347, 99_999_999, 0],
      ] as const) {
        if (d > lastDay) continue;
        days.push(handWordsDay(key, song, most));
        addPlays(all, key, song, most);
      }
    }
    const spans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 50, 1);
    const out = new ByteWriter(8);
    expect(kernel.userRows(spans, 50, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, out)).toBe(
      all.size,
    );
    const expected = chartText(expectedCharts(all, 50));
    // The plays of 12,345's song: 13 x (2^23 - 1), 9 digits.
    expect(expected).toContain(`12345|100000000:${13 * most}\n`);
    expect(text(out)).toBe(expected);
  });

  it('ranks by a heap the keys whose plays are too large for the histogram, ties by song', () => {
    const kernel = new ChartKernel();
    const random = mulberry32(4242);
    const all: Totals = new Map();
    const days = Array.from({ length: 7 }, () => {
      const keys: number[] = [];
      const songs: number[] = [];
      for (let key = 0; key < 40; key++) {
        // Three songs of the key played hundreds of times a day (more than its histogram holds
        // where it has few other songs), some of them equally often, and singles.
        for (let s = 0; s < 3 + (key % 60); s++) {
          const song = s < 3 ? 100 + key * 3 + s : 1000 + Math.floor(random() * 90) * 11;
          const times = s < 3 ? 150 + Math.floor(random() * 3) * 25 : 1;
          for (let t = 0; t < times; t++) {
            keys.push(key * 7);
            songs.push(song);
            addPlays(all, key * 7, song, 1);
          }
        }
      }
      return encodeDay(keys, songs, 1, 16);
    });
    for (const k of [1, 3, 50]) {
      const spans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, k, 1);
      const out = new ByteWriter(8);
      expect(kernel.userRows(spans, k, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, out)).toBe(
        all.size,
      );
      expect(text(out), `k ${k}`).toBe(chartText(expectedCharts(all, k)));
      const countrySpans = laySpans(
        kernel,
        days,
        Number.NEGATIVE_INFINITY,
        Number.POSITIVE_INFINITY,
        k,
        1,
        true,
      );
      const charts = kernel.countryCharts(countrySpans, k)!;
      expect(
        charts.map((c) => ({ country: c.country, songs: Array.from(c.songs), plays: Array.from(c.plays) })),
        `k ${k}`,
      ).toEqual(expectedCountries(all, k));
    }
  });

  it("writes a window partition's country charts as the Map computation ranks them", () => {
    const kernel = new ChartKernel();
    for (let trial = 0; trial < 12; trial++) {
      const random = mulberry32(5300 + trial);
      const all: Totals = new Map();
      // A week of one partition's countries blocks: a few hundred countries, one far larger than
      // the rest (tens of thousands of entries), songs of every length.
      const days = Array.from({ length: 1 + (trial % 7) }, () => {
        const keys: number[] = [];
        const songs: number[] = [];
        for (let i = 0, rows = 5000 + Math.floor(random() * 20_000); i < rows; i++) {
          const key = random() < 0.5 ? 17 : Math.floor(random() * 250);
          const song = Math.floor(random() ** 3 * Math.min(10 ** (1 + (i % 10)), TWO_32 - 1));
          keys.push(key);
          songs.push(song);
          addPlays(all, key, song, 1);
        }
        return encodeDay(keys, songs, 1, 128);
      });
      const k = [1, 5, 50, 200][trial % 4]!;
      const spans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, k, 1, true);
      expectCountryCharts(kernel.countryCharts(spans, k), all, k, `trial ${trial}`);
    }
  });

  it('ranks a key of many day entries from its candidates, ties and songs no day ranks high included', () => {
    const kernel = new ChartKernel();
    let fromCandidates = 0;
    for (let trial = 0; trial < 16; trial++) {
      const random = mulberry32(7700 + trial);
      const all: Totals = new Map();
      const runs = 2 + (trial % 6);
      const k = [1, 5, 50, 100][trial % 4]!;
      // Key 3: skewed plays (a few songs played hundreds of times a day, a long tail of one or
      // two). Key 8: a block of songs tied at the same total, around the chart's end. Key 11: a
      // song of 9 plays every day that no day ranks among its best (each day's best are other
      // songs, played 30 times that day only). Key 20: flat, every entry one play (no candidates
      // to prove anything: merged). Songs up to 2^32 - 1.
      const days = Array.from({ length: runs }, (_, day) => {
        const keys: number[] = [];
        const songs: number[] = [];
        const play = (key: number, song: number, plays: number) => {
          for (let r = 0; r < plays; r++) {
            keys.push(key);
            songs.push(song);
          }
          addPlays(all, key, song, plays);
        };
        for (let i = 0; i < 2500; i++) {
          const song = i < 50 ? TWO_32 - 1 - i : Math.floor(random() * 5_000_000);
          play(3, song, i < 50 ? 1 + Math.floor(random() * 300) : 1 + Math.floor(random() * random() * 3));
        }
        for (let i = 0; i < 1200; i++) play(8, 1000 + i, i < 300 ? 4 : 1 + Math.floor(random() * 2));
        for (let i = 0; i < 150; i++) play(8, 9_000_000 + i, 1 + Math.floor(random() * 8));
        play(11, 77, 9);
        for (let i = 0; i < 120; i++) play(11, 100_000 * (day + 1) + i, 30);
        for (let i = 0; i < 2000; i++) play(11, 50_000_000 + Math.floor(random() * 1_000_000), 1);
        // Key 13: each day's best, 30 plays that day only, tie with song 5, whose 30 plays are
        // spread as evenly as the days allow: its most in a day is exactly the candidates' least.
        play(13, 5, Math.floor(30 / runs) + (day < 30 % runs ? 1 : 0));
        for (let i = 0; i < 120; i++) play(13, 100_000 * (day + 1) + i, 30);
        for (let i = 0; i < 2000; i++) play(13, 60_000_000 + Math.floor(random() * 1_000_000), 1);
        for (let i = 0; i < 1500; i++) play(20, 200_000_000 + day * 10_000 + i, 1);
        return encodeDay(keys, songs, 1, 64);
      });
      const spans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, k, 1, true);
      expectCountryCharts(kernel.countryCharts(spans, k), all, k, `trial ${trial}`);
      // Keys 3, 8, 11 and 13 hold thousands of entries, and their charts are proven from a few of
      // them where the chart is short enough (keys 11 and 13 for every k, key 3 up to 50, key 8 for
      // the shortest); key 20 is flat (every candidate bound at one play) and merged.
      expect(kernel.candidateKeys, `trial ${trial}`).toBeLessThanOrEqual(4);
      fromCandidates += kernel.candidateKeys;
      const userSpans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, k, 1);
      const out = new ByteWriter(8);
      expect(kernel.userRows(userSpans, k, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, out)).toBe(5);
      expect(text(out), `trial ${trial}`).toBe(chartText(expectedCharts(all, k)));
    }
    // Ranked from candidates 48 times in these trials (not only merged, which would pass the above).
    expect(fromCandidates).toBeGreaterThanOrEqual(45);
  });

  it('leaves to mergeSpans a range with a varint span, a key past its room or a day entry of 2^23 plays', () => {
    const kernel = new ChartKernel();
    const cases: [string, Day[]][] = [];
    cases.push([
      'a varint span',
      [encodeDay([1, 2, 2], [5, 6, 7], 1, 4), encodeDay([1, 3], [5, 9], 1, 4, true)],
    ]);
    // One key of 70,000 distinct songs over two days: more entries than the kernel's 65,536.
    const songs = Array.from({ length: 35_000 }, (_, i) => i * 3);
    cases.push([
      'a key past its room',
      [
        encodeDay(
          songs.map(() => 8),
          songs,
          1,
          4,
        ),
        encodeDay(
          songs.map(() => 8),
          songs.map((s) => s + 1),
          1,
          4,
        ),
      ],
    ]);
    // A day entry of 2^23 plays (a song played so often in a day its sums could pass 2^32).
    cases.push(['a day entry of 2^23 plays', [handWordsDay(4, 12, 2 ** 23)]]);
    // A key in 512 days' blocks (its sums could pass 2^32): 511 are merged (below).
    cases.push(['a key in 512 spans', Array.from({ length: 512 }, () => handWordsDay(4, 12, 1))]);
    for (const [what, days] of cases) {
      const spans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 50, 1);
      const out = new ByteWriter(8);
      out.bytes.set([35], 0);
      out.length = 1;
      expect(
        kernel.userRows(spans, 50, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, out),
        what,
      ).toBeUndefined();
      expect(text(out), what).toBe('#');
    }
  });

  it('leaves to mergeSpans a partition whose country holds more than a million day entries', () => {
    const kernel = new ChartKernel();
    // Two days of 600,000 songs each in one country (one country with every row).
    const songs = Array.from({ length: 600_000 }, (_, i) => i * 2);
    const days = [0, 1].map((d) =>
      encodeDay(
        songs.map(() => 3),
        songs.map((s) => s + d),
        1,
        128,
      ),
    );
    const spans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 50, 1, true);
    expect(kernel.countryCharts(spans, 50)).toBeUndefined();
  });

  it('merges a key of 511 spans, the most it takes', () => {
    const kernel = new ChartKernel();
    const days = Array.from({ length: 511 }, (_, d) => handWordsDay(4, 12 + (d % 3), 1 + (d % 2)));
    const spans = laySpans(kernel, days, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 50, 1);
    const out = new ByteWriter(8);
    expect(kernel.userRows(spans, 50, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, out)).toBe(1);
    // Song 12 on days 0, 3, ..., 510 (171 days, the 85 odd ones twice): 256; songs 13 and 14 on
    // 170 days each, 85 of them twice: 255, in song order.
    expect(text(out)).toBe('4|12:256,13:255,14:255\n');
  });

  it('leaves to mergeSpans a block cut short where mergeSpans throws, and writes what it writes elsewhere', () => {
    const kernel = new ChartKernel();
    const day = encodeDay([3, 3, 9, 9, 9], [1, 2, 3, 3, 300], 1, 4);
    const whole = day.blocks[0]!.block;
    let threw = 0;
    for (let cut = 1; cut <= whole.length; cut++) {
      const short = { blocks: [{ ...day.blocks[0]!, block: whole.subarray(0, cut), offsets: [0] }] };
      const spans = laySpans(kernel, [short], Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 50, 1);
      const js = new ByteWriter(8);
      let jsRows: number | undefined;
      try {
        jsRows = mergeSpans(spans, 50, 0, Number.POSITIVE_INFINITY, (key, songs, plays, n) =>
          writeChartLine(js, key, songs, plays, n),
        ).keys;
      } catch {
        threw++;
      }
      const out = new ByteWriter(8);
      const rows = kernel.userRows(spans, 50, 0, Number.POSITIVE_INFINITY, out);
      if (jsRows === undefined) expect(rows, `cut at ${cut}`).toBeUndefined();
      else if (rows !== undefined) {
        expect(rows, `cut at ${cut}`).toBe(jsRows);
        expect(text(out), `cut at ${cut}`).toBe(text(js));
      }
    }
    expect(threw).toBeGreaterThan(whole.length / 2);
    const elsewhere: BlockSpan = { bytes: whole, start: 0, end: whole.length, base: 0, layout: 'words' };
    expect(kernel.userRows([elsewhere], 50, 0, Number.POSITIVE_INFINITY, new ByteWriter(8))).toBeUndefined();
  });
});
