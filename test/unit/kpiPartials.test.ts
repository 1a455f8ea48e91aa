import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  daySources,
  type FilePartialHeader,
  FilePartialWriter,
  loadDayGroups,
  type PartialHeaders,
  PartialNames,
  type PartialSegment,
  partialDays,
  readDayColumns,
  readFilePartialHeader,
} from '../../src/formats/kpiPartials.js';
import { PartialFileError } from '../../src/formats/partialFile.js';
import {
  GroupArrays,
  groupTrack,
  listenTime,
  partOfUser,
  StreamDays,
  type UserGroups,
} from '../../src/kpis/streamDays.js';
import {
  ExtendedInterner,
  IdInterner,
  type NameList,
  type Numbering,
  nameListOf,
  namesOf,
} from '../../src/parse/idInterner.js';
import { MICROS_PER_DAY } from '../../src/parse/timestamps.js';
import {
  writePartial,
  writePartialV3,
  writePartialV4,
  writePartialV5,
  writeSegmentedPartial,
} from '../support/kpiPartialFiles.js';
import { TempDirs } from '../support/tempDirs.js';

const temp = new TempDirs();
afterEach(() => temp.cleanup());

const HEADER = {
  file: 'streams-a.csv',
  size: 10,
  mtimeMs: 1,
  hash: 'x',
  report: { file: 'streams-a.csv', rows: 3, accepted: 3, rejected: 0, rejects: {} },
  examples: [],
  users: ['u1', 'u2'],
  tracks: ['t1'],
} as unknown as Parameters<typeof writePartial>[1];

const SMALL_DAYS = [
  { day: 19_000, users: Uint32Array.of(0, 1), tracks: Uint32Array.of(0, 0), times: Float64Array.of(1, 2) },
  { day: 19_001, users: Uint32Array.of(1), tracks: Uint32Array.of(0), times: Float64Array.of(3) },
];

const WRITERS = { 3: writePartialV3, 4: writePartialV4, 5: writePartialV5, 6: writePartial };

function partial(version: 3 | 4 | 5 | 6 = 6): string {
  const path = join(temp.make(), 'a.kpf');
  WRITERS[version](path, HEADER, SMALL_DAYS);
  return path;
}

/** The header of a partial of one segment, and that segment. */
function onlySegment(path: string): { header: FilePartialHeader; segment: PartialSegment } {
  const header = readFilePartialHeader(path);
  expect(header.segments).toHaveLength(1);
  return { header, segment: header.segments[0]! };
}

describe('KPI file partials (formats/kpiPartials.ts): checksums', () => {
  it('reads back what it wrote, day by day, and leaves no scratch file', () => {
    const path = partial();
    const { header, segment } = onlySegment(path);
    expect(header.version).toBe(6);
    expect(namesOf(segment.users)).toEqual(['u1', 'u2']);
    expect(namesOf(segment.tracks)).toEqual(['t1']);
    expect(partialDays(header)).toEqual([
      { day: 19_000, rows: 2 },
      { day: 19_001, rows: 1 },
    ]);
    const second = readDayColumns(path, segment.dataStart, segment.days[1]!);
    expect([...second.users, ...second.tracks, ...second.times]).toEqual([1, 0, 3]);
    expect(readdirSync(dirname(path))).toEqual(['a.kpf']);
  });

  it('reads the names of every version alike', () => {
    for (const version of [3, 4, 5, 6] as const) {
      const { header, segment } = onlySegment(partial(version));
      expect(header.version).toBe(version);
      expect([namesOf(segment.users), namesOf(segment.tracks)]).toEqual([['u1', 'u2'], ['t1']]);
      expect([...segment.users.ends]).toEqual([2, 4]);
      expect(partialDays(header).map((d) => d.rows)).toEqual([2, 1]);
    }
  });

  it("reads the file's hash under the name of builds before 2026-12-07 (sha256) as its hash", () => {
    const { hash: _hash, ...older } = HEADER as unknown as Record<string, unknown>;
    for (const version of [3, 4, 5, 6] as const) {
      const path = join(temp.make(), 'a.kpf');
      WRITERS[version](path, { ...older, sha256: 'f'.repeat(64) } as unknown as typeof HEADER, SMALL_DAYS);
      const { header } = onlySegment(path);
      expect(header.hash, `version ${version}`).toBe('f'.repeat(64));
      expect(header).not.toHaveProperty('sha256');
    }
    expect(onlySegment(partial()).header.hash).toBe('x');
  });

  it('a flipped byte in a day is a checksum mismatch naming the day, not rows', () => {
    for (const version of [3, 4, 5, 6] as const) {
      const path = partial(version);
      const { dataStart, days } = onlySegment(path).segment;
      const first = days[0]!;
      const bytes = readFileSync(path);
      // In day 19000's listen times.
      bytes[dataStart + (first.blocks?.[0]?.offset ?? first.offset!) + 20]! ^= 0x01;
      writeFileSync(path, bytes);
      expect(() => readDayColumns(path, dataStart, first)).toThrow(
        new PartialFileError(path, 'day 19000: checksum mismatch'),
      );
      // The other day is whole and still read.
      expect(readDayColumns(path, dataStart, days[1]!).times[0]).toBe(3);
    }
  });

  it('a flipped byte in the header or the names is a checksum mismatch, even where the JSON still parses', () => {
    for (const version of [3, 4, 5, 6] as const) {
      const path = partial(version);
      const bytes = readFileSync(path);
      const at = bytes.indexOf('u2');
      bytes[at + 1] = '3'.charCodeAt(0); // "u3": valid JSON, another user
      writeFileSync(path, bytes);
      // Versions 5 and 6 keep the names out of the JSON, with checksums of their own.
      expect(() => readFilePartialHeader(path)).toThrow(
        version >= 5 ? /names checksum mismatch/ : /header checksum mismatch/,
      );
      const again = partial(version);
      const whole = readFileSync(again);
      whole[whole.indexOf('streams-a.csv') + 8] = 'b'.charCodeAt(0);
      writeFileSync(again, whole);
      expect(() => readFilePartialHeader(again)).toThrow(/header checksum mismatch/);
    }
  });

  it("a version 6 partial's names cut, or their ends' checksum wrong, is damaged", () => {
    const path = partial();
    const bytes = readFileSync(path);
    // The last end of the users' list ("u1u2": ends 2 and 4), from 4 to 3.
    const ends = bytes.indexOf(Buffer.from([2, 0, 0, 0, 4, 0, 0, 0]));
    const changed = Buffer.from(bytes);
    changed[ends + 4] = 3;
    writeFileSync(path, changed);
    expect(() => readFilePartialHeader(path)).toThrow(new PartialFileError(path, 'names checksum mismatch'));
  });

  it('a partial of version 4 to 6 cut short (its header at the end) is damaged, never read as rows', () => {
    for (const version of [4, 5, 6] as const) {
      const path = partial(version);
      const bytes = readFileSync(path);
      for (const keep of [0, 7, 8, 20, bytes.length - 9, bytes.length - 1]) {
        writeFileSync(path, bytes.subarray(0, keep));
        expect(() => readFilePartialHeader(path)).toThrow(PartialFileError);
      }
      // A length in the trailer beyond the file.
      const long = Buffer.from(bytes);
      long.writeUInt32LE(bytes.length, bytes.length - 8);
      writeFileSync(path, long);
      expect(() => readFilePartialHeader(path)).toThrow(new PartialFileError(path, 'truncated header'));
    }
  });

  it('a partial of version 1 (no checksums) is still read', () => {
    const path = partial(3);
    asVersion1(path);
    const read = onlySegment(path);
    expect(read.header.version).toBe(1);
    expect([...readDayColumns(path, read.segment.dataStart, read.segment.days[0]!).users]).toEqual([0, 1]);
  });
});

/** A partial of version 3 rewritten as version 1: the header (no checksums) before whole columns. */
function asVersion1(path: string): void {
  const { header, segment } = onlySegment(path);
  const { segments: _segments, ...rest } = header;
  const data = readFileSync(path).subarray(segment.dataStart);
  const v1 = {
    ...rest,
    users: namesOf(segment.users),
    tracks: namesOf(segment.tracks),
    version: 1,
    days: segment.days.map(({ crcs: _crcs, ...day }) => day),
  };
  const json = Buffer.from(JSON.stringify(v1));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  writeFileSync(path, Buffer.concat([Buffer.from('PTKPF001'), length, json, data]));
}

describe('KPI file partials of several segments (a file read in ranges)', () => {
  const { users: _users, tracks: _tracks, ...HEADER_ONLY } = HEADER as unknown as Record<string, unknown>;
  /** Two ranges: the first has u1 and u2 on day 19000, the second u2 and u3 on days 19000 and 19001, numbered its own way. */
  function twoSegments(): string {
    const path = join(temp.make(), 'ranged.kpf');
    writeSegmentedPartial(path, HEADER_ONLY as Parameters<typeof writeSegmentedPartial>[1], [
      {
        users: ['u1', 'u2'],
        tracks: ['t1'],
        days: [
          {
            day: 19_000,
            users: Uint32Array.of(0, 1),
            tracks: Uint32Array.of(0, 0),
            times: Float64Array.of(1, 2),
          },
        ],
      },
      {
        users: ['u3', 'u2'],
        tracks: ['t2', 't1'],
        days: [
          { day: 19_000, users: Uint32Array.of(1), tracks: Uint32Array.of(0), times: Float64Array.of(3) },
          {
            day: 19_001,
            users: Uint32Array.of(0, 1),
            tracks: Uint32Array.of(1, 0),
            times: Float64Array.of(4, 5),
          },
        ],
      },
    ]);
    return path;
  }

  it("takes a closed segment's scratch file as its own (the first segment): the bytes written in place; one cut short is refused", () => {
    const dir = temp.make();
    const header = HEADER_ONLY as Parameters<FilePartialWriter['finish']>[1];
    /** A writer with one segment of three rows over two days, and its names. */
    const fill = (writer: FilePartialWriter): { users: NameList; tracks: NameList } => {
      writer.addBlock(19_000, Uint32Array.of(0, 1), Uint32Array.of(0, 0), Float64Array.of(1, 2));
      writer.addBlock(19_001, Uint32Array.of(1), Uint32Array.of(0), Float64Array.of(3));
      return { users: nameListOf(['u1', 'u2']), tracks: nameListOf(['t1']) };
    };
    const inPlace = new FilePartialWriter(dir, 'a.csv');
    const names = fill(inPlace);
    inPlace.endSegment(names.users, names.tracks);
    inPlace.finish(join(dir, 'in-place.kpf'), header);
    const scratch = new FilePartialWriter(dir, 'a.csv');
    const again = fill(scratch);
    const segment = scratch.closeSegment(again.users, again.tracks);
    new FilePartialWriter(dir, 'a.csv', segment).finish(join(dir, 'taken.kpf'), header);
    expect(readFileSync(join(dir, 'taken.kpf'))).toEqual(readFileSync(join(dir, 'in-place.kpf')));
    // Renamed into place: no scratch file left.
    expect(readdirSync(dir).sort()).toEqual(['in-place.kpf', 'taken.kpf']);

    const cut = new FilePartialWriter(dir, 'a.csv');
    const third = fill(cut);
    const short = cut.closeSegment(third.users, third.tracks);
    truncateSync(short.path, readFileSync(short.path).length - 1);
    expect(() => new FilePartialWriter(dir, 'a.csv', short)).toThrow(PartialFileError);
  });

  it('reads back each segment, its own names and days, and sums the days over them', () => {
    const path = twoSegments();
    expect(readdirSync(dirname(path))).toEqual(['ranged.kpf']);
    const header = readFilePartialHeader(path);
    expect(
      header.segments.map((s) => [namesOf(s.users), namesOf(s.tracks), s.days.map((d) => d.day)]),
    ).toEqual([
      [['u1', 'u2'], ['t1'], [19_000]],
      [
        ['u3', 'u2'],
        ['t2', 't1'],
        [19_000, 19_001],
      ],
    ]);
    expect(partialDays(header)).toEqual([
      { day: 19_000, rows: 3 },
      { day: 19_001, rows: 2 },
    ]);
    const [first, second] = header.segments as [PartialSegment, PartialSegment];
    expect(second.dataStart).toBeGreaterThan(first.dataStart);
    const read = readDayColumns(path, second.dataStart, second.days[1]!);
    expect([...read.users, ...read.tracks, ...read.times]).toEqual([0, 1, 1, 0, 4, 5]);
  });

  it('a day takes its rows from every segment, each numbered by its own names', () => {
    const path = twoSegments();
    const names = new PartialNames();
    expect(daySources([path], 19_000, names)).toHaveLength(2);
    expect(daySources([path], 19_001, names)).toHaveLength(1);
    const loaded = loadDay([path], 19_000);
    expect(byName(loaded)).toEqual(
      new Map([
        ['u1', [['t1', 1]]],
        [
          'u2',
          [
            ['t1', 2],
            ['t2', 3],
          ],
        ],
      ]),
    );
    // Numbered in order of first appearance over the segments, as one list of the file's names.
    expect(Array.from({ length: loaded.tracks.size }, (_, t) => loaded.tracks.name(t))).toEqual(['t1', 't2']);
  });

  it("a flipped byte in a later segment's rows or names is that segment's damage, named", () => {
    const path = twoSegments();
    const second = readFilePartialHeader(path).segments[1]!;
    const block = second.days[1]!.blocks![0]!;
    const bytes = readFileSync(path);
    const flipped = Buffer.from(bytes);
    flipped[second.dataStart + block.offset + 2 * 4 + 1]! ^= 0x01; // a track of day 19001
    writeFileSync(path, flipped);
    expect(() => readDayColumns(path, second.dataStart, second.days[1]!)).toThrow(
      new PartialFileError(path, 'day 19001: checksum mismatch'),
    );
    const names = Buffer.from(bytes);
    names[names.lastIndexOf('u3') + 1] = '4'.charCodeAt(0);
    writeFileSync(path, names);
    expect(() => readFilePartialHeader(path)).toThrow(new PartialFileError(path, 'names checksum mismatch'));
  });
});

describe('KPI file partials: days read in chunks of rows, and older versions', () => {
  /**
   * A partial of one day of `n` rows (user i % 7, track i % 5, time i), written in two chunks,
   * as version 3 (whole columns) or 4 to 6 (blocks).
   */
  function bigPartial(n: number, version: 3 | 4 | 5 | 6): string {
    const path = join(temp.make(), 'big.kpf');
    const cut = Math.floor(n / 3);
    const users = Uint32Array.from({ length: n }, (_, i) => i % 7);
    const tracks = Uint32Array.from({ length: n }, (_, i) => i % 5);
    const times = Float64Array.from({ length: n }, (_, i) => i);
    WRITERS[version](
      path,
      { ...HEADER, users: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], tracks: ['t0', 't1', 't2', 't3', 't4'] },
      [
        {
          day: 0,
          users: [users.subarray(0, cut), users.subarray(cut)],
          tracks: [tracks.subarray(0, cut), tracks.subarray(cut)],
          times: [times.subarray(0, cut), times.subarray(cut)],
        },
      ],
    );
    return path;
  }

  it('a day of more rows than one chunk reads back whole, and groups by user', () => {
    const n = 200_003;
    for (const version of [3, 4, 5, 6] as const) {
      const path = bigPartial(n, version);
      const { header, segment } = onlySegment(path);
      expect(header.version).toBe(version);
      const day = readDayColumns(path, segment.dataStart, segment.days[0]!);
      expect(day.users.length).toBe(n);
      expect([day.users[n - 1], day.tracks[n - 1], day.times[n - 1]]).toEqual([
        (n - 1) % 7,
        (n - 1) % 5,
        n - 1,
      ]);
      expect(day.times.every((t, i) => t === i)).toBe(true);
      const { groups, users } = loadDay([path], 0);
      const g = idOf(users, 'g');
      const rows = Array.from({ length: groups.starts[g + 1]! - groups.starts[g]! }, (_, k) =>
        listenTime(groups, groups.starts[g]! + k),
      );
      expect(rows).toEqual(Array.from({ length: Math.floor((n - 1 - 6) / 7) + 1 }, (_, k) => 6 + 7 * k));
    }
  });

  it('a day of version 1, read whole (more rows than a chunk), groups by user, whole and in parts', () => {
    const n = 200_003;
    const path = bigPartial(n, 3);
    asVersion1(path);
    expect(readFilePartialHeader(path).version).toBe(1);
    const whole = byName(loadDay([path], 0));
    expect([...whole.values()].reduce((rows, list) => rows + list.length, 0)).toBe(n);
    const names = new PartialNames();
    const inParts = new Map<string, [string, number][]>();
    for (let part = 0; part < 3; part++)
      for (const [user, rows] of byName(loadDay([path], 0, { names, part: { part, parts: 3 } })))
        inParts.set(user, [...(inParts.get(user) ?? []), ...rows]);
    expect(inParts).toEqual(whole);
  });

  it('a flipped byte in a later chunk of any column is a checksum mismatch', () => {
    const n = 200_003;
    for (const version of [3, 4, 5, 6] as const) {
      for (const column of [0, 1, 2]) {
        const path = bigPartial(n, version);
        const { dataStart, days } = onlySegment(path).segment;
        const bytes = readFileSync(path);
        // Version 3: near the end of each whole column; versions 4 to 6: of the last block's.
        const last = days[0]!.blocks?.at(-1);
        const at =
          last === undefined
            ? [n * 4 - 3, n * 8 - 3, n * 16 - 3][column]!
            : last.offset + [last.rows * 4 - 3, last.rows * 8 - 3, last.rows * 16 - 3][column]!;
        bytes[dataStart + at]! ^= 0x10;
        writeFileSync(path, bytes);
        expect(() => readDayColumns(path, dataStart, days[0]!)).toThrow(
          new PartialFileError(path, 'day 0: checksum mismatch'),
        );
        expect(() => loadDay([path], 0)).toThrow(PartialFileError);
      }
    }
  });

  it('a partial of version 2 (one checksum a day) is still read, and its damage found', () => {
    const path = partial(3);
    const { header, segment } = onlySegment(path);
    const { segments: _segments, ...rest } = header;
    const data = readFileSync(path).subarray(segment.dataStart);
    const days = segment.days.map(({ crcs: _crcs, ...day }) => ({
      ...day,
      crc: crc32(data.subarray(day.offset!, day.offset! + day.rows * 16)),
    }));
    const json = Buffer.from(
      JSON.stringify({
        ...rest,
        users: namesOf(segment.users),
        tracks: namesOf(segment.tracks),
        version: 2,
        days,
      }),
    );
    const head = Buffer.alloc(8);
    head.writeUInt32LE(json.length, 0);
    head.writeUInt32LE(crc32(json), 4);
    writeFileSync(path, Buffer.concat([Buffer.from('PTKPF002'), head, json, data]));
    const read = onlySegment(path);
    expect(read.header.version).toBe(2);
    const { dataStart, days: sections } = read.segment;
    expect([...readDayColumns(path, dataStart, sections[0]!).times]).toEqual([1, 2]);
    const { groups, users } = loadDay([path], 19_000);
    expect(listenTime(groups, groups.starts[idOf(users, 'u2')]!)).toBe(2);
    const bytes = readFileSync(path);
    bytes[dataStart + days[1]!.offset!]! ^= 0x01;
    writeFileSync(path, bytes);
    expect(() => readDayColumns(path, dataStart, sections[1]!)).toThrow(/day 19001: checksum mismatch/);
  });
});

describe('daySources and loadDayGroups: a day of several files, merged by name and grouped by user', () => {
  const name = fc.oneof(fc.constantFrom('a', 'b', 'c', '', '😀', '__proto__'), fc.string({ maxLength: 3 }));
  const row = fc.record({
    user: name,
    track: name,
    // Mostly on whole milliseconds, as listen logs are (a day's groups keep them in 4 bytes), some
    // not (from the first such row on, the day's times are kept in microseconds).
    time: fc.oneof(
      {
        arbitrary: fc.integer({ min: -2 * 86_400_000, max: 2 * 86_400_000 }).map((ms) => ms * 1000),
        weight: 4,
      },
      { arbitrary: fc.integer({ min: -2 * MICROS_PER_DAY, max: 2 * MICROS_PER_DAY }), weight: 1 },
    ),
  });

  /**
   * Each file's rows written as the worker writes its partial, a block at a time as they fill,
   * from blocks of 1 row (then 2, 4, ...: many blocks, the days' interleaved in the file). With
   * `ranges`, each file's rows are cut into that many ranges, each numbered its own way, the
   * first written in place and the others apart and copied in, as a file read in ranges is.
   */
  function partials(files: { user: string; track: string; time: number }[][], ranges = 1): string[] {
    const dir = temp.make();
    return files.map((rows, f) => {
      const writer = new FilePartialWriter(dir, `${f}.csv`);
      for (let r = 0; r < ranges; r++) {
        const range = rows.slice(
          Math.floor((rows.length * r) / ranges),
          Math.floor((rows.length * (r + 1)) / ranges),
        );
        const into = r === 0 ? writer : new FilePartialWriter(dir, `${f}.csv`);
        const own = new StreamDays(
          (day, users, tracks, times) => into.addBlock(day, users, tracks, times),
          1,
        );
        for (const row of range) own.add(row.user, row.track, row.time);
        own.flush();
        if (into === writer) writer.endSegment(own.users.nameList(), own.tracks.nameList());
        else {
          const scratch = into.closeSegment(own.users.nameList(), own.tracks.nameList());
          writer.appendSegment(scratch);
          rmSync(scratch.path);
        }
      }
      const path = join(dir, `${f}.kpf`);
      const { users: _users, tracks: _tracks, ...header } = HEADER;
      writer.finish(path, header);
      return path;
    });
  }

  it('property: each kept user gets exactly their rows of the day, in file then row order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(row, { maxLength: 60 }), { maxLength: 5 }),
        fc.integer({ min: -2, max: 1 }),
        fc.constantFrom(1, 2, 3),
        fc.option(fc.array(name, { maxLength: 8 })),
        fc.constantFrom(1, 1, 2, 3),
        (files, day, parts, catalogue, ranges) => {
          const paths = partials(files, ranges);
          // One numbering for every part, as the engine numbers a day once for its workers, and
          // one set of arrays reused part after part, as a worker reuses its own. Users numbered
          // afresh, or by a catalogue's ids first (as the engine numbers them), alike.
          const base = new IdInterner();
          for (const user of catalogue ?? []) base.id(user);
          const names = new PartialNames(catalogue === null ? undefined : new ExtendedInterner(base));
          const arrays = new GroupArrays();
          const seen = new Set<string>();
          for (let part = 0; part < parts; part++) {
            const loaded = loadDay(paths, day, {
              names,
              arrays,
              part: parts === 1 ? undefined : { part, parts },
            });
            // A user's part, from its number in the run (numbered by now: its file has the day).
            const keep = (user: string): boolean =>
              parts === 1 || partOfUser(idOf(names.users, user), parts) === part;
            const got = byName(loaded);
            const expected = new Map<string, [string, number][]>();
            for (const r of files.flat()) {
              if (Math.floor(r.time / MICROS_PER_DAY) !== day || !keep(r.user)) continue;
              seen.add(r.user);
              const list = expected.get(r.user) ?? [];
              list.push([r.track, r.time]);
              expected.set(r.user, list);
            }
            expect(got).toEqual(expected);
            expect(loaded.groups.starts[loaded.users.size]).toBe(
              [...expected.values()].reduce((n, l) => n + l.length, 0),
            );
          }
          // Every user of the day in some part.
          const all = files.flat().filter((r) => Math.floor(r.time / MICROS_PER_DAY) === day);
          expect(seen).toEqual(new Set(all.map((r) => r.user)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('property: days loaded whole through one PartialNames get the rows they get alone', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(row, { maxLength: 60 }), { maxLength: 5 }),
        fc.array(fc.integer({ min: -2, max: 1 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom(1, 2, 3),
        (files, days, ranges) => {
          const paths = partials(files, ranges);
          const names = new PartialNames();
          const headers: PartialHeaders = new Map();
          for (const day of days) {
            const shared = loadDay(paths, day, { names, headers });
            expect(shared.users).toBe(names.users);
            expect(byName(shared)).toEqual(byName(loadDay(paths, day)));
          }
          // Each name numbered once: the users of every partial that holds one of the days.
          const read = files.filter((rows) =>
            rows.some((r) => days.includes(Math.floor(r.time / MICROS_PER_DAY))),
          );
          expect(names.users.size).toBe(new Set(read.flat().map((r) => r.user)).size);
          // A partial a day has used keeps its numbers, not its names.
          for (const partial of headers.values()) {
            if (partial.ids === undefined) continue;
            for (const segment of partial.header.segments)
              expect([segment.users.ends.length, segment.tracks.ends.length]).toEqual([0, 0]);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

/**
 * The rows of `day` in the partials of `paths`, numbered by `names` (afresh by default), those of
 * one part only with `part`.
 */
function loadDay(
  paths: string[],
  day: number,
  options: {
    names?: PartialNames;
    headers?: PartialHeaders;
    part?: { part: number; parts: number };
    arrays?: GroupArrays;
  } = {},
): { groups: UserGroups; users: Numbering; tracks: Numbering } {
  const names = options.names ?? new PartialNames();
  const sources = daySources(paths, day, names, options.headers);
  const groups = loadDayGroups(sources, names.users.size, options.arrays, options.part);
  return { groups, users: names.users, tracks: names.tracks };
}

/** The number of a user's name in a numbering. */
function idOf(users: Numbering, name: string): number {
  return users.idsOfList(nameListOf([name]))[0]!;
}

/** A loaded day's rows as user name -> [track name, time] in group order (users with rows only). */
function byName(loaded: ReturnType<typeof loadDay>): Map<string, [string, number][]> {
  const { groups, users, tracks } = loaded;
  const got = new Map<string, [string, number][]>();
  for (let u = 0; u < users.size; u++) {
    const mine: [string, number][] = [];
    for (let i = groups.starts[u]!; i < groups.starts[u + 1]!; i++)
      mine.push([tracks.name(groupTrack(groups, i)), listenTime(groups, i)]);
    // A user of the file with no row on this day has an empty group.
    if (mine.length > 0) got.set(users.name(u), mine);
  }
  return got;
}
