import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { DayKpis } from '../kpis/genreKpis.js';
import { writeFileAtomic } from '../ops/atomicFile.js';
import { compactDay, isoDay } from '../ops/dates.js';

/**
 * The KPI files of a day, written through temporary names. CSV by csv-stringify: a genre or a
 * track_id holding a comma, a quote or a newline is quoted as RFC 4180 says; lines end with \n.
 */
export function kpiPaths(
  outDir: string,
  day: number,
): { genres: string; topGenres: string; quality: string } {
  const d = compactDay(day);
  return {
    genres: join(outDir, `genre_kpis_${d}.csv`),
    topGenres: join(outDir, `top_genres_${d}.csv`),
    quality: join(outDir, `kpi_quality_${d}.json`),
  };
}

export const GENRE_KPI_HEADER = [
  'date',
  'genre',
  'listen_count',
  'unique_listeners',
  'total_listening_ms',
  'avg_listening_ms_per_listener',
  'top3_tracks',
];
export const TOP_GENRES_HEADER = ['date', 'rank', 'genre', 'listen_count'];

/** With hour granularity an `hour` column (00-23) follows `date`. */
function withHour(header: string[], hourly: boolean): string[] {
  return hourly ? [header[0]!, 'hour', ...header.slice(1)] : header;
}

export function genreKpiCsv(kpis: DayKpis): string {
  const hourly = kpis.granularity === 'hour';
  const date = isoDay(kpis.day);
  const rows = kpis.genres.map((g) => [
    date,
    ...(hourly ? [String(g.hour).padStart(2, '0')] : []),
    g.genre,
    String(g.listenCount),
    String(g.uniqueListeners),
    String(g.totalListeningMs),
    g.avgListeningMsPerListener,
    g.top3.map((t) => `${t.track}:${t.plays}`).join(';'),
  ]);
  return stringify([withHour(GENRE_KPI_HEADER, hourly), ...rows]);
}

export function topGenresCsv(kpis: DayKpis): string {
  const hourly = kpis.granularity === 'hour';
  const date = isoDay(kpis.day);
  const rows = kpis.topGenres.map((t) => [
    date,
    ...(hourly ? [String(t.hour).padStart(2, '0')] : []),
    String(t.rank),
    t.genre,
    String(t.listenCount),
  ]);
  return stringify([withHour(TOP_GENRES_HEADER, hourly), ...rows]);
}

export function writeKpiFiles(
  outDir: string,
  kpis: DayKpis,
  quality: unknown,
): { genres: string; topGenres: string; quality: string } {
  const paths = kpiPaths(outDir, kpis.day);
  writeFileAtomic(paths.genres, genreKpiCsv(kpis));
  writeFileAtomic(paths.topGenres, topGenresCsv(kpis));
  writeFileAtomic(paths.quality, `${JSON.stringify(quality, null, 2)}\n`);
  return paths;
}
