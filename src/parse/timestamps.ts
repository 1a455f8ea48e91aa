/**
 * ISO 8601 listen times, as instants in microseconds since 1970-01-01T00:00:00Z (a double holds
 * them exactly until the year 2255). Accepted:
 *
 *   2024-01-01T13:45:12Z          2024-01-01 13:45:12       (no offset: UTC)
 *   2024-01-01T13:45:12.123456Z   2024-01-01T23:30:00-05:00 (offsets: ±HH:MM, ±HHMM, ±HH)
 *   2024-01-01T13:45Z             2024-01-01                (midnight UTC)
 *
 * Fields are range-checked (month 1-12, the day within its month, leap years, hour 0-23, minute
 * and second 0-59, offset up to ±23:59); digits beyond microseconds are dropped. Anything else
 * (`yesterday`, `2024-13-45T00:00:00Z`, an empty field, trailing text) is NaN: a rejected row.
 */
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
export const MICROS_PER_DAY = 86_400_000_000;
export const MICROS_PER_HOUR = 3_600_000_000;

export function parseListenTime(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  return parseListenTimeBytes(bytes, 0, bytes.length);
}

/**
 * parseListenTime of the field `bytes[start, end)`, read straight from the bytes: the streams' hot
 * path makes no string for a time. The grammar is the regular expression
 * `^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(?:[Zz]|[+-](\d{2})(?::?(\d{2}))?)?$`
 * written out byte by byte (the tests hold it to that expression, which an earlier version ran).
 */
export function parseListenTimeBytes(
  bytes: Uint8Array,
  start: number,
  end: number,
  view: DataView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
): number {
  if (end - start < 10 || bytes[start + 4] !== 45 || bytes[start + 7] !== 45) return Number.NaN;
  const days = dateDays(bytes, view, start);
  // The form most rows have, `YYYY-MM-DDTHH:MM:SSZ`, first.
  if (
    end - start === 20 &&
    bytes[start + 19] === 90 &&
    bytes[start + 10] === 84 &&
    bytes[start + 13] === 58 &&
    bytes[start + 16] === 58
  ) {
    const hour = twoDigits(view, start + 11);
    const minute = twoDigits(view, start + 14);
    const second = twoDigits(view, start + 17);
    // NaN fails every comparison: a non-digit anywhere ends up rejected here.
    if (!(hour <= 23 && minute <= 59 && second <= 59)) return Number.NaN;
    return ((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000;
  }
  let i = start + 10;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let micros = 0;
  let timed = false;
  if (i < end && (bytes[i] === 84 /* T */ || bytes[i] === 32) && i + 6 <= end && bytes[i + 3] === 58) {
    timed = true;
    hour = digitsAt(bytes, i + 1, 2);
    minute = digitsAt(bytes, i + 4, 2);
    i += 6;
    if (i < end && bytes[i] === 58 /* : */) {
      if (i + 3 > end) return Number.NaN;
      second = digitsAt(bytes, i + 1, 2);
      i += 3;
      if (i < end && (bytes[i] === 46 /* . */ || bytes[i] === 44) /* , */) {
        const first = ++i;
        // Digits beyond microseconds are dropped.
        let scale = 100_000;
        while (i < end && bytes[i]! >= 48 && bytes[i]! <= 57) {
          micros += (bytes[i]! - 48) * scale;
          scale = scale >= 10 ? scale / 10 : 0;
          i++;
        }
        if (i === first) return Number.NaN;
      }
    }
  }
  let offsetMinutes = 0;
  if (i < end) {
    const c = bytes[i]!;
    if (c === 90 /* Z */ || c === 122 /* z */) {
      i++;
    } else if (c === 43 /* + */ || c === 45 /* - */) {
      if (i + 3 > end) return Number.NaN;
      const oh = digitsAt(bytes, i + 1, 2);
      let om = 0;
      let at = i + 3;
      if (at < end && bytes[at] === 58) at++;
      if (at < end) {
        if (at + 2 > end) return Number.NaN;
        om = digitsAt(bytes, at, 2);
        at += 2;
      } else if (bytes[at - 1] === 58) {
        return Number.NaN;
      }
      if (!(oh <= 23 && om <= 59)) return Number.NaN;
      offsetMinutes = (c === 45 ? -1 : 1) * (oh * 60 + om);
      i = at;
    } else {
      return Number.NaN;
    }
    // A zone needs a time: `2024-01-01Z` is not a listen time.
    if (!timed) return Number.NaN;
  }
  if (i !== end || !(hour <= 23 && minute <= 59 && second <= 59)) return Number.NaN;
  return ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60_000_000 + second * 1_000_000 + micros;
}

// The last date read and its day number (NaN for no such date): rows of a file mostly share it.
let lastYear = -1;
let lastMonthDay = -1;
let lastDays = Number.NaN;

/** Days since 1970-01-01 of the `YYYY-?MM-?DD` at `at` (the dashes are the caller's), or NaN. */
function dateDays(bytes: Uint8Array, view: DataView, at: number): number {
  const year = view.getInt32(at, true);
  const monthDay = (view.getUint16(at + 5, true) << 16) | view.getUint16(at + 8, true);
  if (year === lastYear && monthDay === lastMonthDay) return lastDays;
  const y = digitsAt(bytes, at, 4);
  const month = digitsAt(bytes, at + 5, 2);
  const day = digitsAt(bytes, at + 8, 2);
  const valid = month >= 1 && month <= 12 && day >= 1 && y >= 0 && day <= daysInMonth(y, month);
  lastYear = year;
  lastMonthDay = monthDay;
  lastDays = valid ? daysFromCivil(y, month, day) : Number.NaN;
  return lastDays;
}

/** The 2 ASCII digits at `at` as a number (one 16-bit load), or NaN if one is not a digit. */
function twoDigits(view: DataView, at: number): number {
  const pair = view.getUint16(at, true);
  const tens = (pair & 0xff) - 48;
  const ones = (pair >>> 8) - 48;
  return tens >>> 0 <= 9 && ones >>> 0 <= 9 ? tens * 10 + ones : Number.NaN;
}

/** The `count` ASCII digits at `at` of `bytes` as a number, or NaN if one is not a digit. */
function digitsAt(bytes: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let k = 0; k < count; k++) {
    const d = bytes[at + k]! - 48;
    if (!(d >= 0 && d <= 9)) return Number.NaN;
    value = value * 10 + d;
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return DAYS_IN_MONTH[month - 1]! + (month === 2 && leap ? 1 : 0);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The UTC day number (days since 1970-01-01) of an instant in microseconds. */
export function utcDayOf(micros: number): number {
  return Math.floor(micros / MICROS_PER_DAY);
}

/** The UTC hour (0-23) of an instant in microseconds. */
export function utcHourOf(micros: number): number {
  return Math.floor((micros - utcDayOf(micros) * MICROS_PER_DAY) / MICROS_PER_HOUR);
}
