import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BLOCK_ROWS,
  DayStreams,
  GroupArrays,
  groupByUser,
  partOfUser,
  StreamDays,
} from '../../src/kpis/streamDays.js';
import { SNIFF_BYTES } from '../../src/parse/catalogs.js';
import { IdInterner as Interner, nameListOf, namesOf } from '../../src/parse/idInterner.js';
import { readStreamsFile } from '../../src/parse/streamRows.js';
import { MICROS_PER_DAY, MICROS_PER_HOUR, parseListenTime, utcHourOf } from '../../src/parse/timestamps.js';
import { contentHash, logHasher } from '../../src/sources/contentHash.js';
import { csvInput } from '../../src/sources/locations.js';
import { logAt } from '../support/logSamples.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The KPI streams by UTC day (src/kpis/streamDays.ts): ids interned in order of appearance, each
 * valid row filed under the UTC day of its listen time (midnight UTC starts a day, whatever the
 * offset it was written with), rows of another interner merged with their names, a day's rows
 * grouped by user (each group in row order), and users split into parts.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());

const t = (iso: string): number => {
  const micros = parseListenTime(iso);
  if (Number.isNaN(micros)) throw new Error(`not a listen time: ${iso}`);
  return micros;
};

/** The rows of a day as (user name, track name, time), in their order. */
function rowsOf(s: StreamDays, d: number): [string, string, number][] {
  const out: [string, string, number][] = [];
  s.days.get(d)?.forEach((user, track, time) => {
    out.push([s.users.name(user), s.tracks.name(track), time]);
  });
  return out;
}

describe('Interner', () => {
  it('numbers names 0, 1, 2... in order of first appearance; the same name keeps its number', () => {
    const ids = new Interner();
    expect(ids.size).toBe(0);
    expect(['b', 'a', 'b', 'c', 'a'].map((n) => ids.id(n))).toEqual([0, 1, 0, 2, 1]);
    expect(ids.names).toEqual(['b', 'a', 'c']);
    expect(ids.size).toBe(3);
  });

  it('takes any string as a name, exactly: empty, blanks, case, unicode forms, object keys', () => {
    const odd = [
      '',
      ' ',
      'a',
      'A',
      'a ',
      'é',
      'e\u0301',
      '😀',
      '日本',
      '__proto__',
      'constructor',
      'toString',
      '0',
      '00',
      'x'.repeat(10_000),
    ];
    const ids = new Interner();
    expect(odd.map((n) => ids.id(n))).toEqual(odd.map((_, i) => i));
    expect(odd.map((n) => ids.id(n))).toEqual(odd.map((_, i) => i));
    expect(ids.names).toEqual(odd);
  });
});

describe('IdInterner against a Map: names by bytes, long, alike, with NULs, past ASCII', () => {
  /** Names that share long prefixes, differ late, hold NUL bytes and zeros like padding. */
  const name = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc
      .tuple(
        fc.constantFrom('', 'x'.repeat(23), 'x'.repeat(24), 'x'.repeat(25), 'spotify:track:'),
        fc.string({ maxLength: 6 }),
      )
      .map(([a, b]) => a + b),
    fc.constantFrom('a', 'a\u0000', 'a\u0000\u0000', '\u0000', 'é', 'e\u0301'),
  );

  it('property: one id per distinct name, numbered in order of first appearance, names back exactly', () => {
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 300 }),
        fc.array(fc.boolean(), { maxLength: 300 }),
        (names, asBytes) => {
          const ids = new Interner();
          const oracle = new Map<string, number>();
          names.forEach((n, i) => {
            if (!oracle.has(n)) oracle.set(n, oracle.size);
            const bytes = Buffer.from(`,${n},`);
            const got = asBytes[i] ? ids.idOf(bytes, 1, bytes.length - 1) : ids.id(n);
            expect(got).toBe(oracle.get(n));
          });
          expect(ids.size).toBe(oracle.size);
          expect(ids.names).toEqual([...oracle.keys()]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: idsOfList gives each name the id id() gives it, ASCII or not; without adding, -1 for a new one', () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 200 }), fc.array(name, { maxLength: 50 }), (before, names) => {
        const one = new Interner();
        const many = new Interner();
        const looked = new Interner();
        for (const n of before) {
          one.id(n);
          many.id(n);
          looked.id(n);
        }
        const first = new Map<string, number>();
        for (const n of before) if (!first.has(n)) first.set(n, first.size);
        const known = names.map((n) => first.get(n) ?? -1);
        expect(names.map((n) => looked.has(n))).toEqual(names.map((n) => first.has(n)));
        expect(Array.from(looked.idsOfList(nameListOf(names), false))).toEqual(known);
        expect(looked.size).toBe(one.size);
        const expected = names.map((n) => one.id(n));
        expect(Array.from(many.idsOfList(nameListOf(names)))).toEqual(expected);
        expect(many.names).toEqual(one.names);
        // The names from any id on, as bytes, are the names' own.
        const from = Math.floor(many.size / 2);
        expect(namesOf(many.nameList(from))).toEqual(one.names.slice(from));
      }),
      { numRuns: 300 },
    );
  });

  it('property: idsOfSpans, in batches of any size, numbers names as idOf does one by one', () => {
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 200 }),
        fc.array(name, { maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        (before, names, batch) => {
          const one = new Interner();
          const many = new Interner();
          for (const n of before) {
            one.id(n);
            many.id(n);
          }
          // The names end to end in one buffer, each a span of it (a chunk's fields).
          const parts = names.map((n) => Buffer.from(n, 'utf8'));
          const bytes = Buffer.concat(parts);
          const starts = new Int32Array(names.length);
          const ends = new Int32Array(names.length);
          let at = 0;
          parts.forEach((p, k) => {
            starts[k] = at;
            at += p.length;
            ends[k] = at;
          });
          const expected = names.map((_, k) => one.idOf(bytes, starts[k]!, ends[k]!));
          const got = new Int32Array(names.length);
          // Batches of `batch` names; the table grows inside some of them.
          for (let k = 0; k < names.length; k += batch) {
            const n = Math.min(batch, names.length - k);
            const ids = new Int32Array(n);
            many.idsOfSpans(bytes, starts.subarray(k), ends.subarray(k), n, ids);
            got.set(ids, k);
          }
          expect(Array.from(got)).toEqual(expected);
          expect(many.names).toEqual(one.names);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('bytes that are not UTF-8 are one name with the text they decode to', () => {
    const ids = new Interner();
    const bad = Buffer.from([0x61, 0xff, 0x62]);
    const other = Buffer.from([0x61, 0xfe, 0x62]);
    expect(ids.idOf(bad, 0, 3)).toBe(0);
    expect(ids.idOf(other, 0, 3)).toBe(0);
    expect(ids.id('a\uFFFDb')).toBe(0);
    expect(ids.names).toEqual(['a\uFFFDb']);
  });
});

describe('DayStreams', () => {
  it('property: runs of rows added at once (StreamDays.addRuns) fill the days and their blocks as rows one by one do', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 19_000, max: 19_003 })), {
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 64 }),
        (runs, firstBlockRows) => {
          const rows = runs.reduce((n, [length]) => n + length, 0);
          const users = Uint32Array.from({ length: rows }, (_, i) => (i * 7) % 101);
          const tracks = Uint32Array.from({ length: rows }, (_, i) => (i * 13) % 57);
          const days = runs.flatMap(([length, d]) => Array.from({ length }, () => d));
          const times = Float64Array.from(days, (d, i) => d * MICROS_PER_DAY + i * 1_000);
          const sent = (into: string[]) => (d: number, u: Uint32Array, tr: Uint32Array, ti: Float64Array) =>
            into.push(`${d}:${u.join(',')}|${tr.join(',')}|${ti.join(',')}`);
          const blocksOne: string[] = [];
          const blocksRuns: string[] = [];
          const one = new StreamDays(sent(blocksOne), firstBlockRows);
          const batched = new StreamDays(sent(blocksRuns), firstBlockRows);
          for (let i = 0; i < rows; i++) one.addRow(users[i]!, tracks[i]!, times[i]!);
          const runFrom = Int32Array.from(
            runs.map((_, r) => runs.slice(0, r).reduce((n, [length]) => n + length, 0)),
          );
          batched.addRuns(
            users,
            tracks,
            times,
            rows,
            runFrom,
            Int32Array.from(runs, ([, d]) => d),
            runs.length,
          );
          one.flush();
          batched.flush();
          expect(blocksRuns).toEqual(blocksOne);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('grows in blocks and keeps every row in order, times exactly, across block edges', () => {
    for (const n of [0, 1, 1023, 1024, 1025, 3000, 65_536 * 2 + 3]) {
      const rows = new DayStreams(1);
      const times = [0, -1, 1.5, MICROS_PER_DAY - 1, 2 ** 52, -(2 ** 52), 1_709_251_200_000_000];
      for (let i = 0; i < n; i++) rows.push(i, n - i, times[i % times.length]!);
      expect(rows.length).toBe(n);
      const { users, tracks, times: columnTimes } = rows.columns();
      const flat = <T extends ArrayLike<number>>(chunks: T[]): number[] =>
        chunks.flatMap((c) => Array.from(c));
      expect(flat(users)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(flat(tracks)).toEqual(Array.from({ length: n }, (_, i) => n - i));
      expect(flat(columnTimes)).toEqual(Array.from({ length: n }, (_, i) => times[i % times.length]));
      // No block is more than 65,536 rows, and none is empty.
      expect(users.every((c) => c.length > 0 && c.length <= 65_536)).toBe(true);
      let seen = 0;
      rows.forEach((user, _track, _time, row) => {
        expect([user, row]).toEqual([seen, seen]);
        seen++;
      });
      expect(seen).toBe(n);
    }
  });
});

describe('StreamDays.add: the UTC day of the listen time', () => {
  it('midnight UTC starts the day; the last microsecond before it is the day before', () => {
    const s = new StreamDays();
    expect(s.add('u', 't', t('2024-03-10T00:00:00Z'))).toBe(day('2024-03-10'));
    expect(s.add('u', 't', t('2024-03-09T23:59:59.999999Z'))).toBe(day('2024-03-09'));
    expect(s.add('u', 't', t('2024-03-10'))).toBe(day('2024-03-10'));
    expect(s.add('u', 't', t('2024-03-10T23:59:59Z'))).toBe(day('2024-03-10'));
    expect(s.add('u', 't', t('2024-03-11T00:00:00.000001Z'))).toBe(day('2024-03-11'));
    expect([...s.days.keys()].sort((a, b) => a - b)).toEqual([
      day('2024-03-09'),
      day('2024-03-10'),
      day('2024-03-11'),
    ]);
    expect(s.days.get(day('2024-03-10'))!.length).toBe(3);
  });

  it('a time written with an offset is filed under its UTC day, not its local one', () => {
    const s = new StreamDays();
    expect(s.add('u', 't', t('2024-03-10T00:30:00+01:00'))).toBe(day('2024-03-09'));
    expect(s.add('u', 't', t('2024-03-09T23:30:00-05:00'))).toBe(day('2024-03-10'));
    expect(s.add('u', 't', t('2024-03-10T05:00:00+0500'))).toBe(day('2024-03-10'));
    expect(s.add('u', 't', t('2024-03-10T04:59:59+05'))).toBe(day('2024-03-09'));
  });

  it('the epoch, before it, leap days and the ends of years', () => {
    const s = new StreamDays();
    expect(s.add('u', 't', t('1970-01-01T00:00:00Z'))).toBe(0);
    expect(s.add('u', 't', t('1969-12-31T23:59:59.999999Z'))).toBe(-1);
    expect(s.add('u', 't', t('1969-12-31T00:00:00Z'))).toBe(-1);
    expect(s.add('u', 't', t('2024-02-29T23:59:59Z'))).toBe(day('2024-02-29'));
    expect(s.add('u', 't', t('2024-03-01T00:00:00Z'))).toBe(day('2024-03-01'));
    expect(s.add('u', 't', t('2023-12-31T23:59:59Z'))).toBe(day('2023-12-31'));
    expect(s.add('u', 't', t('2024-01-01T00:00:00Z'))).toBe(day('2024-01-01'));
  });

  it('keeps each day in arrival order, with the names and exact times of its rows', () => {
    const s = new StreamDays();
    const input: [string, string, string][] = [
      ['alice', 'song-1', '2024-03-09T23:00:00Z'],
      ['bob', 'song-2', '2024-03-10T01:00:00Z'],
      ['alice', 'song-2', '2024-03-09T08:00:00.123456Z'],
      ['😀', 'song-1', '2024-03-10T00:00:00Z'],
      ['bob', 'song-2', '2024-03-10T01:00:00Z'],
    ];
    for (const [u, tr, time] of input) s.add(u, tr, t(time));
    expect(s.users.names).toEqual(['alice', 'bob', '😀']);
    expect(s.tracks.names).toEqual(['song-1', 'song-2']);
    expect(rowsOf(s, day('2024-03-09'))).toEqual([
      ['alice', 'song-1', t('2024-03-09T23:00:00Z')],
      ['alice', 'song-2', t('2024-03-09T08:00:00.123456Z')],
    ]);
    expect(rowsOf(s, day('2024-03-10'))).toEqual([
      ['bob', 'song-2', t('2024-03-10T01:00:00Z')],
      ['😀', 'song-1', t('2024-03-10T00:00:00Z')],
      ['bob', 'song-2', t('2024-03-10T01:00:00Z')],
    ]);
  });

  it('property: a time falls in [day start, next day start), and in the hour bucket utcHourOf gives', () => {
    // Microseconds from 1900 to 2200, with a bias to the microseconds around a midnight.
    const time = fc.oneof(
      fc.integer({ min: -2_208_988_800_000_000, max: 7_258_118_400_000_000 }),
      fc
        .tuple(fc.integer({ min: -25_567, max: 84_006 }), fc.integer({ min: -3, max: 3 }))
        .map(([d, off]) => d * MICROS_PER_DAY + off),
    );
    fc.assert(
      fc.property(fc.array(time, { minLength: 1, maxLength: 50 }), (times) => {
        const s = new StreamDays();
        for (const micros of times) {
          const d = s.add('u', 't', micros);
          expect(Number.isInteger(d)).toBe(true);
          expect(d * MICROS_PER_DAY).toBeLessThanOrEqual(micros);
          expect(micros).toBeLessThan((d + 1) * MICROS_PER_DAY);
          const hour = utcHourOf(micros);
          expect(hour).toBeGreaterThanOrEqual(0);
          expect(hour).toBeLessThanOrEqual(23);
          expect(d * MICROS_PER_DAY + hour * MICROS_PER_HOUR).toBeLessThanOrEqual(micros);
          expect(micros).toBeLessThan(d * MICROS_PER_DAY + (hour + 1) * MICROS_PER_HOUR);
        }
        // Every row is in exactly one day.
        expect([...s.days.values()].reduce((n, r) => n + r.length, 0)).toBe(times.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('StreamDays: rows read elsewhere (a worker, a file partial)', () => {
  it('invalid rows of a streams file never reach the days; the valid ones land on their UTC day', async () => {
    const dir = temp.make('stream-days-');
    const path = join(dir, 'streams.csv');
    writeFileSync(
      path,
      [
        'user_id,track_id,listen_time',
        'u1,t1,2024-03-09T23:59:59Z',
        'u1,t1,2024-03-10T00:00:00Z',
        'u2,t2,2024-03-10T01:00:00+02:00',
        'u3,t3,2024-13-01T00:00:00Z', // month 13
        'u3,t3,2024-02-30T00:00:00Z', // no such day
        'u3,t3,yesterday',
        'u3,t3,',
        ',t3,2024-03-10T00:00:00Z', // no user
        'u3,,2024-03-10T00:00:00Z', // no track
        'u3,t3', // a field short
        'u4,t4,2024-03-10T24:00:00Z', // hour 24
        '',
      ].join('\n'),
    );
    const s = new StreamDays();
    const result = await readStreamsFile(
      csvInput({ name: 'streams.csv', path }, SNIFF_BYTES),
      s,
      await logHasher(false),
    );
    expect(result.bad).toBeUndefined();
    // The content hash of the bytes read: a plain log's of the same bytes.
    expect(result.hash).toBe(await contentHash(logAt(path)));
    expect(result.report.accepted).toBe(3);
    expect(result.report.rejects).toEqual({ bad_timestamp: 5, empty_id: 2, field_count: 1 });
    expect(s.users.names).toEqual(['u1', 'u2']);
    expect(rowsOf(s, day('2024-03-09'))).toEqual([
      ['u1', 't1', t('2024-03-09T23:59:59Z')],
      ['u2', 't2', t('2024-03-09T23:00:00Z')],
    ]);
    expect(rowsOf(s, day('2024-03-10'))).toEqual([['u1', 't1', t('2024-03-10T00:00:00Z')]]);
    expect(s.days.size).toBe(2);
  });
});

describe('groupByUser', () => {
  /** A day's rows from (user, track, time) triples with small ids. */
  function dayOf(rows: [number, number, number][]): DayStreams {
    const d = new DayStreams(4);
    for (const [u, tr, time] of rows) d.push(u, tr, time);
    return d;
  }

  function check(rows: [number, number, number][], users: number): void {
    const d = dayOf(rows);
    const { starts, tracks, times } = groupByUser(d, users);
    expect(starts.length).toBe(users + 1);
    expect(starts[0]).toBe(0);
    expect(starts[users]).toBe(rows.length);
    for (let u = 0; u < users; u++) {
      // Each user's rows, in their order (stable).
      const group = Array.from({ length: starts[u + 1]! - starts[u]! }, (_, k) => [
        tracks[starts[u]! + k]!,
        times[starts[u]! + k]!,
      ]);
      expect(group).toEqual(rows.filter((r) => r[0] === u).map((r) => [r[1], r[2]]));
    }
  }

  it('no rows; users with no rows have empty groups', () => {
    check([], 0);
    check([], 3);
    check([[2, 0, 0]], 4);
  });

  it('small groups and a big one, in any order of users', () => {
    const small: [number, number, number][] = [
      [0, 3, 5],
      [0, 1, 9],
      [0, 3, 1],
      [0, 1, 9],
      [0, 0, -1],
    ];
    check(small, 1);
    const big: [number, number, number][] = Array.from({ length: 500 }, (_, i) => [
      1,
      (i * 37) % 11,
      (i * 53) % 17,
    ]);
    check([...small, ...big, [0, 2, 2]], 2);
  });

  it('property: rows grouped by user, each group sorted by (track, time)', () => {
    const users = fc.integer({ min: 1, max: 6 });
    fc.assert(
      fc.property(
        users.chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.array(
              fc.tuple(
                fc.oneof(fc.integer({ min: 0, max: n - 1 }), fc.constant(0)),
                fc.integer({ min: 0, max: 5 }),
                fc.integer({ min: -3, max: 3 }),
              ),
              { maxLength: 300 },
            ),
          ),
        ),
        ([n, rows]) => check(rows, n),
      ),
      { numRuns: 150 },
    );
  });
});

describe('DayStreams with an out: blocks sent as they fill (a partial written as it is parsed)', () => {
  it('sends each full block, then the rest on flush: the rows in order, one block held', () => {
    const sent: [number, number, number][] = [];
    const sizes: number[] = [];
    const d = new DayStreams(2, (users, tracks, times) => {
      sizes.push(users.length);
      for (let i = 0; i < users.length; i++) sent.push([users[i]!, tracks[i]!, times[i]!]);
    });
    const rows = Array.from({ length: 11 }, (_, i): [number, number, number] => [i % 3, i, i * 10]);
    for (const [u, t, time] of rows) d.push(u, t, time);
    // Blocks of 2, 4 sent as they filled; the block of 8 holds the last 5 rows.
    expect(sizes).toEqual([2, 4]);
    expect(d.length).toBe(11);
    d.flush();
    expect(sizes).toEqual([2, 4, 5]);
    expect(sent).toEqual(rows);
    d.flush();
    expect(sizes).toEqual([2, 4, 5, 0]);
  });

  it('at the largest block size, the same block is used again', () => {
    const buffers = new Set<ArrayBufferLike>();
    let rows = 0;
    const d = new DayStreams(BLOCK_ROWS, (users) => {
      buffers.add(users.buffer);
      rows += users.length;
    });
    for (let i = 0; i < 2 * BLOCK_ROWS + 5; i++) d.push(i, i, i);
    d.flush();
    expect(rows).toBe(2 * BLOCK_ROWS + 5);
    expect(buffers.size).toBe(1);
  });

  it('StreamDays sends each day its own blocks, and flushes in order of day', () => {
    const got: number[] = [];
    const s = new StreamDays((day, users) => got.push(day, users.length), 1);
    s.add('u1', 't1', t('2024-03-10T01:00:00Z'));
    s.add('u1', 't1', t('2024-03-09T01:00:00Z'));
    s.add('u2', 't1', t('2024-03-10T02:00:00Z'));
    s.flush();
    // Day 10's block of 1 sent when full; then the rest by day: day 9's 1 row, day 10's 1.
    expect(got).toEqual([day('2024-03-10'), 1, day('2024-03-09'), 1, day('2024-03-10'), 1]);
  });
});

describe('GroupArrays: the memory of the groups of a day part, reused part after part', () => {
  it('keeps one counting-sort kernel, and the microsecond times while they fit, grown by a 64th past it', () => {
    const arrays = new GroupArrays();
    expect(arrays.kernel()).toBe(arrays.kernel());
    const rows = arrays.timesFor(6400);
    expect(rows.length).toBe(6400);
    // A part a little larger (within the 64th) shares the array; a larger one gets a new one.
    expect(arrays.timesFor(6500).buffer).toBe(rows.buffer);
    expect(arrays.timesFor(600).buffer).toBe(rows.buffer);
    const grown = arrays.timesFor(6501);
    expect(grown.buffer).not.toBe(rows.buffer);
    expect(grown.length).toBe(6501);
  });
});

describe('partOfUser', () => {
  it('puts every user number in one part in [0, parts), the same every time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 1000 }),
        (id, parts) => {
          const part = partOfUser(id, parts);
          expect(Number.isInteger(part) && part >= 0 && part < parts).toBe(true);
          expect(partOfUser(id, parts)).toBe(part);
        },
      ),
    );
    expect(partOfUser(12345, 1)).toBe(0);
  });

  it('spreads users evenly however they are numbered: in a row, every other, by a stride', () => {
    for (const stride of [1, 2, 3, 4, 16, 1000]) {
      const ids = Array.from({ length: 20_000 }, (_, i) => i * stride);
      for (const parts of [2, 3, 4, 7, 16]) {
        const counts = new Array<number>(parts).fill(0);
        for (const id of ids) counts[partOfUser(id, parts)]!++;
        for (const c of counts) expect(c / ids.length).toBeGreaterThan(0.8 / parts);
      }
    }
  });
});
