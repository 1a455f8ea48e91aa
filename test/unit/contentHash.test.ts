import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { xxhash128 } from 'hash-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import {
  combineUnitHashes,
  contentHash,
  hashLogStream,
  logHasher,
  rangeUnitDigests,
  sameContent,
  sameRecordedContent,
  unitHasher,
} from '../../src/sources/contentHash.js';
import { UNIT_BYTES } from '../../src/sources/logUnits.js';
import { contentHashV1, logAt, sampleContent, sha256 } from '../support/logSamples.js';
import { TempDirs, writeTempFile } from '../support/tempDirs.js';

/**
 * The content hash of a log (src/sources/contentHash.ts): version 2, an xxh128 digest of each unit
 * combined with the size, the same whether the file is read whole or streamed in pieces; and
 * version 1 (sha256 throughout), which older builds recorded, still checked in its own terms.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());
const writeTemp = (content: Uint8Array): string => writeTempFile(temp, content);

/** The content hash a build records for the plain log at `path` of `size` bytes. */
const hashOfPlain = (path: string, size: number): Promise<string> => contentHash(logAt(path, false, size));

describe('content hash', () => {
  it('is the documented sha256 over the size and the xxh128 unit digests, cut to 32 hex digits', async () => {
    const content = sampleContent(true);
    const path = writeTemp(content);
    const expected = createHash('sha256')
      .update(`playtally-log-v2:${content.length}:`)
      .update(await xxhash128(content))
      .digest('hex')
      .slice(0, 32);
    expect(await hashOfPlain(path, content.length)).toBe(expected);
  });

  it("takes xxh128 itself: an empty log's one unit digest is XXH3-128's known value for no bytes", async () => {
    const path = writeTemp(new Uint8Array(0));
    const known = '99aa06d3014798d86001c324468d497f';
    expect(await hashOfPlain(path, 0)).toBe(
      createHash('sha256').update(`playtally-log-v2:0:${known}`).digest('hex').slice(0, 32),
    );
  });

  it('changes when any one byte changes, and is stable otherwise', async () => {
    const content = sampleContent(false);
    const base = await hashOfPlain(writeTemp(content), content.length);
    expect(await hashOfPlain(writeTemp(content), content.length)).toBe(base);
    const seen = new Set([base]);
    for (const at of [0, 1, Math.floor(content.length / 2), content.length - 1]) {
      const changed = content.slice();
      changed[at] = changed[at]! ^ 0x01;
      const h = await hashOfPlain(writeTemp(changed), changed.length);
      expect(h, `byte ${at}`).not.toBe(base);
      seen.add(h);
    }
    expect(seen.size).toBe(5);
  });

  it('depends on the size and on the order of unit digests', () => {
    const a = sha256(new Uint8Array([1]));
    const b = sha256(new Uint8Array([2]));
    expect(combineUnitHashes(2, [a, b])).not.toBe(combineUnitHashes(2, [b, a]));
    expect(combineUnitHashes(2, [a, b])).not.toBe(combineUnitHashes(3, [a, b]));
    expect(combineUnitHashes(2, [a, b])).toMatch(/^[0-9a-f]{32}$/);
  });

  it('hashes only the first `size` bytes', async () => {
    const content = new Uint8Array(Buffer.from('1|1|US\n2|2|US\n'));
    const path = writeTemp(content);
    const prefix = writeTemp(content.subarray(0, 7));
    expect(await hashOfPlain(path, 7)).toBe(await hashOfPlain(prefix, 7));
    expect(await hashOfPlain(path, 7)).not.toBe(await hashOfPlain(path, content.length));
  });

  it("a gzip log's: xxh128 of its stored bytes in a namespace of its own", async () => {
    const stored = new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]);
    const path = writeTemp(stored);
    const expected = await xxhash128(Buffer.concat([Buffer.from('playtally-gz-v2:'), stored]));
    expect(await contentHash(logAt(path, true))).toBe(expected);
    expect(await hashLogStream(Readable.from([stored.subarray(0, 2), stored.subarray(2)]), true)).toBe(
      expected,
    );
  });

  it('is the same taken from a stream in pieces of any size (a log read from S3), across unit boundaries', async () => {
    // Sizes around one and two units: the last unit full, one byte short, one byte over; and empty.
    const big = Buffer.alloc(2 * UNIT_BYTES + 1);
    for (let i = 0; i < big.length; i++) big[i] = i % 251 === 0 ? 10 : 97 + (i % 23);
    for (const size of [
      0,
      5,
      UNIT_BYTES - 1,
      UNIT_BYTES,
      UNIT_BYTES + 1,
      2 * UNIT_BYTES,
      2 * UNIT_BYTES + 1,
    ]) {
      const bytes = big.subarray(0, size);
      const path = writeTemp(bytes);
      const pieces = (function* () {
        // Irregular pieces, as a network stream delivers them.
        for (let at = 0, n = 1; at < size; at += n, n = 1 + ((n * 7919) % 3_000_001))
          yield bytes.subarray(at, at + n);
      })();
      expect(await hashLogStream(Readable.from(pieces), false), `size ${size}`).toBe(
        await hashOfPlain(path, size),
      );
    }
  });

  it('checks a log against a recorded hash in the recorded version: 2, or 1 from an older build', async () => {
    // Around a unit boundary, where the two versions cut alike.
    const big = Buffer.alloc(UNIT_BYTES + 5);
    for (let i = 0; i < big.length; i++) big[i] = i % 97 === 0 ? 10 : 97 + (i % 19);
    for (const size of [0, 5, UNIT_BYTES, UNIT_BYTES + 5]) {
      const bytes = big.subarray(0, size);
      const log = logAt(writeTemp(bytes));
      const v2 = await hashOfPlain(log.path, size);
      const v1 = contentHashV1(bytes);
      expect(v1).toMatch(/^[0-9a-f]{64}$/);
      expect(await sameContent(log, v2), `v2, size ${size}`).toBe(true);
      expect(await sameContent(log, v1), `v1, size ${size}`).toBe(true);
      if (size === 0) continue;
      const changed = Buffer.from(bytes);
      changed[size - 1] = changed[size - 1]! ^ 1;
      const other = logAt(writeTemp(changed));
      expect(await sameContent(other, v2), `v2 changed, size ${size}`).toBe(false);
      expect(await sameContent(other, v1), `v1 changed, size ${size}`).toBe(false);
    }
    const gz = new Uint8Array([0x1f, 0x8b, 8, 0, 9, 9]);
    const gzLog = logAt(writeTemp(gz), true);
    const gzV1 = createHash('sha256').update('playtally-gz-v1:').update(gz).digest('hex');
    expect(await sameContent(gzLog, gzV1)).toBe(true);
    expect(await sameContent(gzLog, await contentHash(gzLog))).toBe(true);
    expect(
      await sameContent(
        gzLog,
        gzV1.replace(/^./, (c) => (c === '0' ? '1' : '0')),
      ),
    ).toBe(false);
  });

  it('hashers reused after their digest: interleaved logs keep their own values; a second digest is refused', async () => {
    const a = new Uint8Array(Buffer.from('1|1|US\n'.repeat(1000)));
    const b = new Uint8Array(Buffer.from('2|2|FR\n'.repeat(1000)));
    const want = [await hashOfPlain(writeTemp(a), a.length), await hashOfPlain(writeTemp(b), b.length)];
    for (let round = 0; round < 3; round++) {
      const [ha, hb] = [await logHasher(false), await logHasher(false)];
      for (let at = 0; at < a.length; at += 1000) {
        ha.update(a.subarray(at, at + 1000));
        hb.update(b.subarray(at, at + 1000));
      }
      expect([ha.digest(), hb.digest()]).toEqual(want);
      expect(() => ha.digest()).toThrow(/twice/);
      expect(() => hb.update(b)).toThrow(/after the digest/);
    }
    const unit = await unitHasher();
    unit.update(a);
    expect(unit.digest()).toBe(await xxhash128(a));
    expect(() => unit.digest()).toThrow(/twice/);
  });

  it('compares two records by hash in one version, by name, size and mtime across versions', () => {
    const v1 = { file: 'a.log', size: 10, mtimeMs: 5, hash: 'a'.repeat(64) };
    const v2 = { file: 'a.log', size: 10, mtimeMs: 5, hash: 'b'.repeat(32) };
    expect(sameRecordedContent(v1, { ...v1 })).toBe(true);
    expect(sameRecordedContent(v1, { ...v1, hash: 'c'.repeat(64) })).toBe(false);
    expect(sameRecordedContent(v2, { ...v2, mtimeMs: 6 })).toBe(true);
    expect(sameRecordedContent(v2, { ...v2, hash: 'c'.repeat(32) })).toBe(false);
    expect(sameRecordedContent(v1, v2)).toBe(true);
    expect(sameRecordedContent(v1, { ...v2, mtimeMs: 6 })).toBe(false);
    expect(sameRecordedContent(v1, { ...v2, size: 11 })).toBe(false);
    expect(sameRecordedContent(v1, { ...v2, file: 'b.log' })).toBe(false);
  });

  it("rangeUnitDigests: the units that start in a range, the last read on past it; every range's combined is the file's hash", async () => {
    // Three units and a bit, cut into ranges anywhere: at unit boundaries, inside units, a range
    // inside one unit (no unit starts in it), the last byte.
    const size = 3 * UNIT_BYTES + 12_345;
    const content = new Uint8Array(size).map((_, i) => (i * 31 + (i >> 13)) & 255);
    const path = writeTempFile(temp, content, 'ranged.csv');
    const whole = await hashOfPlain(path, size);
    const readAt = (pos: number, into: Uint8Array): number => {
      const bytes = content.subarray(pos, Math.min(size, pos + into.length));
      into.set(bytes);
      return bytes.length;
    };
    const U = UNIT_BYTES;
    for (const cuts of [
      [0, size],
      [0, U, 2 * U, 3 * U, size],
      [0, 5, U + 7, U + 9, 3 * U + 1, size],
      [0, U - 1, U + 1, size - 1, size],
      [0, 2 * U + 100, 2 * U + 200, size],
    ]) {
      let first = 0;
      const digests: string[] = [];
      for (let r = 0; r + 1 < cuts.length; r++) {
        const [start, end] = [cuts[r]!, cuts[r + 1]!];
        const range = await rangeUnitDigests(start, end);
        // Fed as a reader would, in uneven pieces.
        for (let at = start; at < end; at += 3_000_017)
          range.update(content.subarray(at, Math.min(end, at + 3_000_017)));
        const units = range.finish(readAt);
        expect(units.first, `range ${start}-${end}`).toBe(first);
        first += units.digests.length;
        digests.push(...units.digests);
      }
      expect(combineUnitHashes(size, digests), `cuts ${cuts.join(',')}`).toBe(whole);
    }
    const range = await rangeUnitDigests(10, 20);
    expect(() => range.update(new Uint8Array(11))).toThrow(/past the range/);
    range.update(new Uint8Array(5));
    expect(() => range.finish(readAt)).toThrow(/not to its end/);
  });
});
