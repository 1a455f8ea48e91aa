import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { NO_CURSOR } from '../kpis/dayGroups.js';
import { BLOCK_ROWS, GroupArrays, partOfUser, type UserGroups } from '../kpis/streamDays.js';
import { TempFileWriter, tempPathFor } from '../ops/atomicFile.js';
import { crc32 } from '../ops/crc32.js';
import { readFullySync } from '../ops/fileIo.js';
import type { FileReport, RowExample } from '../parse/catalogs.js';
import { IdInterner, type NameList, type Numbering, nameListOf, namesOf } from '../parse/idInterner.js';
import { MICROS_PER_DAY } from '../parse/timestamps.js';
import { PartialFileError } from './partialFile.js';

/**
 * A streams file's partial: its valid rows by UTC day, parsed once and kept in the state folder,
 * so that a later run (a new file for a day already computed, a new songs file) recomputes the
 * day from the partials of its files without reading any raw CSV again. Ids are numbered within
 * a segment of the file (user id i is the segment's `users` name i); the day's files are merged
 * through one interner.
 *
 * Layout (version 6): magic `PTKPF006`, then the file's segments one after the other: one for a
 * file read whole, one a range for a file read in ranges on several workers (each range numbers
 * its own ids, so the ranges' rows are kept as they were written, not renumbered into one list).
 * A segment is blocks of rows as the parse fills them (at most BLOCK_ROWS rows each, the days'
 * blocks interleaved), each block its three columns one after the other: user ids (uint32, LE),
 * track ids (uint32), listen times (float64 microseconds, UTC); then the segment's user ids and
 * track ids, each as a NameList (their UTF-8 bytes end to end, then where each ends, uint32 LE).
 * Then the header as JSON, which lists each segment (where it starts), its days' blocks in order
 * with their CRC-32s and where its names are with theirs; then the header's length and CRC-32
 * (uint32 LE each) as the file's last 8 bytes. The header comes last so that the parse writes each
 * block as it fills and holds one block a day, not the file's rows (16 bytes a row: 160 MB for a
 * file of 10M rows, and the KPI job's peak grew with its largest file). Flipped bytes are a
 * damaged partial (PartialFileError), parsed again from its file, never rows counted. Older
 * versions are still read, each as one segment: version 5 (`PTKPF005`: the same, one segment),
 * 4 (the names as strings in the JSON header), 3 (the header first, then per day three whole
 * columns, a CRC-32 each), 2 (one CRC-32 a day) and 1 (none).
 */
export interface FilePartialHeader {
  version: 1 | 2 | 3 | 4 | 5 | 6;
  file: string;
  size: number;
  mtimeMs: number;
  /**
   * The file's content hash (sources/contentHash.ts; `sha256` in the JSON of builds before
   * 2026-12-07, the SHA-256 of its bytes: read as this).
   */
  hash: string;
  report: FileReport;
  examples: RowExample[];
  /** The file's rows, in file order: one segment, or one a range the file was read in. */
  segments: PartialSegment[];
}

/** Rows of a partial numbered by names of their own: the whole file's, or a range's. */
export interface PartialSegment {
  /** Where the offsets of its blocks (and of its day sections, versions 1 to 3) count from, in the partial. */
  dataStart: number;
  /** Its user ids, by its own number (in the JSON of versions 1 to 4: a list of strings). */
  users: NameList;
  tracks: NameList;
  days: DaySection[];
}

/** Where a partial of version 5 or 6 keeps a NameList: its bytes, then its ends, from `offset` on (counted as blocks are). */
interface NamesSection {
  offset: number;
  count: number;
  bytes: number;
  /** The CRC-32 of the bytes and of the ends. */
  crcs: [number, number];
}

/** A segment in the JSON of a version 6 header: where it starts (from the end of the magic), its days and where its names are. */
interface SegmentJson {
  offset: number;
  days: DaySection[];
  names: { users: NamesSection; tracks: NamesSection };
}

/** The JSON of a version 6 header: the names are outside it. */
type HeaderJson = Omit<FilePartialHeader, 'segments'> & { segments: SegmentJson[] };

/** The JSON of a version 5 header: one segment's days and names, at the end of the magic. */
type HeaderJsonV5 = Omit<FilePartialHeader, 'segments'> & Omit<SegmentJson, 'offset'>;

/** A file's valid rows per day, over its segments. */
export function partialDays(header: {
  segments: readonly { days: readonly DaySection[] }[];
}): { day: number; rows: number }[] {
  const rows = new Map<number, number>();
  for (const segment of header.segments)
    for (const { day, rows: n } of segment.days) rows.set(day, (rows.get(day) ?? 0) + n);
  return [...rows].sort((a, b) => a[0] - b[0]).map(([day, n]) => ({ day, rows: n }));
}

/** A day's rows in a partial, and their CRC-32s. */
export interface DaySection {
  day: number;
  rows: number;
  /** Versions 4 to 6: the day's blocks, in row order. */
  blocks?: RowBlockSection[];
  /** Versions 1 to 3: where the day's three columns are, counted from the end of the header. */
  offset?: number;
  /** Version 2: the CRC-32 of the three columns one after the other. */
  crc?: number;
  /** Version 3: the CRC-32 of each column (users, tracks, times). */
  crcs?: [number, number, number];
}

/** A block of a day's rows (versions 4 to 6): where it is, counted from its segment's start. */
export interface RowBlockSection {
  offset: number;
  rows: number;
  /** The CRC-32 of each of its columns (users, tracks, times). */
  crcs: [number, number, number];
}

export interface DayColumns {
  day: number;
  users: Uint32Array;
  tracks: Uint32Array;
  times: Float64Array;
}

/** The partial's file name in the partials folder: the streams file's name and its content hash. */
export function filePartialName(file: string, hash: string): string {
  return `${safeName(file)}-${hash.slice(0, 16)}.kpf`;
}

/** A header's fields, its hash under the name builds before 2026-12-07 gave it (`sha256`) renamed. */
function withHash<T extends { hash: string }>(fields: T): T {
  const { sha256, ...rest } = fields as T & { sha256?: unknown };
  return typeof sha256 === 'string' && rest.hash === undefined
    ? ({ ...rest, hash: sha256 } as T)
    : (rest as T);
}

function safeName(file: string): string {
  return file.replace(/[^A-Za-z0-9._-]/g, '_');
}

const MAGIC_V6 = Buffer.from('PTKPF006');
const MAGIC_V5 = Buffer.from('PTKPF005');
const MAGIC_V4 = Buffer.from('PTKPF004');
const MAGIC_V3 = Buffer.from('PTKPF003');
const MAGIC_V2 = Buffer.from('PTKPF002');
const MAGIC_V1 = Buffer.from('PTKPF001');
const MAGICS = [MAGIC_V1, MAGIC_V2, MAGIC_V3, MAGIC_V4, MAGIC_V5, MAGIC_V6];
/** Every magic is this long. */
const MAGIC_BYTES = 8;
/** The header's length and CRC-32 at the end of a partial of version 4 to 6. */
const TRAILER_BYTES = 8;

/** FilePartialWriters made by this thread. */
let writers = 0;

/**
 * One segment written alone (FilePartialWriter.closeSegment): a range's rows and names in a
 * scratch file, for the thread that writes the file's partial to copy in (appendSegment).
 */
export interface SegmentFile {
  path: string;
  /** The segment's bytes, after the magic. */
  bytes: number;
  days: DaySection[];
  names: SegmentJson['names'];
}

/**
 * A partial (version 6) written block by block as a file is parsed, under a temporary name in
 * `dir` (the partial's name holds the file's content hash, known at its end). The blocks written
 * are a segment, which `endSegment` ends with its names; `appendSegment` copies in one that
 * another thread wrote (a range of the file). `finish` writes the header and renames the file
 * into place; `closeSegment` ends the one segment and keeps the file as scratch for the thread
 * that writes the partial, which may take that file as the partial's own, its segment the first
 * (`first`: its bytes not copied); `discard` removes it.
 */
export class FilePartialWriter {
  private readonly file: TempFileWriter;
  /** The segments ended. */
  private readonly segments: SegmentJson[] = [];
  /** The days of the segment being written. */
  private readonly sections = new Map<number, DaySection & { blocks: RowBlockSection[] }>();
  /** Where that segment starts, after the magic, and the bytes written of it. */
  private segmentStart = 0;
  private at = 0;

  /**
   * `file` names the streams file (the temporary name, and errors); the thread and a count keep
   * writers of one name apart (two files whose names differ only where safeName replaces).
   * `first`: a segment another writer closed (closeSegment), whose scratch file this one takes
   * and writes on, the segment its first.
   */
  constructor(dir: string, file: string, first?: SegmentFile) {
    if (first === undefined) {
      const final = join(dir, `${safeName(file)}.${threadId}-${++writers}.kpf`);
      this.file = new TempFileWriter(tempPathFor(final), final);
      this.file.write(MAGIC_V6);
      return;
    }
    // Whole, as closeSegment left it: the segment's bytes after the magic (appendSegment's check).
    if (statSync(first.path).size !== MAGIC_BYTES + first.bytes)
      throw new PartialFileError(first.path, 'truncated segment');
    this.file = new TempFileWriter(first.path, join(dir, safeName(file)), true);
    this.segments.push({ offset: 0, days: first.days, names: first.names });
    this.segmentStart = first.bytes;
  }

  /** The temporary file's path. */
  get path(): string {
    return this.file.temp;
  }

  /** A block of a day's rows (columns of one length, at most BLOCK_ROWS), appended to the segment. */
  addBlock(day: number, users: Uint32Array, tracks: Uint32Array, times: Float64Array): void {
    const rows = users.length;
    if (rows === 0) return;
    if (rows > BLOCK_ROWS || tracks.length !== rows || times.length !== rows)
      throw new Error(`a block of ${rows} rows (${tracks.length} tracks, ${times.length} times)`);
    const crcs: [number, number, number] = [0, 0, 0];
    [users, tracks, times].forEach((column, c) => {
      const bytes = new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
      crcs[c] = crc32(bytes);
      this.file.write(bytes);
    });
    let section = this.sections.get(day);
    if (section === undefined) {
      section = { day, rows: 0, blocks: [] };
      this.sections.set(day, section);
    }
    section.blocks.push({ offset: this.at, rows, crcs });
    section.rows += rows;
    this.at += rows * 16;
  }

  /** The segment's blocks ended with its names (ids numbered by them); the next block starts another. */
  endSegment(users: NameList, tracks: NameList): void {
    const names = { users: this.addNames(users), tracks: this.addNames(tracks) };
    const days = [...this.sections.values()].sort((a, b) => a.day - b.day);
    this.segments.push({ offset: this.segmentStart, days, names });
    this.segmentStart += this.at;
    this.at = 0;
    this.sections.clear();
  }

  /** A segment another writer closed (closeSegment), copied in after those here; its file stays. */
  appendSegment(segment: SegmentFile): void {
    if (this.at > 0) throw new Error('appendSegment inside a segment');
    const fd = openSync(segment.path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(Math.min(segment.bytes, 1 << 20));
      for (let done = 0; done < segment.bytes; ) {
        const n = readFullySync(
          fd,
          buffer,
          0,
          Math.min(buffer.length, segment.bytes - done),
          MAGIC_BYTES + done,
        );
        if (n === 0) throw new PartialFileError(segment.path, 'truncated segment');
        this.file.write(buffer.subarray(0, n));
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    const { days, names } = segment;
    this.segments.push({ offset: this.segmentStart, days, names });
    this.segmentStart += segment.bytes;
  }

  /**
   * The header written last, the file renamed to `path` (a cache: not flushed, see Durability);
   * returns the rows per day.
   * Every segment must be ended (endSegment) or appended.
   */
  finish(
    path: string,
    header: Omit<FilePartialHeader, 'version' | 'segments'>,
  ): { day: number; rows: number }[] {
    if (this.at > 0) throw new Error('a partial finished inside a segment');
    const json = Buffer.from(
      JSON.stringify({ version: 6, ...header, segments: this.segments } satisfies HeaderJson),
    );
    const trailer = Buffer.alloc(TRAILER_BYTES);
    trailer.writeUInt32LE(json.length, 0);
    trailer.writeUInt32LE(crc32(json), 4);
    this.file.write(json);
    this.file.write(trailer);
    // Not flushed: every read checks the CRCs, and a partial lost to a power cut is parsed again.
    this.file.commit(path, 'cache');
    return partialDays({ segments: this.segments });
  }

  /**
   * The one segment ended with its names and the file closed without a header, left under its
   * temporary name: a range's rows for the thread that writes the file's partial.
   */
  closeSegment(users: NameList, tracks: NameList): SegmentFile {
    if (this.segments.length > 0) throw new Error('closeSegment after a segment');
    this.endSegment(users, tracks);
    this.file.close();
    const { days, names } = this.segments[0]!;
    return { path: this.path, bytes: this.segmentStart, days, names };
  }

  /** A NameList appended after the segment's blocks: its bytes, then its ends. */
  private addNames(list: NameList): NamesSection {
    const ends = new Uint8Array(list.ends.buffer, list.ends.byteOffset, list.ends.byteLength);
    const section: NamesSection = {
      offset: this.at,
      count: list.ends.length,
      bytes: list.bytes.length,
      crcs: [crc32(list.bytes), crc32(ends)],
    };
    this.file.write(list.bytes);
    this.file.write(ends);
    this.at += list.bytes.length + ends.length;
    return section;
  }

  discard(): void {
    this.file.discard();
  }
}

/** The header of a partial, its segments' names read and checked. */
export function readFilePartialHeader(path: string): FilePartialHeader {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(16);
    const got = readFullySync(fd, head, 0, 16, 0);
    const magic = head.subarray(0, MAGIC_BYTES);
    const version = MAGICS.findIndex((m) => magic.equals(m)) + 1;
    if (got < 12 || version === 0) throw new PartialFileError(path, 'not a KPI file partial');
    // Versions 4 to 6 have their header at the end, versions 1 to 3 after the magic.
    const atEnd = version >= 4;
    let length: number;
    let crc: number;
    let jsonStart: number;
    if (atEnd) {
      const size = fstatSync(fd).size;
      const trailer = Buffer.alloc(TRAILER_BYTES);
      if (
        size < MAGIC_BYTES + TRAILER_BYTES ||
        readFullySync(fd, trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES) < TRAILER_BYTES
      )
        throw new PartialFileError(path, 'truncated header');
      length = trailer.readUInt32LE(0);
      crc = trailer.readUInt32LE(4);
      jsonStart = size - TRAILER_BYTES - length;
      if (jsonStart < MAGIC_BYTES) throw new PartialFileError(path, 'truncated header');
    } else {
      length = head.readUInt32LE(8);
      crc = head.readUInt32LE(12);
      jsonStart = version === 1 ? 12 : 16;
    }
    const json = Buffer.alloc(length);
    if (readFullySync(fd, json, 0, length, jsonStart) < length)
      throw new PartialFileError(path, 'truncated header');
    if (version > 1 && crc32(json) !== crc) throw new PartialFileError(path, 'header checksum mismatch');
    const parsed = JSON.parse(json.toString('utf8')) as { version: unknown };
    if (parsed.version !== version)
      throw new PartialFileError(path, `unknown version ${String(parsed.version)}`);
    if (version < 5) {
      // One segment, its names as strings in the JSON, its days after the header (versions 1 to
      // 3) or after the magic (version 4).
      const { users, tracks, days, ...rest } = parsed as Omit<FilePartialHeader, 'segments'> & {
        users: string[];
        tracks: string[];
        days: DaySection[];
      };
      const dataStart = atEnd ? MAGIC_BYTES : jsonStart + length;
      return {
        ...withHash(rest),
        segments: [{ dataStart, users: nameListOf(users), tracks: nameListOf(tracks), days }],
      };
    }
    const { segments, ...rest } = version === 5 ? asVersion6(parsed as HeaderJsonV5) : (parsed as HeaderJson);
    let start = MAGIC_BYTES;
    return {
      ...withHash(rest),
      segments: segments.map(({ offset, days, names }) => {
        const dataStart = MAGIC_BYTES + offset;
        if (!(Number.isInteger(offset) && dataStart >= start && dataStart <= jsonStart))
          throw new PartialFileError(path, 'segments out of place');
        start = dataStart;
        return {
          dataStart,
          users: readNames(fd, path, dataStart, names.users, jsonStart),
          tracks: readNames(fd, path, dataStart, names.tracks, jsonStart),
          days,
        };
      }),
    };
  } catch (error) {
    if (error instanceof PartialFileError) throw error;
    throw new PartialFileError(path, (error as Error).message);
  } finally {
    closeSync(fd);
  }
}

/** A version 5 header as the one segment of version 6. */
function asVersion6({ days, names, ...rest }: HeaderJsonV5): HeaderJson {
  return { ...rest, segments: [{ offset: 0, days, names }] };
}

/**
 * A NameList of a version 5 or 6 segment starting at `dataStart`, read and checked (its CRC-32s,
 * and ends that make sense); the header starts at `headerStart`.
 */
function readNames(
  fd: number,
  path: string,
  dataStart: number,
  section: NamesSection,
  headerStart: number,
): NameList {
  const { offset, count, bytes: size, crcs } = section;
  if (!(offset >= 0 && count >= 0 && size >= 0 && dataStart + offset + size + 4 * count <= headerStart))
    throw new PartialFileError(path, 'names out of place');
  const bytes = new Uint8Array(size);
  const ends = new Uint32Array(count);
  const endBytes = new Uint8Array(ends.buffer);
  if (
    readFullySync(fd, bytes, 0, size, dataStart + offset) < size ||
    readFullySync(fd, endBytes, 0, endBytes.length, dataStart + offset + size) < endBytes.length
  )
    throw new PartialFileError(path, 'truncated names');
  if (crc32(bytes) !== crcs[0] || crc32(endBytes) !== crcs[1])
    throw new PartialFileError(path, 'names checksum mismatch');
  let last = 0;
  for (let i = 0; i < count; i++) {
    if (ends[i]! < last) throw new PartialFileError(path, 'names out of order');
    last = ends[i]!;
  }
  if (last !== size) throw new PartialFileError(path, 'names out of order');
  return { bytes, ends };
}

/** One day's columns from a partial, whole. */
export function readDayColumns(path: string, dataStart: number, section: DaySection): DayColumns {
  const n = section.rows;
  const users = new Uint32Array(n);
  const tracks = new Uint32Array(n);
  const times = new Float64Array(n);
  forEachRowChunk(path, dataStart, section, 'all', (chunk, from) => {
    users.set(chunk.users, from);
    tracks.set(chunk.tracks, from);
    times.set(chunk.times, from);
  });
  return { day: section.day, users, tracks, times };
}

/** Rows read from a section at a time: 16 bytes each, so 1 MiB of scratch (a version 4 block). */
const CHUNK_ROWS = BLOCK_ROWS;

/**
 * The scratch of the last section read on this thread, kept for the next: a KPI day part reads
 * every file's section twice, so a fresh 1 MiB a read left tens of MB of them to the garbage
 * collector, which let the process grow by about 30 MB over a day's parts at --memory 256MB.
 */
let spareScratch: ArrayBuffer | undefined;

function takeScratch(): ArrayBuffer {
  const scratch = spareScratch ?? new ArrayBuffer(CHUNK_ROWS * 16);
  spareScratch = undefined; // a visitor reading another section meanwhile takes its own
  return scratch;
}

export interface RowChunk {
  users: Uint32Array;
  tracks: Uint32Array;
  times: Float64Array;
}

/**
 * Reads a day's section in chunks of rows into one scratch buffer (`'users'`: only the user
 * column; `'all'`: every column), each column read checked against its CRC-32 at its end (a
 * version 4 block's, at the block's end): a visitor that meets values out of range in a damaged
 * section must let the check tell it. `visit` gets views valid until it returns. Memory stays at
 * the chunk's, whatever the day's size. A version 1 or 2 section (one checksum over the three
 * columns in turn) is read whole. `into` (16 bytes a row of a chunk at least), where a section of
 * blocks is read, a block at a time: its columns end to end, as the block lays them out (the day's
 * kernel reads them where they are, DayGroupKernel); a scratch buffer of this module's by default.
 */
export function forEachRowChunk(
  path: string,
  dataStart: number,
  section: DaySection,
  columns: 'users' | 'all',
  visit: (chunk: RowChunk, from: number) => void,
  into?: Uint8Array,
): void {
  const fd = openSync(path, 'r');
  const scratch = takeScratch();
  try {
    const n = section.rows;
    if (section.blocks !== undefined) {
      const blockScratch = into ?? new Uint8Array(scratch);
      forEachBlock(fd, path, dataStart, section, section.blocks, columns, blockScratch, visit);
      return;
    }
    const base = dataStart + section.offset!;
    const readAt = (into: Uint8Array, at: number): void => {
      if (readFullySync(fd, into, 0, into.length, base + at) < into.length)
        throw new PartialFileError(path, `day ${section.day} is truncated`);
    };
    if (section.crcs === undefined) {
      const whole = Buffer.allocUnsafeSlow(n * 16);
      readAt(whole, 0);
      if (section.crc !== undefined && crc32(whole) !== section.crc)
        throw new PartialFileError(path, `day ${section.day}: checksum mismatch`);
      const ab = whole.buffer as ArrayBuffer;
      visit(
        {
          users: new Uint32Array(ab, whole.byteOffset, n),
          tracks: new Uint32Array(ab, whole.byteOffset + n * 4, n),
          times: new Float64Array(ab, whole.byteOffset + n * 8, n),
        },
        0,
      );
      return;
    }
    const crcs = [0, 0, 0];
    for (let from = 0; from < n; from += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, n - from);
      const chunk: RowChunk = {
        times: new Float64Array(scratch, 0, count),
        users: new Uint32Array(scratch, CHUNK_ROWS * 8, count),
        tracks: new Uint32Array(scratch, CHUNK_ROWS * 12, count),
      };
      const views = [chunk.users, chunk.tracks, chunk.times];
      const widths = [4, 4, 8];
      const starts = [0, n * 4, n * 8];
      for (let c = 0; c < (columns === 'all' ? 3 : 1); c++) {
        const view = views[c]!;
        const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        readAt(bytes, starts[c]! + from * widths[c]!);
        crcs[c] = crc32(bytes, crcs[c]);
      }
      visit(chunk, from);
    }
    const damaged =
      crcs[0] !== section.crcs[0] ||
      (columns === 'all' && (crcs[1] !== section.crcs[1] || crcs[2] !== section.crcs[2]));
    if (damaged) throw new PartialFileError(path, `day ${section.day}: checksum mismatch`);
  } finally {
    spareScratch = scratch;
    closeSync(fd);
  }
}

/** forEachRowChunk for a version 4 day: a block a chunk, each read in one go and checked. */
function forEachBlock(
  fd: number,
  path: string,
  dataStart: number,
  section: DaySection,
  blocks: RowBlockSection[],
  columns: 'users' | 'all',
  scratch: Uint8Array,
  visit: (chunk: RowChunk, from: number) => void,
): void {
  let from = 0;
  for (const block of blocks) {
    const rows = block.rows;
    if (!(rows > 0 && rows <= BLOCK_ROWS) || from + rows > section.rows)
      throw new PartialFileError(path, `day ${section.day}: a block of ${rows} rows`);
    const bytes = scratch.subarray(0, columns === 'all' ? rows * 16 : rows * 4);
    if (readFullySync(fd, bytes, 0, bytes.length, dataStart + block.offset) < bytes.length)
      throw new PartialFileError(path, `day ${section.day} is truncated`);
    const ab = scratch.buffer;
    const at = scratch.byteOffset;
    const chunk: RowChunk = {
      users: new Uint32Array(ab, at, rows),
      tracks: new Uint32Array(ab, at + rows * 4, rows),
      times: new Float64Array(ab, at + rows * 8, rows),
    };
    const damaged =
      crc32(scratch.subarray(0, rows * 4)) !== block.crcs[0] ||
      (columns === 'all' &&
        (crc32(scratch.subarray(rows * 4, rows * 8)) !== block.crcs[1] ||
          crc32(scratch.subarray(rows * 8, rows * 16)) !== block.crcs[2]));
    // Checked before the visit: a block's columns are read whole, so a visitor never sees damage.
    if (damaged) throw new PartialFileError(path, `day ${section.day}: checksum mismatch`);
    visit(chunk, from);
    from += rows;
  }
  if (from !== section.rows)
    throw new PartialFileError(path, `day ${section.day}: ${from} rows of ${section.rows}`);
}

/**
 * The names of the partials a run reads over its days, numbered once (ids are per segment in a
 * partial; each partial's numbers kept with it, partialIds): a day takes them from there, instead
 * of interning every name of every partial again for each day (three quarters of loading a small
 * day: 50,000 rows against 3 partials' 73,000 names each), and a day cut into parts is numbered
 * here once for all of them.
 * A day's numbering then holds names it has no rows of, which its computation skips (a user
 * without rows, a track without plays).
 */
export class PartialNames {
  /**
   * How users and tracks are numbered: the KPI engine numbers them by the catalogue's ids
   * (ExtendedInterner, CatalogNumbering); afresh by default.
   */
  constructor(
    readonly users: Numbering = new IdInterner(),
    readonly tracks: Numbering = new IdInterner(),
  ) {}

  /** This run's numbers of a segment's users and tracks (index: the segment's own number). */
  of(segment: Pick<PartialSegment, 'users' | 'tracks'>): PartialIds {
    return { users: this.users.idsOfList(segment.users), tracks: this.tracks.idsOfList(segment.tracks) };
  }
}

/** A segment's users and tracks in a run's numbering (PartialNames), by the segment's own numbers. */
export interface PartialIds {
  users: Int32Array;
  tracks: Int32Array;
}

/**
 * A partial read for a run's days: its header, and once a day has used it, its segments' ids in
 * the run's numbering (its names then let go: at 2M users, about 25 MB a partial kept on the main
 * thread for nothing).
 */
export interface ReadPartial {
  header: FilePartialHeader;
  ids?: PartialIds[];
}

/** Partials read by path, kept across the days of a run: one map for one PartialNames. */
export type PartialHeaders = Map<string, ReadPartial>;

const NO_NAMES: NameList = { bytes: new Uint8Array(0), ends: new Uint32Array(0) };

/**
 * The ids of the partial's segments in `names`' numbering, numbered at its first use (its names
 * let go then). They are kept in shared memory: the workers computing a day's parts read them
 * there, where each got a copy of every file's ids (18 MB a worker at 2M users).
 */
export function partialIds(partial: ReadPartial, names: PartialNames): PartialIds[] {
  if (partial.ids === undefined) {
    partial.ids = partial.header.segments.map((segment) => {
      const { users, tracks } = names.of(segment);
      return { users: sharedCopy(users), tracks: sharedCopy(tracks) };
    });
    const segments = partial.header.segments.map((segment) => ({
      ...segment,
      users: NO_NAMES,
      tracks: NO_NAMES,
    }));
    partial.header = { ...partial.header, segments };
  }
  return partial.ids;
}

/**
 * A day's section of one segment of a file partial, with the segment's user and track numbers in
 * a run's numbering (PartialNames): `users[i]` is the number of the segment's user i (-1: none,
 * its rows left out). All a thread needs to load the day's rows: plain data, sent to a worker as
 * it is (the ids shared, not copied: partialIds).
 */
export interface DaySource {
  path: string;
  dataStart: number;
  section: DaySection;
  users: Int32Array;
  tracks: Int32Array;
}

/** The sections of `day` in the partials of `paths` that have it (a section a segment), numbered by `names`. */
export function daySources(
  paths: readonly string[],
  day: number,
  names: PartialNames,
  headers: PartialHeaders = new Map(),
): DaySource[] {
  const out: DaySource[] = [];
  for (const path of paths) {
    let partial = headers.get(path);
    if (partial === undefined) {
      partial = { header: readFilePartialHeader(path) };
      headers.set(path, partial);
    }
    const { segments } = partial.header;
    if (!segments.some((segment) => segment.days.some((d) => d.day === day))) continue;
    const ids = partialIds(partial, names);
    segments.forEach(({ dataStart, days }, s) => {
      const section = days.find((d) => d.day === day);
      if (section !== undefined) out.push({ path, dataStart, section, ...ids[s]! });
    });
  }
  return out;
}

/**
 * The rows of a day from its sources, grouped by user (see UserGroups): `users` is the size of the
 * numbering (group u holds user number u's rows), and a user numbered -1 in a source has none.
 *
 * Two passes over the files, in chunks of rows: the user columns first, to count each user's
 * rows, then each file's tracks and times copied straight into their user's group. Memory is the
 * groups' (a (track, time) pair, 8 bytes a row; 20 for a day with times off the millisecond, its
 * tracks and times then moved to columns of their own), one array of users + 2 counters and one
 * chunk's, never the files' columns. The groups are views into `arrays`' arrays, valid until they
 * are asked for again.
 *
 * `only`: the rows of the users in one part of a day cut into `parts` by user (partOfUser of the
 * run number), the others left out as they are read. The sources stay as they are: a worker reads
 * them from the memory the main thread shares (a masked copy of their users was 18 MB a worker at
 * 2M users).
 */
export function loadDayGroups(
  sources: readonly DaySource[],
  users: number,
  arrays = new GroupArrays(),
  only?: { part: number; parts: number },
): UserGroups {
  // The users of each source in the part, a byte each: a row of another part is left out from its
  // source's user number alone, not from a hash of its run number on every row (a whole day keeps
  // every numbered user, with no mask: one is as long as the sources' users, and a small day of
  // 2M users' partials spent 60 ms on it). The kernel lists each chunk's rows to keep first,
  // without a branch (a kept row and another alternate at random), then places them.
  const mine =
    only === undefined || only.parts === 1
      ? undefined
      : sources.map(({ users: userIds }) => partUsers(userIds, only.part, only.parts));
  // The passes over each chunk are a WebAssembly kernel's (kpis/dayGroups.ts): one array serves
  // the counting sort throughout, user u's count at u + 2, then (the prefix sum) its group's start
  // at u + 1, which the second pass moves to its end, the next group's start: at the end, user
  // u's group starts at u.
  const kernel = arrays.kernel();
  kernel.lay(
    users,
    sources.map((s) => ({ users: s.users.length, tracks: s.tracks.length, rows: s.section.rows })),
    only?.parts,
  );
  // Each pass sums a mix of the user numbers it keeps from each file: the second must see the rows
  // the first counted (the columns are read twice; a file changed in between would misplace rows).
  const counted = new Int32Array(sources.length);
  sources.forEach(({ path, dataStart, section, users: userIds }, s) => {
    kernel.countSource(s, userIds, mine?.[s]);
    let sum = 0;
    // A partial's blocks are read into the kernel's memory, where it reads them (no copy).
    forEachRowChunk(
      path,
      dataStart,
      section,
      'users',
      ({ users: column }) => {
        for (let from = 0; from < column.length; from += DAY_CHUNK_ROWS) {
          sum = kernel.countUsers(column.subarray(from, Math.min(column.length, from + DAY_CHUNK_ROWS)), sum);
        }
      },
      kernel.chunkBytes,
    );
    counted[s] = kernel.sourceCounted(sum);
    // Damage, most likely: the column's checksum, checked at its end, would have said so.
    if (kernel.outOfRange) throw new PartialFileError(path, `day ${section.day}: a user number out of range`);
  });
  const rows = kernel.startGroups();
  const { counters, pairs } = kernel.groups();
  const starts = counters.subarray(0, users + 1);
  // The times in milliseconds since the day's midnight while every row is on a whole millisecond,
  // in (track, time) pairs (UserGroups); from the first row that is not, the tracks and the times
  // in microseconds in columns of their own (those placed so far moved there), the rest placed
  // there by placeInMicros.
  const day = sources[0]?.section.day ?? 0;
  const dayStart = day * MICROS_PER_DAY;
  let micros: { tracks: Uint32Array; times: Float64Array } | undefined;
  sources.forEach(({ path, dataStart, section, users: userIds, tracks: trackIds }, s) => {
    const kept = mine?.[s];
    kernel.placeSource(s, userIds, trackIds, kept);
    const cursors = kernel.cursors();
    let placedSum = 0;
    let outOfRange = false;
    forEachRowChunk(
      path,
      dataStart,
      section,
      'all',
      ({ users: column, tracks: fileTracks, times }) => {
        for (let from = 0; from < column.length; from += DAY_CHUNK_ROWS) {
          const n = Math.min(DAY_CHUNK_ROWS, column.length - from);
          const chunk = {
            users: column.subarray(from, from + n),
            tracks: fileTracks.subarray(from, from + n),
            times: times.subarray(from, from + n),
          };
          let first = 0;
          if (micros === undefined) {
            placedSum = kernel.placeRows(chunk, dayStart, placedSum);
            if (kernel.stopped < 0) continue;
            // A time off the whole milliseconds: every time in microseconds from here on.
            micros = { tracks: arrays.tracksFor(rows), times: arrays.timesFor(rows) };
            for (let k = 0; k < rows; k++) {
              micros.tracks[k] = pairs[2 * k]!;
              micros.times[k] = dayStart + pairs[2 * k + 1]! * 1000;
            }
            first = kernel.stopped;
          }
          const placed = placeInMicros(
            chunk,
            first,
            { userIds, kept, counters, cursors },
            trackIds,
            micros.tracks,
            micros.times,
            rows,
          );
          placedSum = (placedSum + placed.sum) | 0;
          outOfRange ||= placed.outOfRange;
        }
      },
      kernel.chunkBytes,
    );
    if (outOfRange || kernel.outOfRange)
      throw new PartialFileError(path, `day ${section.day}: rows out of range`);
    if (placedSum !== counted[s])
      throw new PartialFileError(path, `day ${section.day}: rows changed between reads`);
  });
  return micros === undefined
    ? kernel.userGroups(dayStart)
    : { starts, tracks: micros.tracks, times: micros.times };
}

/** Rows a kernel call takes: its chunk's (a partial's block; a day of version 1 or 2 is read whole). */
const DAY_CHUNK_ROWS = CHUNK_ROWS;

/**
 * Where the second pass places a source's rows: by the run id of a row's user number (`userIds`,
 * `kept`) and its group's cursor (`counters`), or, for a source counted as a histogram, by its
 * user number's cursor (`cursors`: DayGroupKernel.cursors).
 */
interface RowPlaces {
  userIds: Int32Array;
  kept: Uint8Array | undefined;
  counters: Uint32Array;
  cursors: Uint32Array | undefined;
}

/**
 * The second pass of loadDayGroups over a chunk's rows from `first` of those kept (where the kernel
 * stopped, or 0), once the day's times are in microseconds. Returns the mix the kernel adds (of
 * the ids placed, or of the user numbers when placed by `cursors`) and whether a number was out of
 * range. Rare (listen times off the millisecond), so in JavaScript.
 */
function placeInMicros(
  chunk: RowChunk,
  first: number,
  { userIds, kept, counters, cursors }: RowPlaces,
  trackIds: Int32Array,
  groupTracks: Uint32Array,
  usTimes: Float64Array,
  rows: number,
): { sum: number; outOfRange: boolean } {
  const { users: column, tracks: fileTracks, times } = chunk;
  // The rows kept, listed as the kernel lists them: a user number out of range (the file changed
  // since the first pass) is not kept.
  const picked = new Int32Array(column.length);
  let n = 0;
  for (let i = 0; i < column.length; i++) {
    picked[n] = i;
    const u = column[i]!;
    if (u >= userIds.length) continue;
    if (cursors !== undefined) n += Number(cursors[u] !== NO_CURSOR);
    else n += kept === undefined ? Number(userIds[u]! >= 0) : kept[u]! & 1;
  }
  let sum = 0;
  let outOfRange = false;
  for (let k = first; k < n; k++) {
    const i = picked[k]!;
    const u = column[i]!;
    const t = fileTracks[i]!;
    let at: number;
    if (cursors !== undefined) {
      at = cursors[u]!++;
      sum = (sum + Math.imul(u + 1, 0x9e3779b1)) | 0;
    } else {
      const id = userIds[u]!;
      at = counters[id + 1]!++;
      sum = (sum + Math.imul(id + 1, 0x9e3779b1)) | 0;
    }
    // A track out of range (damage: the checksum at the section's end tells it), or more rows
    // than the first pass counted (the file changed under us; the sums tell the rest).
    if (t >= trackIds.length || at >= rows) {
      outOfRange = true;
      continue;
    }
    groupTracks[at] = trackIds[t]!;
    usTimes[at] = times[i]!;
  }
  return { sum, outOfRange };
}

/**
 * Per user number of a source: 1 for a numbered user in part `part` of `parts` (partOfUser of its
 * run number), else 0. Without a branch: a user is in the part or not at random, so a branch was
 * mispredicted about every other user (47 against 19 ms for 5.5M numbers alone; the whole, with a
 * table of every run user's part read here, 0.12 to 0.17 s a worker at 2M users).
 */
function partUsers(userIds: Int32Array, part: number, parts: number): Uint8Array {
  const kept = new Uint8Array(userIds.length);
  for (let u = 0; u < userIds.length; u++) {
    const id = userIds[u]!;
    kept[u] = Number(id >= 0) & Number(partOfUser(id, parts) === part);
  }
  return kept;
}

/** A copy of `values` in shared memory: sent to a worker, it is not copied again. */
function sharedCopy(values: Int32Array): Int32Array {
  const out = new Int32Array(new SharedArrayBuffer(values.byteLength));
  out.set(values);
  return out;
}

/**
 * The first track on `day` that is not in `known`, with the file it came from: an example for a
 * warning about unknown tracks (read only when one is due).
 */
export function firstUnknownTrack(
  sources: { file: string; partial: string }[],
  day: number,
  known: { has(track: string): boolean },
): { file: string; track: string } | undefined {
  for (const { file, partial } of sources) {
    for (const segment of readFilePartialHeader(partial).segments) {
      const section = segment.days.find((d) => d.day === day);
      if (section === undefined) continue;
      const tracks = namesOf(segment.tracks);
      for (const t of readDayColumns(partial, segment.dataStart, section).tracks) {
        const track = tracks[t]!;
        if (!known.has(track)) return { file, track };
      }
    }
  }
  return undefined;
}
