import { isoDay, parseDay } from '../ops/dates.js';
import { countryIndex } from '../parse/countries.js';
import { ApiError, badParameter, notFound } from './apiErrors.js';
import type { ApiRoute } from './routes.js';

/** The dates the API takes: from the epoch (no listen log is older) to the last four-digit year. */
const FIRST_DAY = 0;
const LAST_DAY = parseDay('9999-12-31')!;

/** `date=YYYY-MM-DD` or `YYYYMMDD`, 1970-01-01..9999-12-31; `fallback` when absent (undefined: nothing stored yet). */
export function dateParam(name: string, text: string | undefined, fallback?: string): string | undefined {
  if (text === undefined || text === '') return fallback;
  const day = parseDay(text);
  if (day === undefined) throw badParameter(name, `not a date (YYYY-MM-DD or YYYYMMDD): ${quote(text)}`);
  if (day < FIRST_DAY || day > LAST_DAY) {
    throw badParameter(name, `not a date from 1970-01-01 to 9999-12-31: ${quote(text)}`);
  }
  return isoDay(day);
}

/**
 * A country code: two letters, either case (400 otherwise). A pair that is not an assigned
 * ISO 3166-1 code is well formed but names no key: 404.
 */
export function countryParam(text: string): string {
  // Checked before upper-casing: Unicode case mapping turns some letters into two ASCII ones (ß: SS).
  if (!/^[A-Za-z]{2}$/.test(text)) throw badParameter('cc', `not a two-letter country code: ${quote(text)}`);
  const code = text.toUpperCase();
  if (countryIndex(code) < 0) throw notFound(`no country ${code} (not an ISO 3166-1 alpha-2 code)`);
  return code;
}

/** A user id as the logs hold it: decimal digits, at most 2^53-1. */
export function userIdParam(text: string): number {
  if (!/^\d{1,16}$/.test(text) || Number(text) > Number.MAX_SAFE_INTEGER) {
    throw badParameter('id', `not a user id (decimal digits, at most 2^53-1): ${quote(text)}`);
  }
  return Number(text);
}

export function limitParam(text: string | undefined, fallback: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw badParameter('limit', `not a whole number from 1 to ${max}: ${quote(text)}`);
  }
  return Number(text);
}

/**
 * Every query parameter given must be one `route` takes (its OpenAPI declaration): a 400 naming
 * the others and listing the ones it takes. A misspelt or misplaced parameter (`?limit=3` on a
 * country chart, `?day=` for `?date=`) would otherwise be ignored and the answer be the default's.
 */
export function knownParameters(route: ApiRoute, given: Iterable<string>): void {
  const unknown = [...new Set(given)].filter((name) => !route.query.includes(name));
  if (unknown.length === 0) return;
  const takes =
    route.query.length === 0
      ? 'this route takes no query parameters'
      : `this route takes ${route.query.join(', ')}`;
  const names = unknown.map(nameText).join(', ');
  throw new ApiError(
    400,
    'bad_parameter',
    `unknown parameter${unknown.length > 1 ? 's' : ''} ${names}: ${takes}`,
    unknown[0]!,
  );
}

/** A parameter name as a message shows it: as is when it is a plain word, quoted otherwise. */
function nameText(name: string): string {
  return /^[\w.~-]{1,40}$/.test(name) ? name : quote(name);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}
