import { randomBytes } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ListenParser } from '../../src/parse/listenParser.js';
import { contentHash } from '../../src/sources/contentHash.js';
import { chunkLines, estimateGzipSize, streamLogChunks } from '../../src/sources/lineChunks.js';
import { logAt } from '../support/logSamples.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * A log read in chunks of whole lines (src/sources/lineChunks.ts), here gzip logs decompressed as
 * a stream: parsing chunk by chunk counts exactly what parsing the whole file counts, the hash of
 * the compressed bytes is the one of the file read whole, and the size to expect is estimated from
 * the gzip trailer.
 */

const temp = new TempDirs();
afterEach(() => temp.cleanup());

/** Parse `bytes` whole and as the gzip chunks a worker would see; return both parsers' figures. */
async function parseBothWays(bytes: Buffer, chunkBytes: number) {
  const whole = new ListenParser({ onBatch: () => {} });
  whole.push(bytes);
  whole.end();
  const dir = temp.make();
  const path = join(dir, 'x.log.gz');
  writeFileSync(path, gzipSync(bytes));
  const chunked = { lines: 0, valid: 0, rejects: new Float64Array(whole.rejects.length) };
  const indexes: number[] = [];
  const result = await streamLogChunks(
    createReadStream(path),
    { gzip: true, label: path },
    (chunk) => {
      indexes.push(chunk.index);
      const p = new ListenParser({ onBatch: () => {} });
      p.push(chunkLines(chunk.bytes, chunk.skipFirstLine));
      p.end();
      chunked.lines += p.lines;
      chunked.valid += p.valid;
      p.rejects.forEach((n, i) => {
        chunked.rejects[i]! += n;
      });
    },
    undefined,
    chunkBytes,
  );
  return { whole, chunked, indexes, result, path };
}

describe('estimateGzipSize', () => {
  it('is the size the gzip trailer records, or eight times the compressed size if larger', async () => {
    const dir = temp.make();
    const repetitive = Buffer.from('12345|678|US\n'.repeat(50_000)); // compresses far more than 8 times
    const packed = join(dir, 'a.log.gz');
    writeFileSync(packed, gzipSync(repetitive));
    expect(await estimateGzipSize(packed, gzipSync(repetitive).length)).toBe(repetitive.length);
    const noise = randomBytes(4096); // does not compress: the trailer's 4096 is below 8 times the size
    const loose = join(dir, 'b.log.gz');
    const looseBytes = gzipSync(noise);
    writeFileSync(loose, looseBytes);
    expect(await estimateGzipSize(loose, looseBytes.length)).toBe(looseBytes.length * 8);
    const tiny = join(dir, 'c.log.gz');
    writeFileSync(tiny, Buffer.from([0x1f, 0x8b, 1, 2]));
    expect(await estimateGzipSize(tiny, 4)).toBe(32);
  });
});

describe('gzip chunks', () => {
  it('cut into whole lines: parsing chunk by chunk counts exactly what parsing the whole file counts', async () => {
    const line = fc.oneof(
      fc.constantFrom('1|2|US', '33|4|FR\r', '', 'x', '5|6|UK', '7|8|us'),
      fc.integer({ min: 1, max: 5000 }).map((n) => `${'9'.repeat(n)}|1|DE`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 60 }),
        fc.boolean(),
        fc.integer({ min: 1100, max: 4000 }),
        async (lines, finalNewline, chunkBytes) => {
          const text = lines.join('\n') + (finalNewline && lines.length > 0 ? '\n' : '');
          const bytes = Buffer.from(text, 'latin1');
          const { whole, chunked, indexes, result } = await parseBothWays(bytes, chunkBytes);
          expect(chunked.lines).toBe(whole.lines);
          expect(chunked.valid).toBe(whole.valid);
          expect(Array.from(chunked.rejects)).toEqual(Array.from(whole.rejects));
          expect(indexes).toEqual(indexes.map((_, i) => i));
          expect(result.chunks).toBe(indexes.length);
          expect(result.uncompressedBytes).toBe(bytes.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('hashes the compressed bytes the same way whether streamed or read whole', async () => {
    const { result, path } = await parseBothWays(Buffer.from('1|2|US\n3|4|FR\n'), 2048);
    expect(result.hash).toBe(await contentHash(logAt(path, true)));
    expect(result.hash).toMatch(/^[0-9a-f]{32}$/);
  });
});
