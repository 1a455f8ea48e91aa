import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactDay, isoDay, parseDay } from '../../src/ops/dates.js';

const DAY_MS = 86_400_000;
/** Day number of a calendar date, computed independently of the module. */
const dayOf = (y: number, m: number, d: number): number => {
  // setUTCFullYear, not Date.UTC (which maps years 0..99 to 1900..1999).
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  return date.getTime() / DAY_MS;
};

describe('parseDay', () => {
  it.each([
    ['19700101', 0],
    ['1970-01-01', 0],
    ['19700102', 1],
    ['19691231', -1],
    ['20240101', 19723],
    ['2024-01-01', 19723],
    ['2024-02-29', dayOf(2024, 2, 29)],
    ['20000229', dayOf(2000, 2, 29)],
    ['2023-12-31', dayOf(2023, 12, 31)],
    ['99991231', dayOf(9999, 12, 31)],
    ['2024-07-15', dayOf(2024, 7, 15)],
    // Years below 100 are real years, not 1900 + year.
    ['0050-01-01', dayOf(50, 1, 1)],
    ['00500101', dayOf(50, 1, 1)],
    ['0099-12-31', dayOf(99, 12, 31)],
    ['0000-01-01', dayOf(0, 1, 1)],
    ['0004-02-29', dayOf(4, 2, 29)],
  ])('accepts %s', (text, day) => {
    expect(parseDay(text)).toBe(day);
  });

  it('gives the same day for both forms', () => {
    expect(parseDay('20240315')).toBe(parseDay('2024-03-15'));
    expect(parseDay('20240315')).toBe(dayOf(2024, 3, 15));
  });

  it.each([
    '2024-02-30',
    '20240230',
    '2023-02-29', // not a leap year
    '19000229', // not a leap year (century)
    '0001-02-29',
    '2024-04-31',
    '20241301',
    '2024-13-01',
    '2024-00-10',
    '20240100',
    '2024-01-32',
    '2024-1-01',
    '2024-01-1',
    '24-01-01',
    '240101',
    '2024/01/01',
    '2024.01.01',
    '',
    ' ',
    '2024-0101',
    '202401-01',
    '2024--0101',
    '2024-01-01T00:00:00Z',
    '2024-01-01x',
    'x20240101',
    '202401011',
    '2024010',
    '+2024-01-01',
    '-2024-01-01',
    'abcd-ef-gh',
    '２０２４０１０１', // full-width digits
    '2024 01 01',
  ])('rejects %j', (text) => {
    expect(parseDay(text)).toBeUndefined();
  });

  it('accepts exactly the real dates among all YYYYMMDD of a leap and a common year', () => {
    for (const year of [2023, 2024]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const mm = String(month).padStart(2, '0');
          const dd = String(day).padStart(2, '0');
          const real =
            month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
          const expected = real ? dayOf(year, month, day) : undefined;
          expect(parseDay(`${year}${mm}${dd}`), `${year}${mm}${dd}`).toBe(expected);
          expect(parseDay(`${year}-${mm}-${dd}`), `${year}-${mm}-${dd}`).toBe(expected);
        }
      }
    }
  });
});

describe('compactDay / isoDay', () => {
  it('format known days', () => {
    expect(isoDay(0)).toBe('1970-01-01');
    expect(compactDay(0)).toBe('19700101');
    expect(isoDay(19723)).toBe('2024-01-01');
    expect(compactDay(19723)).toBe('20240101');
    expect(isoDay(dayOf(2024, 2, 29))).toBe('2024-02-29');
    expect(compactDay(dayOf(2024, 12, 31))).toBe('20241231');
    expect(compactDay(-1)).toBe('19691231');
    expect(dayOf(50, 1, 1)).toBe(-701265);
    expect(isoDay(-701265)).toBe('0050-01-01');
    expect(compactDay(dayOf(99, 12, 31))).toBe('00991231');
  });

  it('round-trip for the days around 0100-01-01', () => {
    for (let day = dayOf(99, 12, 1); day <= dayOf(100, 1, 31); day++) {
      expect(parseDay(compactDay(day))).toBe(day);
      expect(parseDay(isoDay(day))).toBe(day);
    }
  });

  it('round-trip through parseDay for every day from 0000-01-01 to 9999-12-31', () => {
    fc.assert(
      fc.property(fc.integer({ min: dayOf(0, 1, 1), max: dayOf(9999, 12, 31) }), (day) => {
        const iso = isoDay(day);
        const compact = compactDay(day);
        expect(iso).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(compact).toBe(iso.replaceAll('-', ''));
        expect(parseDay(iso)).toBe(day);
        expect(parseDay(compact)).toBe(day);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trip for every day of 2023 and 2024', () => {
    for (let day = dayOf(2023, 1, 1); day <= dayOf(2024, 12, 31); day++) {
      expect(parseDay(compactDay(day))).toBe(day);
      expect(parseDay(isoDay(day))).toBe(day);
    }
  });

  it('parse then format gives the text back', () => {
    for (const text of ['20240229', '19991231', '20000101']) expect(compactDay(parseDay(text)!)).toBe(text);
    for (const text of ['2024-02-29', '1999-12-31', '2000-01-01']) expect(isoDay(parseDay(text)!)).toBe(text);
  });
});
