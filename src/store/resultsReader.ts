import { isoDay, parseDay } from '../ops/dates.js';
import type { ChartSong, DroppedSong, GenreKpi, LogDay, MovedSong, Movement, TopGenre } from './answers.js';
import { type Db, firstValue, openResultsDb, schemaVersion } from './resultsDb.js';

const READER_MMAP_BYTES = 4 * 1024 ** 3;

/**
 * The reading side of the results store, for the API: a read-only connection with its statements
 * prepared once. Every method answers from one SQLite read, so a run loading a date in another
 * process is seen whole or not at all (WAL). Rows come back as plain arrays (`raw()`) and are
 * named here, which keeps libsql's per-row `_metadata` out of the answers.
 */
export class ResultsReader {
  private readonly userChart;
  private readonly countryChart;
  private readonly chartDate;
  private readonly everInChart;

  private constructor(readonly db: Db) {
    // One statement per user-chart answer (the route under load): the date defaults to the newest
    // chart date inside the query, and the window comes along. Measured: each libsql call costs
    // about 10 us, and a lookup made of five of them answered 7k req/s against 20k+ for one.
    this.userChart = db
      .prepare(
        `SELECT u.date, d.window_from, d.window_to, u.chart FROM user_charts u
         JOIN chart_dates d ON d.date = u.date
         WHERE u.date = coalesce(?, (SELECT max(date) FROM chart_dates)) AND u.user_id = ?`,
      )
      .raw();
    this.countryChart = db
      .prepare('SELECT rank, sng_id, plays FROM country_charts WHERE date = ? AND country = ? ORDER BY rank')
      .raw();
    this.chartDate = db
      .prepare(
        'SELECT window_from, window_to, countries, users, user_charts_kept FROM chart_dates WHERE date = ?',
      )
      .raw();
    // Movement: was a song in a country's chart on any date before the given one.
    this.everInChart = db
      .prepare('SELECT 1 FROM country_charts WHERE country = ? AND sng_id = ? AND date < ? LIMIT 1')
      .raw();
  }

  static open(path: string): ResultsReader {
    const db = openResultsDb(path, { readonly: true });
    // Reads through a memory map instead of a read() call per page: random user-chart lookups
    // over a 1 GB store took 8 us instead of 12 (measured with libsql, 2M users).
    db.exec(`PRAGMA mmap_size = ${READER_MMAP_BYTES}`);
    return new ResultsReader(db);
  }

  close(): void {
    this.db.close();
  }

  schemaVersion(): number {
    return schemaVersion(this.db);
  }

  /** Every date with results, newest first, by kind. */
  dates(): { charts: string[]; userCharts: string[]; kpis: string[]; logDays: string[] } {
    const list = (sql: string): string[] => (this.db.prepare(sql).raw().all() as [string][]).map((r) => r[0]);
    return {
      charts: list('SELECT date FROM chart_dates ORDER BY date DESC'),
      userCharts: list('SELECT date FROM chart_dates WHERE user_charts_kept = 1 ORDER BY date DESC'),
      kpis: list('SELECT date FROM kpi_days ORDER BY date DESC'),
      logDays: list('SELECT date FROM log_days ORDER BY date DESC'),
    };
  }

  // max() of an empty table is one row holding NULL: undefined here, as the type says.
  latestChartDate(): string | undefined {
    return (firstValue(this.db, 'SELECT max(date) FROM chart_dates') ?? undefined) as string | undefined;
  }

  latestLogDay(): string | undefined {
    return (firstValue(this.db, 'SELECT max(date) FROM log_days') ?? undefined) as string | undefined;
  }

  latestKpiDate(): string | undefined {
    return (firstValue(this.db, 'SELECT max(date) FROM kpi_days') ?? undefined) as string | undefined;
  }

  chartDateInfo(
    date: string,
  ):
    | { window: { from: string; to: string }; countries: number; users: number; userChartsKept: boolean }
    | undefined {
    const row = this.chartDate.get(date) as [string, string, number, number, number] | undefined;
    if (!row) return undefined;
    return {
      window: { from: row[0], to: row[1] },
      countries: row[2],
      users: row[3],
      userChartsKept: row[4] === 1,
    };
  }

  /** The countries with a chart on `date`, alphabetically. */
  countries(date: string): string[] {
    return (
      this.db
        .prepare('SELECT DISTINCT country FROM country_charts WHERE date = ? ORDER BY country')
        .raw()
        .all(date) as [string][]
    ).map((r) => r[0]);
  }

  countryChartOf(date: string, country: string): ChartSong[] {
    return (this.countryChart.all(date, country) as [number, number, number][]).map(
      ([rank, song, plays]) => ({
        rank,
        song,
        plays,
      }),
    );
  }

  /**
   * A user's chart on `date` (default: the newest chart date), or undefined when there is none
   * (no such date, user charts of the date not kept, or no such user: see chartDateInfo for which).
   */
  userChartOf(
    date: string | undefined,
    userId: number,
  ): { date: string; window: { from: string; to: string }; songs: ChartSong[] } | undefined {
    const row = this.userChartRow(date, userId);
    if (!row) return undefined;
    const songs: ChartSong[] = [];
    let rank = 0;
    for (const entry of row[3].split(',')) {
      const colon = entry.indexOf(':');
      songs.push({
        rank: ++rank,
        song: Number(entry.slice(0, colon)),
        plays: Number(entry.slice(colon + 1)),
      });
    }
    return { date: row[0], window: { from: row[1], to: row[2] }, songs };
  }

  /**
   * The same answer as `userChartOf`, already as JSON text: the API's busiest route. The chart
   * text holds only digits, `:` and `,` (checked when loaded), so it is rewritten into JSON
   * without building an object per song and serialising them again.
   */
  userChartJson(date: string | undefined, userId: number): string | undefined {
    const row = this.userChartRow(date, userId);
    if (!row) return undefined;
    const chart = row[3];
    let songs = '';
    let rank = 0;
    let start = 0;
    while (start < chart.length) {
      let end = chart.indexOf(',', start);
      if (end < 0) end = chart.length;
      const colon = chart.indexOf(':', start);
      songs += `${rank === 0 ? '' : ','}{"rank":${++rank},"song":${chart.slice(start, colon)},"plays":${chart.slice(colon + 1, end)}}`;
      start = end + 1;
    }
    return `{"date":"${row[0]}","user":${userId},"window":{"from":"${row[1]}","to":"${row[2]}"},"songs":[${songs}]}`;
  }

  private userChartRow(
    date: string | undefined,
    userId: number,
  ): [string, string, string, string] | undefined {
    return this.userChart.get(date ?? null, userId) as [string, string, string, string] | undefined;
  }

  /**
   * Each song's rank change on `date` against the previous day's chart of the same country:
   * up/down by N, same, re-entry (in this country's chart on some earlier stored date, not the day
   * before) or new. Without a stored chart for the day before, movement is unknown (null), and the
   * songs that left the chart are listed with their previous rank.
   */
  movement(
    date: string,
    country: string,
  ): {
    previousDate: string | null;
    songs: MovedSong[];
    dropped: DroppedSong[];
  } {
    const current = this.countryChartOf(date, country);
    const previousDay = isoDay(parseDay(date)! - 1);
    if (!this.chartDateInfo(previousDay)) {
      return {
        previousDate: null,
        songs: current.map((s) => ({ ...s, previousRank: null, movement: null })),
        dropped: [],
      };
    }
    const before = new Map(this.countryChartOf(previousDay, country).map((s) => [s.song, s]));
    const songs = current.map((s) => {
      const prev = before.get(s.song);
      before.delete(s.song);
      let movement: Movement;
      if (prev) {
        const by = prev.rank - s.rank;
        movement = by > 0 ? { kind: 'up', by } : by < 0 ? { kind: 'down', by: -by } : { kind: 'same' };
      } else {
        movement = this.everInChart.get(country, s.song, previousDay)
          ? { kind: 're-entry' }
          : { kind: 'new' };
      }
      return { ...s, previousRank: prev?.rank ?? null, movement };
    });
    const dropped = [...before.values()].map((s) => ({
      song: s.song,
      previousRank: s.rank,
      previousPlays: s.plays,
    }));
    return { previousDate: previousDay, songs, dropped };
  }

  kpiDay(date: string): { granularity: string; genres: GenreKpi[]; topGenres: TopGenre[] } | undefined {
    const granularity = firstValue(this.db, 'SELECT granularity FROM kpi_days WHERE date = ?', date) as
      | string
      | undefined;
    if (granularity === undefined) return undefined;
    const genres = this.genreRows('WHERE date = ? ORDER BY hour, genre', date);
    const topGenres = this.topGenreRows('WHERE date = ? ORDER BY hour, rank', date);
    return { granularity, genres, topGenres };
  }

  /** A genre's KPIs per day from `from` to `to` inclusive, oldest first. */
  genreSeries(genre: string, from: string, to: string): GenreKpi[] {
    return this.genreRows('WHERE genre = ? AND date BETWEEN ? AND ? ORDER BY date, hour', genre, from, to);
  }

  genreKnown(genre: string): boolean {
    return firstValue(this.db, 'SELECT 1 FROM genre_kpis WHERE genre = ? LIMIT 1', genre) !== undefined;
  }

  /** Every day's top genres from `from` to `to`, oldest first. */
  topGenresSeries(from: string, to: string): TopGenre[] {
    return this.topGenreRows('WHERE date BETWEEN ? AND ? ORDER BY date, hour, rank', from, to);
  }

  chartQuality(date: string): unknown {
    const text = firstValue(this.db, 'SELECT report FROM chart_quality WHERE date = ?', date) as
      | string
      | undefined;
    return text === undefined ? null : JSON.parse(text);
  }

  kpiQuality(date: string): unknown {
    const text = firstValue(this.db, 'SELECT quality FROM kpi_days WHERE date = ?', date) as
      | string
      | undefined;
    return text === undefined ? null : JSON.parse(text);
  }

  /** Listen-log days from `from` to `to`, oldest first: rows and rejects by reason. */
  logDays(from: string, to: string): LogDay[] {
    const rows = this.db
      .prepare(
        'SELECT date, file, rows, valid, rejected, rejected_by_reason FROM log_days WHERE date BETWEEN ? AND ? ORDER BY date',
      )
      .raw()
      .all(from, to) as [string, string, number, number, number, string][];
    return rows.map(([date, file, total, valid, rejected, reasons]) => ({
      date,
      file,
      rows: total,
      valid,
      rejected,
      rejectedByReason: JSON.parse(reasons) as Record<string, number>,
    }));
  }

  /** The newest `limit` runs, newest first. */
  runs(limit: number): unknown[] {
    return (
      this.db
        .prepare('SELECT record FROM runs ORDER BY finished_at DESC, id DESC LIMIT ?')
        .raw()
        .all(limit) as [string][]
    ).map((r) => JSON.parse(r[0]));
  }

  lastRun(): { finishedAt: string; ok: boolean; rows: number } | undefined {
    const row = this.db
      .prepare('SELECT finished_at, ok, rows FROM runs ORDER BY finished_at DESC, id DESC LIMIT 1')
      .raw()
      .get() as [string, number, number] | undefined;
    return row ? { finishedAt: row[0], ok: row[1] === 1, rows: row[2] } : undefined;
  }

  private genreRows(where: string, ...params: unknown[]): GenreKpi[] {
    const rows = this.db
      .prepare(
        `SELECT date, hour, genre, listen_count, unique_listeners, total_listening_ms,
           avg_listening_ms_per_listener, top3_tracks FROM genre_kpis ${where}`,
      )
      .raw()
      .all(...params) as [string, number, string, number, number, number, string, string][];
    return rows.map(([date, hour, genre, listenCount, uniqueListeners, totalListeningMs, avg, top3]) => ({
      date,
      hour: hour < 0 ? null : hour,
      genre,
      listenCount,
      uniqueListeners,
      totalListeningMs,
      // The file's 2-decimal text as a JSON number, like the other figures: a double holds any
      // decimal of up to 15 significant digits exactly enough to print back the same digits
      // (trailing zeros aside), so averages under 10^13 ms (317 years a listener) come out as written.
      avgListeningMsPerListener: Number(avg),
      top3: JSON.parse(top3) as { track: string; plays: number }[],
    }));
  }

  private topGenreRows(where: string, ...params: unknown[]): TopGenre[] {
    const rows = this.db
      .prepare(`SELECT date, hour, rank, genre, listen_count FROM top_genres ${where}`)
      .raw()
      .all(...params) as [string, number, number, string, number][];
    return rows.map(([date, hour, rank, genre, listenCount]) => ({
      date,
      hour: hour < 0 ? null : hour,
      rank,
      genre,
      listenCount,
    }));
  }
}
