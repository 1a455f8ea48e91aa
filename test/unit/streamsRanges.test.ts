import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DONE_READING,
  doneReading,
  fileProgress,
  progressReporter,
  unreadBytes,
} from '../../src/engines/embedded/fileProgress.js';
import {
  parseStreamsFiles,
  rangeBytesFor,
  rangeShare,
  rangesFor,
} from '../../src/engines/embedded/streamsParse.js';
import type { ParseStreamsResult } from '../../src/engines/embedded/tasks.js';
import { WorkerPool } from '../../src/engines/embedded/workerPool.js';
import { partialDays, readDayColumns, readFilePartialHeader } from '../../src/formats/kpiPartials.js';
import { namesOf } from '../../src/parse/idInterner.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * A large streams file read in ranges on several workers (src/engines/embedded/streamsParse.ts)
 * gives the partial a whole-file read gives, but for its segments (one a range, each numbered its
 * own way, where a file read whole has one): the names in order of first appearance over the
 * segments, each day's rows in file order, rejects and examples (record numbers from the file's
 * start), content hash; and no range's scratch file is left behind. Where a cut falls inside a
 * quoted field with a line break, the file is read whole instead, with the same result. Needs the
 * built worker script (`npm run build`).
 */

const temp = new TempDirs();
let pool: WorkerPool;
beforeAll(() => {
  pool = new WorkerPool(2);
});
afterAll(async () => {
  await pool.close();
  temp.cleanup();
});

/** Pieces of a streams file: good rows, rejects of every kind, quotes, line breaks, blanks. */
const piece = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom('u1', 'u2', 'u3', 'ü4', '"u,5"', 'u""6'),
        fc.constantFrom('t1', 't2', '"t\n3"', 't4'),
        fc.constantFrom(
          '2024-01-01T10:00:00Z',
          '2024-01-02 00:00:01',
          '2023-12-31T23:59:59.5+01:00',
          '2024-01-01T00:00Z',
        ),
      )
      .map((f) => f.join(',')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'u1,t1',
      'u1,,2024-01-01T10:00:00Z',
      'u1,t1,yesterday',
      '"u1"x,t1,2024-01-01T10:00:00Z',
      'u1,t1,2024-01-01T10:00:00Z,extra',
      '"open,t1,2024-01-01T10:00:00Z',
    ),
  },
);

function writeStreams(
  rows: string[],
  eol: string,
  bom: boolean,
): { name: string; path: string; size: number; mtimeMs: number } {
  const path = join(temp.make(), 'streams.csv');
  writeFileSync(
    path,
    (bom ? '\uFEFF' : '') +
      ['user_id,track_id,listen_time', ...rows].join(eol) +
      (rows.length % 2 === 0 ? eol : ''),
  );
  const { size, mtimeMs } = statSync(path);
  return { name: 'streams.csv', path, size, mtimeMs };
}

/**
 * The partial of `file` read with ranges of `rangeBytes`, by name: its header but for its
 * segments, the file's users and tracks in order of first appearance over the segments (the
 * order a day numbers them in), each day's rows as names and times in file order; its number of
 * segments; and the task's result. The partials' folder holds nothing else (no range's scratch
 * file left).
 */
async function parsed(
  file: ReturnType<typeof writeStreams>,
  rangeBytes: number,
  users?: number,
): Promise<{ partial: unknown; segments: number; result: unknown }> {
  const dir = temp.make();
  const [parsing] = parseStreamsFiles(pool, [file], dir, { rangeBytes, users });
  const done = await parsing!;
  expect(readdirSync(dir)).toEqual(done.partial === undefined ? [] : [basename(done.partial)]);
  return contentOf(done);
}

/** What `parsed` compares of a file's parse (see there). */
function contentOf(done: ParseStreamsResult): { partial: unknown; segments: number; result: unknown } {
  let partial: unknown;
  let segments = 0;
  if (done.partial !== undefined) {
    const { segments: all, ...header } = readFilePartialHeader(done.partial);
    segments = all.length;
    const rows = new Map<number, [string, string, number][]>();
    for (const segment of all) {
      const users = namesOf(segment.users);
      const tracks = namesOf(segment.tracks);
      for (const section of segment.days) {
        const day = rows.get(section.day) ?? [];
        const columns = readDayColumns(done.partial, segment.dataStart, section);
        for (let i = 0; i < columns.users.length; i++)
          day.push([users[columns.users[i]!]!, tracks[columns.tracks[i]!]!, columns.times[i]!]);
        rows.set(section.day, day);
      }
    }
    partial = {
      ...header,
      users: [...new Set(all.flatMap((s) => namesOf(s.users)))],
      tracks: [...new Set(all.flatMap((s) => namesOf(s.tracks)))],
      days: partialDays({ segments: all }).map(({ day, rows: n }) => ({
        day,
        rows: n,
        listens: rows.get(day),
      })),
    };
    expect(done.days).toEqual(partialDays({ segments: all }));
  }
  return {
    partial,
    segments,
    result: { ...done, partial: undefined, partialBytes: undefined, ms: undefined },
  };
}

describe('a streams file read in ranges on the workers', () => {
  it('property: the same partial and result as the file read whole, for any cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { minLength: 1, maxLength: 60 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.integer({ min: 1, max: 90 }),
        fc.option(fc.integer({ min: 0, max: 5000 })),
        async (rows, eol, bom, rangeBytes, users) => {
          const file = writeStreams(rows, eol, bom);
          const whole = await parsed(file, Number.MAX_SAFE_INTEGER);
          // The workers' tables sized ahead for some number of users, or not: the same partial.
          const ranged = await parsed(file, rangeBytes, users ?? undefined);
          expect(ranged.result).toEqual(whole.result);
          expect(ranged.partial).toEqual(whole.partial);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('ranges of many blocks, days interleaved: the same rows as the file read whole', async () => {
    // 20,000 rows over three days in an order that switches day every few rows, so that each
    // range fills several blocks of each day (1,024 rows, then 2,048, ...).
    const rows = Array.from({ length: 20_000 }, (_, i) => {
      const d = [1, 2, 3][Math.floor(i / 7) % 3]!;
      return `u${i % 997},t${(i * 31) % 1009},2024-01-0${d}T${String(i % 24).padStart(2, '0')}:00:00Z`;
    });
    const file = writeStreams(rows, '\n', false);
    const whole = await parsed(file, Number.MAX_SAFE_INTEGER);
    expect(whole.segments).toBe(1);
    for (const cut of [3, 5]) {
      const ranged = await parsed(file, Math.ceil(file.size / cut));
      expect(ranged.segments).toBe(cut);
      expect(ranged.result).toEqual(whole.result);
      expect(ranged.partial).toEqual(whole.partial);
    }
    const perDay = [0, 1, 2].map((k) => rows.filter((_, i) => Math.floor(i / 7) % 3 === k).length);
    expect((whole.partial as { days: { rows: number }[] }).days.map((d) => d.rows)).toEqual(perDay);
  });

  it('a file over its share is cut; files of a share or less are read whole', () => {
    const mb = 1024 * 1024;
    expect(rangeBytesFor([{ size: 175 * mb }, { size: 175 * mb }, { size: 178 * mb }], 2)).toBe(264 * mb);
    expect(rangeBytesFor([{ size: 528 * mb }], 2)).toBe(264 * mb);
    expect(rangeBytesFor([{ size: 10 * mb }], 2)).toBe(32 * mb);
  });

  it('a local file is cut into ranges of at most the share, whatever the files around it; S3 files never', () => {
    const mb = 1024 * 1024;
    const local = (size: number, name = 'f.csv') => ({
      name,
      path: `/data/${name}`,
      size: size * mb,
      mtimeMs: 0,
    });
    const three = [local(175), local(175), local(178)];
    expect(rangesFor([local(175), local(175)], 175 * mb, 2)).toEqual([1, 1]);
    expect(rangesFor([local(528)], rangeBytesFor([local(528)], 2), 2)).toEqual([2]);
    expect(rangesFor([local(900), local(100)], rangeBytesFor([local(900), local(100)], 2), 2)).toEqual([
      2, 1,
    ]);
    expect(rangesFor([{ ...local(528), path: 's3://bucket/streams/f.csv' }], 264 * mb, 2)).toEqual([1]);
    expect(rangesFor([local(100), local(100), local(100)], 75 * mb, 2)).toEqual([2, 2, 2]);
    expect(rangesFor([local(200), local(200), local(200)], 150 * mb, 2)).toEqual([2, 2, 2]);
    // Files read whole that leave workers idle in a last round: that round's files cut, a range a
    // worker (at least MIN_RANGE_BYTES each; S3 files still whole).
    expect(rangesFor(three, rangeBytesFor(three, 2), 2)).toEqual([1, 1, 2]);
    expect(rangesFor([...three, local(175), local(175)], 440 * mb, 2)).toEqual([1, 1, 1, 1, 2]);
    expect(rangesFor([...three, local(175), local(175)], 440 * mb, 4)).toEqual([1, 1, 1, 1, 4]);
    expect(rangesFor([...three, local(175), local(175), local(100)], 440 * mb, 4)).toEqual([
      1, 1, 1, 1, 2, 2,
    ]);
    expect(rangesFor([...three, local(175), local(175), local(100), local(9)], 440 * mb, 4)).toEqual([
      1, 1, 1, 1, 1, 1, 1,
    ]);
    expect(rangesFor([...three, local(175), local(40)], 440 * mb, 4)).toEqual([1, 1, 1, 1, 1]);
    expect(rangesFor([...three, local(175), local(100)], 440 * mb, 4)).toEqual([1, 1, 1, 1, 3]);
    expect(
      rangesFor([local(40), local(40), local(40)], rangeBytesFor([local(40), local(40), local(40)], 2), 2),
    ).toEqual([1, 1, 1]);
    expect(rangesFor([local(40), local(40), local(70)], 90 * mb, 2)).toEqual([1, 1, 2]);
    const s3 = { ...local(175), path: 's3://bucket/streams/f.csv' };
    expect(rangesFor([local(175), local(175), s3], 264 * mb, 2)).toEqual([1, 1, 1]);
  });

  it('sizes a range as it is handed out, for its worker to end with those still reading whole files', () => {
    // No one else reading: even shares, the first rounded up (as the cuts were before).
    expect(rangeShare(100, 2, 0)).toBe(50);
    expect(rangeShare(101, 2, 0)).toBe(51);
    expect(rangeShare(100, 3, 0)).toBe(34);
    // The other worker has 40 bytes of its file left: this one takes 70, that one 30 after its 40.
    expect(rangeShare(100, 2, 40)).toBe(70);
    expect(rangeShare(100, 3, 60)).toBe(54);
    // Far behind: never more than leaves half an even share to each range after it.
    expect(rangeShare(100, 2, 1000)).toBe(75);
    expect(rangeShare(100, 4, 10_000)).toBe(100 - 3 * 13);
    // The last range takes the rest.
    expect(rangeShare(37, 1, 500)).toBe(37);
  });

  it("a file's progress cell: nothing unread before its worker starts, then its size less the KiB read, nothing once read", () => {
    const kib = fileProgress(2);
    expect([unreadBytes(kib, 0, 10_000), unreadBytes(kib, 1, 10_000)]).toEqual([0, 0]);
    const told = progressReporter({ kib, at: 1 })!;
    expect(unreadBytes(kib, 1, 10_000)).toBe(10_000);
    told(3000);
    told(2000);
    // 5,000 bytes read: 4 whole KiB.
    expect(Atomics.load(kib, 1)).toBe(4);
    expect(unreadBytes(kib, 1, 10_000)).toBe(10_000 - 4096);
    doneReading({ kib, at: 1 });
    expect(Atomics.load(kib, 1)).toBe(DONE_READING);
    expect(unreadBytes(kib, 1, 10_000)).toBe(0);
    expect(unreadBytes(kib, 0, 10_000)).toBe(0);
    expect(progressReporter(undefined)).toBeUndefined();
    doneReading(undefined);
  });

  it('a file read whole tells how far it has read; a file cut after it, the same partial as read whole', async () => {
    const kib = new Int32Array(new SharedArrayBuffer(4)).fill(-1);
    const rows = Array.from(
      { length: 30_000 },
      (_, i) => `u${i % 101},t${(i * 7) % 97},2024-01-01T${String(i % 24).padStart(2, '0')}:00:00Z`,
    );
    const big = writeStreams(rows, '\n', false);
    const done = await pool.run<ParseStreamsResult>({
      kind: 'parseStreams',
      ...big,
      partialDir: temp.make(),
      progress: { kib, at: 0 },
    });
    expect(done.result.report.accepted).toBe(30_000);
    expect(Atomics.load(kib, 0)).toBe(DONE_READING);

    // A file read whole, a tiny one, then a third cut in two for the last round: its first range
    // is handed out as the tiny file is done, most likely while the first is still read, and is
    // then the larger; either way the same partial as the file read whole.
    const first = writeStreams(rows.slice(0, 14_000), '\n', false);
    const tiny = writeStreams(rows.slice(0, 50), '\n', false);
    const last = writeStreams(rows, '\n', false);
    const results = await Promise.all(
      parseStreamsFiles(pool, [first, tiny, last], temp.make(), { rangeBytes: Math.ceil(last.size / 2) }),
    );
    const ranged = contentOf(results[2]!);
    expect(ranged.segments).toBe(2);
    const segmentRows = readFilePartialHeader(results[2]!.partial!).segments.map((segment) =>
      segment.days.reduce((n, d) => n + d.rows, 0),
    );
    expect(segmentRows[0]).toBeGreaterThanOrEqual(segmentRows[1]!);
    const whole = await parsed(last, Number.MAX_SAFE_INTEGER);
    expect(ranged.result).toEqual(whole.result);
    expect(ranged.partial).toEqual(whole.partial);
  });
});
