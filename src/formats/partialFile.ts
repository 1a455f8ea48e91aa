import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tempPathFor } from '../ops/atomicFile.js';
import { crc32 } from '../ops/crc32.js';
import { FLUSH_BYTES, flushData, readFullySync } from '../ops/fileIo.js';
import type { BlockStats } from '../partials/aggregatePairs.js';

/**
 * A day's partial: the day's log aggregated once, kept in the state directory and reused by every
 * later window that covers the day.
 *
 * Layout (little endian):
 *
 *     0   8  magic "PTPART\r\n" (the \r\n catches text-mode mangling)
 *     8   4  format version
 *     12  4  partitions P (a power of two)
 *     16  8  file length
 *     24  8  directory offset
 *     32  4  directory length
 *     36  4  CRC-32 of the directory
 *     40 24  reserved (zero)
 *     64  .. blocks: for p in 0..P-1, the users block then the countries block, each at a
 *            multiple of 4 (zero bytes between)
 *     ..     directory: JSON (PartialDirectory)
 *
 * Every block carries its own CRC-32 in the directory and is checked when read, so a damaged file
 * is detected before its numbers are used. Files are written under a temporary name and renamed.
 *
 * Version 3 lays the blocks out as 'words' (BlockStats.layout: their songs read in place as 32-bit
 * words, which needs the blocks at multiples of 4), but a block with an id of 2^32 or more;
 * version 2, every block of varints, is read as before. An older build finds version 3 unknown
 * and rebuilds the day from its log.
 */
export const PARTIAL_MAGIC = Buffer.from('PTPART\r\n', 'latin1');
export const PARTIAL_VERSION = 3;
/** The versions read: 2 (every block varints) and this one. */
const READ_VERSIONS = [2, PARTIAL_VERSION];
const HEADER_BYTES = 64;

export interface BlockRef extends BlockStats {
  offset: number;
  length: number;
  crc: number;
}

export interface PartialDirectory<Meta = unknown> {
  version: number;
  partitions: number;
  /** Indexed by partition. */
  users: BlockRef[];
  /** Indexed by partition. */
  countries: BlockRef[];
  meta: Meta;
}

/** A partial that is not whole (truncated, damaged, another format): rebuild it from its log. */
export class PartialFileError extends Error {
  override readonly name = 'PartialFileError';
  readonly code = 'PARTIAL_CORRUPT';

  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** Writes a partial block by block, in partition order, then commits it with a rename. */
export class PartialWriter {
  private readonly fd: number;
  private offset = HEADER_BYTES;
  private readonly users: BlockRef[] = [];
  private readonly countries: BlockRef[] = [];
  private readonly tempPath: string;
  /** Committed or aborted: its descriptor is closed, and may already be another file's. */
  private closed = false;
  /** A second descriptor of the file, for the flushes on the way (flushOnTheWay). */
  private flushFd: number | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private unflushed = 0;

  constructor(
    readonly path: string,
    readonly partitions: number,
  ) {
    this.tempPath = tempPathFor(path);
    this.fd = openSync(this.tempPath, 'w');
  }

  /** Append the two blocks of the next partition. */
  writePartition(
    users: Uint8Array,
    userStats: BlockStats,
    countries: Uint8Array,
    countryStats: BlockStats,
  ): void {
    this.users.push(this.writeBlock(users, userStats));
    this.countries.push(this.writeBlock(countries, countryStats));
    this.flushOnTheWay(users.length + countries.length);
  }

  /** Write the directory and header, flush to disk and rename into place. */
  commit<Meta>(meta: Meta): PartialDirectory<Meta> {
    if (this.users.length !== this.partitions) {
      throw new Error(`partial has ${this.users.length} of ${this.partitions} partitions`);
    }
    const directory: PartialDirectory<Meta> = {
      version: PARTIAL_VERSION,
      partitions: this.partitions,
      users: this.users,
      countries: this.countries,
      meta,
    };
    const json = Buffer.from(JSON.stringify(directory));
    const directoryOffset = this.offset;
    this.writeAt(json, directoryOffset);
    const header = Buffer.alloc(HEADER_BYTES);
    PARTIAL_MAGIC.copy(header, 0);
    header.writeUInt32LE(PARTIAL_VERSION, 8);
    header.writeUInt32LE(this.partitions, 12);
    header.writeBigUInt64LE(BigInt(directoryOffset + json.length), 16);
    header.writeBigUInt64LE(BigInt(directoryOffset), 24);
    header.writeUInt32LE(json.length, 32);
    header.writeUInt32LE(crc32(json), 36);
    this.writeAt(header, 0);
    this.releaseFlushFd();
    fsyncSync(this.fd);
    this.closed = true;
    closeSync(this.fd);
    // Whatever is in the way (a damaged partial, even a folder) is replaced.
    if (existsSync(this.path) && statSync(this.path).isDirectory())
      rmSync(this.path, { recursive: true, force: true });
    renameSync(this.tempPath, this.path);
    return directory;
  }

  /** Give up: close and leave the temporary file for the caller to remove. */
  abort(): string {
    this.releaseFlushFd();
    if (!this.closed) {
      this.closed = true;
      try {
        closeSync(this.fd);
      } catch {
        // a failed commit closed it
      }
    }
    return this.tempPath;
  }

  /**
   * Every FLUSH_BYTES written, a flush to disk started in the background (libuv's threads), so
   * that the commit's fsync, made with the workers waiting for the window's charts, has only the
   * last blocks left: it took 0.12 s for a day of 20M rows (166 MB) written whole before it. The
   * flushes go through a descriptor of their own: a writeback error is told once to each
   * descriptor, so the commit's fsync on the writer's still reports one that a flush here met
   * (and whose report this ignores).
   */
  private flushOnTheWay(written: number): void {
    this.unflushed += written;
    if (this.unflushed < FLUSH_BYTES) return;
    this.unflushed = 0;
    try {
      this.flushFd ??= openSync(this.tempPath, 'r+');
    } catch {
      return; // no descriptor to spare: the commit's fsync does it all
    }
    const fd = this.flushFd;
    this.flushing = this.flushing.then(() => flushData(fd)).catch(() => {});
  }

  /** The flushes' descriptor closed once the flush under way is done (this does not wait for it). */
  private releaseFlushFd(): void {
    const fd = this.flushFd;
    if (fd === undefined) return;
    this.flushFd = undefined;
    void this.flushing.then(() => {
      try {
        closeSync(fd);
      } catch {
        // nothing to close
      }
    });
  }

  private writeBlock(bytes: Uint8Array, stats: BlockStats): BlockRef {
    // At a multiple of 4: a 'words' block's songs are at multiples of 4 from its start.
    const gap = -this.offset & 3;
    if (gap > 0) {
      this.writeAt(new Uint8Array(gap), this.offset);
      this.offset += gap;
    }
    const ref: BlockRef = { offset: this.offset, length: bytes.length, crc: crc32(bytes), ...stats };
    this.writeAt(bytes, this.offset);
    this.offset += bytes.length;
    return ref;
  }

  private writeAt(bytes: Uint8Array, position: number): void {
    if (this.closed) throw new Error(`partial ${this.path} is already committed or aborted`);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, position + done);
  }
}

/** Read and check a partial's header and directory; throws PartialFileError when it is not whole. */
export function readPartialDirectory<Meta = unknown>(path: string): PartialDirectory<Meta> {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    if (
      readSync(fd, header, 0, HEADER_BYTES, 0) !== HEADER_BYTES ||
      !header.subarray(0, 8).equals(PARTIAL_MAGIC)
    ) {
      throw new PartialFileError(path, 'not a playtally partial (bad magic)');
    }
    const version = header.readUInt32LE(8);
    if (!READ_VERSIONS.includes(version)) {
      throw new PartialFileError(
        path,
        `partial format version ${version}, expected ${READ_VERSIONS.join(' or ')}`,
      );
    }
    const fileLength = Number(header.readBigUInt64LE(16));
    const directoryOffset = Number(header.readBigUInt64LE(24));
    const directoryLength = header.readUInt32LE(32);
    // Checked against the file before any is used: a damaged top byte would make a position past
    // 2^53 or a length past 2^31, and fs would throw its own RangeError, not this file's error.
    const size = fstatSync(fd).size;
    if (fileLength !== size || directoryOffset + directoryLength !== fileLength) {
      throw new PartialFileError(path, 'length does not match its header');
    }
    const json = Buffer.alloc(directoryLength);
    if (readSync(fd, json, 0, directoryLength, directoryOffset) !== directoryLength) {
      throw new PartialFileError(path, 'truncated (directory missing)');
    }
    if (crc32(json) !== header.readUInt32LE(36))
      throw new PartialFileError(path, 'directory checksum mismatch');
    return JSON.parse(json.toString('utf8')) as PartialDirectory<Meta>;
  } finally {
    closeSync(fd);
  }
}

/** The file bytes [offset, offset + length), read into the start of `into`; short means truncated. */
function readWhole(
  fd: number,
  into: Uint8Array,
  { offset, length }: { offset: number; length: number },
  path: string,
  what: string,
): Uint8Array {
  const bytes = into.subarray(0, length);
  if (readFullySync(fd, bytes, 0, length, offset) < length) {
    throw new PartialFileError(path, `truncated ${what} at ${offset}`);
  }
  return bytes;
}

/**
 * Read one block and check its CRC. `into`, at least `ref.length` bytes, is where it is read (a
 * view of the caller's reused buffer); by default a new buffer.
 */
export function readBlock(
  fd: number,
  ref: BlockRef,
  path: string,
  into: Uint8Array = Buffer.allocUnsafe(ref.length),
): Uint8Array {
  const bytes = readWhole(fd, into, ref, path, 'block');
  if (crc32(bytes) !== ref.crc) throw new PartialFileError(path, `block checksum mismatch at ${ref.offset}`);
  return bytes;
}

/** A run of whole segments of a block: file bytes [offset, offset + length). */
export interface SegmentRun {
  offset: number;
  length: number;
  /** Where each segment starts, relative to the run, and its CRC-32. */
  segmentStarts: number[];
  crcs: number[];
}

/**
 * Read a run of segments and check each segment's CRC. `into`, at least `run.length` bytes, is
 * where they are read (a view of the caller's reused buffer); by default a new buffer.
 */
export function readSegments(
  fd: number,
  run: SegmentRun,
  path: string,
  into: Uint8Array = Buffer.allocUnsafe(run.length),
): Uint8Array {
  const bytes = readWhole(fd, into, run, path, 'segments');
  run.segmentStarts.forEach((start, i) => {
    const segment = bytes.subarray(start, run.segmentStarts[i + 1] ?? run.length);
    if (crc32(segment) !== run.crcs[i]) {
      throw new PartialFileError(path, `segment checksum mismatch at ${run.offset + start}`);
    }
  });
  return bytes;
}
