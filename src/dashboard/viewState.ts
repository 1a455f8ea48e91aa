/**
 * What the dashboard shows, as its address says it: `/?date=2024-03-03&country=FR&user=42&genre=jazz`.
 *
 * A field that is absent is at its default: the newest date, the country `US` (or the date's first
 * country without US), no user looked up, the busiest genre of the date. A field is present when a
 * person chose it, and it is written even when it equals what the default shows today, because a
 * default moves: without `date` a link follows the newest date as runs load new ones, with it the
 * link stays on that day; without `genre` each date shows its own busiest genre, with it the chosen
 * genre is kept across dates. The one default that never moves, the country US, is not written.
 *
 * Pure (no DOM, no history): main.ts moves the state in and out of the address bar, and the unit
 * tests import this file under Node. A value that cannot be read (a bad date, a country code that
 * is not ISO 3166-1, garbage) is dropped here, and a parameter of another name is not kept;
 * whether the store has the date, country or genre is only known with the data, so the panels
 * drop those when they find out.
 */

import { isoDay, parseDay } from '../ops/dates.js';
import { countryIndex } from '../parse/countries.js';

export interface ViewState {
  /** `YYYY-MM-DD`. */
  readonly date?: string;
  /** Two upper-case letters, an ISO 3166-1 alpha-2 code; never the default, US. */
  readonly country?: string;
  /** Decimal digits without leading zeros, at most 2^53-1 (the API's user ids). */
  readonly user?: string;
  readonly genre?: string;
}

export type ViewKey = keyof ViewState;

/**
 * How a panel tells main.ts that the view changed under it: a person `chosen` a value in its
 * picker (undefined: cleared it), or the panel `dropped` the value it was asked to show because
 * the data does not have it (a country without a chart that day, a genre without listens), and
 * shows its default instead.
 */
export type ViewReport = (value: string | undefined, how: 'chosen' | 'dropped') => void;

/** The parameters, in the order the address writes them (the order of the page and the issue). */
export const VIEW_KEYS: readonly ViewKey[] = ['date', 'country', 'user', 'genre'];

/** The country shown when the address names none (and the store has it that day). */
export const DEFAULT_COUNTRY = 'US';

/** The API's dates: from the epoch to the last four-digit year. */
const LAST_DAY = parseDay('9999-12-31')!;
/** Longer than any genre name in a `track_genre` column; a longer value is not one. */
const GENRE_MAX = 100;

/** `YYYY-MM-DD` (or `YYYYMMDD`, as the API takes) as `YYYY-MM-DD`; undefined when not a date it serves. */
export function viewDate(text: string): string | undefined {
  const day = parseDay(text);
  return day === undefined || day < 0 || day > LAST_DAY ? undefined : isoDay(day);
}

/** Two letters naming an ISO 3166-1 country, in either case, as upper case. */
export function viewCountry(text: string): string | undefined {
  // Checked before upper-casing: Unicode case mapping turns some letters into two ASCII ones (ß: SS).
  if (!/^[A-Za-z]{2}$/.test(text)) return undefined;
  const code = text.toUpperCase();
  return countryIndex(code) < 0 ? undefined : code;
}

/** A user id (decimal digits, at most 2^53-1) without its leading zeros: `007` is user `7`. */
export function viewUser(text: string): string | undefined {
  const digits = text.trim();
  if (!/^\d{1,16}$/.test(digits) || Number(digits) > Number.MAX_SAFE_INTEGER) return undefined;
  return String(Number(digits));
}

/** A genre name: some text, not only spaces, without control characters, at most 100 characters. */
export function viewGenre(text: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (text.trim() === '' || text.length > GENRE_MAX || /[\u0000-\u001f\u007f]/.test(text)) return undefined;
  return text;
}

const READERS: Record<ViewKey, (text: string) => string | undefined> = {
  date: viewDate,
  country: (text) => {
    const code = viewCountry(text);
    return code === DEFAULT_COUNTRY ? undefined : code;
  },
  user: viewUser,
  genre: viewGenre,
};

/**
 * `state` with the fields of `change` replaced, each read as from an address (undefined, or a
 * value that cannot be read, removes the field). The result holds no undefined field.
 */
export function withView(
  state: ViewState,
  change: { readonly [K in ViewKey]?: string | undefined },
): ViewState {
  const next: Partial<Record<ViewKey, string>> = {};
  for (const key of VIEW_KEYS) {
    const raw = key in change ? change[key] : state[key];
    const value = raw === undefined ? undefined : READERS[key](raw);
    if (value !== undefined) next[key] = value;
  }
  return next;
}

/** The view a query string (`location.search`, with or without its `?`) asks for. Never throws. */
export function parseViewState(search: string): ViewState {
  const params = new URLSearchParams(search);
  const change: Partial<Record<ViewKey, string>> = {};
  for (const key of VIEW_KEYS) {
    const raw = params.get(key);
    if (raw !== null) change[key] = raw;
  }
  return withView({}, change);
}

/** The query string of a view: `''` for the default view, else `?key=value&...` in VIEW_KEYS order. */
export function viewQuery(state: ViewState): string {
  const params = new URLSearchParams();
  for (const key of VIEW_KEYS) {
    const value = state[key];
    if (value !== undefined) params.set(key, value);
  }
  const query = params.toString();
  return query === '' ? '' : `?${query}`;
}
