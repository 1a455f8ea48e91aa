import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregateDay,
  byteOrder,
  CatalogNumbering,
  finishDayKpis,
  type Granularity,
  mergeAggregates,
  type NumberedCatalog,
  roundedRatio,
} from '../../src/kpis/genreKpis.js';
import type { UserGroups } from '../../src/kpis/streamDays.js';
import { IdInterner, nameListOf } from '../../src/parse/idInterner.js';
import { TrackGenres } from '../../src/parse/trackGenres.js';
import { mulberry32 } from '../support/prng.js';

/** The arithmetic of the genre KPIs (src/kpis/genreKpis.ts): exact half-up ratios, UTF-8 byte order. */

describe('rounding and ordering helpers', () => {
  it.each([
    [5, 2, '2.50'],
    [1, 3, '0.33'],
    [2, 3, '0.67'],
    [1, 8, '0.13'],
    [3, 8, '0.38'],
    [0, 1, '0.00'],
    [9_007_199_254_740, 7, '1286742750677.14'],
  ])('%i / %i = %s (half up, exact)', (a, b, text) => {
    expect(roundedRatio(a, b)).toBe(text);
  });

  it('orders by UTF-8 bytes', () => {
    expect(['b', 'B', 'a', 'é', 'z', '\u{1F600}', '\uFF5E'].sort(byteOrder)).toEqual([
      'B',
      'a',
      'b',
      'z',
      'é',
      '\uFF5E',
      '\u{1F600}',
    ]);
  });
});

/**
 * A day's rows as one part and cut by user into parts whose aggregates are merged
 * (mergeAggregates, as the workers' parts are): the same KPIs, whichever counter the merge picks
 * (dense over every hour and track, or a Map when few of them are played), with plays given to
 * each of a track's genres and the top tracks ranked with ties broken by track id.
 */
describe('a day cut into parts sums to the day whole', () => {
  const catalog = (tracks: number): NumberedCatalog => {
    // Track t in genres t % 3 and, for odd t, also (t + 1) % 3; track 0 unknown.
    const from = [0];
    const genres: number[] = [];
    const durations: number[] = [];
    for (let t = 0; t < tracks; t++) {
      if (t > 0) {
        genres.push(t % 3);
        durations.push(1000 + t);
        if (t % 2 === 1) {
          genres.push((t + 1) % 3);
          durations.push(1000 + t);
        }
      }
      from.push(genres.length);
    }
    return {
      genres: ['g0', 'g1', 'g2'],
      trackFrom: Uint32Array.from(from),
      trackGenres: Uint32Array.from(genres),
      trackDurations: Float64Array.from(durations),
      knownTracks: Uint8Array.from({ length: tracks }, (_, t) => (t === 0 ? 0 : 1)),
      knownUsers: 2,
    };
  };

  /** The groups of `rows` (user, track, hour) for `users` users, only those `keep` takes. */
  const groups = (
    rows: [number, number, number][],
    users: number,
    keep: (u: number) => boolean,
  ): UserGroups => {
    const kept = rows.filter(([u]) => keep(u)).sort((a, b) => a[0] - b[0]);
    const starts = new Uint32Array(users + 1);
    for (const [u] of kept) starts[u + 1]!++;
    for (let u = 0; u < users; u++) starts[u + 1]! += starts[u]!;
    return {
      starts,
      tracks: Uint32Array.from(kept, ([, t]) => t),
      times: Float64Array.from(kept, ([, , h], i) => h * 3_600_000_000 + (i % 4) * 1_000_000),
    };
  };

  it('property: the merged parts give the KPIs of the whole day, day and hour granularity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4000 }),
        fc.array(fc.tuple(fc.nat(9), fc.nat(3999), fc.nat(23)), { maxLength: 200 }),
        fc.integer({ min: 2, max: 4 }),
        fc.constantFrom<Granularity>('day', 'hour'),
        (tracks, drawn, parts, granularity) => {
          const rows = drawn.map(([u, t, h]): [number, number, number] => [u, t % tracks, h]);
          const numbered = catalog(tracks);
          const name = (t: number): string => `track-${String(t).padStart(5, '0')}`;
          const whole = aggregateDay(
            groups(rows, 10, () => true),
            10,
            numbered,
            granularity,
          );
          const cut = Array.from({ length: parts }, (_, p) =>
            aggregateDay(
              groups(rows, 10, (u) => u % parts === p),
              10,
              numbered,
              granularity,
            ),
          );
          expect(finishDayKpis(19_000, granularity, mergeAggregates(cut), numbered, name)).toEqual(
            finishDayKpis(19_000, granularity, whole, numbered, name),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('by the hour over 1M tracks (past a dense counter): counted in a table grown as keys come', () => {
    // 24 x 1M keys: each part counts in a hash table; the merge sizes its own from the first
    // part's 10 keys and must grow to the second's 6,000.
    const tracks = 1_000_000;
    const numbered = catalog(tracks);
    const name = (t: number): string => `track-${String(t).padStart(7, '0')}`;
    const random = mulberry32(5);
    const rows: [number, number, number][] = [];
    for (let i = 0; i < 10; i++) rows.push([0, 1 + Math.floor(random() * (tracks - 1)), i % 24]);
    for (let i = 0; i < 6000; i++) rows.push([1, 1 + Math.floor(random() * (tracks - 1)), i % 24]);
    // Some keys played again by the other user (not a duplicate row).
    for (let i = 0; i < 300; i++) rows.push([1 - rows[i]![0], rows[i]![1], rows[i]![2]]);
    const whole = aggregateDay(
      groups(rows, 2, () => true),
      2,
      numbered,
      'hour',
    );
    const cut = [0, 1].map((p) =>
      aggregateDay(
        groups(rows, 2, (u) => u === p),
        2,
        numbered,
        'hour',
      ),
    );
    const merged = finishDayKpis(19_000, 'hour', mergeAggregates(cut), numbered, name);
    expect(merged).toEqual(finishDayKpis(19_000, 'hour', whole, numbered, name));
    // And the plays themselves, key by key, as the whole day's table (sized for its rows) has them.
    const byKey = ({ ids, counts }: ReturnType<typeof mergeAggregates>['plays']): [number, number][] =>
      Array.from(ids!, (key, i): [number, number] => [key, counts[i]!]).sort((a, b) => a[0] - b[0]);
    const played = byKey(whole.plays);
    expect(played.length).toBeGreaterThan(6000);
    expect(byKey(mergeAggregates(cut).plays)).toEqual(played);
  });
});

/**
 * A run's tracks and users are numbered by the catalogue's own ids (CatalogNumbering), those in no
 * songs or users file after them: a track's genres are then read where the catalogue holds them.
 */
describe('a catalogue as a run numbers it', () => {
  const songs = TrackGenres.of([
    ['t1', [{ genre: 'rock', durationMs: 100 }]],
    [
      't2',
      [
        { genre: 'pop', durationMs: 200 },
        { genre: 'rock', durationMs: 210 },
      ],
    ],
    ['t3', []],
  ]);
  const users = new IdInterner();
  for (const name of ['u1', 'u2']) users.id(name);

  it("numbers known tracks and users by the catalogue's ids, the unknown ones after them", () => {
    const numbering = new CatalogNumbering({ tracks: songs, users });
    expect(Array.from(numbering.tracks.idsOfList(nameListOf(['t2', 'tX', 't1', 'tY', 'tX', 't3'])))).toEqual([
      1, 3, 0, 4, 3, 2,
    ]);
    expect(Array.from(numbering.users.idsOfList(nameListOf(['u9', 'u2', 'u1'])))).toEqual([2, 1, 0]);
    const numbered = numbering.of();
    expect(numbered.genres).toEqual(['pop', 'rock']);
    expect(numbered.knownUsers).toBe(2);
    expect(Array.from(numbered.knownTracks)).toEqual([1, 1, 1, 0, 0]);
    // t1: rock; t2: pop then rock, in the order of their rows; t3 (no genre) and the unknown: none.
    expect(Array.from(numbered.trackFrom)).toEqual([0, 1, 3, 3, 3, 3]);
    expect(Array.from(numbered.trackGenres)).toEqual([1, 0, 1]);
    expect(Array.from(numbered.trackDurations)).toEqual([100, 200, 210]);
    // Made again only when tracks were numbered since.
    expect(numbering.of()).toBe(numbered);
    numbering.tracks.idsOfList(nameListOf(['tZ']));
    expect(Array.from(numbering.of().knownTracks)).toEqual([1, 1, 1, 0, 0, 0]);
    expect(Array.from(numbering.of().trackFrom)).toEqual([0, 1, 3, 3, 3, 3, 3]);
  });

  it("a day of known and unknown tracks counts each track's genres, and the unknown as rejected", () => {
    const numbering = new CatalogNumbering({ tracks: songs, users });
    const tracks = numbering.tracks.idsOfList(nameListOf(['t2', 'tX', 't1']));
    const user = numbering.users.idsOfList(nameListOf(['u1', 'u9']));
    const groups: UserGroups = {
      // u1 (0): t2, tX; u9 (2): t1. User 1 (u2) has no rows.
      starts: Uint32Array.from([0, 2, 2, 3]),
      tracks: Uint32Array.from([tracks[0]!, tracks[1]!, tracks[2]!]),
      times: Uint32Array.from([1, 2, 3]),
      dayStart: 0,
    };
    expect(Array.from(user)).toEqual([0, 2]);
    const numbered = numbering.of();
    const aggregate = aggregateDay(groups, numbering.users.size, numbered, 'day');
    expect(aggregate.counts).toMatchObject({ rows: 3, unknownTrack: 1, unknownUser: 1, counted: 2 });
    const kpis = finishDayKpis(19_000, 'day', aggregate, numbered, (t) => numbering.tracks.name(t));
    expect(kpis.genres.map((g) => [g.genre, g.listenCount, g.uniqueListeners, g.totalListeningMs])).toEqual([
      ['pop', 1, 1, 200],
      ['rock', 2, 2, 310],
    ]);
    expect(kpis.genres[1]!.top3).toEqual([
      { track: 't1', plays: 1 },
      { track: 't2', plays: 1 },
    ]);
  });
});
