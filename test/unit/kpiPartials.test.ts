import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  loadDayGroups,
  readDayColumns,
  readFilePartialHeader,
  writeFilePartial,
} from '../../src/formats/kpiPartials.js';
import { PartialFileError } from '../../src/formats/partialFile.js';
import { StreamDays, userPart } from '../../src/kpis/streamDays.js';
import { MICROS_PER_DAY } from '../../src/parse/timestamps.js';
import { TempDirs } from '../support/tempDirs.js';

const temp = new TempDirs();
afterEach(() => temp.cleanup());

const HEADER = {
  file: 'streams-a.csv',
  size: 10,
  mtimeMs: 1,
  sha256: 'x',
  report: { file: 'streams-a.csv', rows: 3, accepted: 3, rejected: 0, rejects: {} },
  examples: [],
  users: ['u1', 'u2'],
  tracks: ['t1'],
} as unknown as Parameters<typeof writeFilePartial>[1];

function partial(): string {
  const path = join(temp.make(), 'a.kpf');
  writeFilePartial(path, HEADER, [
    { day: 19_000, users: Uint32Array.of(0, 1), tracks: Uint32Array.of(0, 0), times: Float64Array.of(1, 2) },
    { day: 19_001, users: Uint32Array.of(1), tracks: Uint32Array.of(0), times: Float64Array.of(3) },
  ]);
  return path;
}

describe('KPI file partials (formats/kpiPartials.ts): checksums', () => {
  it('reads back what it wrote, day by day', () => {
    const path = partial();
    const { header, dataStart } = readFilePartialHeader(path);
    expect(header.version).toBe(2);
    const second = readDayColumns(path, dataStart, header.days[1]!);
    expect([...second.users, ...second.tracks, ...second.times]).toEqual([1, 0, 3]);
  });

  it('a flipped byte in a day is a checksum mismatch naming the day, not rows', () => {
    const path = partial();
    const { header, dataStart } = readFilePartialHeader(path);
    const bytes = readFileSync(path);
    bytes[dataStart + header.days[0]!.offset + 20]! ^= 0x01; // in day 19000's listen times
    writeFileSync(path, bytes);
    expect(() => readDayColumns(path, dataStart, header.days[0]!)).toThrow(
      new PartialFileError(path, 'day 19000: checksum mismatch'),
    );
    // The other day is whole and still read.
    expect(readDayColumns(path, dataStart, header.days[1]!).times[0]).toBe(3);
  });

  it('a flipped byte in the header is a checksum mismatch, even where the JSON still parses', () => {
    const path = partial();
    const bytes = readFileSync(path);
    const at = bytes.indexOf('u2');
    bytes[at + 1] = '3'.charCodeAt(0); // "u3": valid JSON, another user
    writeFileSync(path, bytes);
    expect(() => readFilePartialHeader(path)).toThrow(/header checksum mismatch/);
  });

  it('a partial of version 1 (no checksums) is still read', () => {
    const path = partial();
    const { header, dataStart } = readFilePartialHeader(path);
    const data = readFileSync(path).subarray(dataStart);
    const v1 = { ...header, version: 1, days: header.days.map(({ crc: _crc, ...day }) => day) };
    const json = Buffer.from(JSON.stringify(v1));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(json.length);
    writeFileSync(path, Buffer.concat([Buffer.from('PTKPF001'), length, json, data]));
    const read = readFilePartialHeader(path);
    expect(read.header.version).toBe(1);
    expect([...readDayColumns(path, read.dataStart, read.header.days[0]!).users]).toEqual([0, 1]);
  });
});

describe('loadDayGroups: a day of several files, merged by name and grouped by user', () => {
  const name = fc.oneof(fc.constantFrom('a', 'b', 'c', '', '😀', '__proto__'), fc.string({ maxLength: 3 }));
  const row = fc.record({
    user: name,
    track: name,
    time: fc.integer({ min: -2 * MICROS_PER_DAY, max: 2 * MICROS_PER_DAY }),
  });

  /** Each file's rows written as the worker writes its partial. */
  function partials(files: { user: string; track: string; time: number }[][]): string[] {
    const dir = temp.make();
    return files.map((rows, f) => {
      const own = new StreamDays();
      for (const r of rows) own.add(r.user, r.track, r.time);
      const path = join(dir, `${f}.kpf`);
      writeFilePartial(
        path,
        { ...HEADER, users: own.users.names, tracks: own.tracks.names },
        [...own.days]
          .sort(([a], [b]) => a - b)
          .map(([day, d]) => ({
            day,
            users: d.users.subarray(0, d.length),
            tracks: d.tracks.subarray(0, d.length),
            times: d.times.subarray(0, d.length),
          })),
      );
      return path;
    });
  }

  it('property: each kept user gets exactly their rows of the day, in file then row order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(row, { maxLength: 60 }), { maxLength: 5 }),
        fc.integer({ min: -2, max: 1 }),
        fc.constantFrom(1, 2, 3),
        (files, day, parts) => {
          const paths = partials(files);
          for (let part = 0; part < parts; part++) {
            const keep = parts === 1 ? undefined : (user: string) => userPart(user, parts) === part;
            const { groups, users, tracks } = loadDayGroups(paths, day, keep);
            const got = new Map<string, [string, number][]>();
            for (let u = 0; u < users.size; u++) {
              const mine: [string, number][] = [];
              for (let i = groups.starts[u]!; i < groups.starts[u + 1]!; i++)
                mine.push([tracks.name(groups.tracks[i]!), groups.times[i]!]);
              // A user of the file with no row on this day has an empty group.
              if (mine.length > 0) got.set(users.name(u), mine);
            }
            const expected = new Map<string, [string, number][]>();
            for (const r of files.flat()) {
              if (Math.floor(r.time / MICROS_PER_DAY) !== day || (keep !== undefined && !keep(r.user)))
                continue;
              const list = expected.get(r.user) ?? [];
              list.push([r.track, r.time]);
              expected.set(r.user, list);
            }
            expect(got).toEqual(expected);
            expect(groups.starts[users.size]).toBe([...expected.values()].reduce((n, l) => n + l.length, 0));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
