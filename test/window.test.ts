import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeChartLine, writeDecimal } from '../src/formats/chartFiles.js';
import {
  aggregatePacked,
  aggregatePairs,
  checksumSegments,
  SEGMENT_KEYS,
} from '../src/partials/aggregatePairs.js';
import { ByteReader, ByteWriter } from '../src/partials/varint.js';
import { type BlockSpan, mergeSpans, mergeTopK } from '../src/window/mergeTopK.js';
import { TopK, worse } from '../src/window/topK.js';
import { mulberry32 } from './support/prng.js';

const MAX = Number.MAX_SAFE_INTEGER;
const TWO_32 = 2 ** 32;

type Entry = [song: number, plays: number];

/** Best first: more plays, then the smaller song id. */
const byRank = (a: Entry, b: Entry): number => b[1] - a[1] || a[0] - b[0];

/** Ids that stress every numeric range: tiny, around 2^31 and 2^32, near 2^53, anything. */
const idArb = fc.oneof(
  fc.integer({ min: 0, max: 20 }),
  fc.integer({ min: 0, max: 5000 }),
  fc.integer({ min: 2 ** 31 - 3, max: 2 ** 31 + 3 }),
  fc.integer({ min: TWO_32 - 3, max: TWO_32 + 3 }),
  fc.integer({ min: MAX - 1000, max: MAX }),
  fc.integer({ min: 0, max: MAX }),
);

function drainAll(top: TopK, k: number): Entry[] {
  const songs = new Float64Array(Math.max(k, 1));
  const plays = new Float64Array(Math.max(k, 1));
  const n = top.drain(songs, plays);
  return Array.from({ length: n }, (_, i) => [songs[i]!, plays[i]!] as Entry);
}

describe('TopK', () => {
  it('keeps the best k, more plays first, ties by smaller song id', () => {
    const top = new TopK(3);
    for (const [song, plays] of [
      [10, 5],
      [2, 7],
      [30, 5],
      [4, 9],
      [5, 7],
      [1, 1],
      [3, 7],
    ] as Entry[])
      top.offer(song, plays);
    expect(top.size).toBe(3);
    expect(drainAll(top, 3)).toEqual([
      [4, 9],
      [2, 7],
      [3, 7],
    ]);
    expect(top.size).toBe(0);
  });

  it('returns fewer entries when fewer were offered', () => {
    const top = new TopK(50);
    top.offer(9, 1);
    top.offer(8, 1);
    expect(drainAll(top, 50)).toEqual([
      [8, 1],
      [9, 1],
    ]);
  });

  it('can be reused after drain and after clear', () => {
    const top = new TopK(2);
    top.offer(1, 1);
    top.offer(2, 2);
    drainAll(top, 2);
    top.offer(3, 3);
    expect(drainAll(top, 2)).toEqual([[3, 3]]);
    top.offer(4, 4);
    top.offer(5, 5);
    top.clear();
    expect(top.size).toBe(0);
    top.offer(6, 1);
    expect(drainAll(top, 2)).toEqual([[6, 1]]);
  });

  it('k = 0 keeps nothing', () => {
    const top = new TopK(0);
    top.offer(1, 100);
    expect(top.size).toBe(0);
    expect(top.drain(new Float64Array(0), new Float64Array(0))).toBe(0);
  });

  it('worse() orders by plays, then by larger song id', () => {
    expect(worse(1, 1, 2, 2)).toBe(true);
    expect(worse(2, 2, 1, 1)).toBe(false);
    expect(worse(5, 3, 4, 3)).toBe(true);
    expect(worse(4, 3, 5, 3)).toBe(false);
    expect(worse(4, 3, 4, 3)).toBe(false);
    expect(worse(MAX, 1, MAX - 1, 1)).toBe(true);
  });

  it('matches a plain sort on random input', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(idArb, { maxLength: 120 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 120, maxLength: 120 }),
        fc.integer({ min: 1, max: 60 }),
        (songs, plays, k) => {
          const entries: Entry[] = songs.map((s, i) => [s, plays[i]!]);
          const top = new TopK(k);
          for (const [s, p] of entries) top.offer(s, p);
          expect(drainAll(top, k)).toEqual([...entries].sort(byRank).slice(0, k));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('matches a plain sort with large play counts', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: MAX }), { maxLength: 80 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: MAX }), fc.constant(TWO_32)), {
          minLength: 80,
          maxLength: 80,
        }),
        fc.integer({ min: 1, max: 50 }),
        (songs, plays, k) => {
          const entries: Entry[] = songs.map((s, i) => [s, plays[i]!]);
          const top = new TopK(k);
          for (const [s, p] of entries) top.offer(s, p);
          expect(drainAll(top, k)).toEqual([...entries].sort(byRank).slice(0, k));
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

const decode = (w: ByteWriter): string => Buffer.from(w.result()).toString('latin1');

describe('writeDecimal', () => {
  const special = [
    0,
    1,
    9,
    10,
    11,
    99,
    100,
    12345,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 31 + 1,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 32 + 1,
    999_999_999_999_999,
    1_000_000_000_000_000,
    4_503_599_627_370_495,
    4_503_599_627_370_496,
    9_007_199_254_740_989,
    MAX - 1,
    MAX,
  ];

  it.each(special.map((n) => [String(n), n]))('writes %s', (_name, n) => {
    const w = new ByteWriter(32);
    writeDecimal(w, n);
    expect(decode(w)).toBe(String(n));
    expect(w.length).toBe(String(n).length);
  });

  it('writes every power of ten and its neighbours up to 2^53', () => {
    const w = new ByteWriter(1 << 12);
    const values: number[] = [];
    for (let p = 1; p <= MAX; p *= 10)
      for (const v of [p - 1, p, p + 1]) if (v >= 0 && v <= MAX) values.push(v);
    for (const v of values) {
      writeDecimal(w, v);
      w.bytes[w.length++] = 32;
    }
    expect(decode(w)).toBe(values.map((v) => String(v) + ' ').join(''));
  });

  it('matches String(n) for random integers up to 2^53 - 1', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: MAX }), idArb), { maxLength: 50 }),
        (values) => {
          const w = new ByteWriter(values.length * 17 + 1);
          for (const v of values) {
            writeDecimal(w, v);
            w.bytes[w.length++] = 44;
          }
          expect(decode(w)).toBe(values.map((v) => String(v) + ',').join(''));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('writeChartLine', () => {
  it('writes key|song:plays,... with a country code key', () => {
    const w = new ByteWriter(4);
    writeChartLine(w, 'FR', Float64Array.from([42, 7, MAX]), Float64Array.from([3, 3, 1]), 3);
    expect(decode(w)).toBe(`FR|42:3,7:3,${MAX}:1\n`);
  });

  it('writes a numeric key and only the first n songs', () => {
    const w = new ByteWriter(1);
    writeChartLine(w, MAX, Float64Array.from([1, 2, 3]), Float64Array.from([9, 8, 7]), 2);
    writeChartLine(w, 0, Float64Array.from([0]), Float64Array.from([1]), 1);
    expect(decode(w)).toBe(`${MAX}|1:9,2:8\n0|0:1\n`);
  });

  it('writes an empty chart as key|', () => {
    const w = new ByteWriter(1);
    writeChartLine(w, 'US', new Float64Array(0), new Float64Array(0), 0);
    expect(decode(w)).toBe('US|\n');
  });

  it('matches a string rendering for random rows, growing the writer as needed', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(fc.integer({ min: 0, max: MAX }), fc.constantFrom('AD', 'US', 'ZW')),
            fc.array(fc.tuple(idArb, fc.integer({ min: 1, max: MAX })), { maxLength: 50 }),
          ),
          { maxLength: 20 },
        ),
        (rows) => {
          const w = new ByteWriter(8);
          let expected = '';
          for (const [key, entries] of rows) {
            writeChartLine(
              w,
              key,
              Float64Array.from(entries.map((e) => e[0])),
              Float64Array.from(entries.map((e) => e[1])),
              entries.length,
            );
            expected += `${key}|${entries.map(([s, p]) => `${s}:${p}`).join(',')}\n`;
          }
          expect(decode(w)).toBe(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** Standard unsigned LEB128, computed with BigInt as an independent reference. */
function leb128(value: number): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

function encode(values: number[], initialCapacity = 1): ByteWriter {
  const w = new ByteWriter(initialCapacity);
  for (const v of values) {
    w.reserve(8);
    w.varint(v);
  }
  return w;
}

describe('varint', () => {
  const special = [0, 1, 127, 128, 255, 300, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28];
  special.push(
    2 ** 31 - 1,
    2 ** 31,
    2 ** 31 + 1,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 35,
    2 ** 42,
    2 ** 49,
    2 ** 52,
    MAX - 1,
  );
  special.push(MAX);

  it.each(special.map((v) => [String(v), v]))(
    'encodes %s as standard LEB128 and reads it back',
    (_name, v) => {
      const w = encode([v]);
      expect(Array.from(w.result())).toEqual(leb128(v));
      const r = new ByteReader(w.result());
      expect(r.varint()).toBe(v);
      expect(r.done).toBe(true);
      expect(r.pos).toBe(w.length);
    },
  );

  it('has the expected lengths and bytes at the edges', () => {
    expect(Array.from(encode([0]).result())).toEqual([0]);
    expect(Array.from(encode([127]).result())).toEqual([0x7f]);
    expect(Array.from(encode([128]).result())).toEqual([0x80, 0x01]);
    expect(Array.from(encode([300]).result())).toEqual([0xac, 0x02]);
    expect(Array.from(encode([2 ** 31]).result())).toEqual([0x80, 0x80, 0x80, 0x80, 0x08]);
    expect(Array.from(encode([2 ** 32]).result())).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(Array.from(encode([MAX]).result())).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('round-trips random sequences, reading from an offset and up to an end', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: MAX }), idArb, fc.integer({ min: 0, max: 300 })), {
          maxLength: 100,
        }),
        fc.integer({ min: 0, max: 5 }),
        (values, prefix) => {
          const w = new ByteWriter(1);
          w.reserve(prefix);
          for (let i = 0; i < prefix; i++) w.bytes[w.length++] = 0xee;
          for (const v of values) {
            w.reserve(8);
            w.varint(v);
          }
          const end = w.length;
          w.reserve(3);
          w.bytes[w.length++] = 0x80; // garbage after `end` must not be read
          w.bytes[w.length++] = 0x80;
          expect(Array.from(w.bytes.subarray(prefix, end))).toEqual(values.flatMap(leb128));
          const r = new ByteReader(w.bytes, prefix, end);
          const back: number[] = [];
          while (!r.done) back.push(r.varint());
          expect(back).toEqual(values);
          expect(r.pos).toBe(end);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('throws on a truncated varint', () => {
    expect(() => new ByteReader(Uint8Array.from([0x80]), 0, 1).varint()).toThrow(/truncated/);
    expect(() => new ByteReader(Uint8Array.from([0xff, 0xff, 0x01]), 0, 2).varint()).toThrow(/truncated/);
  });

  it('ByteWriter grows and keeps its content', () => {
    const values = Array.from({ length: 5000 }, (_, i) => i * 1_000_003);
    const w = encode(values, 2);
    expect(w.bytes.length).toBeGreaterThanOrEqual(w.length);
    const r = new ByteReader(w.result());
    for (const v of values) expect(r.varint()).toBe(v);
    expect(r.done).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

type Totals = Map<number, Map<number, number>>;
type BlockContent = Array<[key: number, entries: Entry[]]>;

function addPairs(totals: Totals, keys: number[], songs: number[]): void {
  for (let i = 0; i < keys.length; i++) addPlays(totals, keys[i]!, songs[i]!, 1);
}

function addPlays(totals: Totals, key: number, song: number, plays: number): void {
  let m = totals.get(key);
  if (!m) totals.set(key, (m = new Map()));
  m.set(song, (m.get(song) ?? 0) + plays);
}

/**
 * The documented block encoding, written independently with BigInt LEB128: per key ascending,
 * varint(key - previousKey) varint(songCount) { varint(song - previousSong) varint(plays) }*.
 */
function encodeBlock(content: BlockContent): Uint8Array {
  const bytes: number[] = [];
  let previousKey = 0;
  for (const [key, entries] of content) {
    bytes.push(...leb128(key - previousKey), ...leb128(entries.length));
    previousKey = key;
    let previousSong = 0;
    for (const [song, plays] of entries) {
      bytes.push(...leb128(song - previousSong), ...leb128(plays));
      previousSong = song;
    }
  }
  return Uint8Array.from(bytes);
}

/** Decode a block without any module code (BigInt LEB128). */
function decodeBlock(block: Uint8Array): BlockContent {
  let pos = 0;
  const next = (): number => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= block.length) throw new Error('truncated');
      const byte = block[pos++]!;
      value |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (byte < 0x80) return Number(value);
    }
  };
  const out: BlockContent = [];
  let key = 0;
  while (pos < block.length) {
    key += next();
    const count = next();
    const entries: Entry[] = [];
    let song = 0;
    for (let i = 0; i < count; i++) {
      song += next();
      entries.push([song, next()]);
    }
    out.push([key, entries]);
  }
  return out;
}

function aggregate(
  keys: number[],
  songs: number[],
): { block: Uint8Array; stats: ReturnType<typeof aggregatePairs> } {
  const w = new ByteWriter(16);
  const stats = aggregatePairs(Float64Array.from(keys), Float64Array.from(songs), keys.length, w);
  return { block: w.result().slice(), stats };
}

/** The block contents a Map computation expects: keys ascending, songs ascending. */
function expectedBlock(totals: Totals): BlockContent {
  return [...totals.keys()]
    .sort((a, b) => a - b)
    .map((key) => [key, [...totals.get(key)!.entries()].sort((a, b) => a[0] - b[0])]);
}

function expectedCharts(totals: Totals, k: number): BlockContent {
  return [...totals.keys()]
    .sort((a, b) => a - b)
    .map((key) => [key, [...totals.get(key)!.entries()].sort(byRank).slice(0, k)]);
}

function runMerge(blocks: Uint8Array[], k: number): { charts: BlockContent; keys: number; pairs: number } {
  const charts: BlockContent = [];
  const stats = mergeTopK(blocks, k, (key, songs, plays, n) => {
    charts.push([key, Array.from({ length: n }, (_, i) => [songs[i]!, plays[i]!] as Entry)]);
  });
  return { charts, ...stats };
}

const distinctPairs = (totals: Totals): number => [...totals.values()].reduce((a, m) => a + m.size, 0);

/** Pools of keys and songs shared by all blocks, so that blocks overlap. */
const poolArb = fc.oneof(
  fc.uniqueArray(fc.integer({ min: 0, max: 248 }), { minLength: 1, maxLength: 10 }), // countries
  fc.uniqueArray(idArb, { minLength: 1, maxLength: 15 }),
);
const songPoolArb = fc.oneof(
  fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 40 }), // packable
  fc.uniqueArray(idArb, { minLength: 1, maxLength: 30 }),
);

/** Several days of (key, song) pairs drawn from shared pools. */
const blocksArb = fc.tuple(poolArb, songPoolArb).chain(([keyPool, songPool]) =>
  fc.array(
    fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: keyPool.length - 1 }).map((i) => keyPool[i]!),
        fc.integer({ min: 0, max: songPool.length - 1 }).map((i) => songPool[i]!),
      ),
      { maxLength: 150 },
    ),
    { minLength: 1, maxLength: 7 },
  ),
);

/** Several days of (key, song, plays) with any play count, including counts above 2^21. */
const playsArb = fc.oneof(
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 2 ** 21 - 3, max: 2 ** 21 + 3 }),
  fc.integer({ min: 1, max: 2 ** 40 }),
);
const weightedBlocksArb = fc.tuple(poolArb, songPoolArb).chain(([keyPool, songPool]) =>
  fc.array(
    fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: keyPool.length - 1 }).map((i) => keyPool[i]!),
        fc.integer({ min: 0, max: songPool.length - 1 }).map((i) => songPool[i]!),
        playsArb,
      ),
      { maxLength: 80 },
    ),
    { minLength: 1, maxLength: 7 },
  ),
);

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
          const keys = pairs.map((p) => p[0]);
          const songs = pairs.map((p) => p[1]);
          const totals: Totals = new Map();
          addPairs(totals, keys, songs);
          const { block, stats } = aggregate(keys, songs);
          expect(Array.from(block)).toEqual(Array.from(encodeBlock(expectedBlock(totals))));
          expect(stats).toMatchObject({
            keys: totals.size,
            pairs: distinctPairs(totals),
            plays: pairs.length,
          });
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

  it('handles small keys only (the direct lookup) at the 4095 edge', () => {
    const keys = [4095, 0, 4095, 17, 0, 4095];
    const songs = [1, 2, 1, MAX, 2, 0];
    const totals: Totals = new Map();
    addPairs(totals, keys, songs);
    expect(decodeBlock(aggregate(keys, songs).block)).toEqual(expectedBlock(totals));
  });
});

describe('aggregatePacked', () => {
  it('gives the same block and stats as aggregatePairs for ids below 2^32', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: TWO_32 - 1 })), {
          maxLength: 3000,
        }),
        fc.integer({ min: 0, max: 200 }),
        (pairs, keyScale) => {
          // Keys spread over a wider range (up to 2^32 - 1) when keyScale is large.
          const keys = pairs.map(([k]) => Math.min(TWO_32 - 1, k * (keyScale * 7000 + 1)));
          const songs = pairs.map(([, song]) => song);
          const packed = new BigUint64Array(keys.length);
          const halves = new Uint32Array(packed.buffer);
          keys.forEach((key, i) => {
            halves[2 * i] = songs[i]!;
            halves[2 * i + 1] = key;
          });
          const w = new ByteWriter(16);
          const stats = aggregatePacked(packed, w);
          const general = aggregate(keys, songs);
          expect(w.result()).toEqual(general.block);
          expect(stats).toEqual(general.stats);
        },
      ),
      { numRuns: 100 },
    );
  });
});

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
        const { keys, bases, offsets } = stats.segments;
        let first = 0;
        while (first + 1 < keys.length && keys[first + 1]! <= low) first++;
        let end = first;
        while (end < keys.length && keys[end]! < high) end++;
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
    expect(out.pairs).toBe(5);
  });

  it('handles no blocks and empty blocks', () => {
    expect(runMerge([], 50)).toEqual({ charts: [], keys: 0, pairs: 0 });
    const empty = aggregate([], []).block;
    const one = aggregate([MAX], [MAX]).block;
    expect(runMerge([empty, one, empty], 50)).toEqual({ charts: [[MAX, [[MAX, 1]]]], keys: 1, pairs: 1 });
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
        expect(out.pairs).toBe(distinctPairs(totals));
      }),
      { numRuns: 300 },
    );
  });

  it('equals a Map computation over random blocks with any play counts', () => {
    fc.assert(
      fc.property(weightedBlocksArb, fc.constantFrom(1, 2, 3, 5, 50), (blocks, k) => {
        const totals: Totals = new Map();
        const encoded = blocks.map((triples) => {
          const day: Totals = new Map();
          for (const [key, song, plays] of triples) {
            addPlays(day, key, song, plays);
            addPlays(totals, key, song, plays);
          }
          return encodeBlock(expectedBlock(day));
        });
        const out = runMerge(encoded, k);
        expect(out.charts).toEqual(expectedCharts(totals, k));
        expect(out.keys).toBe(totals.size);
        expect(out.pairs).toBe(distinctPairs(totals));
      }),
      { numRuns: 300 },
    );
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
      expect(out.pairs).toBe(distinctPairs(totals));
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
    expect(out.pairs).toBe(distinctPairs(totals));
  });
});
