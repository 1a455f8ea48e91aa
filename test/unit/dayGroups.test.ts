import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DayGroupKernel } from '../../src/kpis/dayGroups.js';
import { aggregateDay, type Granularity, type NumberedCatalog } from '../../src/kpis/genreKpis.js';
import type { UserGroups } from '../../src/kpis/streamDays.js';

/**
 * DayGroupKernel (src/kpis/dayGroups.ts), the WebAssembly passes of a day's counting sort by user,
 * against the sort written plainly: the same groups (each user's rows in their order), the rows
 * of other parts and of users without a number left out, and damage (numbers out of range)
 * reported, never written past the groups. Then its sums of the groups against aggregateDay's
 * JavaScript loop (genreKpis.ts), which sums any other groups.
 */
interface Row {
  user: number;
  track: number;
  ms: number;
}

const DAY_START = 19_723 * 86_400_000_000;

function sortPlainly(
  rows: Row[],
  userIds: number[],
  trackIds: number[],
  kept: number[] | undefined,
  users: number,
) {
  const groups: { track: number; ms: number }[][] = Array.from({ length: users }, () => []);
  for (const r of rows) {
    if (r.user >= userIds.length) continue;
    const keep = kept === undefined ? userIds[r.user]! >= 0 : kept[r.user] === 1;
    if (keep) groups[userIds[r.user]!]!.push({ track: trackIds[r.track]!, ms: r.ms });
  }
  return groups;
}

/**
 * The kernel's passes over `rows`: given as arrays of their own (copied in), or `inPlace`, laid in
 * the kernel's chunkBytes as a partial's block is read into it; the first pass in two chunks, cut
 * at `cut` (a histogram of the user numbers adds up across a source's chunks).
 */
function run(
  kernel: DayGroupKernel,
  rows: Row[],
  userIds: number[],
  trackIds: number[],
  kept: number[] | undefined,
  users: number,
  inPlace = false,
  cut = 0,
) {
  const ids = Int32Array.from(userIds);
  const tracks = Int32Array.from(trackIds);
  const keptBytes = kept === undefined ? undefined : Uint8Array.from(kept);
  const chunk = (part = rows): { users: Uint32Array; tracks: Uint32Array; times: Float64Array } => {
    const n = part.length;
    const bytes = inPlace ? kernel.chunkBytes : new Uint8Array(16 * n + 8);
    const at = inPlace ? bytes.byteOffset : 8;
    const columns = {
      users: new Uint32Array(bytes.buffer, at, n),
      tracks: new Uint32Array(bytes.buffer, at + 4 * n, n),
      times: new Float64Array(bytes.buffer, at + 8 * n, n),
    };
    columns.users.set(part.map((r) => r.user));
    columns.tracks.set(part.map((r) => r.track));
    columns.times.set(part.map((r) => DAY_START + r.ms * 1000));
    return columns;
  };
  kernel.lay(users, [{ users: ids.length, tracks: tracks.length, rows: rows.length }]);
  kernel.countSource(0, ids, keptBytes);
  const at = Math.min(cut, rows.length);
  // One chunk after the other (in place, the second is laid where the first was).
  let sum = kernel.countUsers(chunk(rows.slice(0, at)).users, 0);
  sum = kernel.countUsers(chunk(rows.slice(at)).users, sum);
  const counted = kernel.sourceCounted(sum);
  const total = kernel.startGroups();
  kernel.placeSource(0, ids, tracks, keptBytes);
  const placed = kernel.placeRows(chunk(), DAY_START, 0);
  return {
    groups: placedGroups(kernel, users),
    total,
    counted,
    placed,
    stopped: kernel.stopped,
    outOfRange: kernel.outOfRange,
  };
}

/**
 * A source's run ids for its `known` user numbers: distinct, as a partial segment's names are (a
 * user's rows of a source keep their order only so), or -1 (no number: `numbering`'s -1, or more
 * numbers than `users`), shifted by `numbering`'s first.
 */
function injective(numbering: number[], known: number, users: number): number[] {
  const shift = Math.max(0, numbering[0]!);
  return Array.from({ length: known }, (_, u) =>
    numbering[u]! < 0 || u >= users ? -1 : (u + shift) % users,
  );
}

/** A source of a day: its rows and its numbering (userIds, trackIds; kept: its part's users, a 0 or 1 a number). */
interface Source {
  rows: Row[];
  userIds: number[];
  trackIds: number[];
  kept?: number[];
}

/**
 * The kernel's passes over several sources of a day cut into `parts`, as loadDayGroups makes them:
 * every source counted, then every source placed, in order. Returns the groups and, per source,
 * the mixes each pass added (they must agree).
 */
function runSources(kernel: DayGroupKernel, sources: Source[], users: number, parts: number) {
  const shapes = sources.map((s) => ({
    users: s.userIds.length,
    tracks: s.trackIds.length,
    rows: s.rows.length,
  }));
  kernel.lay(users, shapes, parts);
  const columns = (rows: Row[]) => ({
    users: Uint32Array.from(rows, (r) => r.user),
    tracks: Uint32Array.from(rows, (r) => r.track),
    times: Float64Array.from(rows, (r) => DAY_START + r.ms * 1000),
  });
  const numbered = sources.map((s) => ({
    ids: Int32Array.from(s.userIds),
    tracks: Int32Array.from(s.trackIds),
    kept: s.kept === undefined ? undefined : Uint8Array.from(s.kept),
  }));
  const counted = sources.map((source, s) => {
    kernel.countSource(s, numbered[s]!.ids, numbered[s]!.kept);
    return kernel.sourceCounted(kernel.countUsers(columns(source.rows).users, 0));
  });
  kernel.startGroups();
  const placed = sources.map((source, s) => {
    kernel.placeSource(s, numbered[s]!.ids, numbered[s]!.tracks, numbered[s]!.kept);
    return kernel.placeRows(columns(source.rows), DAY_START, 0);
  });
  return { groups: placedGroups(kernel, users), counted, placed, outOfRange: kernel.outOfRange };
}

/** The kernel's groups once every row is placed, as (track, ms) lists a user. */
function placedGroups(kernel: DayGroupKernel, users: number): { track: number; ms: number }[][] {
  const { counters, pairs } = kernel.groups();
  // After the second pass the cursors are the ends: group u is [u's start, counters[u + 1]).
  return Array.from({ length: users }, (_, u) => {
    const from = u === 0 ? 0 : counters[u]!;
    return Array.from({ length: counters[u + 1]! - from }, (_, k) => ({
      track: pairs[2 * (from + k)]!,
      ms: pairs[2 * (from + k) + 1]!,
    }));
  });
}

/** The groups the kernel holds, as loadDayGroups returns them: its (track, time) pairs, in place. */
function heldGroups(kernel: DayGroupKernel, users: number): UserGroups {
  const held = kernel.userGroups(DAY_START);
  expect(held.starts.length).toBe(users + 1);
  return held;
}

/** The same groups copied into columns of their own (a track and a time a row). */
function columnsOf(groups: UserGroups): UserGroups {
  const rows = groups.starts[groups.starts.length - 1]!;
  const stride = groups.stride ?? 1;
  return {
    starts: groups.starts.slice(),
    tracks: Uint32Array.from({ length: rows }, (_, i) => groups.tracks[i * stride]!),
    times: Uint32Array.from({ length: rows }, (_, i) => groups.times[i * stride]!),
    dayStart: DAY_START,
  };
}

describe('DayGroupKernel', () => {
  it('property: groups every kept row under its user, in order, as the plain sort does', () => {
    // The first pass counting the rows one by one, or a histogram of the user numbers (a source
    // with no more numbers than rows).
    const kernels = [new DayGroupKernel(), new DayGroupKernel(0)];
    fc.assert(
      fc.property(
        // A few users, whose groups fill up, or thousands.
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 257, max: 3_000 })),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 20 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 86_399_999 })), { maxLength: 300 }),
        fc.array(fc.integer({ min: -1, max: 5_000 }), { minLength: 40, maxLength: 40 }),
        fc.boolean(),
        fc.nat(300),
        fc.boolean(),
        (users, known, knownTracks, withParts, raw, numbering, inPlace, cut, byRows) => {
          const kernel = kernels[byRows ? 1 : 0]!;
          const userIds = injective(numbering, known, users);
          const trackIds = Array.from({ length: knownTracks }, (_, t) => (t * 7) % 11);
          const kept = withParts ? userIds.map((id) => Number(id >= 0 && id % 2 === 0)) : undefined;
          const rows = raw.map(([u, t, ms]) => ({ user: u % known, track: t % knownTracks, ms }));
          const got = run(kernel, rows, userIds, trackIds, kept, users, inPlace, cut);
          const want = sortPlainly(rows, userIds, trackIds, kept, users);
          expect(got.groups).toEqual(want);
          expect(got.total).toBe(want.reduce((n, g) => n + g.length, 0));
          expect(got.placed).toBe(got.counted);
          expect(got.stopped).toBe(-1);
          expect(got.outOfRange).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: groups the rows of several sources, each counted by histogram or row by row, as the plain sort does', () => {
    // Each source numbered its own way; one with more user numbers than rows, or past the part's
    // share of histograms (the day cut into up to 4 parts), counted and placed row by row.
    const kernels = [new DayGroupKernel(), new DayGroupKernel(0)];
    const source = fc.record({
      known: fc.integer({ min: 1, max: 60 }),
      knownTracks: fc.integer({ min: 1, max: 10 }),
      raw: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 86_399_999 })), {
        maxLength: 120,
      }),
      numbering: fc.array(fc.integer({ min: -1, max: 500 }), { minLength: 60, maxLength: 60 }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(source, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.boolean(),
        (users, drawn, parts, withParts, byRows) => {
          const sources: Source[] = drawn.map(({ known, knownTracks, raw, numbering }) => {
            const userIds = injective(numbering, known, users);
            return {
              rows: raw.map(([u, t, ms]) => ({ user: u % known, track: t % knownTracks, ms })),
              userIds,
              trackIds: Array.from({ length: knownTracks }, (_, t) => (t * 3) % 7),
              kept: withParts ? userIds.map((id) => Number(id >= 0 && id % parts === 0)) : undefined,
            };
          });
          const got = runSources(kernels[byRows ? 1 : 0]!, sources, users, parts);
          const want: { track: number; ms: number }[][] = Array.from({ length: users }, () => []);
          for (const s of sources) {
            const plain = sortPlainly(s.rows, s.userIds, s.trackIds, s.kept, users);
            for (const [u, rows] of plain.entries()) want[u]!.push(...rows);
          }
          expect(got.groups).toEqual(want);
          expect(got.placed).toEqual(got.counted);
          expect(got.outOfRange).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('groups a chunk of many rows alike: thousands of users, half of them kept', () => {
    // 60,000 rows of 5,000 users, half of them kept (a part), a user's rows in their order; the
    // first pass in two chunks.
    const kernel = new DayGroupKernel();
    const users = 5_000;
    const userIds = Array.from({ length: users }, (_, u) => (u * 7_919) % users);
    const kept = userIds.map((id) => Number(id % 2 === 0));
    const rows = Array.from({ length: 60_000 }, (_, i) => ({
      user: (i * 2_654_435_761) % users,
      track: i % 7,
      ms: (i * 1_000_003) % 86_400_000,
    }));
    const trackIds = [6, 5, 4, 3, 2, 1, 0];
    for (const inPlace of [false, true]) {
      const got = run(kernel, rows, userIds, trackIds, kept, users, inPlace, 31_000);
      expect(got.groups).toEqual(sortPlainly(rows, userIds, trackIds, kept, users));
      expect(got.placed).toBe(got.counted);
      expect(got.outOfRange).toBe(false);
    }
  });

  it('stops at the first kept row whose time is off the millisecond, having placed none of it', () => {
    const kernel = new DayGroupKernel();
    const rows: Row[] = [
      { user: 0, track: 0, ms: 5 },
      { user: 1, track: 0, ms: 6 },
      { user: 0, track: 0, ms: 7.5 },
      { user: 1, track: 0, ms: 8 },
    ];
    const got = run(kernel, rows, [0, -1], [3], undefined, 1);
    // User number 1 has no run number: picked rows are 0 and 2; the second (index 1) stops it.
    expect(got.stopped).toBe(1);
    expect(Array.from(kernel.picked.subarray(0, 2))).toEqual([0, 2]);
    expect(got.groups[0]!.slice(0, 1)).toEqual([{ track: 3, ms: 5 }]);
  });

  it('reports user and track numbers out of range, and writes nothing for them', () => {
    const kernel = new DayGroupKernel();
    const pastUsers = run(
      kernel,
      [
        { user: 0, track: 0, ms: 1 },
        { user: 5, track: 0, ms: 2 },
      ],
      [0],
      [0],
      undefined,
      1,
    );
    expect(pastUsers.outOfRange).toBe(true);
    expect(pastUsers.total).toBe(1);
    const pastTracks = run(kernel, [{ user: 0, track: 9, ms: 1 }], [0], [0], undefined, 1);
    expect(pastTracks.outOfRange).toBe(true);
    const pastGroups = run(kernel, [{ user: 0, track: 0, ms: 1 }], [4], [0], undefined, 2);
    expect(pastGroups.outOfRange).toBe(true);
    expect(pastGroups.total).toBe(0);
  });
});

/** A catalogue of `tracks` tracks: those of a songs file first, of 0 to 3 of `genres` genres each. */
function randomCatalog(tracks: number, inSongs: number, genres: number, knownUsers: number, seed: number[]) {
  const from = [0];
  const genreOf: number[] = [];
  const durations: number[] = [];
  for (let t = 0; t < tracks; t++) {
    const n = t < inSongs ? seed[t % seed.length]! % 4 : 0;
    for (let k = 0; k < n; k++) {
      genreOf.push((t * 5 + k * 3) % genres);
      durations.push(1_000 + ((t * 7_919 + k) % 400_000));
    }
    from.push(genreOf.length);
  }
  const numbered: NumberedCatalog = {
    genres: Array.from({ length: genres }, (_, g) => `genre-${g}`),
    trackFrom: Uint32Array.from(from),
    trackGenres: Uint32Array.from(genreOf),
    trackDurations: Float64Array.from(durations),
    knownTracks: Uint8Array.from({ length: tracks }, (_, t) => Number(t < inSongs)),
    knownUsers,
  };
  return numbered;
}

describe('DayGroupKernel.aggregate', () => {
  it("property: sums the groups it holds as aggregateDay's loop sums a copy of them", () => {
    const kernel = new DayGroupKernel();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 30 }),
        fc.constantFrom<Granularity>('day', 'hour'),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 12 }),
        // Few distinct times, so that a user's rows repeat (exact duplicates).
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 5 })), { maxLength: 400 }),
        (users, tracks, inSongsDrawn, genres, knownUsers, granularity, seed, raw) => {
          const inSongs = Math.min(inSongsDrawn, tracks);
          const catalog = randomCatalog(tracks, inSongs, genres, knownUsers, seed);
          const userIds = Array.from({ length: users }, (_, u) => u);
          const trackIds = Array.from({ length: tracks }, (_, t) => t);
          const rows = raw.map(([u, t, m]) => ({
            user: u % users,
            track: t % tracks,
            // Spread over the day's hours, a few times an hour.
            ms: ((u + t) % 24) * 3_600_000 + m * 1_000,
          }));
          const got = run(kernel, rows, userIds, trackIds, undefined, users);
          expect(got.outOfRange).toBe(false);
          const held = heldGroups(kernel, users);
          const copy = columnsOf(held);
          expect(kernel.holds(held)).toBe(true);
          expect(kernel.holds(copy)).toBe(false);
          const fromKernel = aggregateDay(held, users, catalog, granularity, kernel);
          // The loop over the same pairs, and over columns of them.
          expect(aggregateDay(held, users, catalog, granularity)).toEqual(fromKernel);
          expect(aggregateDay(copy, users, catalog, granularity)).toEqual(fromKernel);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("sums a large day alike: groups past the set's first size, every hour, hundreds of tracks", () => {
    const kernel = new DayGroupKernel();
    let state = 7;
    const next = (n: number): number => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return state % n;
    };
    const users = 300;
    const tracks = 500;
    const catalog = randomCatalog(tracks, 450, 9, 250, [1, 2, 3, 0, 2]);
    // User 0 has 5,000 rows (a set of 16,384 slots), the others a few each.
    const rows = Array.from({ length: 20_000 }, (_, i) => ({
      user: i < 5_000 ? 0 : next(users),
      track: next(tracks),
      ms: next(86_400) * 1_000,
    }));
    run(
      kernel,
      rows,
      Array.from({ length: users }, (_, u) => u),
      Array.from({ length: tracks }, (_, t) => t),
      undefined,
      users,
    );
    for (const granularity of ['day', 'hour'] as const) {
      // Views made anew for each: a sum may grow the kernel's memory, which detaches the last ones.
      const held = heldGroups(kernel, users);
      const copy = columnsOf(held);
      const fromKernel = aggregateDay(held, users, catalog, granularity, kernel);
      expect(fromKernel).toEqual(aggregateDay(copy, users, catalog, granularity));
      expect(fromKernel.counts.duplicates).toBeGreaterThan(0);
      expect(fromKernel.counts.unknownTrack).toBeGreaterThan(0);
      expect(fromKernel.counts.unknownUser).toBeGreaterThan(0);
    }
  });

  it('throws at a track numbered past the catalogue (damage), rather than count it', () => {
    const kernel = new DayGroupKernel();
    const catalog = randomCatalog(2, 2, 1, 1, [1]);
    // The source numbers track 0 as run track 5: past the catalogue's 2.
    run(kernel, [{ user: 0, track: 0, ms: 1 }], [0], [5], undefined, 1);
    expect(() => aggregateDay(heldGroups(kernel, 1), 1, catalog, 'day', kernel)).toThrow(
      /past the catalogue/,
    );
  });
});
