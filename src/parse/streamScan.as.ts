/**
 * The plain rows of a streams CSV chunk, in AssemblyScript, compiled to WebAssembly (`npm run
 * build:wasm` writes streamScan.wasm.ts; streamRows.ts loads it and says why it is not
 * JavaScript). It reads the lines StreamRowReader would read as the RFC 4180 scanner does, but
 * faster: lines ending in `\n` (a `\r` before it is not data) of at most the longest record's
 * bytes, their fields where their commas put them, a field either plain (no quote) or quoted
 * whole with no quote, `\r` or line break inside (`"u1"`, `"a,b"`: its bytes between the
 * quotes). Of those it gives the valid rows (both ids not empty, a valid listen time: the grammar
 * of timestamps.ts's parseListenTimeBytes, written out again here) and lists the rejects of a
 * line with no quote (too few fields, an empty id, a bad time: what the caller would have the
 * scanner say of them, the line itself their example's text). It stops at the first line that is
 * anything else (a doubled quote, a quote inside a field, a quoted field going on past its line,
 * a line cut by the chunk's end, a reject with quotes), which the caller reads its own way. The
 * module's memory, laid out by streamRows.ts:
 *
 *     [0, 64)            the state (STATE: i32 words), which streamRows.ts reads after each call
 *     [64, CHUNK_AT)     a batch of rows: their ids' spans (4 i32 each) and listen times (f64);
 *                        then its rejects: each one's line (start and end), its place among the
 *                        lines read, its reason (4 i32 each); then the rows' runs of one UTC day
 *                        (timestamps.ts's utcDayOf): each run's first row and its day (2 i32)
 *     [CHUNK_AT, ...)    the chunk's bytes being read (copied in by the caller)
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

/** Rows a batch holds: the scan stops when it is full, and the caller takes them. */
export const ROWS: i32 = 1024;
export const USER_STARTS_AT: usize = 64;
export const USER_ENDS_AT: usize = USER_STARTS_AT + 4 * <usize>ROWS;
export const TRACK_STARTS_AT: usize = USER_ENDS_AT + 4 * <usize>ROWS;
export const TRACK_ENDS_AT: usize = TRACK_STARTS_AT + 4 * <usize>ROWS;
export const TIMES_AT: usize = TRACK_ENDS_AT + 4 * <usize>ROWS;
/** Rejects a batch holds: the scan stops when it is full too. */
export const REJECTS: i32 = 256;
export const REJECT_STARTS_AT: usize = TIMES_AT + 8 * <usize>ROWS;
export const REJECT_ENDS_AT: usize = REJECT_STARTS_AT + 4 * <usize>REJECTS;
export const REJECT_LINES_AT: usize = REJECT_ENDS_AT + 4 * <usize>REJECTS;
export const REJECT_REASONS_AT: usize = REJECT_LINES_AT + 4 * <usize>REJECTS;
/** The batch's rows in runs of one UTC day: each run's first row, and its day (days since 1970). */
export const RUN_FROM_AT: usize = REJECT_REASONS_AT + 4 * <usize>REJECTS;
export const RUN_DAYS_AT: usize = RUN_FROM_AT + 4 * <usize>ROWS;
export const CHUNK_AT: usize = RUN_DAYS_AT + 4 * <usize>ROWS;

/** The state words: rows in the batch, lines read (blank ones too), why the scan stopped, rejects. */
const S_ROWS: usize = 0;
const S_LINES: usize = 4;
const S_FULL: usize = 8;
const S_REJECTS: usize = 12;
const S_RUNS: usize = 16;

const MICROS_PER_DAY: f64 = 86_400_000_000;

/** A reject's reason: its index in streamRows.ts's STREAM_ROW_REJECTS (field_count, empty_id, bad_timestamp). */
const FIELD_COUNT: i32 = 1;
const EMPTY_ID: i32 = 2;
const BAD_TIMESTAMP: i32 = 3;

const NEWLINE: u32 = 10;
const CARRIAGE_RETURN: u32 = 13;
const QUOTE: u32 = 34;
const COMMA: u32 = 44;

/**
 * Read the rows of `[from, end)` (from: a line's start) that the module's comment says, into the
 * batch, each row's user, track and time fields being fields `user`, `track` and `time` of `width`
 * at least. Returns where it stopped: `end`, a line it leaves to the caller, or (state S_FULL 1)
 * the line after the batch's last row or reject. A blank line is a line read and no row.
 */
export function scanRows(
  from: usize,
  end: usize,
  width: i32,
  user: i32,
  track: i32,
  time: i32,
  maxLineBytes: i32,
): usize {
  let rows: i32 = 0;
  let rejects: i32 = 0;
  let lines: i32 = 0;
  let runs: i32 = 0;
  let runDay: f64 = 0;
  let i = from;
  store<i32>(S_FULL, 0);
  while (i < end) {
    if (rows === ROWS || rejects === REJECTS) {
      store<i32>(S_FULL, 1);
      break;
    }
    const lineStart = i;
    let field: i32 = 0;
    let fieldStart = i;
    let userStart: usize = 0;
    let userEnd: usize = 0;
    let trackStart: usize = 0;
    let trackEnd: usize = 0;
    let timeStart: usize = 0;
    let timeEnd: usize = 0;
    let lineEnd: usize = 0;
    let stopped = false;
    let quoted = false;
    for (;;) {
      let c: u32;
      let valueStart = fieldStart;
      let valueEnd: usize;
      if (i < end && <u32>load<u8>(i) === QUOTE) {
        // A field quoted whole: its value runs to the next quote, which ends the field.
        const close = nextQuoteOrBreak(i + 1, end);
        if (close + 1 >= end || <u32>load<u8>(close) !== QUOTE) {
          stopped = true;
          break;
        }
        c = <u32>load<u8>(close + 1);
        if (c === CARRIAGE_RETURN && close + 2 < end && <u32>load<u8>(close + 2) === NEWLINE) {
          c = NEWLINE;
          i = close + 2;
        } else {
          i = close + 1;
        }
        if (c !== COMMA && c !== NEWLINE) {
          stopped = true;
          break;
        }
        quoted = true;
        valueStart = fieldStart + 1;
        valueEnd = close;
      } else {
        i = nextStop(i, end);
        if (i === end) break;
        c = <u32>load<u8>(i);
        if (c === QUOTE) {
          stopped = true;
          break;
        }
        // A field ends at its comma, or at the line's end (a \r before the \n is not data).
        valueEnd = c === NEWLINE && i > fieldStart && load<u8>(i - 1) === <u8>CARRIAGE_RETURN ? i - 1 : i;
      }
      if (field === user) {
        userStart = valueStart;
        userEnd = valueEnd;
      } else if (field === track) {
        trackStart = valueStart;
        trackEnd = valueEnd;
      } else if (field === time) {
        timeStart = valueStart;
        timeEnd = valueEnd;
      }
      if (c === NEWLINE) {
        lineEnd = valueEnd;
        break;
      }
      field++;
      fieldStart = ++i;
    }
    if (stopped || i === end || <i32>(i - lineStart) > maxLineBytes) {
      i = lineStart;
      break;
    }
    if (field === 0 && lineEnd === fieldStart && !quoted) {
      lines++;
      i++;
      continue;
    }
    let reason: i32 = 0;
    let at: f64 = 0;
    if (field + 1 < width) {
      reason = FIELD_COUNT;
    } else if (userStart === userEnd || trackStart === trackEnd) {
      reason = EMPTY_ID;
    } else {
      at = listenTime(timeStart, timeEnd);
      if (Number.isNaN(at)) reason = BAD_TIMESTAMP;
    }
    if (reason !== 0) {
      // A reject's example shows its fields' values joined by commas: the line itself, unquoted.
      if (quoted) {
        i = lineStart;
        break;
      }
      const r = (<usize>rejects) << 2;
      store<i32>(REJECT_STARTS_AT + r, <i32>lineStart);
      store<i32>(REJECT_ENDS_AT + r, <i32>lineEnd);
      store<i32>(REJECT_LINES_AT + r, lines);
      store<i32>(REJECT_REASONS_AT + r, reason);
      rejects++;
      lines++;
      i++;
      continue;
    }
    const r = (<usize>rows) << 2;
    store<i32>(USER_STARTS_AT + r, <i32>userStart);
    store<i32>(USER_ENDS_AT + r, <i32>userEnd);
    store<i32>(TRACK_STARTS_AT + r, <i32>trackStart);
    store<i32>(TRACK_ENDS_AT + r, <i32>trackEnd);
    store<f64>(TIMES_AT + ((<usize>rows) << 3), at);
    // utcDayOf's arithmetic, so the same day (a range of instants compared instead would not
    // round as its division does, for days far from 1970).
    const day = Math.floor(at / MICROS_PER_DAY);
    if (runs === 0 || day !== runDay) {
      store<i32>(RUN_FROM_AT + ((<usize>runs) << 2), rows);
      store<i32>(RUN_DAYS_AT + ((<usize>runs) << 2), <i32>day);
      runDay = day;
      runs++;
    }
    rows++;
    lines++;
    i++;
  }
  store<i32>(S_ROWS, rows);
  store<i32>(S_LINES, lines);
  store<i32>(S_REJECTS, rejects);
  store<i32>(S_RUNS, runs);
  return i;
}

/**
 * Where the next quote, `\n` or `\r` is from `i` (`end` if none): a quoted field's end, or where
 * it is not one this kernel reads. Quoted values are short and rare: a byte at a time.
 */
function nextQuoteOrBreak(from: usize, end: usize): usize {
  let i = from;
  while (i < end) {
    const c = <u32>load<u8>(i);
    if (c === QUOTE || c === NEWLINE || c === CARRIAGE_RETURN) return i;
    i++;
  }
  return end;
}

/**
 * Where the next comma, `\n` or quote is from `i` (`end` if none): sixteen bytes at a time, each
 * compared with the three at once (SIMD), the first match from the mask of the ones that are.
 */
function nextStop(from: usize, end: usize): usize {
  let i = from;
  while (i + 16 <= end) {
    const bytes = v128.load(i);
    const stops = v128.or(
      v128.or(i8x16.eq(bytes, i8x16.splat(<i8>COMMA)), i8x16.eq(bytes, i8x16.splat(<i8>NEWLINE))),
      i8x16.eq(bytes, i8x16.splat(<i8>QUOTE)),
    );
    const mask = i8x16.bitmask(stops);
    if (mask !== 0) return i + <usize>ctz(mask);
    i += 16;
  }
  while (i < end) {
    const c = <u32>load<u8>(i);
    if (c === COMMA || c === NEWLINE || c === QUOTE) return i;
    i++;
  }
  return end;
}

/**
 * parseListenTimeBytes (timestamps.ts) of `[start, end)`: microseconds since the epoch, or NaN.
 * The same grammar and arithmetic (in f64, as JavaScript's numbers), so the same values.
 */
export function listenTime(start: usize, end: usize): f64 {
  if (end - start < 10 || load<u8>(start + 4) !== 45 || load<u8>(start + 7) !== 45) return NaN;
  const days = dateDays(start);
  // The common forms, `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DD HH:MM:SS` (either separator, with or
  // without the Z): the time's 8 bytes read as one word, checked and taken apart at once.
  const length = end - start;
  const separator = load<u8>(start + 10);
  if (
    (length === 19 || (length === 20 && load<u8>(start + 19) === 90)) &&
    (separator === 84 || separator === 32)
  ) {
    const word = load<u64>(start + 11);
    // HH:MM:SS: each digit's high nibble 3 and low one at most 9 (adding 6 keeps it below 0x40).
    if (
      (word & 0xf0f000f0f000f0f0) === 0x3030003030003030 &&
      ((word + 0x0606000606000606) & 0xf0f000f0f000f0f0) === 0x3030003030003030 &&
      (word & 0x0000ff0000ff0000) === 0x00003a00003a0000
    ) {
      const hour = <i32>(word & 0x0f) * 10 + <i32>((word >> 8) & 0x0f);
      const minute = <i32>((word >> 24) & 0x0f) * 10 + <i32>((word >> 32) & 0x0f);
      const second = <i32>((word >> 48) & 0x0f) * 10 + <i32>((word >> 56) & 0x0f);
      if (hour > 23 || minute > 59 || second > 59) return NaN;
      return ((days * 24 + <f64>hour) * 60 + <f64>minute) * 60_000_000 + <f64>second * 1_000_000;
    }
  }
  let i = start + 10;
  let hour: i32 = 0;
  let minute: i32 = 0;
  let second: i32 = 0;
  let micros: f64 = 0;
  let timed = false;
  if (i < end && (load<u8>(i) === 84 || load<u8>(i) === 32) && i + 6 <= end && load<u8>(i + 3) === 58) {
    timed = true;
    hour = digits(i + 1, 2);
    minute = digits(i + 4, 2);
    i += 6;
    if (i < end && load<u8>(i) === 58) {
      if (i + 3 > end) return NaN;
      second = digits(i + 1, 2);
      i += 3;
      if (i < end && (load<u8>(i) === 46 || load<u8>(i) === 44)) {
        const first = ++i;
        // Digits beyond microseconds are dropped.
        let scale: f64 = 100_000;
        while (i < end && load<u8>(i) >= 48 && load<u8>(i) <= 57) {
          micros += <f64>(load<u8>(i) - 48) * scale;
          scale = scale >= 10 ? scale / 10 : 0;
          i++;
        }
        if (i === first) return NaN;
      }
    }
  }
  let offsetMinutes: i32 = 0;
  if (i < end) {
    const c = load<u8>(i);
    if (c === 90 || c === 122) {
      i++;
    } else if (c === 43 || c === 45) {
      if (i + 3 > end) return NaN;
      const oh = digits(i + 1, 2);
      let om: i32 = 0;
      let at = i + 3;
      if (at < end && load<u8>(at) === 58) at++;
      if (at < end) {
        if (at + 2 > end) return NaN;
        om = digits(at, 2);
        at += 2;
      } else if (load<u8>(at - 1) === 58) {
        return NaN;
      }
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return NaN;
      offsetMinutes = (c === 45 ? -1 : 1) * (oh * 60 + om);
      i = at;
    } else {
      return NaN;
    }
    // A zone needs a time: `2024-01-01Z` is not a listen time.
    if (!timed) return NaN;
  }
  if (i !== end || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
    return NaN;
  return (
    ((days * 24 + <f64>hour) * 60 + <f64>minute - <f64>offsetMinutes) * 60_000_000 +
    <f64>second * 1_000_000 +
    micros
  );
}

// The last date read and its day number (NaN for no such date): rows of a file mostly share it.
let lastYear: u32 = 0xffffffff;
let lastMonthDay: u32 = 0xffffffff;
let lastDays: f64 = NaN;

/** Days since 1970-01-01 of the `YYYY-?MM-?DD` at `at` (the dashes are the caller's), or NaN. */
function dateDays(at: usize): f64 {
  const year = load<u32>(at);
  const monthDay = ((<u32>load<u16>(at + 5)) << 16) | <u32>load<u16>(at + 8);
  if (year === lastYear && monthDay === lastMonthDay) return lastDays;
  const y = digits(at, 4);
  const month = digits(at + 5, 2);
  const day = digits(at + 8, 2);
  const valid = y >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(y, month);
  lastYear = year;
  lastMonthDay = monthDay;
  lastDays = valid ? daysFromCivil(y, month, day) : NaN;
  return lastDays;
}

/** The `count` ASCII digits at `at` as a number, or -1 if one is not a digit. */
function digits(at: usize, count: i32): i32 {
  let value: i32 = 0;
  for (let k = 0; k < count; k++) {
    const d = <i32>load<u8>(at + <usize>k) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

function daysInMonth(year: i32, month: i32): i32 {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days: i32 = month === 2 ? 28 : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return days + (month === 2 && leap ? 1 : 0);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: i32, month: i32, day: i32): f64 {
  const y: f64 = month <= 2 ? <f64>(year - 1) : <f64>year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * <f64>(month + (month > 2 ? -3 : 9)) + 2) / 5) + <f64>day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}
