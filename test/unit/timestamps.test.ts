import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseListenTime, utcDayOf, utcHourOf } from '../../src/parse/timestamps.js';

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
