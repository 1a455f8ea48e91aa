import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWithHead } from '../../src/sources/locations.js';
import { TempDirs } from '../support/tempDirs.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

/** Every chunk copied as it arrives (before the next is asked for), and the head. */
async function readAll(
  path: string,
  headBytes: number,
  transient: boolean,
): Promise<{ head: Buffer; chunks: Buffer[] }> {
  const opened = await openWithHead(path, headBytes, { transient });
  const chunks: Buffer[] = [];
  for await (const chunk of opened.chunks) chunks.push(Buffer.from(chunk));
  return { head: opened.head, chunks };
}

describe('openWithHead', () => {
  const dir = temp.make('playtally-open-');
  // Empty, shorter than the head, one read exactly, several reads with a short last one.
  const sizes = [0, 100, 1024 * 1024, 3 * 1024 * 1024 + 12345];

  it.each(sizes)(
    'transient chunks (one reused buffer) give the same bytes and head: %i bytes',
    async (size) => {
      const bytes = randomBytes(size);
      const path = join(dir, `file-${size}.bin`);
      writeFileSync(path, bytes);
      const kept = await readAll(path, 64 * 1024, false);
      const transient = await readAll(path, 64 * 1024, true);
      expect(Buffer.concat(kept.chunks).equals(bytes)).toBe(true);
      expect(Buffer.concat(transient.chunks).equals(bytes)).toBe(true);
      expect(transient.head.equals(bytes.subarray(0, 64 * 1024))).toBe(true);
      expect(kept.head.equals(transient.head)).toBe(true);
    },
  );

  it('reads every transient chunk into the same memory, and each kept chunk into its own', async () => {
    const path = join(dir, 'three-reads.bin');
    writeFileSync(path, randomBytes(2 * 1024 * 1024 + 5));
    for (const transient of [true, false]) {
      const opened = await openWithHead(path, 16, { transient });
      const memory = new Set<ArrayBufferLike>();
      for await (const chunk of opened.chunks) memory.add(chunk.buffer);
      expect(memory.size).toBe(transient ? 1 : 3);
    }
  });

  it('gives the event loop a turn between chunks: other events are handled while a file is read', async () => {
    const path = join(dir, 'turns.bin');
    writeFileSync(path, randomBytes(4 * 1024 * 1024 + 7));
    for (const transient of [true, false]) {
      const opened = await openWithHead(path, 16, { transient });
      // An event queued before the reading starts (as a worker's result is): read through on
      // microtasks alone, the file would be over before it ran.
      let chunksBeforeEvent = -1;
      let chunks = 0;
      setImmediate(() => {
        chunksBeforeEvent = chunks;
      });
      for await (const _ of opened.chunks) chunks++;
      expect(chunks).toBe(5);
      expect(chunksBeforeEvent).toBeGreaterThanOrEqual(0);
      expect(chunksBeforeEvent).toBeLessThan(chunks);
    }
  });

  it('keeps the head intact when it takes several reads before the first chunk is used', async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    const path = join(dir, 'long-head.bin');
    writeFileSync(path, bytes);
    // A head of 2.5 reads: the chunks read for it must not be overwritten by the later ones.
    const opened = await openWithHead(path, 2.5 * 1024 * 1024, { transient: true });
    expect(opened.head.equals(bytes.subarray(0, 2.5 * 1024 * 1024))).toBe(true);
    const chunks: Buffer[] = [];
    for await (const chunk of opened.chunks) chunks.push(Buffer.from(chunk));
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
  });
});
