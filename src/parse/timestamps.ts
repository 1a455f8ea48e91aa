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
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
export const MICROS_PER_DAY = 86_400_000_000;
export const MICROS_PER_HOUR = 3_600_000_000;

export function parseListenTime(text: string): number {
  return text.length === 20 && text.charCodeAt(19) === 90 /* Z */ ? parseCommonForm(text) : parseIso(text);
}

/** Two ASCII digits at `at`, or NaN. */
function digits2(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : Number.NaN;
}

/**
 * The form most rows have, `YYYY-MM-DDTHH:MM:SSZ`, without the regular expression (several times
 * faster on the hot path); anything unexpected in it goes to the general parser.
 */
function parseCommonForm(text: string): number {
  if (
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    (text.charCodeAt(10) !== 84 && text.charCodeAt(10) !== 32) ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  ) {
    return parseIso(text);
  }
  const year = digits2(text, 0) * 100 + digits2(text, 2);
  const month = digits2(text, 5);
  const day = digits2(text, 8);
  const hour = digits2(text, 11);
  const minute = digits2(text, 14);
  const second = digits2(text, 17);
  // NaN fails every comparison: a non-digit anywhere ends up rejected here.
  if (!(month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59))
    return Number.NaN;
  if (!(year >= 0) || day > daysInMonth(year, month)) return Number.NaN;
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000;
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return DAYS_IN_MONTH[month - 1]! + (month === 2 && leap ? 1 : 0);
}

function parseIso(text: string): number {
  const m = ISO.exec(text);
  if (m === null) return Number.NaN;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  // An offset needs a time: `2024-01-01+02:00` is not a listen time.
  if (m[4] === undefined && (m[8] !== undefined || m[9] !== undefined)) return Number.NaN;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (oh > 23 || om > 59) return Number.NaN;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const micros = m[7] === undefined ? 0 : Number(m[7].slice(0, 6).padEnd(6, '0'));
  const days = daysFromCivil(year, month, day);
  return ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60_000_000 + second * 1_000_000 + micros;
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
