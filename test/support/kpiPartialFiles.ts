import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { type DaySection, type FilePartialHeader, FilePartialWriter } from '../../src/formats/kpiPartials.js';
import { BLOCK_ROWS } from '../../src/kpis/streamDays.js';
import { nameListOf } from '../../src/parse/idInterner.js';

/** A day's columns, whole or as aligned chunks one after the other. */
export interface DayColumnsToWrite {
  day: number;
  users: Uint32Array | Uint32Array[];
  tracks: Uint32Array | Uint32Array[];
  times: Float64Array | Float64Array[];
}

/** A partial's header as a test writes it, of one segment: its names as lists of strings. */
type Header = Omit<FilePartialHeader, 'version' | 'segments'> & {
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

/** A day's columns written to `writer` in blocks of `blockRows` rows. */
function addDays(writer: FilePartialWriter, days: DayColumnsToWrite[], blockRows = BLOCK_ROWS): void {
  for (const d of days) {
    const { users, tracks, times } = wholeDay(d);
    for (let from = 0; from < users.length; from += blockRows) {
      const to = Math.min(users.length, from + blockRows);
      writer.addBlock(d.day, users.subarray(from, to), tracks.subarray(from, to), times.subarray(from, to));
    }
  }
}

/** A partial of one segment as the parse writes a file read whole (version 6), each day cut into blocks of `blockRows` rows. */
export function writePartial(
  path: string,
  header: Header,
  days: DayColumnsToWrite[],
  blockRows = BLOCK_ROWS,
): void {
  const { users, tracks, ...rest } = header;
  const writer = new FilePartialWriter(dirname(path), basename(path));
  addDays(writer, days, blockRows);
  writer.endSegment(nameListOf(users), nameListOf(tracks));
  writer.finish(path, rest);
}

/** A segment of a partial as a test writes it: its names as lists of strings, and its days' rows numbered by them. */
export interface SegmentToWrite {
  users: string[];
  tracks: string[];
  days: DayColumnsToWrite[];
}

/**
 * A partial of several segments, as the parse writes a file read in ranges (version 6): each
 * segment but the first written apart as a range's scratch file (closeSegment) and copied in
 * (appendSegment), the first written in place; the scratch files removed.
 */
export function writeSegmentedPartial(
  path: string,
  header: Omit<Header, 'users' | 'tracks'>,
  segments: SegmentToWrite[],
): void {
  const dir = dirname(path);
  const writer = new FilePartialWriter(dir, basename(path));
  segments.forEach((segment, i) => {
    if (i === 0) {
      addDays(writer, segment.days);
      writer.endSegment(nameListOf(segment.users), nameListOf(segment.tracks));
      return;
    }
    const range = new FilePartialWriter(dir, `${basename(path)}.range`);
    addDays(range, segment.days);
    const scratch = range.closeSegment(nameListOf(segment.users), nameListOf(segment.tracks));
    writer.appendSegment(scratch);
    rmSync(scratch.path);
  });
  writer.finish(path, header);
}

/** The JSON header at the end of a partial of version 4 to 6, and where it starts. */
function jsonAtEnd(bytes: Buffer): { json: Record<string, unknown>; start: number } {
  const length = bytes.readUInt32LE(bytes.length - 8);
  const start = bytes.length - 8 - length;
  return { json: JSON.parse(bytes.subarray(start, bytes.length - 8).toString()), start };
}

/** `json` as the header of a partial of version 4 to 6: its JSON, then its length and CRC-32. */
function headerAtEnd(json: unknown): Buffer {
  const bytes = Buffer.from(JSON.stringify(json));
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(bytes.length, 0);
  trailer.writeUInt32LE(crc32(bytes), 4);
  return Buffer.concat([bytes, trailer]);
}

/**
 * A partial of version 5, as playtally wrote them before version 6: one segment's blocks and
 * names, then a header that lists its days and names without segments. For the tests that read
 * older partials.
 */
export function writePartialV5(path: string, header: Header, days: DayColumnsToWrite[]): void {
  writePartial(path, header, days);
  const bytes = readFileSync(path);
  const { json, start } = jsonAtEnd(bytes);
  const { segments, ...rest } = json as { segments: { days: unknown; names: unknown }[] };
  const [{ days: sections, names }] = segments as [{ days: unknown; names: unknown }];
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from('PTKPF005'),
      bytes.subarray(8, start),
      headerAtEnd({ ...rest, version: 5, days: sections, names }),
    ]),
  );
}

/**
 * A partial of version 4, as playtally wrote them before version 5: the same blocks, then the
 * header as JSON with the names as lists of strings, then its length and CRC-32. For the tests
 * that read older partials.
 */
export function writePartialV4(path: string, header: Header, days: DayColumnsToWrite[]): void {
  writePartial(path, header, days);
  const bytes = readFileSync(path);
  const { json } = jsonAtEnd(bytes);
  const [segment] = (json as { segments: { days: DaySection[]; names: { users: { offset: number } } }[] })
    .segments;
  // The blocks end where the names begin (written after them).
  const firstNames = segment!.names.users.offset;
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from('PTKPF004'),
      bytes.subarray(8, 8 + firstNames),
      headerAtEnd({ ...header, version: 4, days: segment!.days }),
    ]),
  );
}

/**
 * A partial of version 3, as playtally wrote them before version 4: magic `PTKPF003`, the
 * header's length and CRC-32, the header, then per day its three columns whole, a CRC-32 each.
 * For the tests that read older partials.
 */
export function writePartialV3(path: string, header: Header, days: DayColumnsToWrite[]): void {
  const sections: DaySection[] = [];
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
