import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { writeChartLine, writeDecimal, writeUserChart } from '../../src/formats/chartFiles.js';
import { ByteWriter } from '../../src/partials/varint.js';
import { idArb, MAX } from '../support/chartBlocks.js';
import { TempDirs } from '../support/tempDirs.js';

/** The writers of the chart files' rows (src/formats/chartFiles.ts): decimals and `key|song:plays,...` lines. */

const decode = (w: ByteWriter): string => Buffer.from(w.result()).toString('latin1');

describe('writeDecimal', () => {
  const special = [
    0,
    1,
    9,
    10,
    11,
    99,
    100,
    12345,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 31 + 1,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 32 + 1,
    999_999_999_999_999,
    1_000_000_000_000_000,
    4_503_599_627_370_495,
    4_503_599_627_370_496,
    9_007_199_254_740_989,
    MAX - 1,
    MAX,
  ];

  it.each(special.map((n) => [String(n), n]))('writes %s', (_name, n) => {
    const w = new ByteWriter(32);
    writeDecimal(w, n);
    expect(decode(w)).toBe(String(n));
    expect(w.length).toBe(String(n).length);
  });

  it('writes every power of ten and its neighbours up to 2^53', () => {
    const w = new ByteWriter(1 << 12);
    const values: number[] = [];
    for (let p = 1; p <= MAX; p *= 10)
      for (const v of [p - 1, p, p + 1]) if (v >= 0 && v <= MAX) values.push(v);
    for (const v of values) {
      writeDecimal(w, v);
      w.bytes[w.length++] = 32;
    }
    expect(decode(w)).toBe(values.map((v) => String(v) + ' ').join(''));
  });

  it('matches String(n) for random integers up to 2^53 - 1', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: MAX }), idArb), { maxLength: 50 }),
        (values) => {
          const w = new ByteWriter(values.length * 17 + 1);
          for (const v of values) {
            writeDecimal(w, v);
            w.bytes[w.length++] = 44;
          }
          expect(decode(w)).toBe(values.map((v) => String(v) + ',').join(''));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('writeChartLine', () => {
  it('writes key|song:plays,... with a country code key', () => {
    const w = new ByteWriter(4);
    writeChartLine(w, 'FR', Float64Array.from([42, 7, MAX]), Float64Array.from([3, 3, 1]), 3);
    expect(decode(w)).toBe(`FR|42:3,7:3,${MAX}:1\n`);
  });

  it('writes a numeric key and only the first n songs', () => {
    const w = new ByteWriter(1);
    writeChartLine(w, MAX, Float64Array.from([1, 2, 3]), Float64Array.from([9, 8, 7]), 2);
    writeChartLine(w, 0, Float64Array.from([0]), Float64Array.from([1]), 1);
    expect(decode(w)).toBe(`${MAX}|1:9,2:8\n0|0:1\n`);
  });

  it('writes an empty chart as key|', () => {
    const w = new ByteWriter(1);
    writeChartLine(w, 'US', new Float64Array(0), new Float64Array(0), 0);
    expect(decode(w)).toBe('US|\n');
  });

  it('matches a string rendering for random rows, growing the writer as needed', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(fc.integer({ min: 0, max: MAX }), fc.constantFrom('AD', 'US', 'ZW')),
            fc.array(fc.tuple(idArb, fc.integer({ min: 1, max: MAX })), { maxLength: 50 }),
          ),
          { maxLength: 20 },
        ),
        (rows) => {
          const w = new ByteWriter(8);
          let expected = '';
          for (const [key, entries] of rows) {
            writeChartLine(
              w,
              key,
              Float64Array.from(entries.map((e) => e[0])),
              Float64Array.from(entries.map((e) => e[1])),
              entries.length,
            );
            expected += `${key}|${entries.map(([s, p]) => `${s}:${p}`).join(',')}\n`;
          }
          expect(decode(w)).toBe(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('writeUserChart', () => {
  const temp = new TempDirs();
  afterEach(() => temp.cleanup());
  const rangeBytes = (r: number): Uint8Array => Buffer.from(`${r}|${r}:1\n`.repeat(1 + (r % 5) * 1000));

  it('writes the ranges in order, however they complete', async () => {
    const dir = temp.make();
    const path = join(dir, 'user_top50_20240107.txt');
    // Ranges finish out of order (later ones sooner): the file is still in range order.
    const rows = await writeUserChart(path, 23, 3, async (r) => {
      await new Promise((done) => setTimeout(done, (23 - r) % 4));
      return { bytes: rangeBytes(r), rows: 1 + (r % 5) * 1000 };
    });
    const expected = Buffer.concat(Array.from({ length: 23 }, (_, r) => rangeBytes(r)));
    expect(readFileSync(path).equals(expected)).toBe(true);
    expect(rows).toBe(Array.from({ length: 23 }, (_, r) => 1 + (r % 5) * 1000).reduce((a, b) => a + b));
    expect(readdirSync(dir)).toEqual(['user_top50_20240107.txt']);
  });

  it('tells `written` of each range once its bytes are taken, in range order: the buffer may be reused at once', async () => {
    const dir = temp.make();
    const path = join(dir, 'user_top50_20240107.txt');
    const told: number[] = [];
    const sizes: number[] = [];
    await writeUserChart(
      path,
      12,
      3,
      async (r) => {
        await new Promise((done) => setTimeout(done, (12 - r) % 3));
        return { bytes: rangeBytes(r), rows: 1 };
      },
      (bytes) => {
        told.push(Number(Buffer.from(bytes.subarray(0, bytes.indexOf(124))).toString()));
        sizes.push(bytes.length);
        // Reused at once (a worker formats a later range into it): the file keeps what it held.
        bytes.fill(0x21);
      },
    );
    expect(told).toEqual(Array.from({ length: 12 }, (_, r) => r));
    expect(sizes).toEqual(told.map((r) => rangeBytes(r).length));
    const expected = Buffer.concat(Array.from({ length: 12 }, (_, r) => rangeBytes(r)));
    expect(readFileSync(path).equals(expected)).toBe(true);
  });

  it('asks for range r + lookahead before writing range r, and holds at most lookahead + 1 unwritten', async () => {
    const dir = temp.make();
    const path = join(dir, 'user_top50_20240107.txt');
    const events: string[] = [];
    let asked = 0;
    let writtenCount = 0;
    let most = 0;
    await writeUserChart(
      path,
      15,
      3,
      async (r) => {
        events.push(`ask ${r}`);
        asked++;
        most = Math.max(most, asked - writtenCount);
        await new Promise((done) => setTimeout(done, r % 3));
        return { bytes: rangeBytes(r), rows: 1 };
      },
      (bytes) => {
        writtenCount++;
        events.push(`written ${Number(Buffer.from(bytes.subarray(0, bytes.indexOf(124))).toString())}`);
      },
    );
    for (let r = 0; r + 3 < 15; r++) {
      expect(events.indexOf(`ask ${r + 3}`), `range ${r + 3}`).toBeLessThan(events.indexOf(`written ${r}`));
    }
    expect(most).toBe(4);
  });

  it('a chart past the flush size (FLUSH_BYTES) is whole, flushed on the way', async () => {
    const dir = temp.make();
    const path = join(dir, 'user_top50_20240107.txt');
    const big = (r: number): Uint8Array => Buffer.alloc(9 * 1024 * 1024, `${r}|1:1\n`);
    const rows = await writeUserChart(path, 10, 3, async (r) => ({ bytes: big(r), rows: 1 }));
    expect(rows).toBe(10);
    const file = readFileSync(path);
    expect(file.length).toBe(10 * 9 * 1024 * 1024);
    for (let r = 0; r < 10; r++)
      expect(
        file
          .subarray(r * 9 * 1024 * 1024)
          .subarray(0, 6)
          .toString(),
      ).toBe(`${r}|1:1\n`);
  });

  it('a range that fails leaves no file, not even a temporary one, and nothing unhandled', async () => {
    const dir = temp.make();
    const path = join(dir, 'user_top50_20240107.txt');
    await expect(
      writeUserChart(path, 10, 3, async (r) => {
        if (r === 6) throw new Error('range 6 failed');
        return { bytes: rangeBytes(r), rows: 1 };
      }),
    ).rejects.toThrow('range 6 failed');
    expect(readdirSync(dir)).toEqual([]);
  });
});
