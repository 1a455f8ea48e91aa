import { closeSync, openSync } from 'node:fs';
import { readBlock, readSegments } from '../../formats/partialFile.js';
import { ByteWriter } from '../../partials/varint.js';
import type { BlockSpan } from '../../window/mergeTopK.js';
import type { DayPartial } from './dayPartial.js';
import type { MemoryPlan } from './memoryPlan.js';
import type { MergeUsersTask, UserSpan, WindowSource } from './tasks.js';

/** A user range in flight costs about this many times its share of the users blocks (planWindow). */
export const RANGE_MEMORY_FACTOR = 14;

/** At most this many user ranges for each segment a users block holds on average (planWindow). */
export const RANGES_PER_BLOCK_SEGMENT = 8;

export interface WindowPlan {
  /** Country charts are merged per partition of the smallest partition count of the window. */
  countryPartitions: number;
  /** User charts are merged per user range, each from every users block of every day. */
  userRanges: Omit<MergeUsersTask, 'kind' | 'top'>[];
}

/**
 * How the window is merged. Countries: days may have been split into different partition counts
 * (all powers of two); window partition q of the smallest count P gathers every finer partition p
 * with p mod P = q, which holds exactly the same (country, song) totals. Users: the user chart must
 * be in user order, so it is cut into user ranges (from the blocks' segment keys, about equal in
 * size, each small enough for one worker's share of memory); range r reads, from every block, the
 * segments that hold its users, and its rows go to the file right after range r - 1's.
 */
export function planWindow(partials: DayPartial[], plan: MemoryPlan, threads: number): WindowPlan {
  const countryPartitions = windowPartitions(partials);
  let userBytes = 0;
  let blocks = 0;
  let segmentCount = 0;
  for (const p of partials) for (const block of p.directory.users) segmentCount += block.segments.keys.length;
  // Every segment's first key, sorted natively: a JavaScript array of them sorted with a comparator
  // was most of this plan's 60 ms at 7 x 20M rows, with both workers waiting for it.
  const keys = new Float64Array(segmentCount);
  let filled = 0;
  for (const p of partials) {
    for (const block of p.directory.users) {
      userBytes += block.length;
      if (block.segments.keys.length > 0) blocks++;
      keys.set(block.segments.keys, filled);
      filled += block.segments.keys.length;
    }
  }
  keys.sort();
  // A range in flight holds its spans on a worker (its share of the blocks plus the boundary
  // segments it reads whole, in a reused buffer a quarter larger than asked: about 2x its share),
  // its text (1.6x, in a buffer that may have grown), and the job holds up to threads + 2 finished
  // texts (threads + 1 asked for, one being written): about 14x the range's share in all.
  // Measured at 7 x 20M rows and --memory 1GB, with the buffers reused: 7x (33 ranges) gave peak
  // RSS 460 to 550 MB, 14x (65 ranges) 411 to 416 MB, at the same CPU time (the boundary segments
  // of 32 more ranges are about 0.3 GB more to read).
  const forMemory = Math.ceil((userBytes * RANGE_MEMORY_FACTOR) / plan.partitionBytes);
  // But a range reads the whole segment at each end of its span of every block: at least about
  // one segment a block, however small its share. Past RANGES_PER_BLOCK_SEGMENT ranges for each
  // segment a block holds, more ranges hardly lower what a range holds and multiply what the
  // ranges read together (7 x 20M rows at --memory 256MB: 1,792 blocks of about 8 segments; 970
  // ranges would each read at least 84 MB, 81 GB in all, for 0.9 GB of users blocks).
  const useful = blocks === 0 ? 1 : Math.ceil((RANGES_PER_BLOCK_SEGMENT * keys.length) / blocks);
  const count = Math.max(threads * 4, Math.min(forMemory, useful));
  const bounds: number[] = [];
  for (let r = 1; r < count; r++) {
    const key = keys[Math.floor((r * keys.length) / count)];
    if (key !== undefined && key > (bounds[bounds.length - 1] ?? Number.NEGATIVE_INFINITY)) bounds.push(key);
  }
  const lows = [Number.NEGATIVE_INFINITY, ...bounds];
  const userRanges = lows.map((low, r) => {
    const high = bounds[r] ?? Number.POSITIVE_INFINITY;
    // Segments hold equal numbers of users (fewer where users are heavy, USER_SEGMENT_PAIRS,
    // which bounds their bytes): the range's share of the segments is about its share of the
    // users blocks' bytes (not the bytes of its spans, whose boundary segments it reads whole:
    // with hundreds of small ranges, those were ten times the range). Only the text buffer is
    // sized from it; a text longer than that grows its buffer.
    const segments = lowerBound(keys, high) - lowerBound(keys, low);
    return {
      range: r,
      low,
      high,
      inputBytes: keys.length === 0 ? 0 : Math.ceil((userBytes * segments) / keys.length),
      // Made when asked for (when the range's task is made), not kept: the spans of every range
      // over every block at once were about 190 MB on the main thread at --memory 256MB (490
      // ranges over 1,792 blocks: peak RSS 665 MB against 475 MB).
      get sources() {
        return partials.map((p) => ({ path: p.path, spans: userSpans(p, low, high, countryPartitions) }));
      },
    };
  });
  return { countryPartitions, userRanges };
}

/** The window's partition count for the country charts: its days' smallest (planWindow). */
export function windowPartitions(partials: DayPartial[]): number {
  return Math.min(...partials.map((p) => p.directory.partitions));
}

/**
 * The runs of whole segments of each users block of `partial` that hold users in [low, high),
 * each tagged with its coarse partition (`groups` is the window's smallest partition count): the
 * blocks of one coarse partition of every day hold the same users, those of others none of them.
 */
function userSpans(partial: DayPartial, low: number, high: number, groups: number): UserSpan[] {
  const spans: UserSpan[] = [];
  for (const [partition, block] of partial.directory.users.entries()) {
    const { keys, bases, offsets, crcs } = block.segments;
    // First segment: the last one starting at or before `low` (else the first); end: the first
    // starting at or after `high`. Found by bisection: a block at --memory 256MB has 61 segments,
    // and 488 ranges looked through 1,792 blocks.
    const first = Math.max(0, upperBound(keys, low) - 1);
    const end = Math.max(first, lowerBound(keys, high));
    if (end === first) continue;
    const start = offsets[first]!;
    const stop = offsets[end] ?? block.length;
    spans.push({
      offset: block.offset + start,
      length: stop - start,
      base: bases[first]!,
      group: partition % groups,
      segmentStarts: offsets.slice(first, end).map((o) => o - start),
      crcs: crcs.slice(first, end),
      ...(block.layout === undefined ? {} : { layout: block.layout }),
    });
  }
  return spans;
}

export function countrySources(partials: DayPartial[], q: number, partitions: number): WindowSource[] {
  return partials.map((p) => {
    const blocks = [];
    for (let f = q; f < p.directory.partitions; f += partitions) blocks.push(p.directory.countries[f]!);
    return { path: p.path, blocks };
  });
}

/**
 * A buffer kept across tasks, regrown (by a quarter more than asked) only when a task needs more.
 * A user range's spans and text are tens of MB each: allocated afresh for every range, the old
 * ones lingered until V8 collected them, a hundred MB and more of garbage a worker (peak RSS 550
 * MB for 7 x 20M rows at --memory 512MB, against about 400 MB with a forced GC after each range).
 */
export class ReusedBuffer implements PieceRoom {
  private bytes = new Uint8Array(0);

  /** A view of at least `length` bytes; what an earlier view held is overwritten. */
  take(length: number): Uint8Array {
    if (this.bytes.length < length) this.bytes = new Uint8Array(Math.ceil(length * 1.25));
    return this.bytes.subarray(0, length);
  }
}

/**
 * Where readPieces reads a task's pieces: a view of `length` bytes for `pieces` pieces (a
 * ReusedBuffer, or the memory of the kernel that merges them: window/chartKernel.ts).
 */
export interface PieceRoom {
  take(length: number, pieces: number): Uint8Array;
}

/**
 * The pieces of partial files a merge task reads (blocks, runs of segments), in order, into
 * views of one reused buffer, each file opened once; `read` reads one piece into its view and
 * checks it. The views are valid until the buffer's next use. A piece lies at the same place
 * modulo 4 in the buffer as in its file (the buffer starts at a multiple of 4), so that a 'words'
 * block's songs, at multiples of 4 in the file, can be read as words (mergeSpans).
 */
export function readPieces<S extends { path: string }, P extends { offset: number; length: number }, R>(
  sources: readonly S[],
  piecesOf: (source: S) => readonly P[],
  read: (fd: number, piece: P, path: string, into: Uint8Array) => R,
  into: PieceRoom,
): R[] {
  let total = 0;
  let pieces = 0;
  for (const source of sources) {
    for (const piece of piecesOf(source)) {
      total += piece.length + 3;
      pieces++;
    }
  }
  const buffer = into.take(total, pieces);
  const out: R[] = [];
  let at = 0;
  for (const source of sources) {
    const fd = openSync(source.path, 'r');
    try {
      for (const piece of piecesOf(source)) {
        at += (((piece.offset - at) % 4) + 4) % 4;
        out.push(read(fd, piece, source.path, buffer.subarray(at, at + piece.length)));
        at += piece.length;
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/**
 * The spans of one user range, read from the days' partials (each segment's CRC checked, so a
 * span cut off a segment boundary fails here): what a worker merges into the range's chart rows.
 * Read into `into` (the worker's reused buffer): the spans are views of it, valid until its next use.
 */
export function readRangeSpans(
  sources: MergeUsersTask['sources'],
  into: PieceRoom = new ReusedBuffer(),
): BlockSpan[] {
  return readPieces(
    sources,
    (source) => source.spans,
    (fd, span, path, view): BlockSpan => ({
      bytes: readSegments(fd, span, path, view),
      start: 0,
      end: span.length,
      base: span.base,
      group: span.group,
      ...(span.layout === undefined ? {} : { layout: span.layout }),
    }),
    into,
  );
}

/**
 * The countries blocks of one window partition (every day's, countrySources), read whole and each
 * checked by its CRC: what a worker merges into the partition's country charts. Read into `into`
 * (the worker's reused buffer), as readRangeSpans.
 */
export function readCountrySpans(sources: WindowSource[], into: PieceRoom = new ReusedBuffer()): BlockSpan[] {
  return readPieces(
    sources,
    (source) => source.blocks,
    (fd, block, path, view): BlockSpan => ({
      bytes: readBlock(fd, block, path, view),
      start: 0,
      end: block.length,
      base: 0,
      ...(block.layout === undefined ? {} : { layout: block.layout }),
    }),
    into,
  );
}

/**
 * The buffer a user range's chart text is formatted into, sized from its share of the users
 * blocks' bytes (MergeUsersTask.inputBytes): the text runs about 1.5 times that (7 x 20M rows:
 * 1.50). Sized once, it is rarely regrown; growing by doubling from 1 MB zero-filled and copied
 * about 2 GB for the week's 1 GB of text, a tenth of the formatting time (docs/BENCHMARKS.md), and
 * held up to twice the text at its peak. `reuse` is a buffer an earlier range's text was sent in,
 * returned once written (MergeUsersTask.textBuffer): taken when large enough, so that the week's
 * text passes through a few buffers instead of one new one a range. A new buffer has room for a
 * range a quarter larger (NEW_TEXT_HEADROOM): made to measure, a returned buffer was too small for
 * the next range two times in three (7 x 20M rows: 12 new buffers a daily run instead of 4; peak
 * RSS median 334 MB before, 321 MB after, over 10 interleaved daily runs, the time unchanged).
 */
export function rangeTextWriter(inputBytes: number, reuse?: ArrayBuffer): ByteWriter {
  const capacity = Math.ceil(inputBytes * 1.6) + (1 << 16);
  if (reuse !== undefined && reuse.byteLength >= capacity) return new ByteWriter(new Uint8Array(reuse));
  return new ByteWriter(Math.ceil(capacity * NEW_TEXT_HEADROOM));
}

/** How much larger than its range's text a new text buffer is made (see rangeTextWriter). */
export const NEW_TEXT_HEADROOM = 1.25;

/** The index of the first of the ascending `values` at or above `value`. */
function lowerBound(values: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of the first of the ascending `values` above `value`. */
function upperBound(values: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
