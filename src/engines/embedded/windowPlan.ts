import { closeSync, openSync } from 'node:fs';
import { readSegments } from '../../formats/partialFile.js';
import { ByteWriter } from '../../partials/varint.js';
import type { BlockSpan } from '../../window/mergeTopK.js';
import type { DayPartial } from './dayPartial.js';
import type { MemoryPlan } from './memoryPlan.js';
import type { MergeUsersTask, UserSpan, WindowSource } from './tasks.js';

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
  const countryPartitions = Math.min(...partials.map((p) => p.directory.partitions));
  let userBytes = 0;
  const keys: number[] = [];
  for (const p of partials) {
    for (const block of p.directory.users) {
      userBytes += block.length;
      keys.push(...block.segments.keys);
    }
  }
  keys.sort((a, b) => a - b);
  // A range's worker holds its share of the blocks and the range's text (1.6x that, in a buffer
  // sized once: rangeTextWriter; twice, should it grow), and the job holds a few finished ranges:
  // about 7x the input.
  const count = Math.max(threads * 4, Math.ceil((userBytes * 7) / plan.partitionBytes));
  const bounds: number[] = [];
  for (let r = 1; r < count; r++) {
    const key = keys[Math.floor((r * keys.length) / count)];
    if (key !== undefined && key > (bounds[bounds.length - 1] ?? Number.NEGATIVE_INFINITY)) bounds.push(key);
  }
  const lows = [Number.NEGATIVE_INFINITY, ...bounds];
  const userRanges = lows.map((low, r) => {
    const high = bounds[r] ?? Number.POSITIVE_INFINITY;
    // Segments hold equal numbers of users: the range's share of the segments is its share of
    // the users blocks' bytes (not the bytes of its spans, whose boundary segments it reads whole:
    // with hundreds of small ranges, those were ten times the range).
    const segments = lowerBound(keys, high) - lowerBound(keys, low);
    return {
      range: r,
      low,
      high,
      inputBytes: keys.length === 0 ? 0 : Math.ceil((userBytes * segments) / keys.length),
      sources: partials.map((p) => ({ path: p.path, spans: userSpans(p, low, high, countryPartitions) })),
    };
  });
  return { countryPartitions, userRanges };
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
    // First segment: the last one starting at or before `low`; end: the first starting at `high`.
    let first = 0;
    while (first + 1 < keys.length && keys[first + 1]! <= low) first++;
    let end = first;
    while (end < keys.length && keys[end]! < high) end++;
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
 * The spans of one user range, read from the days' partials (each segment's CRC checked, so a
 * span cut off a segment boundary fails here): what a worker merges into the range's chart rows.
 */
export function readRangeSpans(sources: MergeUsersTask['sources']): BlockSpan[] {
  const spans: BlockSpan[] = [];
  for (const source of sources) {
    const fd = openSync(source.path, 'r');
    try {
      for (const span of source.spans) {
        const bytes = readSegments(fd, span, source.path);
        spans.push({ bytes, start: 0, end: span.length, base: span.base, group: span.group });
      }
    } finally {
      closeSync(fd);
    }
  }
  return spans;
}

/**
 * The buffer a user range's chart text is formatted into, sized from its share of the users
 * blocks' bytes (MergeUsersTask.inputBytes): the text runs about 1.5 times that (7 x 20M rows:
 * 1.50). Sized once, it is rarely regrown; growing by doubling from 1 MB zero-filled and copied
 * about 2 GB for the week's 1 GB of text, a tenth of the formatting time (docs/BENCHMARKS.md), and
 * held up to twice the text at its peak.
 */
export function rangeTextWriter(inputBytes: number): ByteWriter {
  return new ByteWriter(Math.ceil(inputBytes * 1.6) + (1 << 16));
}

/** The index of the first of the ascending `values` at or above `value`. */
function lowerBound(values: number[], value: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
