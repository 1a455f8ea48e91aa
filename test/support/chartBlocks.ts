import fc from 'fast-check';
import { aggregatePairs } from '../../src/partials/aggregatePairs.js';
import { PairSorter } from '../../src/partials/radixSort.js';
import { ByteWriter } from '../../src/partials/varint.js';

/**
 * The blocks of (key, song, plays) that day partials hold and the window merges, modelled without
 * the modules under test: Map counts, the documented encoding written and read with BigInt LEB128,
 * the charts a Map computation expects, and fast-check arbitraries of days of pairs. Shared by the
 * unit tests of topK, varint, aggregatePairs and mergeTopK.
 */

export const MAX = Number.MAX_SAFE_INTEGER;
export const TWO_32 = 2 ** 32;

export type Entry = [song: number, plays: number];

/** Best first: more plays, then the smaller song id. */
export const byRank = (a: Entry, b: Entry): number => b[1] - a[1] || a[0] - b[0];

/** Ids that stress every numeric range: tiny, around 2^31 and 2^32, near 2^53, anything. */
export const idArb = fc.oneof(
  fc.integer({ min: 0, max: 20 }),
  fc.integer({ min: 0, max: 5000 }),
  fc.integer({ min: 2 ** 31 - 3, max: 2 ** 31 + 3 }),
  fc.integer({ min: TWO_32 - 3, max: TWO_32 + 3 }),
  fc.integer({ min: MAX - 1000, max: MAX }),
  fc.integer({ min: 0, max: MAX }),
);

/** Standard unsigned LEB128, computed with BigInt as an independent reference. */
export function leb128(value: number): number[] {
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

export type Totals = Map<number, Map<number, number>>;
export type BlockContent = Array<[key: number, entries: Entry[]]>;

export function addPairs(totals: Totals, keys: number[], songs: number[]): void {
  for (let i = 0; i < keys.length; i++) addPlays(totals, keys[i]!, songs[i]!, 1);
}

export function addPlays(totals: Totals, key: number, song: number, plays: number): void {
  let m = totals.get(key);
  if (!m) totals.set(key, (m = new Map()));
  m.set(song, (m.get(song) ?? 0) + plays);
}

/**
 * The documented block encoding, written independently with BigInt LEB128: per key ascending,
 * varint(key - previousKey) varint(songCount) { varint(song - previousSong) varint(plays) }*.
 */
export function encodeBlock(content: BlockContent): Uint8Array {
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

/**
 * A BigInt LEB128 reader over `block[from, to)`: `next()` reads one varint (throws past `to`),
 * `at` is where the next one starts.
 */
function leb128Reader(block: Uint8Array, from: number, to: number): { next(): number; at: number } {
  const reader = {
    at: from,
    next(): number {
      let value = 0n;
      let shift = 0n;
      for (;;) {
        if (reader.at >= to) throw new Error('truncated');
        const byte = block[reader.at++]!;
        value |= BigInt(byte & 0x7f) << shift;
        shift += 7n;
        if (byte < 0x80) return Number(value);
      }
    },
  };
  return reader;
}

/** Decode a block without any module code (BigInt LEB128). */
export function decodeBlock(block: Uint8Array): BlockContent {
  const reader = leb128Reader(block, 0, block.length);
  const out: BlockContent = [];
  let key = 0;
  while (reader.at < block.length) {
    key += reader.next();
    const count = reader.next();
    const entries: Entry[] = [];
    let song = 0;
    for (let i = 0; i < count; i++) {
      song += reader.next();
      entries.push([song, reader.next()]);
    }
    out.push([key, entries]);
  }
  return out;
}

/**
 * Decode a block of the 'words' layout without any module code: per key ascending,
 * varint(key - previousKey) varint(songCount), zero bytes to a multiple of 4 from the block's
 * start, songCount little-endian uint32 songs, then songCount varint plays; `[from, to)`, a run
 * of segments (the keys from `from` count from 0). Throws on a nonzero padding byte or a song out
 * of order.
 */
export function decodeWordsBlock(block: Uint8Array, from = 0, to = block.length): BlockContent {
  const reader = leb128Reader(block, from, to);
  const out: BlockContent = [];
  let key = 0;
  while (reader.at < to) {
    key += reader.next();
    const count = reader.next();
    while (reader.at % 4 !== 0) if (block[reader.at++] !== 0) throw new Error('nonzero padding');
    const songsAt = reader.at;
    if (songsAt + 4 * count > to) throw new Error('truncated');
    const songs = Array.from({ length: count }, (_, i) => {
      const at = songsAt + 4 * i;
      return block[at]! + block[at + 1]! * 2 ** 8 + block[at + 2]! * 2 ** 16 + block[at + 3]! * 2 ** 24;
    });
    reader.at += 4 * count;
    const entries: Entry[] = songs.map((song, i) => {
      if (i > 0 && song <= songs[i - 1]!) throw new Error('songs out of order');
      return [song, reader.next()];
    });
    out.push([key, entries]);
  }
  return out;
}

/**
 * (key, song) pairs as aggregatePacked takes them, every id below 2^32, in a sorter of their own:
 * the song in the low word, the key in the high one; `order` (indexes into keys/songs) places
 * them, by default as given.
 */
export function packedPairs(keys: number[], songs: number[], order?: number[]): PairSorter {
  const sorter = new PairSorter(keys.length);
  (order ?? keys.map((_, i) => i)).forEach((from, i) => {
    if (keys[from]! >= TWO_32 || songs[from]! >= TWO_32) throw new RangeError('packed ids are below 2^32');
    sorter.pairs[2 * i] = songs[from]!;
    sorter.pairs[2 * i + 1] = keys[from]!;
  });
  return sorter;
}

export function aggregate(
  keys: number[],
  songs: number[],
  segmentKeys?: number,
  segmentPairs?: number,
): { block: Uint8Array; stats: ReturnType<typeof aggregatePairs> } {
  const w = new ByteWriter(16);
  const stats = aggregatePairs(
    Float64Array.from(keys),
    Float64Array.from(songs),
    keys.length,
    w,
    segmentKeys,
    segmentPairs,
  );
  return { block: w.result().slice(), stats };
}

/** The block contents a Map computation expects: keys ascending, songs ascending. */
export function expectedBlock(totals: Totals): BlockContent {
  return [...totals.keys()]
    .sort((a, b) => a - b)
    .map((key) => [key, [...totals.get(key)!.entries()].sort((a, b) => a[0] - b[0])]);
}

export function expectedCharts(totals: Totals, k: number): BlockContent {
  return [...totals.keys()]
    .sort((a, b) => a - b)
    .map((key) => [key, [...totals.get(key)!.entries()].sort(byRank).slice(0, k)]);
}

export const distinctPairs = (totals: Totals): number => [...totals.values()].reduce((a, m) => a + m.size, 0);

/** Pools of keys and songs shared by all blocks, so that blocks overlap. */
export const poolArb = fc.oneof(
  fc.uniqueArray(fc.integer({ min: 0, max: 248 }), { minLength: 1, maxLength: 10 }), // countries
  fc.uniqueArray(idArb, { minLength: 1, maxLength: 15 }),
);
export const songPoolArb = fc.oneof(
  fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 40 }), // packable
  fc.uniqueArray(idArb, { minLength: 1, maxLength: 30 }),
);

/** Several days of (key, song) pairs drawn from shared pools. */
export const blocksArb = fc.tuple(poolArb, songPoolArb).chain(([keyPool, songPool]) =>
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
export const playsArb = fc.oneof(
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 2 ** 21 - 3, max: 2 ** 21 + 3 }),
  fc.integer({ min: 1, max: 2 ** 40 }),
);
export const weightedBlocksArb = fc.tuple(poolArb, songPoolArb).chain(([keyPool, songPool]) =>
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
