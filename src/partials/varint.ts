/**
 * LEB128 varints for non-negative integers up to 2^53 - 1 (bit operations stop at 2^31, so the
 * large branch uses arithmetic). Partial files store sorted ids as varint deltas: a typical
 * (user, song, plays) entry takes 4 to 6 bytes instead of 20.
 */

/**
 * 2^0 .. 2^63, for a varint's bytes from the fifth on (shift 28 and up, past the bit operations):
 * `2 ** shift` with a shift known only at run time is a call to pow in V8, and varints of 6 bytes
 * (song ids past 2^32 spread over their range) decoded 6 times slower with it (5M values: 316 to
 * 351 ms against 43 to 57 ms).
 */
export const POWERS_OF_TWO = Float64Array.from({ length: 64 }, (_, i) => 2 ** i);

/** Growable byte buffer for encoders. */
export class ByteWriter {
  bytes: Uint8Array;
  length = 0;

  /** A capacity to allocate, or a buffer to write into (what it held is overwritten). */
  constructor(initial: number | Uint8Array = 1 << 16) {
    // At least one byte, so that doubling always grows.
    this.bytes = typeof initial === 'number' ? new Uint8Array(Math.max(1, initial)) : initial;
    if (this.bytes.length === 0) this.bytes = new Uint8Array(1);
  }

  /** Make room for `n` more bytes (doubling). */
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.length + n) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** Append a varint; the caller has reserved at least 8 bytes. */
  varint(value: number): void {
    const bytes = this.bytes;
    let pos = this.length;
    while (value >= 0x80000000) {
      bytes[pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    while (value >= 0x80) {
      bytes[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    bytes[pos++] = value;
    this.length = pos;
  }

  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/** Sequential varint reader over one block. */
export class ByteReader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    const bytes = this.bytes;
    let pos = this.pos;
    let byte = bytes[pos++]!;
    let value = byte & 0x7f;
    if (byte >= 0x80) {
      let shift = 7;
      do {
        if (pos >= this.end) throw new Error('truncated varint');
        byte = bytes[pos++]!;
        value += shift < 28 ? (byte & 0x7f) << shift : (byte & 0x7f) * POWERS_OF_TWO[shift]!;
        shift += 7;
      } while (byte >= 0x80);
    }
    this.pos = pos;
    return value;
  }
}
