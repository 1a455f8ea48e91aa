import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamScan } from '../../src/parse/streamScan.js';
import { parseListenTime, parseListenTimeBytes, utcDayOf, utcHourOf } from '../../src/parse/timestamps.js';

/**
 * Contract: ISO 8601 listen times become exact instants in microseconds; a time without an
 * offset is UTC; offsets are honoured; anything else is NaN (a rejected row).
 */

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** A broken common form that is still a valid listen time (a digit changed into another, a T into a space). */
const ISO_LIKE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}Z$/;

describe('parseListenTime', () => {
  it('agrees with Date.UTC on every valid date, time and offset (to the microsecond)', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date(Date.UTC(1900, 0, 1)),
          max: new Date(Date.UTC(2200, 11, 31)),
          noInvalidDate: true,
        }),
        fc.integer({ min: 0, max: 999 }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        fc.constantFrom('T', ' '),
        fc.constantFrom('colon', 'compact', 'hours', 'Z', 'none'),
        (date, microsPart, offset, sep, style) => {
          const local = new Date(date.getTime());
          const text =
            `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}${sep}` +
            `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
            `.${pad(local.getUTCMilliseconds(), 3)}${pad(microsPart, 3)}`;
          const off = style === 'hours' ? Math.trunc(offset / 60) * 60 : offset;
          const sign = off < 0 ? '-' : '+';
          const a = Math.abs(off);
          const suffix =
            style === 'Z'
              ? 'Z'
              : style === 'none'
                ? ''
                : style === 'colon'
                  ? `${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`
                  : style === 'compact'
                    ? `${sign}${pad(Math.floor(a / 60))}${pad(a % 60)}`
                    : `${sign}${pad(Math.floor(a / 60))}`;
          const shift = style === 'Z' || style === 'none' ? 0 : off;
          const expected = (local.getTime() - shift * 60_000) * 1000 + microsPart;
          expect(parseListenTime(text + suffix)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads the common form YYYY-MM-DDTHH:MM:SSZ (its fast path) exactly as Date.UTC, and rejects it broken', () => {
    const kernel = new StreamScan();
    fc.assert(
      fc.property(
        fc.date({
          min: new Date(Date.UTC(1000, 0, 1)),
          max: new Date(Date.UTC(9999, 11, 31)),
          noInvalidDate: true,
        }),
        fc.integer({ min: 0, max: 19 }),
        fc.constantFrom('x', '/', ':', '9', ' '),
        (date, at, junk) => {
          const text = date.toISOString().replace(/\.\d{3}Z$/, 'Z');
          expect(parseListenTime(text)).toBe(Math.floor(date.getTime() / 1000) * 1_000_000);
          const broken = text.slice(0, at) + junk + text.slice(at + 1);
          // Date.parse accepts 31 September: a date is valid only if it prints back the same.
          const ms = ISO_LIKE.test(broken) ? Date.parse(broken.replace(' ', 'T')) : Number.NaN;
          const valid =
            !Number.isNaN(ms) &&
            new Date(ms).toISOString().slice(0, 19) === broken.slice(0, 19).replace(' ', 'T');
          const expected = valid ? ms * 1000 : Number.NaN;
          const got = parseListenTime(broken);
          if (Number.isNaN(expected)) expect(got).toBeNaN();
          else expect(got).toBe(expected);
          expect(Object.is(kernel.listenTime(Buffer.from(broken)), got)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['2024-01-01', Date.UTC(2024, 0, 1)],
    ['2024-01-01T13:45Z', Date.UTC(2024, 0, 1, 13, 45)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29 23:59:59', Date.UTC(2000, 1, 29, 23, 59, 59)],
    ['2024-01-01T23:30:00-05:00', Date.UTC(2024, 0, 2, 4, 30)],
    ['2024-01-01T00:30:00+01:00', Date.UTC(2023, 11, 31, 23, 30)],
    ['2024-01-01T00:00:00.5Z', Date.UTC(2024, 0, 1) + 500],
    ['2024-01-01T00:00:00,25z', Date.UTC(2024, 0, 1) + 250],
  ])('%s', (text, ms) => {
    expect(parseListenTime(text)).toBe(ms * 1000);
  });

  it('drops digits beyond the microsecond', () => {
    expect(parseListenTime('2024-01-01T00:00:00.1234569Z')).toBe(Date.UTC(2024, 0, 1) * 1000 + 123456);
  });

  it.each([
    '',
    'yesterday',
    '2024-13-45T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '1900-02-29',
    '2024-04-31',
    '2024-01-01T24:00:00Z',
    '2024-01-01T12:60:00Z',
    '2024-01-01T12:00:60Z',
    '2024-01-01T12:00:00+24:00',
    '2024-01-01T12:00:00+05:60',
    '2024-01-01+02:00',
    ' 2024-01-01T00:00:00Z',
    '2024-01-01T00:00:00Z ',
    '2024-1-01',
    '20240101T000000Z',
    '1704067200',
    '2024-01-01T00:00:00ZZ',
  ])('rejects %j', (text) => {
    expect(parseListenTime(text)).toBeNaN();
  });
});

/**
 * The reference: the grammar as a regular expression (what parseListenTime ran before it read
 * bytes), with the same range checks, written as plainly as possible.
 */
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

function referenceTime(text: string): number {
  const m = ISO.exec(text);
  if (m === null) return Number.NaN;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (monthDays === undefined || day < 1 || day > monthDays) return Number.NaN;
  const [hour, minute, second] = [m[4], m[5], m[6]].map((v) => (v === undefined ? 0 : Number(v))) as [
    number,
    number,
    number,
  ];
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  if (m[4] === undefined && (m[8] !== undefined || m[9] !== undefined)) return Number.NaN;
  let offset = 0;
  if (m[9] !== undefined) {
    const [oh, om] = [Number(m[10]), m[11] === undefined ? 0 : Number(m[11])];
    if (oh > 23 || om > 59) return Number.NaN;
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const micros = m[7] === undefined ? 0 : Number(m[7].slice(0, 6).padEnd(6, '0'));
  // Date.UTC maps years 0-99 to 1900-1999: set the year on a Date instead.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offset, second, 0);
  return date.getTime() * 1000 + micros;
}

describe("parseListenTimeBytes: the bytes of a field, the same answers as the grammar's expression", () => {
  /** A string near the grammar: valid forms, then characters changed, dropped or added. */
  const nearIso = fc
    .tuple(
      fc.date({
        min: new Date(Date.UTC(1, 0, 1)),
        max: new Date(Date.UTC(9999, 11, 31)),
        noInvalidDate: true,
      }),
      fc.constantFrom('', 'T', ' '),
      fc.constantFrom('', ':ss', ':ss.f', ':ss,f'),
      fc.constantFrom('', 'Z', 'z', '+05:30', '-0800', '+01', '-23:59', '+24:00', '+05:', '+5'),
      fc.stringMatching(/^\d{1,9}$/),
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.constantFrom('x', '0', '9', '-', ':', 'T', ' ', 'Z', '+', '.', ',', 'é', '', '1'),
          fc.boolean(),
        ),
        { maxLength: 2 },
      ),
    )
    .map(([date, sep, seconds, zone, fraction, edits]) => {
      const iso = date.toISOString();
      const year = String(date.getUTCFullYear()).padStart(4, '0');
      let text = `${year}${iso.slice(4, 10)}`;
      if (sep !== '') {
        text += `${sep}${iso.slice(11, 16)}`;
        if (seconds !== '') text += seconds.replace('ss', iso.slice(17, 19)).replace('f', fraction);
      }
      text += zone;
      for (const [at, c, insert] of edits) {
        const k = at % (text.length + 1);
        text = text.slice(0, k) + c + text.slice(insert ? k : k + 1);
      }
      return text;
    });

  it('agrees with the reference on valid, broken and odd times, read at any offset in a buffer', () => {
    // The streams' WebAssembly kernel has its own copy of the grammar (streamScan.as.ts): the same
    // answers, bit for bit, its last date kept from one time to the next as the parse keeps it.
    const kernel = new StreamScan();
    fc.assert(
      fc.property(
        fc.oneof(nearIso, fc.string({ maxLength: 30 })),
        fc.string({ maxLength: 3 }),
        fc.string({ maxLength: 3 }),
        (text, before, after) => {
          const bytes = Buffer.from(before + text + after);
          const start = Buffer.byteLength(before);
          const got = parseListenTimeBytes(bytes, start, start + Buffer.byteLength(text));
          const expected = referenceTime(text);
          if (Number.isNaN(expected)) expect(got).toBeNaN();
          else expect(got).toBe(expected);
          expect(Object.is(parseListenTime(text), got)).toBe(true);
          expect(Object.is(kernel.listenTime(Buffer.from(text)), got)).toBe(true);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('holds the fields at their bounds, in the parser and in the kernel alike', () => {
    const kernel = new StreamScan();
    const edges = [
      '2024-01-01T23:59:59Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T00:60:00Z',
      '2024-01-01T00:00:60Z',
      '2024-01-01T00:00:59Z',
      '2024-01-01 00:00:60',
      '2024-01-01T24:00',
      '2024-01-01T00:00:60.5Z',
      '2024-02-29T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2000-02-29T00:00:00Z',
      '2024-04-31T00:00:00Z',
      '2024-12-31T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-00-01T00:00:00Z',
      '2024-01-00T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '0000-03-01',
      '2024-01-01T00:00:00+23:59',
      '2024-01-01T00:00:00+24:00',
      '2024-01-01T00:00:00-00:60',
      '2024-01-01T00:00:00-0059',
      '2024-01-01T00:00:00+00:',
      '2024-01-01T00:00:00.Z',
      '2024-01-01T00:00:00.000000999Z',
    ];
    for (const text of edges) {
      const bytes = Buffer.from(text);
      const got = parseListenTimeBytes(bytes, 0, bytes.length);
      const expected = referenceTime(text);
      if (Number.isNaN(expected)) expect(got, text).toBeNaN();
      else expect(got, text).toBe(expected);
      expect(Object.is(kernel.listenTime(bytes), got), text).toBe(true);
    }
  });

  it('sees that the reference itself accepts what it should (the property above is not all NaN)', () => {
    expect(referenceTime('2024-01-01T23:30:00-05:00')).toBe(Date.UTC(2024, 0, 2, 4, 30) * 1000);
    expect(referenceTime('0099-12-31T00:00:00.1234567Z')).toBe(
      new Date('0099-12-31T00:00:00.123Z').getTime() * 1000 + 123456 - 123000,
    );
  });
});

describe('UTC day and hour of an instant', () => {
  it('cuts at UTC midnight and on the hour, before 1970 too', () => {
    const at = (iso: string): number => parseListenTime(iso);
    expect(utcDayOf(at('1970-01-01T00:00:00Z'))).toBe(0);
    expect(utcDayOf(at('1969-12-31T23:59:59.999999Z'))).toBe(-1);
    expect(utcDayOf(at('2024-01-01T23:30:00-05:00'))).toBe(utcDayOf(at('2024-01-02T00:00:00Z')));
    expect(utcHourOf(at('2024-01-01T23:30:00-05:00'))).toBe(4);
    expect(utcHourOf(at('1969-12-31T23:59:59Z'))).toBe(23);
  });
});
