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

/** "00".."99" as pairs of ASCII bytes: two digits per division. */
const DIGIT_PAIRS = (() => {
  const pairs = new Uint8Array(200);
  for (let i = 0; i < 100; i++) {
    pairs[2 * i] = 48 + Math.floor(i / 10);
    pairs[2 * i + 1] = 48 + (i % 10);
  }
  return pairs;
})();

/** Append a non-negative integer (up to 2^53) in decimal; capacity is reserved by the caller. */
export function writeDecimal(out: ByteWriter, value: number): void {
  const bytes = out.bytes;
  if (value < 10) {
    bytes[out.length++] = 48 + value;
    return;
  }
  if (value >= 0x80000000) {
    const text = String(value);
    for (let i = 0; i < text.length; i++) bytes[out.length++] = text.charCodeAt(i);
    return;
  }
  const digits =
    value < 100
      ? 2
      : value < 1000
        ? 3
        : value < 10000
          ? 4
          : value < 100000
            ? 5
            : value < 1000000
              ? 6
              : value < 10000000
                ? 7
                : value < 100000000
                  ? 8
                  : value < 1000000000
                    ? 9
                    : 10;
  let v = value | 0;
  let pos = out.length + digits;
  out.length = pos;
  while (v >= 100) {
    const q = (v / 100) | 0;
    const r = (v - q * 100) << 1;
    bytes[--pos] = DIGIT_PAIRS[r + 1]!;
    bytes[--pos] = DIGIT_PAIRS[r]!;
    v = q;
  }
  if (v >= 10) {
    bytes[--pos] = DIGIT_PAIRS[(v << 1) + 1]!;
    bytes[--pos] = DIGIT_PAIRS[v << 1]!;
  } else bytes[--pos] = 48 + v;
}
