import { readKpiDay } from '../formats/kpiFiles.js';
import { type Db, writeTransaction } from './resultsDb.js';

export interface KpiLoadResult {
  date: string;
  granularity: 'day' | 'hour';
  genres: number;
}

/** The store's hour column: the UTC hour, or -1 for a whole day (a key column holds no NULL). */
const WHOLE_DAY = -1;

/** Load one day's KPI files into the store, replacing that day's rows, in one transaction. */
export function loadKpiDay(db: Db, outDir: string, day: number): KpiLoadResult {
  const files = readKpiDay(outDir, day);
  const { date } = files;
  const insertGenre = db.prepare(
    `INSERT INTO genre_kpis (date, hour, genre, listen_count, unique_listeners, total_listening_ms,
       avg_listening_ms_per_listener, top3_tracks) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertTop = db.prepare(
    'INSERT INTO top_genres (date, hour, rank, genre, listen_count) VALUES (?, ?, ?, ?, ?)',
  );
  writeTransaction(db, () => {
    for (const table of ['genre_kpis', 'top_genres', 'kpi_days']) {
      db.prepare(`DELETE FROM ${table} WHERE date = ?`).run(date);
    }
    for (const g of files.genres) {
      insertGenre.run(
        date,
        g.hour ?? WHOLE_DAY,
        g.genre,
        g.listenCount,
        g.uniqueListeners,
        g.totalListeningMs,
        g.avgListeningMsPerListener,
        JSON.stringify(g.top3),
      );
    }
    for (const t of files.topGenres) insertTop.run(date, t.hour ?? WHOLE_DAY, t.rank, t.genre, t.listenCount);
    db.prepare(
      'INSERT INTO kpi_days (date, granularity, quality, source, loaded_at) VALUES (?, ?, ?, ?, ?)',
    ).run(date, files.granularity, JSON.stringify(files.quality), files.source, new Date().toISOString());
  });
  return { date, granularity: files.granularity, genres: files.genres.length };
}
