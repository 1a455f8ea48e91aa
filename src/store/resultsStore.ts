import { resolve } from 'node:path';
import { chartDatesIn, chartFilePaths } from '../formats/chartFiles.js';
import { kpiDatesIn, kpiPaths } from '../formats/kpiFiles.js';
import { KEEP_RUNS, type RunRecord, readRunHistory } from '../formats/runHistory.js';
import { isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { fileSignature } from '../ops/fileIo.js';
import { writeFailure } from '../ops/ioErrors.js';
import { type ChartLoadResult, DEFAULT_USER_CHART_DATES, loadChartDate } from './chartLoader.js';
import { type KpiLoadResult, loadKpiDay } from './kpiLoader.js';
import { type Db, firstValue, openResultsDb } from './resultsDb.js';
import { loadRuns } from './runLoader.js';

export interface StoreOptions {
  /** Keep user charts for this many of the newest chart dates (default 3). */
  userChartDates?: number;
}

/**
 * The writing side of the results store. Runs call `syncCharts` / `syncKpis` after writing their
 * files, and `playtally load` calls them on existing output folders: both load the dates whose
 * files changed since they were loaded (by size and mtime), so a load that failed, or files written
 * without --db, are picked up by the next sync.
 */
export class ResultsStore {
  readonly userChartDates: number;

  private constructor(
    readonly db: Db,
    readonly path: string,
    options: StoreOptions,
  ) {
    this.userChartDates = options.userChartDates ?? DEFAULT_USER_CHART_DATES;
  }

  static open(path: string, options: StoreOptions = {}): ResultsStore {
    return new ResultsStore(openResultsDb(path), resolve(path), options);
  }

  /** Load the chart dates of `outDir` (all, or `days`) whose files are new or changed; newest first. */
  syncCharts(
    outDir: string,
    days?: number[],
    onBadDate?: (error: PlaytallyError) => void,
  ): ChartLoadResult[] {
    const dir = resolve(outDir);
    return this.sync(
      days ?? chartDatesIn(dir),
      'chart_dates',
      (day) => Object.values(chartFilePaths(dir, day)),
      (day) => loadChartDate(this.db, dir, day, this.userChartDates),
      onBadDate,
    );
  }

  /** Load the KPI days of `outDir` (all, or `days`) whose files are new or changed. */
  syncKpis(outDir: string, days?: number[]): KpiLoadResult[] {
    const dir = resolve(outDir);
    return this.sync(
      days ?? kpiDatesIn(dir),
      'kpi_days',
      (day) => Object.values(kpiPaths(dir, day)),
      (day) => loadKpiDay(this.db, dir, day),
    );
  }

  /**
   * Load each of `days`, newest first, unless `table` holds it with the signature of its files
   * now. With onBadDate, one damaged date (a file edited or removed by hand) is reported and the
   * others are loaded; nothing of the damaged date is (its load is one transaction).
   */
  private sync<T>(
    days: number[],
    table: 'chart_dates' | 'kpi_days',
    files: (day: number) => string[],
    load: (day: number) => T,
    onBadDate?: (error: PlaytallyError) => void,
  ): T[] {
    const loaded: T[] = [];
    for (const day of [...days].sort((a, b) => b - a)) {
      const stored = firstValue(this.db, `SELECT source FROM ${table} WHERE date = ?`, isoDay(day));
      if (stored !== undefined && stored === fileSignature(files(day))) continue;
      try {
        loaded.push(load(day));
      } catch (error) {
        if (!onBadDate || !(error instanceof PlaytallyError) || error.code !== 'bad_result_file')
          throw writeFailure(error, this.path);
        onBadDate(error);
      }
    }
    this.checkpoint(loaded.length);
    return loaded;
  }

  /** Store the runs of a state folder's run history (runs already stored are replaced). */
  syncRuns(stateDir: string): number {
    const runs = readRunHistory(resolve(stateDir), KEEP_RUNS);
    try {
      return loadRuns(this.db, runs);
    } catch (error) {
      throw writeFailure(error, this.path);
    }
  }

  addRun(run: RunRecord): void {
    try {
      loadRuns(this.db, [run]);
    } catch (error) {
      throw writeFailure(error, this.path);
    }
  }

  close(): void {
    this.db.close();
  }

  /**
   * After a load, move the WAL's pages into the database and truncate it, so a 1 GB user-chart
   * load does not leave a 1 GB WAL behind. With a reader in the middle of a query this does what
   * it can and the next checkpoint finishes.
   */
  private checkpoint(loads: number): void {
    if (loads === 0) return;
    try {
      this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } catch (error) {
      throw writeFailure(error, this.path);
    }
  }
}
