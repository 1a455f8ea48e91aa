import { existsSync } from 'node:fs';
import { chartFilePaths, forEachCountryChart, forEachUserChart } from '../formats/chartFiles.js';
import { readQualityReport } from '../formats/qualityReport.js';
import { isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { fileSignature } from '../ops/fileIo.js';
import { type Db, writeTransaction } from './resultsDb.js';

/** User charts are kept for this many of the newest chart dates unless told otherwise. */
export const DEFAULT_USER_CHART_DATES = 3;

export interface ChartLoadResult {
  date: string;
  countries: number;
  users: number;
  /** False when the date is older than the kept user-chart dates (its user charts are not stored). */
  userChartsKept: boolean;
  /** Chart dates whose user charts were removed to keep `userChartDates`. */
  prunedUserCharts: string[];
}

/**
 * Load one chart date's files from `outDir` (country chart, user chart, quality report) into the
 * store, replacing what it held for that date, in one transaction: a reader sees the old date or
 * the new one. Lines are checked as they are read; a malformed file loads nothing. User charts are
 * kept for the newest `userChartDates` dates only (a date holds millions of users).
 */
export function loadChartDate(db: Db, outDir: string, day: number, userChartDates: number): ChartLoadResult {
  const date = isoDay(day);
  const paths = chartFilePaths(outDir, day);
  for (const [what, path] of Object.entries(paths)) {
    if (!existsSync(path)) {
      throw new PlaytallyError('bad_result_file', `cannot load chart date ${date}: no ${what} file ${path}`, {
        path,
      });
    }
  }
  const source = fileSignature(Object.values(paths));
  const report = readQualityReport(paths.quality, date);
  const result: ChartLoadResult = {
    date,
    countries: 0,
    users: 0,
    userChartsKept: false,
    prunedUserCharts: [],
  };

  const insertCountry = db.prepare(
    'INSERT INTO country_charts (date, country, rank, sng_id, plays) VALUES (?, ?, ?, ?, ?)',
  );
  const insertUser = db.prepare('INSERT INTO user_charts (date, user_id, chart) VALUES (?, ?, ?)');
  writeTransaction(db, () => {
    for (const table of ['country_charts', 'user_charts', 'chart_quality', 'chart_dates']) {
      db.prepare(`DELETE FROM ${table} WHERE date = ?`).run(date);
    }
    forEachCountryChart(paths.country, (country, songs) => {
      for (const [i, song] of songs.entries()) insertCountry.run(date, country, i + 1, song.song, song.plays);
      result.countries++;
    });

    const newer = db
      .prepare('SELECT date FROM chart_dates WHERE user_charts_kept = 1 AND date > ? ORDER BY date DESC')
      .raw()
      .all(date) as [string][];
    result.userChartsKept = newer.length < userChartDates;
    forEachUserChart(paths.user, (user, chart) => {
      // Checked even when not kept, so that a damaged file is reported the same either way.
      if (result.userChartsKept) insertUser.run(date, user, chart);
      result.users++;
    });

    db.prepare(
      `INSERT INTO chart_dates (date, window_from, window_to, countries, users, user_charts_kept, source, loaded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      date,
      report.window.from,
      report.window.to,
      result.countries,
      result.users,
      result.userChartsKept ? 1 : 0,
      source,
      new Date().toISOString(),
    );
    db.prepare('INSERT INTO chart_quality (date, report) VALUES (?, ?)').run(date, JSON.stringify(report));
    const upsertDay = db.prepare(
      `INSERT INTO log_days (date, file, rows, valid, rejected, rejected_by_reason, source_date)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (date) DO UPDATE SET file = excluded.file, rows = excluded.rows, valid = excluded.valid,
         rejected = excluded.rejected, rejected_by_reason = excluded.rejected_by_reason,
         source_date = excluded.source_date
       WHERE excluded.source_date >= log_days.source_date`,
    );
    for (const d of report.days) {
      upsertDay.run(d.date, d.file, d.rows, d.valid, d.rejected, JSON.stringify(d.rejectedByReason), date);
    }

    const kept = db
      .prepare('SELECT date FROM chart_dates WHERE user_charts_kept = 1 ORDER BY date DESC')
      .raw()
      .all() as [string][];
    for (const [old] of kept.slice(userChartDates)) {
      db.prepare('DELETE FROM user_charts WHERE date = ?').run(old);
      db.prepare('UPDATE chart_dates SET user_charts_kept = 0 WHERE date = ?').run(old);
      result.prunedUserCharts.push(old);
    }
  });
  return result;
}
