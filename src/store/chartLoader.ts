import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { forEachLineSync } from '../ops/fileIo.js';
import { countryIndex } from '../parse/countries.js';
import { countryChartName, userChartName } from '../sinks/chartFiles.js';
import { type QualityReport, qualityReportName } from '../sinks/qualityReport.js';
import type { Db } from './resultsDb.js';

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
 * `sng:plays,sng:plays,...` as the chart files write it (at least one song; numbers without
 * leading zeros, so that the stored text reads as JSON numbers).
 */
const CHART_TEXT = /^(?:0|[1-9]\d{0,15}):[1-9]\d{0,15}(?:,(?:0|[1-9]\d{0,15}):[1-9]\d{0,15})*$/;
const USER_ID = /^\d{1,16}$/;

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
  db.transaction(() => {
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
    let previousUser = -1;
    forEachLineSync(paths.user, (line, n) => {
      const { key, chart } = splitChartLine(line, paths.user, n);
      if (!USER_ID.test(key) || Number(key) > Number.MAX_SAFE_INTEGER) {
        throw badLine(paths.user, n, 'not a user id', key);
      }
      if (Number(key) <= previousUser) {
        throw badLine(paths.user, n, `user not after the previous line's ${previousUser}`, key);
      }
      previousUser = Number(key);
      // Checked even when not kept, so that a damaged file is reported the same either way.
      if (result.userChartsKept) insertUser.run(date, Number(key), chart);
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
  }).immediate();
  return result;
}

export function chartFilePaths(
  outDir: string,
  day: number,
): { country: string; user: string; quality: string } {
  return {
    country: join(outDir, countryChartName(day)),
    user: join(outDir, userChartName(day)),
    quality: join(outDir, qualityReportName(day)),
  };
}

/**
 * What a sync compares to tell whether files changed since they were loaded: each file's size and
 * mtime (files are replaced by rename, so a rewrite changes both or at least the mtime).
 */
export function fileSignature(paths: string[]): string {
  return paths
    .map((p) => {
      try {
        const s = statSync(p);
        return `${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join(',');
}

/**
 * Each line of a country chart file, checked: a country code, in ascending order as playtally
 * writes them (a repeated key would otherwise fail later, on a primary key or in a batch, instead
 * of naming the file and line), then `sng_id:plays,...` in rank order.
 */
export function forEachCountryChart(
  path: string,
  visit: (country: string, songs: { song: number; plays: number }[]) => void,
): void {
  let previousCountry = '';
  forEachLineSync(path, (line, n) => {
    const { key, chart } = splitChartLine(line, path, n);
    if (countryIndex(key) < 0) throw badLine(path, n, 'not a country code', key);
    if (key <= previousCountry) {
      throw badLine(path, n, `country not after the previous line's ${previousCountry}`, key);
    }
    previousCountry = key;
    visit(
      key,
      chart.split(',').map((entry) => {
        const colon = entry.indexOf(':');
        return { song: Number(entry.slice(0, colon)), plays: Number(entry.slice(colon + 1)) };
      }),
    );
  });
}

function splitChartLine(line: string, path: string, n: number): { key: string; chart: string } {
  const bar = line.indexOf('|');
  if (bar <= 0) throw badLine(path, n, 'no key|chart', line);
  const chart = line.slice(bar + 1);
  if (!CHART_TEXT.test(chart)) throw badLine(path, n, 'chart is not sng_id:plays,...', line);
  return { key: line.slice(0, bar), chart };
}

function badLine(path: string, n: number, problem: string, got: string): PlaytallyError {
  const shown = got.length > 80 ? `${got.slice(0, 80)}...` : got;
  return new PlaytallyError('bad_result_file', `${path}:${n}: ${problem} (got ${JSON.stringify(shown)})`, {
    path,
    line: n,
  });
}

function readQualityReport(path: string, date: string): QualityReport {
  let report: QualityReport;
  try {
    report = JSON.parse(readFileSync(path, 'utf8')) as QualityReport;
  } catch (error) {
    throw new PlaytallyError(
      'bad_result_file',
      `${path}: not a JSON quality report (${(error as Error).message})`,
      {
        path,
      },
    );
  }
  if (report?.date !== date || !report.window || !Array.isArray(report.days)) {
    throw new PlaytallyError('bad_result_file', `${path}: not the quality report of ${date}`, { path });
  }
  return report;
}
