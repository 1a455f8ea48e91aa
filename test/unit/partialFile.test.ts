import * as fs from 'node:fs';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  type BlockRef,
  PARTIAL_MAGIC,
  PARTIAL_VERSION,
  type PartialDirectory,
  PartialFileError,
  PartialWriter,
  readBlock,
  readPartialDirectory,
  readSegments,
  type SegmentRun,
} from '../../src/formats/partialFile.js';
import { tempPathFor } from '../../src/ops/atomicFile.js';
import { FLUSH_BYTES } from '../../src/ops/fileIo.js';
import {
  aggregatePairs,
  type BlockStats,
  checksumSegments,
  emptySegments,
  SEGMENT_KEYS,
} from '../../src/partials/aggregatePairs.js';
import { ByteWriter } from '../../src/partials/varint.js';
import { TempDirs } from '../support/tempDirs.js';

// The flushes made on the way are counted (and made, unless a test fails them).
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return { ...real, fdatasync: vi.fn(real.fdatasync) };
});

/**
 * The day partial file (src/partials/partialFile.ts): what PartialWriter writes, readPartialDirectory
 * and readBlock/readSegments give back byte for byte; a damaged, truncated or other-version file is a
 * PartialFileError (code PARTIAL_CORRUPT, with its path), never numbers read from garbage.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());

const HEADER_BYTES = 64;

interface Meta {
  date: string;
  file: string;
  note?: string;
}

interface PartitionBlocks {
  users: Uint8Array;
  countries: Uint8Array;
}

function stats(keys: number, pairs = keys, plays = pairs): BlockStats {
  return { keys, pairs, plays, segments: emptySegments() };
}

/** Write a partial of `blocks` (one entry per partition) with `meta`; returns its path and directory. */
function writePartial(
  dir: string,
  blocks: PartitionBlocks[],
  meta: Meta = { date: '2024-03-01', file: 'listen-20240301.log' },
  name = 'day.ptp',
): { path: string; directory: PartialDirectory<Meta> } {
  const path = join(dir, name);
  const writer = new PartialWriter(path, blocks.length);
  blocks.forEach((b, p) => {
    writer.writePartition(b.users, stats(p + 1, p + 2, p + 3), b.countries, stats(p, p * 2, p * 3));
  });
  return { path, directory: writer.commit(meta) };
}

/** Every block of the partial at `path`, read through its directory. */
function readAll(path: string, directory: PartialDirectory): PartitionBlocks[] {
  const fd = openSync(path, 'r');
  try {
    return directory.users.map((ref, p) => ({
      users: Uint8Array.from(readBlock(fd, ref, path)),
      countries: Uint8Array.from(readBlock(fd, directory.countries[p]!, path)),
    }));
  } finally {
    closeSync(fd);
  }
}

/**
 * Blocks compared as bytes (toEqual walks a typed array element by element: seconds for a few MB).
 */
function expectBlocks(actual: PartitionBlocks[], expected: PartitionBlocks[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, p) => {
    for (const table of ['users', 'countries'] as const) {
      if (!sameBytes(a[table], expected[p]![table]))
        expect.fail(`partition ${p}: the ${table} block differs`);
    }
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function bytesOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The error a call throws (the test fails when it throws none). */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  expect.fail('expected an error');
}

function expectCorrupt(call: () => unknown, path: string, problem: RegExp): void {
  const error = thrown(call);
  expect(error).toBeInstanceOf(PartialFileError);
  const e = error as PartialFileError;
  expect(e.code).toBe('PARTIAL_CORRUPT');
  expect(e.path).toBe(path);
  expect(e.message).toMatch(problem);
  expect(e.message.startsWith(`${path}: `)).toBe(true);
}

describe('PartialWriter then readPartialDirectory / readBlock: round trips', () => {
  it('gives back the directory commit returned and every block byte for byte', () => {
    const dir = temp.make('partial-rt-');
    const blocks = Array.from({ length: 4 }, (_, p) => ({
      users: bytesOf(100 + p * 37, p + 1),
      countries: bytesOf(50 + p, p + 100),
    }));
    const { path, directory } = writePartial(dir, blocks);
    const read = readPartialDirectory<Meta>(path);
    expect(read).toEqual(directory);
    expect(read.version).toBe(PARTIAL_VERSION);
    expect(read.partitions).toBe(4);
    expect(read.meta).toEqual({ date: '2024-03-01', file: 'listen-20240301.log' });
    expect(read.users.map((u) => u.keys)).toEqual([1, 2, 3, 4]);
    expect(read.countries.map((c) => c.plays)).toEqual([0, 3, 6, 9]);
    expectBlocks(readAll(path, read), blocks);
  });

  it('lays blocks out from byte 64, users then countries per partition, each at a multiple of 4 (zero bytes between), then the directory', () => {
    const dir = temp.make('partial-layout-');
    const blocks = Array.from({ length: 3 }, (_, p) => ({
      users: bytesOf(10 + p, p),
      countries: bytesOf(7, p),
    }));
    const { path, directory } = writePartial(dir, blocks);
    const file = readFileSync(path);
    let at = HEADER_BYTES;
    for (let p = 0; p < 3; p++) {
      for (const ref of [directory.users[p]!, directory.countries[p]!]) {
        const aligned = Math.ceil(at / 4) * 4;
        expect(file.subarray(at, aligned).every((b) => b === 0)).toBe(true);
        expect(ref.offset).toBe(aligned);
        at = aligned + ref.length;
      }
    }
    expect(file.subarray(0, 8).equals(PARTIAL_MAGIC)).toBe(true);
    expect(file.readUInt32LE(8)).toBe(PARTIAL_VERSION);
    expect(file.readUInt32LE(12)).toBe(3);
    expect(Number(file.readBigUInt64LE(16))).toBe(file.length);
    expect(Number(file.readBigUInt64LE(24))).toBe(at);
    expect(file.readUInt32LE(32)).toBe(file.length - at);
    expect(file.subarray(40, 64).every((b) => b === 0)).toBe(true);
    expect(JSON.parse(file.subarray(at).toString('utf8'))).toEqual(directory);
  });

  it('keeps empty blocks (a partition with no rows) and a partial whose every block is empty', () => {
    const dir = temp.make('partial-empty-');
    const some = [
      { users: new Uint8Array(0), countries: bytesOf(5, 1) },
      { users: bytesOf(3, 2), countries: new Uint8Array(0) },
      { users: new Uint8Array(0), countries: new Uint8Array(0) },
      { users: bytesOf(1, 3), countries: bytesOf(1, 4) },
    ];
    const a = writePartial(dir, some, undefined, 'some.ptp');
    expectBlocks(readAll(a.path, readPartialDirectory(a.path)), some);
    const none = Array.from({ length: 16 }, () => ({
      users: new Uint8Array(0),
      countries: new Uint8Array(0),
    }));
    const b = writePartial(dir, none, undefined, 'none.ptp');
    const directory = readPartialDirectory(b.path);
    expect(directory.users.every((r) => r.length === 0 && r.offset === HEADER_BYTES)).toBe(true);
    expectBlocks(readAll(b.path, directory), none);
  });

  it('one partition; many partitions (4096); a block of 3 MB', () => {
    const dir = temp.make('partial-sizes-');
    const one = [{ users: bytesOf(1, 9), countries: bytesOf(2, 9) }];
    const a = writePartial(dir, one, undefined, 'one.ptp');
    expectBlocks(readAll(a.path, readPartialDirectory(a.path)), one);

    const many = Array.from({ length: 4096 }, (_, p) => ({
      users: bytesOf(p % 7, p),
      countries: bytesOf(p % 3, p + 1),
    }));
    const b = writePartial(dir, many, undefined, 'many.ptp');
    const directory = readPartialDirectory(b.path);
    expect(directory.partitions).toBe(4096);
    expect(directory.users).toHaveLength(4096);
    expectBlocks(readAll(b.path, directory), many);

    const big = [{ users: bytesOf(3 * 1024 * 1024, 5), countries: bytesOf(65_537, 6) }];
    const c = writePartial(dir, big, undefined, 'big.ptp');
    expectBlocks(readAll(c.path, readPartialDirectory(c.path)), big);
  });

  it('keeps any JSON meta exactly: unicode, odd names, big and negative numbers', () => {
    const dir = temp.make('partial-meta-');
    const meta = {
      date: '2024-02-29',
      file: 'listen-20240229.log.gz',
      note: 'é ü ß 日本 😀 \u2028 \u0000 "quoted" \\ back',
      ids: [0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1],
      nested: { empty: [], nothing: null, yes: true },
    };
    const path = join(dir, 'meta.ptp');
    const writer = new PartialWriter(path, 1);
    writer.writePartition(bytesOf(4, 1), stats(1), bytesOf(4, 2), stats(1));
    writer.commit(meta);
    expect(readPartialDirectory(path).meta).toEqual(meta);
  });

  it('property: random partition counts and block contents come back exactly', () => {
    const dir = temp.make('partial-prop-');
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            users: fc.uint8Array({ maxLength: 300 }),
            countries: fc.uint8Array({ maxLength: 300 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.string(),
        (blocks, note) => {
          const { path, directory } = writePartial(
            dir,
            blocks,
            { date: 'd', file: 'f', note },
            `p${n++}.ptp`,
          );
          const read = readPartialDirectory<Meta>(path);
          expect(read).toEqual(directory);
          expectBlocks(readAll(path, read), blocks);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('PartialWriter: commit and abort', () => {
  it('writes under a temporary name and renames into place only at commit', () => {
    const dir = temp.make('partial-atomic-');
    const path = join(dir, 'day.ptp');
    const writer = new PartialWriter(path, 2);
    writer.writePartition(bytesOf(10, 1), stats(1), bytesOf(10, 2), stats(1));
    expect(existsSync(path)).toBe(false);
    expect(existsSync(tempPathFor(path))).toBe(true);
    writer.writePartition(bytesOf(10, 3), stats(1), bytesOf(10, 4), stats(1));
    writer.commit({ date: 'd', file: 'f' });
    expect(existsSync(path)).toBe(true);
    expect(existsSync(tempPathFor(path))).toBe(false);
  });

  it('refuses to commit with fewer partitions than announced', () => {
    const dir = temp.make('partial-short-');
    const path = join(dir, 'day.ptp');
    const writer = new PartialWriter(path, 2);
    writer.writePartition(bytesOf(10, 1), stats(1), bytesOf(10, 2), stats(1));
    expect(() => writer.commit({ date: 'd', file: 'f' })).toThrow('partial has 1 of 2 partitions');
    expect(existsSync(path)).toBe(false);
    expect(writer.abort()).toBe(tempPathFor(path));
  });

  it('abort leaves the final name alone and returns the temporary file to remove', () => {
    const dir = temp.make('partial-abort-');
    const path = join(dir, 'day.ptp');
    writeFileSync(path, 'previous');
    const writer = new PartialWriter(path, 1);
    writer.writePartition(bytesOf(10, 1), stats(1), bytesOf(10, 2), stats(1));
    const leftover = writer.abort();
    expect(leftover).toBe(tempPathFor(path));
    expect(existsSync(leftover)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('previous');
    expect(writer.abort()).toBe(leftover); // twice is harmless
  });

  it('a partition handed in after abort (or commit) throws, and writes nothing where its descriptor was', () => {
    const dir = temp.make('partial-late-');
    const path = join(dir, 'day.ptp');
    const writer = new PartialWriter(path, 2);
    writer.writePartition(bytesOf(10, 1), stats(1), bytesOf(10, 2), stats(1));
    writer.abort();
    // The descriptor number the writer held goes to the next file opened (the lowest free one).
    const other = join(dir, 'other');
    const fd = openSync(other, 'w');
    try {
      writeSync(fd, 'keep');
      expect(() => writer.writePartition(bytesOf(10, 3), stats(1), bytesOf(10, 4), stats(1))).toThrow(
        /already committed or aborted/,
      );
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(other, 'utf8')).toBe('keep');

    const committed = new PartialWriter(join(dir, 'done.ptp'), 1);
    committed.writePartition(bytesOf(10, 1), stats(1), bytesOf(10, 2), stats(1));
    committed.commit({ date: 'd', file: 'f' });
    expect(() => committed.writePartition(bytesOf(10, 3), stats(1), bytesOf(10, 4), stats(1))).toThrow(
      /already committed or aborted/,
    );
  });

  it('flushes to disk on the way, every FLUSH_BYTES; a flush that fails is left to the commit to tell', async () => {
    const dir = temp.make('partial-flushes-');
    const real = await vi.importActual<typeof import('node:fs')>('node:fs');
    const fdatasync = vi.mocked(fs.fdatasync);
    // A partition of FLUSH_BYTES (two blocks of half of it each): a flush after each.
    const half = (seed: number): Uint8Array => bytesOf(FLUSH_BYTES / 2, seed);
    const blocks = Array.from({ length: 6 }, (_, p) => ({ users: half(2 * p), countries: half(2 * p + 1) }));
    try {
      for (const failing of [false, true]) {
        fdatasync.mockClear();
        if (failing)
          fdatasync.mockImplementation((_fd, callback) => {
            const error: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync');
            error.code = 'EIO';
            setImmediate(() => callback(error));
          });
        const { path } = writePartial(dir, blocks, undefined, `day-${failing}.ptp`);
        // The commit's own fsync is what says the file is on disk (here it is): the partial is whole.
        expectBlocks(readAll(path, readPartialDirectory(path)), blocks);
        // The flushes are made in the background one after the other (their descriptor closed
        // after them), a failed one without an unhandled rejection.
        await vi.waitFor(() => expect(fdatasync).toHaveBeenCalledTimes(blocks.length));
      }
    } finally {
      fdatasync.mockImplementation(real.fdatasync);
    }
  });

  it('replaces whatever is in the way: an older or damaged file, even a folder', () => {
    const dir = temp.make('partial-replace-');
    const path = join(dir, 'day.ptp');
    writeFileSync(path, 'garbage that is not a partial');
    const blocks = [{ users: bytesOf(8, 1), countries: bytesOf(8, 2) }];
    writePartial(dir, blocks);
    expectBlocks(readAll(path, readPartialDirectory(path)), blocks);

    const folder = join(dir, 'folder.ptp');
    mkdirSync(join(folder, 'inside'), { recursive: true });
    writePartial(dir, blocks, undefined, 'folder.ptp');
    expect(statSync(folder).isFile()).toBe(true);
    expectBlocks(readAll(folder, readPartialDirectory(folder)), blocks);
  });
});

describe('readPartialDirectory: a file that is not whole is a PartialFileError', () => {
  const dir = temp.make('partial-bad-');
  const blocks = Array.from({ length: 4 }, (_, p) => ({
    users: bytesOf(40, p),
    countries: bytesOf(20, p + 9),
  }));
  const good = writePartial(dir, blocks);
  const original = readFileSync(good.path);
  let n = 0;

  /** A copy of the good partial with `change` applied to its bytes. */
  function variant(change: (bytes: Buffer) => Buffer): string {
    const path = join(dir, `variant-${n++}.ptp`);
    writeFileSync(path, change(Buffer.from(original)));
    return path;
  }

  it('an empty file, a short file and another kind of file: bad magic', () => {
    for (const bytes of [Buffer.alloc(0), original.subarray(0, 63), Buffer.from('0|0|US\n'.repeat(20))]) {
      const path = variant(() => bytes);
      expectCorrupt(() => readPartialDirectory(path), path, /not a playtally partial \(bad magic\)/);
    }
  });

  it('a partial mangled by a text-mode copy (\\r\\n turned into \\n): bad magic', () => {
    const path = variant((b) => Buffer.from(b.toString('latin1').replace('\r\n', '\n'), 'latin1'));
    expectCorrupt(() => readPartialDirectory(path), path, /bad magic/);
  });

  it('another format version, older or newer: says which', () => {
    for (const version of [0, 1, PARTIAL_VERSION + 1, 0xffffffff]) {
      const path = variant((b) => {
        b.writeUInt32LE(version, 8);
        return b;
      });
      expectCorrupt(
        () => readPartialDirectory(path),
        path,
        new RegExp(`partial format version ${version}, expected 2 or ${PARTIAL_VERSION}$`),
      );
    }
  });

  it('reads version 2 (every block varints, as partials were before version 3)', () => {
    expect(PARTIAL_VERSION).toBe(3);
    const path = variant((b) => {
      b.writeUInt32LE(2, 8);
      return b;
    });
    expect(readPartialDirectory(path)).toEqual(good.directory);
  });

  it('truncated anywhere: an error, never a directory', () => {
    for (const length of [
      64,
      65,
      100,
      good.directory.users[3]!.offset,
      original.length - 40,
      original.length - 1,
    ]) {
      const path = variant((b) => b.subarray(0, length));
      expectCorrupt(
        () => readPartialDirectory(path),
        path,
        /truncated \(directory missing\)|length does not match its header/,
      );
    }
  });

  it('bytes appended after the directory: length does not match its header', () => {
    for (const extra of [Buffer.from([0]), Buffer.from('\n'), original]) {
      const path = variant((b) => Buffer.concat([b, extra]));
      expectCorrupt(() => readPartialDirectory(path), path, /length does not match its header/);
    }
  });

  it('a changed directory byte: directory checksum mismatch', () => {
    const at = Number(original.readBigUInt64LE(24));
    for (const offset of [at, at + 10, original.length - 1]) {
      const path = variant((b) => {
        b[offset]! ^= 0x01;
        return b;
      });
      expectCorrupt(() => readPartialDirectory(path), path, /directory checksum mismatch/);
    }
  });

  it('a changed stored checksum: directory checksum mismatch', () => {
    const path = variant((b) => {
      b[36]! ^= 0x80;
      return b;
    });
    expectCorrupt(() => readPartialDirectory(path), path, /directory checksum mismatch/);
  });

  it('property: any one changed byte, or any cut, is a PartialFileError or reads back exactly', () => {
    const header = good.directory;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({
            at: fc.integer({ min: 0, max: original.length - 1 }),
            xor: fc.integer({ min: 1, max: 255 }),
          }),
          fc.record({ cut: fc.integer({ min: 0, max: original.length - 1 }) }),
        ),
        (change) => {
          const path = variant((b) => {
            if ('cut' in change) return b.subarray(0, change.cut);
            b[change.at]! ^= change.xor;
            return b;
          });
          let directory: PartialDirectory;
          let read: PartitionBlocks[];
          try {
            directory = readPartialDirectory(path);
            read = readAll(path, directory);
          } catch (error) {
            expect(error).toBeInstanceOf(PartialFileError);
            expect((error as PartialFileError).code).toBe('PARTIAL_CORRUPT');
            return;
          }
          // Not detected: only the header's partition count and reserved bytes (which no reader uses).
          expect(directory).toEqual(header);
          expectBlocks(read, blocks);
        },
      ),
      // Header bytes 16..39 hold offsets and lengths: the cases most likely to read garbage.
      {
        numRuns: 300,
        examples: [[{ at: 20, xor: 1 }], [{ at: 21, xor: 128 }], [{ at: 34, xor: 255 }], [{ cut: 64 }]],
      },
    );
  });

  // The header's file length, directory offset and directory length are checked against the file
  // before any is used: a damaged top byte made a position above 2^53 or a length of 2^31 or more,
  // and fs.readSync threw its own RangeError (ERR_OUT_OF_RANGE) instead of the PartialFileError
  // the reader promises.
  function expectHugeFieldCorrupt(at: number, xor: number): void {
    const path = variant((b) => {
      b[at]! ^= xor;
      return b;
    });
    expectCorrupt(() => readPartialDirectory(path), path, /./);
  }

  it('a directory offset damaged past 2^53 is a PartialFileError', () => {
    expectHugeFieldCorrupt(31, 0x40);
  });

  it('a file length damaged past 2^53 is a PartialFileError', () => {
    expectHugeFieldCorrupt(23, 0x40);
  });

  it('a directory length damaged to 2^31 or more is a PartialFileError', () => {
    expectHugeFieldCorrupt(35, 0x80);
  });

  it('(the same fields damaged less: PartialFileError, as promised)', () => {
    expectHugeFieldCorrupt(29, 0x40);
    expectHugeFieldCorrupt(21, 0x40);
    expectHugeFieldCorrupt(34, 0x80);
  });
});

describe('readBlock: every block is checked against its CRC', () => {
  const dir = temp.make('partial-block-');
  const blocks = Array.from({ length: 2 }, (_, p) => ({
    users: bytesOf(64, p),
    countries: bytesOf(32, p + 5),
  }));
  const good = writePartial(dir, blocks);
  const original = readFileSync(good.path);

  function withBytes(name: string, bytes: Buffer): string {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  }

  function readOne(path: string, ref: BlockRef): Uint8Array {
    const fd = openSync(path, 'r');
    try {
      return readBlock(fd, ref, path);
    } finally {
      closeSync(fd);
    }
  }

  it('a changed byte in a block: that block fails with its offset, the others still read', () => {
    const ref = good.directory.users[1]!;
    const bytes = Buffer.from(original);
    bytes[ref.offset + 17]! ^= 0x04;
    const path = withBytes('flipped.ptp', bytes);
    // The header and directory are intact: the damage shows when the block is read.
    expect(readPartialDirectory(path)).toEqual(good.directory);
    expectCorrupt(() => readOne(path, ref), path, new RegExp(`block checksum mismatch at ${ref.offset}$`));
    expect(sameBytes(readOne(path, good.directory.users[0]!), blocks[0]!.users)).toBe(true);
    expect(sameBytes(readOne(path, good.directory.countries[1]!), blocks[1]!.countries)).toBe(true);
  });

  it('a block cut short by the end of the file: truncated block', () => {
    const ref = good.directory.countries[1]!;
    const path = withBytes('cut.ptp', original.subarray(0, ref.offset + 5));
    expectCorrupt(() => readOne(path, ref), path, new RegExp(`truncated block at ${ref.offset}$`));
  });

  it('a ref whose CRC does not match its bytes (a stale directory): block checksum mismatch', () => {
    const ref = { ...good.directory.users[0]!, crc: (good.directory.users[0]!.crc + 1) >>> 0 };
    expectCorrupt(() => readOne(good.path, ref), good.path, /block checksum mismatch at 64$/);
  });
});

describe('readSegments: runs of segments of a real users block', () => {
  /** A users block of `users` keys (ids spread up to 2^53 - 1), 2 songs each, with segment CRCs. */
  function usersBlock(users: number): { bytes: Uint8Array; stats: BlockStats } {
    const keys = new Float64Array(users * 2);
    const songs = new Float64Array(users * 2);
    for (let u = 0; u < users; u++) {
      const id = u < users - 3 ? u * 7919 + 1 : Number.MAX_SAFE_INTEGER - (users - u);
      keys[2 * u] = keys[2 * u + 1] = id;
      songs[2 * u] = 2 ** 32 - 1;
      songs[2 * u + 1] = 2 ** 32 + u;
    }
    const out = new ByteWriter(16);
    const stats = aggregatePairs(keys, songs, users * 2, out);
    const bytes = out.result().slice();
    checksumSegments(stats.segments, bytes);
    return { bytes, stats };
  }

  const dir = temp.make('partial-segments-');
  const users = usersBlock(SEGMENT_KEYS * 3 + 10);
  const countries = usersBlock(5);
  const path = join(dir, 'segments.ptp');
  const writer = new PartialWriter(path, 1);
  writer.writePartition(users.bytes, users.stats, countries.bytes, countries.stats);
  const directory = writer.commit({ date: 'd', file: 'f' });
  const ref = directory.users[0]!;

  /** The run of segments [first, end) of the users block, as the window plan cuts it. */
  function run(first: number, end: number): SegmentRun {
    const { offsets, crcs } = ref.segments;
    const start = offsets[first]!;
    const stop = offsets[end] ?? ref.length;
    return {
      offset: ref.offset + start,
      length: stop - start,
      segmentStarts: offsets.slice(first, end).map((o) => o - start),
      crcs: crcs.slice(first, end),
    };
  }

  function read(r: SegmentRun, at = path): Uint8Array {
    const fd = openSync(at, 'r');
    try {
      return readSegments(fd, r, at);
    } finally {
      closeSync(fd);
    }
  }

  it('the directory keeps the segment index (keys, bases, offsets, CRCs) of the block', () => {
    expect(ref.segments).toEqual(users.stats.segments);
    expect(ref.segments.keys).toHaveLength(4);
    expect(ref.keys).toBe(SEGMENT_KEYS * 3 + 10);
  });

  it('any run of whole segments reads back the same bytes as the block', () => {
    const count = ref.segments.offsets.length;
    for (let first = 0; first < count; first++) {
      for (let end = first + 1; end <= count; end++) {
        const r = run(first, end);
        const start = ref.segments.offsets[first]!;
        expect(sameBytes(read(r), users.bytes.subarray(start, start + r.length))).toBe(true);
      }
    }
  });

  it('a changed byte in one segment: that segment fails, with where it starts in the file', () => {
    const bytes = readFileSync(path);
    const damaged = ref.offset + ref.segments.offsets[2]! + 3;
    bytes[damaged]! ^= 0x10;
    const bad = join(dir, 'segments-bad.ptp');
    writeFileSync(bad, bytes);
    const segmentStart = ref.offset + ref.segments.offsets[2]!;
    expectCorrupt(
      () => read(run(0, 4), bad),
      bad,
      new RegExp(`segment checksum mismatch at ${segmentStart}$`),
    );
    expectCorrupt(
      () => read(run(2, 3), bad),
      bad,
      new RegExp(`segment checksum mismatch at ${segmentStart}$`),
    );
    expect(sameBytes(read(run(0, 2), bad), read(run(0, 2)))).toBe(true);
    expect(sameBytes(read(run(3, 4), bad), read(run(3, 4)))).toBe(true);
  });

  it('a run past the end of the file: truncated segments', () => {
    const cut = join(dir, 'segments-cut.ptp');
    writeFileSync(cut, readFileSync(path).subarray(0, ref.offset + ref.segments.offsets[3]! + 1));
    const r = run(1, 4);
    expectCorrupt(() => read(r, cut), cut, new RegExp(`truncated segments at ${r.offset}$`));
  });
});
