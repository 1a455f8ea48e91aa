import { isoDay } from '../../ops/dates.js';
import { slotTable } from '../weightedTables.js';

/**
 * The listen_time of stream rows: its four text formats, how often each is drawn, the hours
 * people listen at, and the byte writer of the text.
 */

/** Milliseconds in a UTC day: a day number (see ops/dates.ts) times this is its first instant. */
export const DAY_MS = 86_400_000;

/** Listen time formats, by cumulative share (the rest is written with the user's UTC offset). */
export const LATE_SHARE = 0.003; // Z, in the last hour of the day before: a late arrival
export const UTC_SHARE = 0.8;
export const NO_OFFSET_SHARE = 0.87;
export const MILLIS_SHARE = 0.92;
/** `2024-01-01T13:45:12Z` */
export const FORMAT_UTC = 0;
/** `2024-01-01 13:45:12`, meaning UTC */
export const FORMAT_NO_OFFSET = 1;
/** `2024-01-01T13:45:12.345Z` */
export const FORMAT_MILLIS = 2;
/** `2024-01-01T23:30:00-05:00`: the local time of the user's UTC offset */
export const FORMAT_OFFSET = 3;

/** Bits of the minute table: 2^12 slots stay in cache. */
export const MINUTE_TABLE_BITS = 12;
let minuteTable: Uint16Array | undefined;

/**
 * Slots mapping a uniform draw to a minute of the day: quiet at 4-5 am, busiest in the evening.
 * Built once and shared.
 */
export function minuteOfDayTable(): Uint16Array {
  if (!minuteTable) {
    const weights: number[] = [];
    for (let m = 0; m < 1440; m++) {
      const h = m / 60;
      weights.push(
        0.1 +
          0.45 * (0.5 - 0.5 * Math.cos((2 * Math.PI * (h - 4.5)) / 24)) +
          Math.exp(-(((h - 20) / 3) ** 2)),
      );
    }
    minuteTable = slotTable(weights, MINUTE_TABLE_BITS, Uint16Array);
  }
  return minuteTable;
}

/**
 * Writes listen times as text straight into a byte buffer, with no string per row: the date text
 * of each day is made once and kept, the rest is digits.
 */
export class ListenTimeWriter {
  private dateDay = Number.NaN;
  private dateBytes: Uint8Array = new Uint8Array(10);
  /** `YYYY-MM-DD` per day number, as bytes. */
  private readonly dates = new Map<number, Uint8Array>();

  /**
   * Write the time `ms` in `format` at `out[pos]` and return the position after it. `ms` is the
   * local time: with FORMAT_OFFSET, the UTC instant is `ms - offset` minutes.
   */
  write(out: Uint8Array, pos: number, ms: number, format: number, offset: number): number {
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.dateDay) {
      this.dateDay = day;
      let bytes = this.dates.get(day);
      if (!bytes) this.dates.set(day, (bytes = Buffer.from(isoDay(day), 'latin1')));
      this.dateBytes = bytes;
    }
    for (let i = 0; i < 10; i++) out[pos + i] = this.dateBytes[i]!;
    pos += 10;
    out[pos++] = format === FORMAT_NO_OFFSET ? 32 : 84;
    const inDay = ms - day * DAY_MS;
    const millis = inDay % 1000;
    let s = (inDay - millis) / 1000;
    const h = (s / 3600) | 0;
    s -= h * 3600;
    const m = (s / 60) | 0;
    s -= m * 60;
    pos = twoDigits(out, pos, h);
    out[pos++] = 58;
    pos = twoDigits(out, pos, m);
    out[pos++] = 58;
    pos = twoDigits(out, pos, s);
    if (format === FORMAT_MILLIS) {
      out[pos++] = 46;
      out[pos++] = 48 + Math.floor(millis / 100);
      pos = twoDigits(out, pos, millis % 100);
    }
    if (format === FORMAT_OFFSET) {
      const abs = Math.abs(offset);
      out[pos++] = offset < 0 ? 45 : 43;
      pos = twoDigits(out, pos, Math.floor(abs / 60));
      out[pos++] = 58;
      pos = twoDigits(out, pos, abs % 60);
    } else if (format !== FORMAT_NO_OFFSET) out[pos++] = 90;
    return pos;
  }
}

/** The two ASCII digits of 0..99, at 2 * n. */
const DIGIT_PAIRS = Uint8Array.from(
  { length: 200 },
  (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor(i / 20)),
);

function twoDigits(out: Uint8Array, pos: number, value: number): number {
  out[pos] = DIGIT_PAIRS[2 * value]!;
  out[pos + 1] = DIGIT_PAIRS[2 * value + 1]!;
  return pos + 2;
}
