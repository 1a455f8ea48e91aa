import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHUNK_BYTES, FileAppender } from '../../src/ops/fileAppender.js';
import { FLUSH_BYTES } from '../../src/ops/fileIo.js';
import { TempDirs } from '../support/tempDirs.js';

// The descriptors opened for direct writes are noted, so that a test can have their writes
// refused or failed; every fdatasync is counted (and made).
const fault = vi.hoisted(() => ({ directFds: new Set<number>(), refuse: undefined as string | undefined }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const openSync = (...args: Parameters<typeof real.openSync>): number => {
    const fd = real.openSync(...args);
    const flags = args[1];
    if (typeof flags === 'number' && (flags & (real.constants.O_DIRECT ?? 0)) !== 0) fault.directFds.add(fd);
    return fd;
  };
  const write = ((fd: number, ...rest: unknown[]) => {
    if (fault.refuse !== undefined && fault.directFds.has(fd)) {
      const callback = rest[rest.length - 1] as (error: NodeJS.ErrnoException) => void;
      const error: NodeJS.ErrnoException = new Error(`${fault.refuse}: refused`);
      error.code = fault.refuse;
      setImmediate(() => callback(error));
      return;
    }
    return (real.write as (...a: unknown[]) => void)(fd, ...rest);
  }) as typeof real.write;
  return { ...real, openSync, write, fdatasync: vi.fn(real.fdatasync) };
});

const temp = new TempDirs();
beforeEach(() => {
  fault.directFds.clear();
  fault.refuse = undefined;
  vi.mocked(fs.fdatasync).mockClear();
});
afterEach(() => temp.cleanup());

/** Whether the file system of `dir` takes direct writes (tmpfs before Linux 6.6 does not). */
function takesDirectWrites(dir: string): boolean {
  const probe = join(dir, 'probe');
  fs.writeFileSync(probe, '');
  try {
    fs.closeSync(fs.openSync(probe, fs.constants.O_WRONLY | (fs.constants.O_DIRECT ?? 0)));
    return fs.constants.O_DIRECT !== undefined;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe);
  }
}

/** Append `parts` through a FileAppender to a new file; returns the file's bytes and the appender's length. */
async function appendAll(
  parts: Uint8Array[],
  options: { cached?: boolean } = {},
): Promise<{ file: Buffer; length: number; direct: boolean }> {
  const path = join(temp.make(), 'out.txt');
  const fd = fs.openSync(path, 'w');
  try {
    const appender = new FileAppender(fd, path, options);
    for (const part of parts) await appender.append(part);
    const direct = appender.isDirect;
    const length = await appender.finish();
    return { file: fs.readFileSync(path), length, direct };
  } finally {
    fs.closeSync(fd);
  }
}

/** `n` bytes of a pattern that differs from part to part and from chunk to chunk. */
function part(n: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (seed * 131 + i * 7 + (i >>> 12)) & 255;
  return bytes;
}

/** Sizes around the chunk's edges, and within it. */
const sizeArb = fc.oneof(
  fc.integer({ min: 0, max: 5000 }),
  fc.integer({ min: CHUNK_BYTES - 3, max: CHUNK_BYTES + 3 }),
  fc.integer({ min: 0, max: 2 * CHUNK_BYTES + 17 }),
);

/** Whether the tests' folders (under the OS's temporary folder) take direct writes. */
const DIRECT_HERE = takesDirectWrites(tmpdir());

describe('FileAppender: a large file written front to back, around the page cache', () => {
  it('writes every byte in order, directly where the file system takes it and through the page cache otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(sizeArb, { maxLength: 6 }), fc.boolean(), async (sizes, cached) => {
        const parts = sizes.map((n, i) => part(n, i));
        const { file, length, direct } = await appendAll(parts, { cached });
        const expected = Buffer.concat(parts);
        expect(length).toBe(expected.length);
        expect(file.equals(expected)).toBe(true);
        expect(direct).toBe(!cached && DIRECT_HERE);
      }),
      { numRuns: 25 },
    );
  });

  it('goes on through the page cache when a direct write is refused (EINVAL), losing nothing', async () => {
    fault.refuse = 'EINVAL';
    const parts = [part(CHUNK_BYTES + 10, 1), part(3 * CHUNK_BYTES - 7, 2), part(123, 3)];
    const { file, length, direct } = await appendAll(parts);
    expect(direct).toBe(false);
    expect(length).toBe(4 * CHUNK_BYTES + 126);
    expect(file.equals(Buffer.concat(parts))).toBe(true);
  });

  // Where nothing is written directly, no direct write can fail.
  it.skipIf(!DIRECT_HERE)(
    'tells any other failure of a direct write, and settles its writes when abandoned',
    async () => {
      const dir = temp.make();
      fault.refuse = 'ENOSPC';
      const path = join(dir, 'out.txt');
      const fd = fs.openSync(path, 'w');
      const appender = new FileAppender(fd, path);
      const failed = (async () => {
        for (let i = 0; i < 4; i++) await appender.append(part(CHUNK_BYTES, i));
        await appender.finish();
      })();
      await expect(failed).rejects.toThrow('ENOSPC');
      await appender.abandon();
      expect(appender.isDirect).toBe(false);
      fs.closeSync(fd);
    },
  );

  it('flushes to disk every FLUSH_BYTES on the way, directly or through the cache', async () => {
    for (const cached of [false, true]) {
      vi.mocked(fs.fdatasync).mockClear();
      const parts = Array.from({ length: 9 }, (_, i) => part(16 * 1024 * 1024, i));
      const { file } = await appendAll(parts, { cached });
      expect(file.length).toBe(144 * 1024 * 1024);
      // 144 MB in chunks of 4 MB: a flush each time another FLUSH_BYTES are written.
      expect(vi.mocked(fs.fdatasync)).toHaveBeenCalledTimes(Math.floor((144 * 1024 * 1024) / FLUSH_BYTES));
    }
  });
});
