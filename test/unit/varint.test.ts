import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from '../../src/partials/varint.js';
import { idArb, leb128, MAX } from '../support/chartBlocks.js';

/** Varints (src/partials/varint.ts): standard unsigned LEB128 up to 2^53 - 1, and the growing ByteWriter. */

function encode(values: number[], initialCapacity = 1): ByteWriter {
  const w = new ByteWriter(initialCapacity);
  for (const v of values) {
    w.reserve(8);
    w.varint(v);
  }
  return w;
}

describe('varint', () => {
  const special = [0, 1, 127, 128, 255, 300, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28];
  special.push(
    2 ** 31 - 1,
    2 ** 31,
    2 ** 31 + 1,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 35,
    2 ** 42,
    2 ** 49,
    2 ** 52,
    MAX - 1,
  );
  special.push(MAX);

  it.each(special.map((v) => [String(v), v]))(
    'encodes %s as standard LEB128 and reads it back',
    (_name, v) => {
      const w = encode([v]);
      expect(Array.from(w.result())).toEqual(leb128(v));
      const r = new ByteReader(w.result());
      expect(r.varint()).toBe(v);
      expect(r.done).toBe(true);
      expect(r.pos).toBe(w.length);
    },
  );

  it('has the expected lengths and bytes at the edges', () => {
    expect(Array.from(encode([0]).result())).toEqual([0]);
    expect(Array.from(encode([127]).result())).toEqual([0x7f]);
    expect(Array.from(encode([128]).result())).toEqual([0x80, 0x01]);
    expect(Array.from(encode([300]).result())).toEqual([0xac, 0x02]);
    expect(Array.from(encode([2 ** 31]).result())).toEqual([0x80, 0x80, 0x80, 0x80, 0x08]);
    expect(Array.from(encode([2 ** 32]).result())).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(Array.from(encode([MAX]).result())).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('round-trips random sequences, reading from an offset and up to an end', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: MAX }), idArb, fc.integer({ min: 0, max: 300 })), {
          maxLength: 100,
        }),
        fc.integer({ min: 0, max: 5 }),
        (values, prefix) => {
          const w = new ByteWriter(1);
          w.reserve(prefix);
          for (let i = 0; i < prefix; i++) w.bytes[w.length++] = 0xee;
          for (const v of values) {
            w.reserve(8);
            w.varint(v);
          }
          const end = w.length;
          w.reserve(3);
          w.bytes[w.length++] = 0x80; // garbage after `end` must not be read
          w.bytes[w.length++] = 0x80;
          expect(Array.from(w.bytes.subarray(prefix, end))).toEqual(values.flatMap(leb128));
          const r = new ByteReader(w.bytes, prefix, end);
          const back: number[] = [];
          while (!r.done) back.push(r.varint());
          expect(back).toEqual(values);
          expect(r.pos).toBe(end);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('throws on a truncated varint', () => {
    expect(() => new ByteReader(Uint8Array.from([0x80]), 0, 1).varint()).toThrow(/truncated/);
    expect(() => new ByteReader(Uint8Array.from([0xff, 0xff, 0x01]), 0, 2).varint()).toThrow(/truncated/);
  });

  it('ByteWriter grows and keeps its content', () => {
    const values = Array.from({ length: 5000 }, (_, i) => i * 1_000_003);
    const w = encode(values, 2);
    expect(w.bytes.length).toBeGreaterThanOrEqual(w.length);
    const r = new ByteReader(w.result());
    for (const v of values) expect(r.varint()).toBe(v);
    expect(r.done).toBe(true);
  });
});
