import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  combineUnitHashes,
  hashLogFile,
  hashLogStream,
  sha256OfFile,
} from '../../src/sources/contentHash.js';
import { UNIT_BYTES } from '../../src/sources/logUnits.js';
import { sampleContent, sha256 } from '../support/logSamples.js';
import { TempDirs, writeTempFile } from '../support/tempDirs.js';

/**
 * The content hash of a log (src/sources/contentHash.ts): sha256 over its size and the digests of
 * its units, the same whether the file is read whole or streamed in pieces.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());
const writeTemp = (content: Uint8Array): string => writeTempFile(temp, content);

describe('content hash', () => {
  it('is the documented sha256 over the size and the unit digests', () => {
    const content = sampleContent(true);
    const path = writeTemp(content);
    const expected = createHash('sha256')
      .update(`playtally-log-v1:${content.length}:`)
      .update(sha256(content))
      .digest('hex');
    expect(hashLogFile(path, content.length)).toBe(expected);
  });

  it('changes when any one byte changes, and is stable otherwise', () => {
    const content = sampleContent(false);
    const base = hashLogFile(writeTemp(content), content.length);
    expect(hashLogFile(writeTemp(content), content.length)).toBe(base);
    const seen = new Set([base]);
    for (const at of [0, 1, Math.floor(content.length / 2), content.length - 1]) {
      const changed = content.slice();
      changed[at] = changed[at]! ^ 0x01;
      const h = hashLogFile(writeTemp(changed), changed.length);
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
    expect(combineUnitHashes(2, [a, b])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes only the first `size` bytes', () => {
    const content = new Uint8Array(Buffer.from('1|1|US\n2|2|US\n'));
    const path = writeTemp(content);
    const prefix = writeTemp(content.subarray(0, 7));
    expect(hashLogFile(path, 7)).toBe(hashLogFile(prefix, 7));
    expect(hashLogFile(path, 7)).not.toBe(hashLogFile(path, content.length));
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
      expect(await hashLogStream(Readable.from(pieces), false), `size ${size}`).toBe(hashLogFile(path, size));
    }
  });

  it("sha256OfFile: a file's plain sha256, one read buffer reused across reads", async () => {
    for (const size of [0, 1, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 17]) {
      const content = new Uint8Array(size).map((_, i) => (i * 31 + (i >> 11)) & 255);
      const path = writeTempFile(temp, content, `f-${size}.csv`);
      expect(await sha256OfFile(path), `size ${size}`).toBe(
        createHash('sha256').update(content).digest('hex'),
      );
    }
  });
});
