import type { ByteWriter } from '../partials/varint.js';

const PIPE = 124;
const COLON = 58;
const COMMA = 44;
const NEWLINE = 10;

/**
 * Append one chart row, `key|song:plays,song:plays,...\n`, to `out`. `keyText` is the key's
 * ASCII form (a user id's digits or a country code).
 */
export function writeChartLine(
  out: ByteWriter,
  key: number | string,
  songs: Float64Array,
  plays: Float64Array,
  n: number,
): void {
  out.reserve(24 + n * 36);
  if (typeof key === 'string') {
    for (let i = 0; i < key.length; i++) out.bytes[out.length++] = key.charCodeAt(i);
  } else writeDecimal(out, key);
  out.bytes[out.length++] = PIPE;
  for (let i = 0; i < n; i++) {
    if (i > 0) out.bytes[out.length++] = COMMA;
    writeDecimal(out, songs[i]!);
    out.bytes[out.length++] = COLON;
    writeDecimal(out, plays[i]!);
  }
  out.bytes[out.length++] = NEWLINE;
}

const scratch = new Uint8Array(20);

/** Append a non-negative integer (up to 2^53) in decimal; capacity is reserved by the caller. */
export function writeDecimal(out: ByteWriter, value: number): void {
  const bytes = out.bytes;
  if (value < 10) {
    bytes[out.length++] = 48 + value;
    return;
  }
  let n = 0;
  if (value < 0x80000000) {
    let v = value | 0;
    while (v > 0) {
      const q = (v / 10) | 0;
      scratch[n++] = 48 + v - q * 10;
      v = q;
    }
  } else {
    let v = value;
    while (v > 0) {
      const q = Math.floor(v / 10);
      scratch[n++] = 48 + (v - q * 10);
      v = q;
    }
  }
  let pos = out.length;
  while (n > 0) bytes[pos++] = scratch[--n]!;
  out.length = pos;
}
