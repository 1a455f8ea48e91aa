import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * The genre KPIs in DuckDB SQL, straight from a landing folder's CSVs with DuckDB's own CSV reader
 * and timestamp parser: the benchmark peer (bench/duckdbKpiPeer.ts) and the test oracle
 * (test/integration/kpiJob.duckdb.test.ts). It follows the contract of docs/KPIS.md: exact duplicates
 * (user, track, instant) once, streams joined to the distinct (track, genre) rows of the songs,
 * unique listeners exact, the average rounded half up on integers, ties in byte order (COLLATE c).
 * The connection must use `SET TimeZone = 'UTC'` (a listen time without an offset is UTC).
 * Views, not tables: DuckDB's in-memory temp tables do not spill, and each query reads the CSVs
 * itself within its memory limit.
 */
export async function duckdbKpis(
  conn: DuckDBConnection,
  landing: string,
  granularity: 'day' | 'hour',
): Promise<Map<string, string[]>> {
  const hourly = granularity === 'hour';
  const hourOf = hourly ? `lpad(CAST(hour(s.ts) AS VARCHAR), 2, '0')` : `''`;
  const csv = (sub: string, columns: string): string =>
    `read_csv('${join(landing, sub, '*.csv')}', header = true, all_varchar = true, quote = '"', escape = '"',
      strict_mode = false, union_by_name = true, filename = false) ${columns}`;
  await conn.run(`
    CREATE OR REPLACE TEMP VIEW songs AS
      SELECT DISTINCT track_id, trim(track_genre) AS genre, CAST(trim(duration_ms) AS BIGINT) AS duration
      FROM ${csv('songs', '')}
      WHERE track_id <> '' AND trim(track_genre) <> '' AND regexp_full_match(trim(duration_ms), '\\d{1,12}');
    CREATE OR REPLACE TEMP VIEW streams AS
      SELECT DISTINCT user_id, track_id, TRY_CAST(listen_time AS TIMESTAMPTZ) AS ts
      FROM ${csv('streams', '')}
      WHERE coalesce(user_id, '') <> '' AND coalesce(track_id, '') <> ''
        AND TRY_CAST(listen_time AS TIMESTAMPTZ) IS NOT NULL;
    CREATE OR REPLACE TEMP VIEW plays AS
      SELECT strftime(s.ts, '%Y-%m-%d') AS d, ${hourOf} AS hh, s.user_id, s.track_id, g.genre, g.duration
      FROM streams s JOIN songs g USING (track_id);
  `);
  const kpis = await conn.runAndReadAll(`
    WITH per_track AS (
      SELECT d, hh, genre, track_id, count(*) AS n FROM plays GROUP BY ALL
    ), ranked AS (
      SELECT *, row_number() OVER (PARTITION BY d, hh, genre ORDER BY n DESC, track_id COLLATE c) AS r
      FROM per_track
    ), top3 AS (
      SELECT d, hh, genre, string_agg(track_id || ':' || n, ';' ORDER BY r) AS tracks
      FROM ranked WHERE r <= 3 GROUP BY ALL
    ), agg AS (
      SELECT d, hh, genre, count(*) AS listens, count(DISTINCT user_id) AS listeners, sum(duration) AS total
      FROM plays GROUP BY ALL
    )
    SELECT a.d${hourly ? ', a.hh' : ''}, a.genre, a.listens, a.listeners, a.total,
      CAST((CAST(a.total AS HUGEINT) * 200 + a.listeners) // (2 * a.listeners) AS VARCHAR) AS hundredths,
      t.tracks
    FROM agg a JOIN top3 t USING (d, hh, genre)
    ORDER BY a.d, a.hh, a.genre COLLATE c
  `);
  const files = new Map<string, string[]>();
  const add = (file: string, cells: string[]): void => {
    const list = files.get(file) ?? [];
    list.push(cells.map(csvCell).join(','));
    files.set(file, list);
  };
  for (const row of kpis.getRows()) {
    const [d, ...values] = row.map(String);
    const hundredths = values[values.length - 2]!.padStart(3, '0');
    const avg = `${hundredths.slice(0, -2)}.${hundredths.slice(-2)}`;
    add(`genre_kpis_${d!.replaceAll('-', '')}.csv`, [
      d!,
      ...values.slice(0, -2),
      avg,
      values[values.length - 1]!,
    ]);
  }
  const top = await conn.runAndReadAll(`
    SELECT d${hourly ? ', hh' : ''}, r, genre, listens FROM (
      SELECT d, hh, genre, count(*) AS listens,
        row_number() OVER (PARTITION BY d, hh ORDER BY count(*) DESC, genre COLLATE c) AS r
      FROM plays GROUP BY d, hh, genre
    ) WHERE r <= 5 ORDER BY d, hh, r
  `);
  for (const row of top.getRows()) {
    const cells = row.map(String);
    add(`top_genres_${cells[0]!.replaceAll('-', '')}.csv`, cells);
  }
  return files;
}

/** RFC 4180 quoting, as csv-stringify writes it: only when a cell holds a comma, quote or line end. */
function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
