import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseViewState,
  VIEW_KEYS,
  type ViewState,
  viewQuery,
  withView,
} from '../../src/dashboard/viewState.js';

/** The dashboard's address <-> view (src/dashboard/viewState.ts), outside the browser. */

describe('parseViewState', () => {
  it('reads the four parameters, with or without the `?`', () => {
    const view = { date: '2024-01-02', country: 'FR', user: '42', genre: 'hip-hop' };
    expect(parseViewState('?date=2024-01-02&country=FR&user=42&genre=hip-hop')).toEqual(view);
    expect(parseViewState('genre=hip-hop&user=42&country=FR&date=2024-01-02')).toEqual(view);
    expect(parseViewState('')).toEqual({});
    expect(parseViewState('?')).toEqual({});
  });

  it('writes values as the API does: YYYYMMDD dates, lower-case countries, leading zeros', () => {
    expect(parseViewState('?date=20240102&country=fr&user=007')).toEqual({
      date: '2024-01-02',
      country: 'FR',
      user: '7',
    });
  });

  it('decodes the query: a genre with spaces, `+` and `&` in it', () => {
    expect(parseViewState('?genre=r%26b')).toEqual({ genre: 'r&b' });
    expect(parseViewState('?genre=singer+songwriter')).toEqual({ genre: 'singer songwriter' });
    expect(parseViewState('?genre=%E6%BC%94%E6%AD%8C')).toEqual({ genre: '演歌' });
  });

  it.each([
    ['a month 13', '?date=2024-13-01'],
    ['30 February', '?date=2024-02-30'],
    ['before the epoch', '?date=1969-12-31'],
    ['a five-digit year', '?date=12024-01-01'],
    ['half a date', '?date=2024-01'],
    ['words', '?date=yesterday'],
    ['mixed forms', '?date=2024-0102'],
    ['empty', '?date='],
  ])('ignores a date that is not one: %s', (_, query) => {
    expect(parseViewState(query)).toEqual({});
  });

  it.each([
    ['not ISO 3166-1', '?country=ZZ'],
    ['three letters', '?country=FRA'],
    ['one letter', '?country=F'],
    ['digits', '?country=12'],
    ['a letter that upper-cases into two', '?country=%C3%9F'],
    ['empty', '?country='],
  ])('ignores a country that is not one: %s', (_, query) => {
    expect(parseViewState(query)).toEqual({});
  });

  it.each([
    ['letters', '?user=abc'],
    ['negative', '?user=-1'],
    ['a fraction', '?user=1.5'],
    ['past 2^53-1', '?user=9007199254740992'],
    ['17 digits', '?user=12345678901234567'],
    ['empty', '?user='],
  ])('ignores a user id that is not one: %s', (_, query) => {
    expect(parseViewState(query)).toEqual({});
  });

  it('takes the largest user id, 2^53-1', () => {
    expect(parseViewState('?user=9007199254740991')).toEqual({ user: '9007199254740991' });
  });

  it.each([
    ['empty', '?genre='],
    ['only spaces', '?genre=%20%20'],
    ['a control character', '?genre=jazz%00'],
    ['a new line', '?genre=jazz%0Apop'],
    ['longer than 100 characters', `?genre=${'a'.repeat(101)}`],
  ])('ignores a genre that is not one: %s', (_, query) => {
    expect(parseViewState(query)).toEqual({});
  });

  it('keeps the valid parameters beside invalid ones, and drops parameters of other names', () => {
    expect(parseViewState('?date=2024-02-30&country=FR&user=abc&genre=jazz&token=x&foo')).toEqual({
      country: 'FR',
      genre: 'jazz',
    });
  });

  it('takes the first of a repeated parameter', () => {
    expect(parseViewState('?country=FR&country=DE')).toEqual({ country: 'FR' });
  });

  it('leaves the default country out: US is what no country shows', () => {
    expect(parseViewState('?country=US')).toEqual({});
    expect(parseViewState('?country=us&date=2024-01-02')).toEqual({ date: '2024-01-02' });
  });

  it('never throws, whatever the query', () => {
    // Queries of the four names (and others) with any values, encoded or raw, so that every reader
    // sees garbage: the characters that mean something in a query, a date or a country, and worse.
    const unit = fc.constantFrom(...'0123456789-aZß%&=+?# ', '\u0000', '\u007f', '\ud800', '演', '😀');
    const value = fc.string({ unit, maxLength: 20 });
    const pair = fc.tuple(fc.constantFrom(...VIEW_KEYS, 'token', ''), value, fc.boolean());
    const query = fc
      .array(pair, { maxLength: 6 })
      .map((pairs) =>
        pairs
          .map(([k, v, raw]) => `${k}=${raw ? v : encodeURIComponent(v.replace(/[\ud800-\udfff]/g, ''))}`)
          .join('&'),
      );
    fc.assert(
      fc.property(fc.oneof(query, fc.string({ unit, maxLength: 60 })), (text) => {
        const view = parseViewState(text);
        expect(Object.keys(view).every((k) => (VIEW_KEYS as string[]).includes(k))).toBe(true);
        expect(parseViewState(viewQuery(view))).toEqual(view);
      }),
      { numRuns: 300 },
    );
  });
});

describe('viewQuery', () => {
  it('is empty for the default view', () => {
    expect(viewQuery({})).toBe('');
  });

  it('writes the parameters in a fixed order: date, country, user, genre', () => {
    expect(viewQuery({ genre: 'jazz', user: '42', country: 'FR', date: '2024-01-02' })).toBe(
      '?date=2024-01-02&country=FR&user=42&genre=jazz',
    );
    expect(viewQuery({ genre: 'jazz', date: '2024-01-02' })).toBe('?date=2024-01-02&genre=jazz');
  });

  it('encodes what needs it', () => {
    expect(viewQuery({ genre: 'r&b' })).toBe('?genre=r%26b');
    expect(viewQuery({ genre: 'singer songwriter' })).toBe('?genre=singer+songwriter');
  });

  it('round-trips through parseViewState: any view a person can choose reads back the same', () => {
    const view = fc.record(
      {
        date: fc
          .date({
            min: new Date('1970-01-01T00:00:00Z'),
            max: new Date('9999-12-31T00:00:00Z'),
            noInvalidDate: true,
          })
          .map((d) => d.toISOString().slice(0, 10)),
        country: fc.constantFrom('FR', 'DE', 'GB', 'JP', 'BR', 'AD', 'ZW'),
        user: fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }).map(String),
        genre: fc
          .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
          .filter((g) => g.trim() !== '' && g.length <= 100 && !/\p{Cc}/u.test(g)),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(view, (v: ViewState) => {
        expect(parseViewState(viewQuery(v))).toEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it('makes a canonical address: writing what was read is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        const once = viewQuery(parseViewState(text));
        expect(viewQuery(parseViewState(once))).toBe(once);
      }),
      { numRuns: 500 },
    );
  });
});

describe('withView', () => {
  const view: ViewState = { date: '2024-01-02', country: 'FR', user: '42', genre: 'jazz' };

  it('replaces the fields given and keeps the others', () => {
    expect(withView(view, { country: 'DE' })).toEqual({ ...view, country: 'DE' });
  });

  it('removes a field given as undefined, and one that cannot be read', () => {
    expect(withView(view, { user: undefined })).toEqual({ date: '2024-01-02', country: 'FR', genre: 'jazz' });
    expect(withView(view, { date: 'tomorrow' })).toEqual({ country: 'FR', user: '42', genre: 'jazz' });
    expect('user' in withView(view, { user: undefined })).toBe(false);
  });

  it('reads a picked value as from an address: the default country is no field', () => {
    expect(withView(view, { country: 'US' })).toEqual({ date: '2024-01-02', user: '42', genre: 'jazz' });
    expect(withView({}, { user: '0042' })).toEqual({ user: '42' });
  });
});
