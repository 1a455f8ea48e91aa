import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Implementation } from '../../src/ops/crc32.js';
import { mulberry32 } from '../support/prng.js';

/**
 * The checksums of our files (src/ops/crc32.ts): the native CRC-32 gives zlib's values, so that
 * partials written by either check with the other, for any length, alignment and continuation.
 */
describe('crc32', () => {
  it("gives zlib's CRC-32 for any bytes, offset and continuation, in views of any memory", () => {
    const random = mulberry32(32);
    const memory = new WebAssembly.Memory({ initial: 2 });
    const bytes = new Uint8Array(memory.buffer);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    for (let trial = 0; trial < 300; trial++) {
      const start = Math.floor(random() * 1000);
      const length = trial < 20 ? trial : Math.floor(random() * 100_000);
      const view = bytes.subarray(start, start + length);
      expect(crc32(view), `trial ${trial}`).toBe(zlibCrc32(view));
      const cut = Math.floor(random() * (length + 1));
      expect(crc32(view.subarray(cut), crc32(view.subarray(0, cut))), `trial ${trial}`).toBe(zlibCrc32(view));
    }
  });

  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'is the native one on Linux x64, where its prebuilt binary is installed',
    () => {
      expect(crc32Implementation()).not.toBe(zlibCrc32);
    },
  );
});
