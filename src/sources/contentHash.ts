import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { createXXHash128, IHasher } from 'hash-wasm';
import type { ByteDigest } from '../parse/streamRows.js';
import { isS3, openFile } from './locations.js';
import type { LogFile } from './logFiles.js';
import { UNIT_BYTES } from './logUnits.js';

/**
 * Content hashing, in one place: what identifies an input file's bytes (so that a touched but
 * unchanged log is not parsed again, and a day's data is tied to the exact file it came from).
 * - A plain file (a log, a KPI streams file): a digest of each UNIT_BYTES unit, combined with the
 *   size (combineUnitHashes), so the workers hash the units they parse, in parallel, and the
 *   value does not depend on threads.
 * - A gzip log: a digest of its stored (compressed) bytes, in a namespace of its own.
 * Every path (a parse, a local file, a stream from S3) gives the same value for the same bytes.
 *
 * Two versions, told apart by their length, so that a recorded hash is checked in its own:
 * - version 2, 32 hex digits (this build writes it): the digests are xxh128 (hash-wasm), the unit
 *   digests combined by sha256 cut to 128 bits. xxh128 is not cryptographic, and need not be: it
 *   tells a changed file from an unchanged one, and is not meant to resist a forged one. It takes
 *   about a third of sha256's time; sha256 was about 6% of a cold week's CPU and 8% of its time
 *   (docs/BENCHMARKS.md, "A faster content hash"), and 7% of a KPI run's ("The streams files'
 *   content hash").
 * - version 1, 64 hex digits (recorded before): a log's, sha256 throughout, still computed to
 *   check a touched log against a version 1 record (sameContent), so a state folder written by an
 *   older build is not parsed again for it. A KPI streams file's was the sha256 of its bytes: the
 *   KPI job tells a touched file by its size and mtime and never hashes one again to compare, so
 *   such a record stands as it is, and none is computed here.
 */

/**
 * A digest taken piece by piece: a unit's, or a whole file's. The streams parser's ByteDigest, the
 * hasher it is handed (a parser does not import sources/).
 */
export type LogHasher = ByteDigest;

const V2_HEX_DIGITS = 32;

/** Whether `hash` is of version 1 (sha256, 64 hex digits). */
function isVersion1(hash: string): boolean {
  return hash.length === 64;
}

// ---- version 2 ----

/**
 * xxh128 hashers kept for reuse by this thread: each is a WebAssembly instance with its own
 * memory, made asynchronously (hence the async factories below), and ready again after init().
 * The first loads the package's xxh128 alone, its bundle of one algorithm: its index, every
 * algorithm's WebAssembly in 270 KB of JavaScript, took 45 to 55 ms of each thread that hashed
 * (loaded and the first hasher made), against 10 (a command that hashes nothing skips either).
 */
const idleXxh128: IHasher[] = [];

/** The package's xxh128 bundle: `createXXHash128` as its index exports it. */
const XXH128_BUNDLE = 'hash-wasm/dist/xxhash128.umd.min.js';

async function takeXxh128(): Promise<IHasher> {
  const idle = idleXxh128.pop();
  if (idle) return idle.init();
  // A CommonJS (UMD) file: its exports are the module's default.
  const bundle = (await import(XXH128_BUNDLE)) as { default: { createXXHash128: typeof createXXHash128 } };
  return (await bundle.default.createXXHash128()).init();
}

/**
 * An xxh128 digest (hex) taken piece by piece; its hasher goes back for reuse at the digest, so a
 * second digest is refused (the hasher may be another digest's by then).
 */
async function xxh128(prefix = ''): Promise<LogHasher> {
  const hasher = await takeXxh128();
  let done = false;
  if (prefix !== '') hasher.update(prefix);
  return {
    update: (data) => {
      if (done) throw new Error('content hash: update after the digest');
      hasher.update(data);
    },
    digest: () => {
      if (done) throw new Error('content hash: a digest was taken twice');
      done = true;
      const digest = hasher.digest('hex');
      idleXxh128.push(hasher);
      return digest;
    },
  };
}

/** The digest of one unit's bytes; the file's content hash combines them (combineUnitHashes). */
export function unitHasher(): Promise<LogHasher> {
  return xxh128();
}

/**
 * The digests of the units of a plain file that start in `[start, end)` (a range a worker parses),
 * which the file's content hash combines with the other ranges' (combineUnitHashes, in unit order).
 * Fed the range's bytes in order (`update`, as the range is read), then `finish`, which reads on
 * past `end` to the end of the last unit begun in it (or the file's end) through `readAt`: the
 * next range's worker hashes only the units that start in its own.
 */
export interface RangeUnitDigests {
  update(data: Uint8Array): void;
  /** The digests, units `first` on; `readAt(pos, into)` reads the file's bytes from `pos` (0: its end). */
  finish(readAt: (pos: number, into: Uint8Array) => number): { first: number; digests: string[] };
}

export async function rangeUnitDigests(start: number, end: number): Promise<RangeUnitDigests> {
  const hasher = await takeXxh128();
  const cuts = new UnitCuts(unitDigestOf(hasher));
  const first = Math.ceil(start / UNIT_BYTES);
  // The next byte fed; those before unit `first` end the unit begun before the range, the range
  // before it hashes them.
  let pos = start;
  let done = false;
  return {
    update: (data) => {
      if (done || pos + data.length > end) throw new Error('content hash: bytes past the range');
      cuts.feed(data.subarray(Math.min(data.length, Math.max(0, first * UNIT_BYTES - pos))));
      pos += data.length;
    },
    finish: (readAt) => {
      if (done) throw new Error('content hash: a range finished twice');
      done = true;
      if (pos !== end) throw new Error(`content hash: the range was fed to ${pos}, not to its end ${end}`);
      // The last unit begun in the range (and not ended with it), read on to its end or the file's.
      if (cuts.inUnit > 0) {
        const buffer = new Uint8Array(Math.min(READ_BYTES, UNIT_BYTES - cuts.inUnit));
        while (cuts.inUnit > 0) {
          const n = readAt(pos, buffer.subarray(0, Math.min(buffer.length, UNIT_BYTES - cuts.inUnit)));
          if (n === 0) {
            cuts.cut();
            break;
          }
          cuts.feed(buffer.subarray(0, n));
          pos += n;
        }
      }
      idleXxh128.push(hasher);
      return { first, digests: cuts.digests };
    },
  };
}

/** The content hash of a plain log from its size and the digests of its units, in order. */
export function combineUnitHashes(size: number, unitDigests: string[]): string {
  const h = createHash('sha256');
  h.update(`playtally-log-v2:${size}:`);
  for (const d of unitDigests) h.update(d);
  return h.digest('hex').slice(0, V2_HEX_DIGITS);
}

/**
 * The hasher of a plain file's bytes (a log's, a KPI streams file's) or a gzip log's stored
 * bytes, taken in order.
 */
export async function logHasher(gzip: boolean): Promise<LogHasher> {
  if (gzip) return xxh128(GZIP_PREFIX_V2);
  const unit = await takeXxh128();
  return byUnits(unitDigestOf(unit), (size, digests) => {
    idleXxh128.push(unit);
    return combineUnitHashes(size, digests);
  });
}

const GZIP_PREFIX_V2 = 'playtally-gz-v2:';

/** A unit's digest, started again for the next unit by each digest. */
interface UnitDigest {
  update(data: Uint8Array): void;
  digestAndRestart(): string;
}

/** An xxh128 hasher as a UnitDigest. */
function unitDigestOf(hasher: IHasher): UnitDigest {
  return {
    update: (data) => {
      hasher.update(data);
    },
    digestAndRestart: () => {
      const digest = hasher.digest('hex');
      hasher.init();
      return digest;
    },
  };
}

/**
 * Bytes fed in order cut into UNIT_BYTES units from the first byte fed, each unit's digest taken
 * as it ends: a plain log's from its start (byUnits), a range's from its first unit on
 * (rangeUnitDigests).
 */
class UnitCuts {
  readonly digests: string[] = [];
  /** The bytes of the unit begun and not ended. */
  inUnit = 0;

  constructor(private readonly unit: UnitDigest) {}

  feed(data: Uint8Array): void {
    for (let at = 0; at < data.length; ) {
      const n = Math.min(data.length - at, UNIT_BYTES - this.inUnit);
      this.unit.update(data.subarray(at, at + n));
      at += n;
      this.inUnit += n;
      if (this.inUnit === UNIT_BYTES) this.cut();
    }
  }

  /** The unit begun ended here: its digest taken. */
  cut(): void {
    this.digests.push(this.unit.digestAndRestart());
    this.inUnit = 0;
  }
}

/**
 * A plain log's hasher: its bytes cut into UNIT_BYTES units, their digests combined. Used up by
 * its digest (`combine` may give the unit's hasher back for reuse).
 */
function byUnits(unit: UnitDigest, combine: (size: number, digests: string[]) => string): LogHasher {
  const cuts = new UnitCuts(unit);
  let size = 0;
  let done = false;
  return {
    update: (data) => {
      if (done) throw new Error('content hash: update after the digest');
      size += data.length;
      cuts.feed(data);
    },
    digest: () => {
      if (done) throw new Error('content hash: a digest was taken twice');
      done = true;
      // The last unit, and the one unit of an empty log (see logUnits).
      if (cuts.inUnit > 0 || cuts.digests.length === 0) cuts.cut();
      return combine(size, cuts.digests);
    },
  };
}

/**
 * The content hash of a log read from `source` (its bytes as stored), without parsing it: the
 * value streamLogChunks, and contentHash of a file holding the same bytes, give.
 */
export async function hashLogStream(source: Readable, gzip: boolean): Promise<string> {
  return digestOf(source, await logHasher(gzip));
}

/**
 * The log's content hash without parsing it: the value a build records (a plain log's parse
 * combines its workers' unit digests to the same; streamLogChunks gives it for a gzip log).
 */
export async function contentHash(log: LogFile): Promise<string> {
  return hashOfLog(log, await logHasher(log.compressed));
}

/** Whether the log's bytes are those `recorded` was taken from, in `recorded`'s version. */
export async function sameContent(log: LogFile, recorded: string): Promise<boolean> {
  const hasher = isVersion1(recorded) ? logHasherV1(log.compressed) : await logHasher(log.compressed);
  return (await hashOfLog(log, hasher)) === recorded;
}

/**
 * Whether two records' hashes say the same bytes. Of different versions they cannot say: then
 * the same name, size and mtime do, as they do for every run's first check of a log.
 */
export function sameRecordedContent(
  a: { file: string; size: number; mtimeMs: number; hash: string },
  b: { file: string; size: number; mtimeMs: number; hash: string },
): boolean {
  if (isVersion1(a.hash) === isVersion1(b.hash)) return a.hash === b.hash;
  return a.file === b.file && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** The log's bytes as stored (a plain log's first `size`) through `hasher`. */
function hashOfLog(log: LogFile, hasher: LogHasher): Promise<string> {
  return hashOf(log.path, log.compressed ? undefined : log.size, hasher);
}

/** The digest of a file's bytes (its first `size` if given; all of an S3 object's) through `hasher`. */
async function hashOf(path: string, size: number | undefined, hasher: LogHasher): Promise<string> {
  if (isS3(path)) return digestOf(await openFile(path), hasher);
  await readWhole(path, (bytes) => hasher.update(bytes), size);
  return hasher.digest();
}

/** The digest of everything `source` gives, through `hasher`. */
async function digestOf(source: Readable, hasher: LogHasher): Promise<string> {
  for await (const data of source) hasher.update(data as Buffer);
  return hasher.digest();
}

// ---- version 1, to check what older builds recorded ----

function logHasherV1(gzip: boolean): LogHasher {
  if (gzip) {
    const whole = createHash('sha256').update('playtally-gz-v1:');
    return { update: (data) => whole.update(data), digest: () => whole.digest('hex') };
  }
  let unit = createHash('sha256');
  return byUnits(
    {
      update: (data) => unit.update(data),
      digestAndRestart: () => {
        const digest = unit.digest('hex');
        unit = createHash('sha256');
        return digest;
      },
    },
    (size, digests) => {
      const combined = createHash('sha256').update(`playtally-log-v1:${size}:`);
      for (const d of digests) combined.update(d);
      return combined.digest('hex');
    },
  );
}

// ---- reading ----

/** The reads' buffer: the size a local file is read in for its hash (and a range's last unit). */
const READ_BYTES = 1024 * 1024;

/**
 * A local file's bytes (its first `size` bytes if given), in pieces read asynchronously (the
 * thread stays free between reads) into one buffer used again for every read: a read stream's
 * fresh buffer a chunk cost its page faults, more than the hashing (a 178 MB streams file,
 * measured alone: 0.6 s of CPU and 20,000 page faults through a read stream, 0.18 s and 3,000
 * this way).
 */
async function readWhole(path: string, onBytes: (bytes: Uint8Array) => void, size?: number): Promise<void> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    for (let pos = 0; size === undefined || pos < size; ) {
      const want = size === undefined ? buffer.length : Math.min(buffer.length, size - pos);
      const { bytesRead } = await file.read(buffer, 0, want, pos);
      if (bytesRead === 0) break;
      onBytes(buffer.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await file.close();
  }
}
