import { closeSync, openSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { DayStreams, type Interner, StreamDays } from '../kpis/streamDays.js';
import { writeFileAtomicParts } from '../ops/atomicFile.js';
import { readFullySync } from '../ops/fileIo.js';
import type { FileReport, RowExample } from '../parse/catalogs.js';
import { PartialFileError } from './partialFile.js';

/**
 * A streams file's partial: its valid rows by UTC day, parsed once and kept in the state folder,
 * so that a later run (a new file for a day already computed, a new songs file) recomputes the
 * day from the partials of its files without reading any raw CSV again. Ids are numbered within
 * the file (`users[i]` is user id i); the day's files are merged through one interner.
 *
 * Layout: magic `PTKPF002`, a uint32 (LE) header length, the CRC-32 of the header, the header as
 * JSON, then per day three columns: user ids (uint32), track ids (uint32), listen times (float64
 * microseconds, UTC). Each day's section has its CRC-32 in the header, checked when the day is
 * read: flipped bytes are a damaged partial (PartialFileError), parsed again from its file, never
 * rows counted. Version 1 (`PTKPF001`, no checksums) is still read.
 */
export interface FilePartialHeader {
  version: 1 | 2;
  file: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  report: FileReport;
  examples: RowExample[];
  users: string[];
  tracks: string[];
  days: DaySection[];
}

/** Where a day's columns are, counted from the end of the header, and (version 2) their CRC-32. */
export interface DaySection {
  day: number;
  rows: number;
  offset: number;
  crc?: number;
}

export interface DayColumns {
  day: number;
  users: Uint32Array;
  tracks: Uint32Array;
  times: Float64Array;
}

const MAGIC = Buffer.from('PTKPF002');
const MAGIC_V1 = Buffer.from('PTKPF001');

export function writeFilePartial(
  path: string,
  header: Omit<FilePartialHeader, 'version' | 'days'>,
  days: DayColumns[],
): FilePartialHeader {
  // Offsets are counted from the end of the header, whose length depends on them: two passes.
  const sections: DaySection[] = [];
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const d of days) {
    const columns = [d.users, d.tracks, d.times].map(
      (c) => new Uint8Array(c.buffer, c.byteOffset, c.byteLength),
    );
    let crc = 0;
    for (const column of columns) crc = crc32(column, crc);
    sections.push({ day: d.day, rows: d.users.length, offset: at, crc });
    parts.push(...columns);
    at += d.users.length * 16;
  }
  const full: FilePartialHeader = { version: 2, ...header, days: sections };
  const json = Buffer.from(JSON.stringify(full));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(json.length, 0);
  head.writeUInt32LE(crc32(json), 4);
  writeFileAtomicParts(path, [MAGIC, head, json, ...parts]);
  return full;
}

/** The header of a partial, and where its day sections begin. */
export function readFilePartialHeader(path: string): { header: FilePartialHeader; dataStart: number } {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(16);
    const got = readFullySync(fd, head, 0, 16, 0);
    const magic = head.subarray(0, 8);
    const v1 = magic.equals(MAGIC_V1);
    if (got < 12 || !(v1 || magic.equals(MAGIC))) throw new PartialFileError(path, 'not a KPI file partial');
    const length = head.readUInt32LE(8);
    const jsonStart = v1 ? 12 : 16;
    const json = Buffer.alloc(length);
    if (readFullySync(fd, json, 0, length, jsonStart) < length)
      throw new PartialFileError(path, 'truncated header');
    if (!v1 && crc32(json) !== head.readUInt32LE(12))
      throw new PartialFileError(path, 'header checksum mismatch');
    const header = JSON.parse(json.toString('utf8')) as FilePartialHeader;
    if (header.version !== (v1 ? 1 : 2))
      throw new PartialFileError(path, `unknown version ${String(header.version)}`);
    return { header, dataStart: jsonStart + length };
  } catch (error) {
    if (error instanceof PartialFileError) throw error;
    throw new PartialFileError(path, (error as Error).message);
  } finally {
    closeSync(fd);
  }
}

/** One day's columns from a partial. */
export function readDayColumns(path: string, dataStart: number, section: DaySection): DayColumns {
  const fd = openSync(path, 'r');
  try {
    const n = section.rows;
    const read = (bytes: number, at: number): ArrayBuffer => {
      const buffer = new ArrayBuffer(bytes);
      if (readFullySync(fd, new Uint8Array(buffer), 0, bytes, dataStart + section.offset + at) < bytes) {
        throw new PartialFileError(path, `day ${section.day} is truncated`);
      }
      return buffer;
    };
    const users = read(n * 4, 0);
    const tracks = read(n * 4, n * 4);
    const times = read(n * 8, n * 8);
    if (section.crc !== undefined) {
      const crc = crc32(new Uint8Array(times), crc32(new Uint8Array(tracks), crc32(new Uint8Array(users))));
      if (crc !== section.crc) throw new PartialFileError(path, `day ${section.day}: checksum mismatch`);
    }
    return {
      day: section.day,
      users: new Uint32Array(users),
      tracks: new Uint32Array(tracks),
      times: new Float64Array(times),
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * The rows of `day` from the partials that have it, merged through one interner (ids are per file
 * in a partial). `keep` selects users (a worker's part of a day); `headers` caches parsed headers
 * between days of one run.
 */
export function loadDayRows(
  sources: string[],
  day: number,
  keep?: (user: string) => boolean,
  headers = new Map<string, { header: FilePartialHeader; dataStart: number }>(),
): { rows: DayStreams; users: Interner; tracks: Interner } {
  const all = new StreamDays();
  for (const path of sources) {
    let partial = headers.get(path);
    if (partial === undefined) {
      partial = readFilePartialHeader(path);
      headers.set(path, partial);
    }
    const section = partial.header.days.find((d) => d.day === day);
    if (section === undefined) continue;
    const columns = readDayColumns(path, partial.dataStart, section);
    if (keep !== undefined) {
      const mine = Uint8Array.from(partial.header.users, (name) => (keep(name) ? 1 : 0));
      let n = 0;
      for (let i = 0; i < columns.users.length; i++) {
        if (mine[columns.users[i]!] === 0) continue;
        columns.users[n] = columns.users[i]!;
        columns.tracks[n] = columns.tracks[i]!;
        columns.times[n] = columns.times[i]!;
        n++;
      }
      columns.users = columns.users.subarray(0, n);
      columns.tracks = columns.tracks.subarray(0, n);
      columns.times = columns.times.subarray(0, n);
    }
    all.merge(partial.header.users, partial.header.tracks, [columns]);
  }
  return { rows: all.days.get(day) ?? new DayStreams(), users: all.users, tracks: all.tracks };
}

/**
 * The first track on `day` that is not in `known`, with the file it came from: an example for a
 * warning about unknown tracks (read only when one is due).
 */
export function firstUnknownTrack(
  sources: { file: string; partial: string }[],
  day: number,
  known: ReadonlyMap<string, unknown>,
): { file: string; track: string } | undefined {
  for (const { file, partial } of sources) {
    const { header, dataStart } = readFilePartialHeader(partial);
    const section = header.days.find((d) => d.day === day);
    if (section === undefined) continue;
    for (const t of readDayColumns(partial, dataStart, section).tracks) {
      const track = header.tracks[t]!;
      if (!known.has(track)) return { file, track };
    }
  }
  return undefined;
}
