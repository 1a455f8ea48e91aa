import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowWriter, tsvString } from '../../src/engines/clickhouse/shardInserts.js';

/** The rows the ClickHouse loaders write, byte for byte (no cluster needed). */
function written(fill: (w: RowWriter) => void): string {
  const w = new RowWriter();
  fill(w);
  w.finish();
  return Buffer.concat(w.full).toString('utf8');
}

describe('RowWriter', () => {
  it('writes every safe integer as JavaScript prints it, at the edges of 2^53 too', () => {
    for (const n of [0, -0, 1, 9, 10, 99, 100, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53 - 10]) {
      expect(written((w) => w.number(n))).toBe(String(n));
    }
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => written((w) => w.number(n)) === String(n)),
      { numRuns: 20_000 },
    );
  });

  it('writes numbers that are not safe integers as JavaScript prints them', () => {
    for (const n of [0.5, -1.25, 2 ** 53, 1e21]) expect(written((w) => w.number(n))).toBe(String(n));
  });

  it('keeps rows whole across chunk boundaries, whatever their length', () => {
    const long = 'x'.repeat(3 << 20); // longer than a chunk
    const text = written((w) => {
      for (let i = 0; i < 200_000; i++)
        w.text(`u${i}`)
          .tab()
          .number(i * 7)
          .newline();
      w.text(long).newline().bytes(Buffer.from('é\t')).number(-3).newline();
    });
    const lines = text.split('\n');
    expect(lines).toHaveLength(200_003);
    expect(lines[123_456]).toBe(`u123456\t${123_456 * 7}`);
    expect(lines[200_000]).toBe(long);
    expect(lines[200_001]).toBe('é\t-3');
  });
});

describe('tsvString', () => {
  it('escapes what TabSeparated must escape and nothing else', () => {
    expect(tsvString('plain é 日本 𝒜')).toBe('plain é 日本 𝒜');
    expect(tsvString('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const escaped = tsvString(s);
        // No raw separator is left, and unescaping gives the text back.
        const back = escaped.replace(/\\([\\tnr])/g, (_, c: string) =>
          c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : '\\',
        );
        return !/[\t\n\r]/.test(escaped) && back === s;
      }),
    );
  });
});
