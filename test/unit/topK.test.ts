import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopK, worse } from '../../src/window/topK.js';
import { byRank, type Entry, idArb, MAX, TWO_32 } from '../support/chartBlocks.js';

/** TopK (src/window/topK.ts): the best k songs of a key, more plays first, ties by the smaller song id. */

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
