import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  type FilePartialHeader,
  FilePartialWriter,
  readFilePartialHeader,
} from '../../src/formats/kpiPartials.js';
import { BLOCK_ROWS } from '../../src/kpis/streamDays.js';
import { nameListOf } from '../../src/parse/idInterner.js';

/** A day's columns, whole or as aligned chunks one after the other. */
export interface DayColumnsToWrite {
  day: number;
  users: Uint32Array | Uint32Array[];
  tracks: Uint32Array | Uint32Array[];
  times: Float64Array | Float64Array[];
}

/** A partial's header as a test writes it: its names as lists of strings. */
type Header = Omit<FilePartialHeader, 'version' | 'days' | 'users' | 'tracks'> & {
  users: string[];
  tracks: string[];
};

function whole<T extends Uint32Array | Float64Array>(column: T | T[], make: (n: number) => T): T {
  if (!Array.isArray(column)) return column;
  const out = make(column.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of column) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function wholeDay(d: DayColumnsToWrite): { users: Uint32Array; tracks: Uint32Array; times: Float64Array } {
  return {
    users: whole(d.users, (n) => new Uint32Array(n)),
    tracks: whole(d.tracks, (n) => new Uint32Array(n)),
    times: whole(d.times, (n) => new Float64Array(n)),
  };
}

/** A partial as the parse writes it (version 5), each day cut into blocks of `blockRows` rows. */
export function writePartial(
  path: string,
  header: Header,
  days: DayColumnsToWrite[],
  blockRows = BLOCK_ROWS,
): FilePartialHeader {
  const writer = new FilePartialWriter(dirname(path), basename(path));
  for (const d of days) {
    const { users, tracks, times } = wholeDay(d);
    for (let from = 0; from < users.length; from += blockRows) {
      const to = Math.min(users.length, from + blockRows);
      writer.addBlock(d.day, users.subarray(from, to), tracks.subarray(from, to), times.subarray(from, to));
    }
  }
  return writer.finish(path, {
    ...header,
    users: nameListOf(header.users),
    tracks: nameListOf(header.tracks),
  });
}

/**
 * A partial of version 4, as playtally wrote them before version 5: the same blocks, then the
 * header as JSON with the names as lists of strings, then its length and CRC-32. For the tests
 * that read older partials.
 */
export function writePartialV4(path: string, header: Header, days: DayColumnsToWrite[]): void {
  writePartial(path, header, days);
  const written = readFilePartialHeader(path).header;
  const bytes = readFileSync(path);
  // The blocks end where the names begin (written after them).
  const firstNames = JSON.parse(
    bytes.subarray(bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8), bytes.length - 8).toString(),
  ).names.users.offset as number;
  const json = Buffer.from(JSON.stringify({ ...written, ...header, version: 4 }));
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(json.length, 0);
  trailer.writeUInt32LE(crc32(json), 4);
  writeFileSync(
    path,
    Buffer.concat([Buffer.from('PTKPF004'), bytes.subarray(8, 8 + firstNames), json, trailer]),
  );
}

/**
 * A partial of version 3, as playtally wrote them before version 4: magic `PTKPF003`, the
 * header's length and CRC-32, the header, then per day its three columns whole, a CRC-32 each.
 * For the tests that read older partials.
 */
export function writePartialV3(path: string, header: Header, days: DayColumnsToWrite[]): void {
  const sections: FilePartialHeader['days'] = [];
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const d of days) {
    const { users, tracks, times } = wholeDay(d);
    const crcs = [users, tracks, times].map((column) => {
      const bytes = new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
      parts.push(bytes);
      return crc32(bytes);
    }) as [number, number, number];
    sections.push({ day: d.day, rows: users.length, offset: at, crcs });
    at += users.length * 16;
  }
  const full = { version: 3, ...header, days: sections };
  const json = Buffer.from(JSON.stringify(full));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(json.length, 0);
  head.writeUInt32LE(crc32(json), 4);
  writeFileSync(path, Buffer.concat([Buffer.from('PTKPF003'), head, json, ...parts]));
}
