import { closeSync, openSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { UserGroups } from '../kpis/streamDays.js';
import { writeFileAtomicParts } from '../ops/atomicFile.js';
import { readFullySync } from '../ops/fileIo.js';
import type { FileReport, RowExample } from '../parse/catalogs.js';
import { IdInterner } from '../parse/idInterner.js';
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
    const reader = new SectionReader(fd, path, dataStart, section);
    const users = reader.users();
    const { tracks, times } = reader.rest(users);
    return { day: section.day, users, tracks, times };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a day's section in two steps (its user column, then the rest), and checks the section's
 * checksum over all of it in the second: loadDayGroups counts rows by user from the first before it
 * needs the other columns, and keeps only one file's tracks and times in memory at a time.
 */
class SectionReader {
  constructor(
    private readonly fd: number,
    private readonly path: string,
    private readonly dataStart: number,
    private readonly section: DaySection,
  ) {}

  users(): Uint32Array {
    return new Uint32Array(this.read(this.section.rows * 4, 0));
  }

  rest(users: Uint32Array): { tracks: Uint32Array; times: Float64Array } {
    const n = this.section.rows;
    const tracks = this.read(n * 4, n * 4);
    const times = this.read(n * 8, n * 8);
    if (this.section.crc !== undefined) {
      const userBytes = new Uint8Array(users.buffer, users.byteOffset, users.byteLength);
      const crc = crc32(new Uint8Array(times), crc32(new Uint8Array(tracks), crc32(userBytes)));
      if (crc !== this.section.crc)
        throw new PartialFileError(this.path, `day ${this.section.day}: checksum mismatch`);
    }
    return { tracks: new Uint32Array(tracks), times: new Float64Array(times) };
  }

  private read(bytes: number, at: number): ArrayBuffer {
    // Not zero-filled first: every byte is read over (or the section is found truncated).
    const buffer = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
    const into = new Uint8Array(buffer, 0, bytes);
    if (readFullySync(this.fd, into, 0, bytes, this.dataStart + this.section.offset + at) < bytes) {
      throw new PartialFileError(this.path, `day ${this.section.day} is truncated`);
    }
    return buffer;
  }
}

/**
 * The rows of `day` from the partials that have it, grouped by user (see UserGroups), with ids
 * merged through one interner per kind (ids are per file in a partial). `keep` selects users by
 * name (a worker's part of a day); `headers` caches parsed headers between days of one run.
 *
 * Two passes over the files: the user columns first, to count each user's rows, then each file's
 * tracks and times copied straight into their user's group. Only the user columns of all the
 * files and one file's other columns are in memory with the groups, never every row twice.
 */
export function loadDayGroups(
  sources: string[],
  day: number,
  keep?: (user: string) => boolean,
  headers = new Map<string, { header: FilePartialHeader; dataStart: number }>(),
): { groups: UserGroups; users: IdInterner; tracks: IdInterner } {
  const users = new IdInterner();
  const tracks = new IdInterner();
  const files: {
    path: string;
    dataStart: number;
    section: DaySection;
    users: Uint32Array;
    userIds: Int32Array;
    header: FilePartialHeader;
  }[] = [];
  for (const path of sources) {
    let partial = headers.get(path);
    if (partial === undefined) {
      partial = readFilePartialHeader(path);
      headers.set(path, partial);
    }
    const section = partial.header.days.find((d) => d.day === day);
    if (section === undefined) continue;
    // Our number of each of the file's users, or -1 for a user not kept.
    const userIds = Int32Array.from(partial.header.users, (name) =>
      keep === undefined || keep(name) ? users.id(name) : -1,
    );
    const fd = openSync(path, 'r');
    try {
      const fileUsers = new SectionReader(fd, path, partial.dataStart, section).users();
      files.push({
        path,
        dataStart: partial.dataStart,
        section,
        users: fileUsers,
        userIds,
        header: partial.header,
      });
    } finally {
      closeSync(fd);
    }
  }
  const starts = new Uint32Array(users.size + 1);
  for (const { users: column, userIds, path } of files) {
    const known = userIds.length;
    for (let i = 0; i < column.length; i++) {
      const u = column[i]!;
      if (u >= known) throw new PartialFileError(path, `day ${day}: user number ${u} out of range`);
      const id = userIds[u]!;
      if (id >= 0) starts[id + 1]!++;
    }
  }
  for (let u = 0; u < users.size; u++) starts[u + 1]! += starts[u]!;
  const n = starts[users.size]!;
  const next = starts.slice(0, users.size);
  const groupTracks = new Uint32Array(n);
  const groupTimes = new Float64Array(n);
  for (const { path, dataStart, section, users: column, userIds, header } of files) {
    const fd = openSync(path, 'r');
    let rest: { tracks: Uint32Array; times: Float64Array };
    try {
      rest = new SectionReader(fd, path, dataStart, section).rest(column);
    } finally {
      closeSync(fd);
    }
    const trackIds = Uint32Array.from(header.tracks, (name) => tracks.id(name));
    const { tracks: fileTracks, times } = rest;
    const knownTracks = trackIds.length;
    for (let i = 0; i < column.length; i++) {
      const id = userIds[column[i]!]!;
      if (id < 0) continue;
      const t = fileTracks[i]!;
      if (t >= knownTracks) throw new PartialFileError(path, `day ${day}: track number ${t} out of range`);
      const at = next[id]!++;
      groupTracks[at] = trackIds[t]!;
      groupTimes[at] = times[i]!;
    }
  }
  return { groups: { starts, tracks: groupTracks, times: groupTimes }, users, tracks };
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
