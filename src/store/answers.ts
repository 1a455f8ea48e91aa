/**
 * The shapes of the API's JSON answers, in one place: the store's read side returns them, the
 * routes send them, and the dashboard (bundled for the browser) reads them. Types only (and type
 * imports only), so the browser bundle can share this file. The OpenAPI document describes the same
 * shapes (src/serve/openapi.ts).
 */

import type { GenreKpi as GenreKpiRow, TopGenre as TopGenreRow } from '../kpis/genreKpis.js';

export interface Dates {
  charts: string[];
  /** Chart dates whose user charts are kept in the store (the newest few). */
  userCharts: string[];
  kpis: string[];
  logDays: string[];
}

export interface ChartSong {
  rank: number;
  song: number;
  plays: number;
}

export type Movement =
  | { kind: 'new' }
  | { kind: 're-entry' }
  | { kind: 'up'; by: number }
  | { kind: 'down'; by: number }
  | { kind: 'same' };

export interface MovedSong extends ChartSong {
  previousRank: number | null;
  /** null when the day before has no stored chart. */
  movement: Movement | null;
}

export interface DroppedSong {
  song: number;
  previousRank: number;
  previousPlays: number;
}

export interface CountryMovement {
  date: string;
  country: string;
  window: { from: string; to: string };
  previousDate: string | null;
  songs: MovedSong[];
  dropped: DroppedSong[];
}

export interface UserChart {
  date: string;
  user: number;
  window: { from: string; to: string };
  songs: ChartSong[];
}

/**
 * A genre's KPIs as the API answers them: the one KPI row type (kpis/genreKpis.ts) with its date,
 * and its average a JSON number like the other figures (the row's exact 2-decimal text read as a
 * number: `"1234.50"` is 1234.5; the KPI files and the store keep the text).
 */
export type GenreKpi = Omit<GenreKpiRow, 'avgListeningMsPerListener'> & {
  date: string;
  avgListeningMsPerListener: number;
};

/** A top genre as the API answers it, with its date. */
export type TopGenre = TopGenreRow & { date: string };

export interface KpiDay {
  date: string;
  granularity: 'day' | 'hour';
  genres: GenreKpi[];
  topGenres: TopGenre[];
}

export interface LogDay {
  date: string;
  file: string;
  rows: number;
  valid: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
}
