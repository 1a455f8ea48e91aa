import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * The genre KPIs in DuckDB SQL, straight from a landing folder's CSVs with DuckDB's own CSV reader
 * and timestamp parser: the benchmark peer (bench/duckdbKpiPeer.ts) and the test oracle
 * (test/integration/kpiJob.duckdb.test.ts and others). It follows the contract of docs/KPIS.md:
 * exact duplicates (user, track, instant) once, streams joined to the distinct (track, genre) rows
 * of the songs, unique listeners exact, the average rounded half up on integers, ties in byte
 * order (COLLATE c). The connection must use `SET TimeZone = 'UTC'` (a listen time without an
 * offset is UTC).
 *
 * Written in the form a DuckDB user would tune it to (issue 19): the streams read once, `SELECT
 * DISTINCT` joined to the songs, then either the plays materialised and counted twice, per track
 * and per genre with `count(DISTINCT user_id)`, or one `GROUP BY GROUPING SETS` pass counting
 * per (day, genre, track) and per (day, genre, user) at once (listeners are the rows of the
 * second set, listens and listening time its sums); the top 3 tracks by `QUALIFY`, the genres' ranks by a window over
 * the few per-genre rows, all in one statement. The files are built here from its few rows.
 */
export interface KpiCsvOptions {
  /**
   * Extra read_csv options for the streams files. The oracle leaves the dialect to DuckDB's
   * sniffer; the benchmark peer, knowing its files, names it (`delim = ','` ...).
   */
  streams?: string;
  /**
   * `distinct` (the default, the faster by a little: docs/BENCHMARKS.md): the plays as a
   * MATERIALIZED common table expression, counted twice (per track, and `count(DISTINCT
   * user_id)` per genre). `sets`: one GROUPING SETS pass over the plays.
   */
  form?: 'sets' | 'distinct';
}

export async function duckdbKpis(
  conn: DuckDBConnection,
  landing: string,
  granularity: 'day' | 'hour',
  options: KpiCsvOptions = {},
): Promise<Map<string, string[]>> {
  const hourly = granularity === 'hour';
  const form = options.form ?? 'distinct';
  const csv = (sub: string, extra = ''): string =>
    `read_csv('${join(landing, sub, '*.csv').replaceAll("'", "''")}', header = true, all_varchar = true, quote = '"', escape = '"',
      strict_mode = false, union_by_name = true, filename = false${extra})`;
  const songs = `
    SELECT DISTINCT track_id, trim(track_genre) AS genre, CAST(trim(duration_ms) AS BIGINT) AS duration
    FROM ${csv('songs')}
    WHERE track_id <> '' AND trim(track_genre) <> '' AND regexp_full_match(trim(duration_ms), '\\d{1,12}')`;
  const streams = `
    SELECT DISTINCT user_id, track_id, TRY_CAST(listen_time AS TIMESTAMPTZ) AS ts
    FROM ${csv('streams', options.streams ? `, ${options.streams}` : '')}
    WHERE coalesce(user_id, '') <> '' AND coalesce(track_id, '') <> ''
      AND TRY_CAST(listen_time AS TIMESTAMPTZ) IS NOT NULL`;
  const rows = await conn.runAndReadAll(`
    WITH plays AS ${form === 'distinct' ? 'MATERIALIZED ' : ''}(
      SELECT CAST(s.ts AS DATE) AS d, ${hourly ? 'hour(s.ts)' : '0'} AS hh, g.genre, s.user_id, s.track_id, g.duration
      FROM (${streams}) s JOIN (${songs}) g USING (track_id)
    ), ${
      form === 'distinct'
        ? `per_track AS (
      SELECT d, hh, genre, track_id, count(*) AS n FROM plays GROUP BY d, hh, genre, track_id
    ), agg AS (
      SELECT d, hh, genre, count(*) AS listens, count(DISTINCT user_id) AS listeners, sum(duration) AS total
      FROM plays GROUP BY ALL
    ),`
        : `sets AS (
      SELECT d, hh, genre, track_id, user_id, GROUPING(track_id) AS by_user, count(*) AS n, sum(duration) AS total
      FROM plays GROUP BY GROUPING SETS ((d, hh, genre, track_id), (d, hh, genre, user_id))
    ), per_track AS (
      SELECT d, hh, genre, track_id, n FROM sets WHERE by_user = 0
    ), agg AS (
      SELECT d, hh, genre, sum(n) AS listens, count(*) AS listeners, sum(total) AS total
      FROM sets WHERE by_user = 1 GROUP BY ALL
    ),`
    } top3 AS (
      SELECT d, hh, genre, string_agg(track_id || ':' || n, ';' ORDER BY n DESC, track_id COLLATE c) AS tracks
      FROM (
        SELECT d, hh, genre, track_id, n FROM per_track
        QUALIFY row_number() OVER (PARTITION BY d, hh, genre ORDER BY n DESC, track_id COLLATE c) <= 3
      )
      GROUP BY ALL
    )
    SELECT strftime(a.d, '%Y-%m-%d') AS day, lpad(CAST(a.hh AS VARCHAR), 2, '0') AS hh, a.genre,
      CAST(a.listens AS VARCHAR), CAST(a.listeners AS VARCHAR), CAST(a.total AS VARCHAR),
      CAST((CAST(a.total AS HUGEINT) * 200 + a.listeners) // (2 * a.listeners) AS VARCHAR) AS hundredths,
      t.tracks,
      row_number() OVER (PARTITION BY a.d, a.hh ORDER BY a.listens DESC, a.genre COLLATE c) AS genre_rank
    FROM agg a JOIN top3 t USING (d, hh, genre)
    ORDER BY a.d, a.hh, a.genre COLLATE c
  `);
  const files = new Map<string, string[]>();
  const add = (file: string, cells: string[]): void => {
    const list = files.get(file) ?? [];
    list.push(cells.map(csvCell).join(','));
    files.set(file, list);
  };
  const top: [string, number, string[]][] = [];
  for (const row of rows.getRows()) {
    const [day, hh, genre, listens, listeners, total, hundredths, tracks, rank] = row.map(String) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const at = hourly ? [day, hh] : [day];
    const padded = hundredths.padStart(3, '0');
    const avg = `${padded.slice(0, -2)}.${padded.slice(-2)}`;
    const compact = day.replaceAll('-', '');
    add(`genre_kpis_${compact}.csv`, [...at, genre, listens, listeners, total, avg, tracks]);
    if (Number(rank) <= 5) top.push([`${compact}${hh}`, Number(rank), [...at, rank, genre, listens]]);
  }
  // The top genres of each day (and hour) in rank order: the rows above come in genre order.
  top.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  for (const [key, , cells] of top) add(`top_genres_${key.slice(0, 8)}.csv`, cells);
  return files;
}

/** RFC 4180 quoting, as csv-stringify writes it: only when a cell holds a comma, quote or line end. */
function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
