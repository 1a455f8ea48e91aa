/**
 * The dashboard's only door to the server: typed GETs of the JSON API (shapes as in
 * src/serve/openapi.ts), its error answers turned into ApiError, and the bearer token.
 */

import type {
  CountryMovement,
  Dates,
  GenreKpi,
  KpiDay,
  LogDay,
  TopGenre,
  UserChart,
} from '../store/answers.js';

export type {
  ChartSong,
  CountryMovement,
  Dates,
  GenreKpi,
  KpiDay,
  LogDay,
  MovedSong,
  Movement,
  TopGenre,
  UserChart,
} from '../store/answers.js';

/** A run of run/backfill/watch as stored (src/formats/runHistory.ts), the fields shown. */
export interface Run {
  id: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  stopped: boolean;
  /** `exitCode`: absent in runs recorded before exit codes were. */
  error?: { code: string; message: string; exitCode?: number };
  days: { date: string; file: string; rows: number; valid: number; rejected: number }[];
  /** The days the charts were written from without parsing them again; absent in older runs. */
  reused?: { days: string[]; rows: number };
  charts: string[];
  chartsCurrent: number;
  quarantined: { date: string; file: string; reason: string; message: string }[];
  missing: string[];
  totals: { rows: number; valid: number; rejected: number };
}

/** An answer other than 2xx (its JSON `{error, message}`), or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'playtally.token';
/** Used when sessionStorage is not available (some private modes throw on access). */
let memoryToken: string | undefined;
let unauthorizedHandler: ((error: ApiError) => void) | undefined;

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return memoryToken;
  }
}

/** Keep `token` for this tab (undefined: forget it). */
export function setToken(token: string | undefined): void {
  memoryToken = token;
  try {
    if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // memoryToken holds it
  }
}

/**
 * A link may carry the token as `#token=...`: keep it and take it out of the address bar, so it
 * is not left in the history or in a screenshot.
 */
export function takeTokenFromUrl(): void {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!match) return;
  setToken(decodeURIComponent(match[1]!));
  history.replaceState(null, '', location.pathname + location.search);
}

/** Called on a 401 answer to the token stored now (after it is forgotten). */
export function onUnauthorized(handler: (error: ApiError) => void): void {
  unauthorizedHandler = handler;
}

async function get<T>(path: string): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = storedToken();
  if (token) headers['authorization'] = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { headers });
  } catch (error) {
    throw new ApiError(0, 'network', `cannot reach the server (${(error as Error).message})`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const answer = (body ?? {}) as { error?: unknown; message?: unknown };
    const error = new ApiError(
      response.status,
      typeof answer.error === 'string' ? answer.error : `http_${response.status}`,
      typeof answer.message === 'string'
        ? answer.message
        : `HTTP ${response.status} ${response.statusText}`.trim(),
    );
    // A 401 to a request sent with another token than the one stored now (a new one was entered
    // while it was on its way) says nothing of the new one: it must not forget it, nor ask again.
    if (response.status === 401 && storedToken() === token) {
      setToken(undefined);
      unauthorizedHandler?.(error);
    }
    throw error;
  }
  if (body === undefined)
    throw new ApiError(response.status, 'bad_answer', `${path}: the answer is not JSON`);
  return body as T;
}

const q = encodeURIComponent;

/** The API routes the dashboard reads, one function each. */
export const api = {
  dates: () => get<Dates>('/api/dates'),
  countries: (date: string) =>
    get<{ date: string; countries: string[] }>(`/api/charts/country?date=${q(date)}`),
  movement: (country: string, date: string) =>
    get<CountryMovement>(`/api/charts/country/${q(country)}/movement?date=${q(date)}`),
  userChart: (user: string, date: string) => get<UserChart>(`/api/charts/user/${q(user)}?date=${q(date)}`),
  kpiDay: (date: string) => get<KpiDay>(`/api/kpis/genres?date=${q(date)}`),
  genreSeries: (genre: string, from: string, to: string) =>
    get<{ genre: string; from: string; to: string; days: GenreKpi[] }>(
      `/api/kpis/genres/${q(genre)}?from=${q(from)}&to=${q(to)}`,
    ),
  topGenres: (from: string, to: string) =>
    get<{ from: string; to: string; days: TopGenre[] }>(`/api/kpis/top-genres?from=${q(from)}&to=${q(to)}`),
  qualityDays: (from: string, to: string) =>
    get<{ from: string; to: string; days: LogDay[] }>(`/api/quality/days?from=${q(from)}&to=${q(to)}`),
  runs: (limit: number) => get<{ runs: Run[] }>(`/api/runs?limit=${limit}`),
};

/** What to tell the reader about a failed request. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    return error.status === 0 ? error.message : `${error.message} (HTTP ${error.status})`;
  }
  return `unexpected error: ${(error as Error)?.message ?? String(error)}`;
}
