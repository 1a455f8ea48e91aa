import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { xxhash128 } from 'hash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineUnitHashes, contentHash } from '../../src/sources/contentHash.js';
import { type LogUnit, logUnits, readUnitLines, UNIT_BYTES } from '../../src/sources/logUnits.js';
import { logAt, sampleContent, sha256 } from '../support/logSamples.js';
import { TempDirs, writeTempFile } from '../support/tempDirs.js';

/**
 * A log cut into units (src/sources/logUnits.ts): contiguous byte ranges of a size, each read as
 * the whole lines that begin in it, its digest over exactly its own bytes.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());
const writeTemp = (content: Uint8Array): string => writeTempFile(temp, content);

/** Offsets at which lines start: 0 and after every '\n' (except at the very end). */
function lineStarts(content: Uint8Array): number[] {
  const starts = content.length > 0 ? [0] : [];
  for (let i = 0; i < content.length; i++)
    if (content[i] === 10 && i + 1 < content.length) starts.push(i + 1);
  return starts;
}

/** The bytes readUnitLines must feed for `unit`: every line whose first byte lies in it. */
function expectedUnitBytes(content: Uint8Array, unit: LogUnit): Uint8Array {
  const starts = lineStarts(content).filter((s) => s >= unit.start && s < unit.end);
  if (starts.length === 0) return new Uint8Array(0);
  const first = starts[0]!;
  const lastStart = starts[starts.length - 1]!;
  let end = content.indexOf(10, lastStart);
  end = end < 0 ? content.length : end + 1;
  return content.subarray(first, end);
}

interface UnitRead {
  fed: Uint8Array;
  digest: string;
  chunkCount: number;
}

function readUnits(path: string, size: number, unitBytes: number, bufferBytes: number): UnitRead[] {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(bufferBytes);
    return logUnits(size, unitBytes).map((unit) => {
      const parts: Buffer[] = [];
      const hash = createHash('sha256');
      readUnitLines(fd, unit, buffer, hash, (chunk) => {
        // The buffer is reused by the next read: copy.
        parts.push(Buffer.from(chunk));
      });
      return {
        fed: new Uint8Array(Buffer.concat(parts)),
        digest: hash.digest('hex'),
        chunkCount: parts.length,
      };
    });
  } finally {
    closeSync(fd);
  }
}

describe('logUnits', () => {
  it('cuts a size into contiguous units of unitBytes, the last one shorter', () => {
    expect(logUnits(10, 3)).toEqual([
      { index: 0, start: 0, end: 3 },
      { index: 1, start: 3, end: 6 },
      { index: 2, start: 6, end: 9 },
      { index: 3, start: 9, end: 10 },
    ]);
    expect(logUnits(9, 3)).toEqual([
      { index: 0, start: 0, end: 3 },
      { index: 1, start: 3, end: 6 },
      { index: 2, start: 6, end: 9 },
    ]);
    expect(logUnits(5, 1).map((u) => [u.start, u.end])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
    ]);
  });

  it('gives an empty file one empty unit', () => {
    expect(logUnits(0, 7)).toEqual([{ index: 0, start: 0, end: 0 }]);
    expect(logUnits(0)).toEqual([{ index: 0, start: 0, end: 0 }]);
  });

  it('uses 32 MiB units by default', () => {
    expect(UNIT_BYTES).toBe(32 * 1024 * 1024);
    expect(logUnits(UNIT_BYTES)).toEqual([{ index: 0, start: 0, end: UNIT_BYTES }]);
    expect(logUnits(UNIT_BYTES + 1)).toEqual([
      { index: 0, start: 0, end: UNIT_BYTES },
      { index: 1, start: UNIT_BYTES, end: UNIT_BYTES + 1 },
    ]);
  });

  it('covers [0, size) exactly for many sizes', () => {
    for (let size = 1; size < 200; size += 7) {
      for (const unitBytes of [1, 2, 3, 7, 16, 64, 1000]) {
        const expected = Array.from({ length: Math.ceil(size / unitBytes) }, (_, i) => ({
          index: i,
          start: i * unitBytes,
          end: Math.min(size, (i + 1) * unitBytes),
        }));
        expect(logUnits(size, unitBytes)).toEqual(expected);
      }
    }
  });
});

describe('readUnitLines', () => {
  for (const endWithNewline of [true, false]) {
    describe(endWithNewline ? 'file ending with a newline' : 'file without a final newline', () => {
      const content = sampleContent(endWithNewline);
      let path: string;
      beforeAll(() => {
        path = writeTemp(content);
      });

      it('has lines ending on 64-byte boundaries and a line longer than 64 bytes', () => {
        const ends = [];
        for (let i = 0; i < content.length; i++) if (content[i] === 10) ends.push(i + 1);
        expect(ends.filter((e) => e % 64 === 0).length).toBeGreaterThanOrEqual(3);
        const starts = lineStarts(content);
        const longest = Math.max(...starts.map((s, i) => (starts[i + 1] ?? content.length) - s));
        expect(longest).toBeGreaterThan(200);
      });

      for (const unitBytes of [1, 2, 3, 7, 16, 64, 100_000]) {
        for (const bufferBytes of [1, 3, 64]) {
          it(`units of ${unitBytes} B, buffer of ${bufferBytes} B: every line exactly once, in order`, () => {
            const units = logUnits(content.length, unitBytes);
            const reads = readUnits(path, content.length, unitBytes, bufferBytes);
            // Each unit feeds exactly the lines that begin in it.
            reads.forEach((r, i) => {
              expect(
                Buffer.from(r.fed).equals(Buffer.from(expectedUnitBytes(content, units[i]!))),
                `unit ${i}`,
              ).toBe(true);
            });
            // Together they are the whole file.
            const all = Buffer.concat(reads.map((r) => r.fed));
            expect(all.length).toBe(content.length);
            expect(all.equals(Buffer.from(content))).toBe(true);
            // Each unit's digest covers exactly its own bytes [start, end).
            reads.forEach((r, i) => {
              const u = units[i]!;
              expect(r.digest, `unit ${i}`).toBe(sha256(content.subarray(u.start, u.end)));
            });
          });
        }
      }

      it("per-unit xxh128 digests with default units combine to the log's content hash", async () => {
        const reads = readUnits(path, content.length, UNIT_BYTES, 64);
        expect(reads.length).toBe(1);
        expect(combineUnitHashes(content.length, [await xxhash128(reads[0]!.fed)])).toBe(
          await contentHash(logAt(path, false, content.length)),
        );
      });
    });
  }

  it('works without a hash', () => {
    const content = new Uint8Array(Buffer.from('1|1|US\n22|2|FR\n333|3|DE\n'));
    const path = writeTemp(content);
    const fd = openSync(path, 'r');
    try {
      const parts: Buffer[] = [];
      for (const unit of logUnits(content.length, 5))
        readUnitLines(fd, unit, Buffer.alloc(4), undefined, (c) => parts.push(Buffer.from(c)));
      expect(Buffer.concat(parts).toString()).toBe('1|1|US\n22|2|FR\n333|3|DE\n');
    } finally {
      closeSync(fd);
    }
  });

  it('feeds nothing for a unit inside a line that started earlier', () => {
    const content = new Uint8Array(Buffer.from('a'.repeat(50) + '\nb\n'));
    const path = writeTemp(content);
    const reads = readUnits(path, content.length, 10, 3);
    expect(Buffer.from(reads[0]!.fed).toString()).toBe('a'.repeat(50) + '\n');
    for (let i = 1; i < 5; i++) expect(reads[i]!.fed.length, `unit ${i}`).toBe(0);
    // Unit 5 starts at byte 50, the '\n' of the long line: the 'b' line starts in it.
    expect(Buffer.from(reads[5]!.fed).toString()).toBe('b\n');
  });

  it('handles an empty file', async () => {
    const path = writeTemp(new Uint8Array(0));
    const reads = readUnits(path, 0, 16, 8);
    expect(reads.length).toBe(1);
    expect(reads[0]!.fed.length).toBe(0);
    expect(reads[0]!.digest).toBe(sha256(new Uint8Array(0)));
    expect(combineUnitHashes(0, [await xxhash128(new Uint8Array(0))])).toBe(
      await contentHash(logAt(path, false, 0)),
    );
  });
});
