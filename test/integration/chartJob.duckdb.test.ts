import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QualityReport } from '../../src/formats/qualityReport.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { runTop50 } from '../../src/jobs/chartJob.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { COUNTRY_CODES } from '../../src/parse/countries.js';
import { UNIT_BYTES } from '../../src/sources/logUnits.js';
import { day, firstDifference, leftovers, logName, TempDirs } from '../support/tempDirs.js';

/**
 * Differential test against an independent oracle: DuckDB computes both chart files straight
 * from the raw logs in SQL, validating rows itself, and the bytes must equal playtally's.
 *
 * Reading lines: DuckDB's CSV reader treats a lone `\r` as a line break even with
 * new_line='\n' (so `1|2|JP\r\r\n` would come out as a valid row) and cannot decode the invalid
 * UTF-8 of the non-ASCII corrupt rows. So each log is read whole with read_blob and cast to
 * VARCHAR, which keeps printable ASCII and writes every other byte, and the backslash itself, as
 * `\xHH`: an exact, unambiguous text form of the bytes. Lines are split on `\x0A`; any escape left
 * in a line makes it fail the row pattern, as a control or non-ASCII byte must.
 */

/** ISO 3166-1 alpha-2, transcribed independently of src/parse/countries.ts: first letter -> second letters. */
const ISO_3166_ALPHA2: Record<string, string> = {
  A: 'DEFGILMOQRSTUWXZ',
  B: 'ABDEFGHIJLMNOQRSTVWYZ',
  C: 'ACDFGHIKLMNORUVWXYZ',
  D: 'EJKMOZ',
  E: 'CEGHRST',
  F: 'IJKMOR',
  G: 'ABDEFGHILMNPQRSTUWY',
  H: 'KMNRTU',
  I: 'DELMNOQRST',
  J: 'EMOP',
  K: 'EGHIMNPRWYZ',
  L: 'ABCIKRSTUVY',
  M: 'ACDEFGHKLMNOPQRSTUVWXYZ',
  N: 'ACEFGILOPRUZ',
  O: 'M',
  P: 'AEFGHKLMNRSTWY',
  Q: 'A',
  R: 'EOSUW',
  S: 'ABCDEGHIJKLMNORSTVXYZ',
  T: 'CDFGHJKLMNORTVWZ',
  U: 'AGMSYZ',
  V: 'ACEGINU',
  W: 'FS',
  Y: 'ET',
  Z: 'AMW',
};
const COUNTRIES = Object.entries(ISO_3166_ALPHA2).flatMap(([a, bs]) => [...bs].map((b) => a + b));

const FIRST = day('2024-09-01');
const DAYS = 9;
/** Removed after generation: a gap in the window. */
const GAP = FIRST + 4;

/** `'...'` for SQL. */
const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * Both chart texts and the line counts for the window ending on `chartDay`, from the raw logs in
 * `logsDir`, all in SQL.
 */
async function duckCharts(
  conn: DuckDBConnection,
  logsDir: string,
  chartDay: number,
): Promise<{
  country: string;
  user: string;
  lines: number;
  valid: number;
  perFile: Map<string, [number, number]>;
}> {
  const from = isoDay(chartDay - 6);
  const to = isoDay(chartDay);
  await conn.run(`
    CREATE OR REPLACE TEMP TABLE window_lines AS
    WITH files AS (
      SELECT regexp_extract(filename, 'listen-([0-9]{8})[.]log$', 1) AS day,
             string_split(CAST(content AS VARCHAR), '\\x0A') AS parts
      FROM read_blob(${sqlString(join(logsDir, 'listen-*.log'))})
    ),
    in_window AS (
      SELECT * FROM files
      WHERE strptime(day, '%Y%m%d')::DATE BETWEEN DATE ${sqlString(from)} AND DATE ${sqlString(to)}
    ),
    numbered AS (
      SELECT day, unnest(parts) AS escaped, generate_subscripts(parts, 1) AS i, len(parts) AS n
      FROM in_window
    )
    SELECT day, line FROM (
      SELECT day, i,
             -- the blob's text escapes bytes that are not printable: a tab is \\x09 in it
             replace(CASE WHEN ends_with(escaped, '\\x0D') THEN left(escaped, length(escaped) - 4) ELSE escaped END,
                     '\\x09', chr(9)) AS line
      FROM numbered
      -- the empty piece after a final newline is not a line
      WHERE NOT (i = n AND escaped = '')
    )
    -- a first line naming the columns is a header, not a row
    WHERE NOT (i = 1 AND regexp_full_match(line, '(?i)[ \\t]*sng_id[ \\t]*[|][ \\t]*user_id[ \\t]*[|][ \\t]*country[ \\t]*'))`);
  await conn.run(`
    CREATE OR REPLACE TEMP TABLE valid AS
    WITH shaped AS (
      -- blanks (spaces, tabs) around a field are not part of it
      SELECT day, trim(split_part(line, '|', 1), ' ' || chr(9)) AS s, trim(split_part(line, '|', 2), ' ' || chr(9)) AS u,
             trim(split_part(line, '|', 3), ' ' || chr(9)) AS c
      FROM window_lines
      WHERE length(line) <= 1024
        AND regexp_full_match(line, '[ \\t]*[0-9]+[ \\t]*[|][ \\t]*[0-9]+[ \\t]*[|][ \\t]*[A-Z]{2}[ \\t]*')
    ),
    stripped AS (
      SELECT day,
             coalesce(nullif(ltrim(s, '0'), ''), '0') AS s,
             coalesce(nullif(ltrim(u, '0'), ''), '0') AS u,
             c
      FROM shaped
      WHERE list_contains([${COUNTRIES.map(sqlString).join(', ')}], c)
    )
    SELECT day, CAST(s AS BIGINT) AS song, CAST(u AS BIGINT) AS user_id, c AS country
    FROM stripped
    -- more than 38 digits: TRY_CAST gives NULL, and such an id is too large anyway
    WHERE TRY_CAST(s AS HUGEINT) <= 9007199254740991 AND TRY_CAST(u AS HUGEINT) <= 9007199254740991`);

  const chart = async (key: 'country' | 'user_id'): Promise<string> => {
    const reader = await conn.runAndReadAll(`
      WITH plays AS (
        SELECT ${key} AS k, song, count(*) AS plays FROM valid GROUP BY ALL
      ),
      ranked AS (
        SELECT k, song, plays, row_number() OVER (PARTITION BY k ORDER BY plays DESC, song ASC) AS rn
        FROM plays
      ),
      chart_lines AS (
        SELECT k, string_agg(CAST(song AS VARCHAR) || ':' || CAST(plays AS VARCHAR), ',' ORDER BY rn) AS songs
        FROM ranked WHERE rn <= 50 GROUP BY k
      )
      SELECT coalesce(string_agg(CAST(k AS VARCHAR) || '|' || songs || chr(10), '' ORDER BY k), '') AS text
      FROM chart_lines`);
    return String(reader.getRows()[0]![0]);
  };

  const counts = await conn.runAndReadAll(`
    SELECT l.day, count(*) AS lines, (SELECT count(*) FROM valid v WHERE v.day = l.day) AS valid
    FROM window_lines l GROUP BY l.day ORDER BY l.day`);
  const perFile = new Map<string, [number, number]>();
  let lines = 0;
  let valid = 0;
  for (const [d, n, v] of counts.getRows()) {
    perFile.set(String(d), [Number(n), Number(v)]);
    lines += Number(n);
    valid += Number(v);
  }
  return { country: await chart('country'), user: await chart('user_id'), lines, valid, perFile };
}

describe('playtally equals DuckDB SQL over the raw logs', () => {
  const temp = new TempDirs();
  let logsDir: string;
  let outDir: string;
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;

  beforeAll(async () => {
    logsDir = temp.make('playtally-duck-logs-');
    outDir = temp.make('playtally-duck-out-');
    generateLogs({
      dir: logsDir,
      start: FIRST,
      days: DAYS,
      rows: 100_000,
      corruptRate: 0.02,
      crlfRate: 0.05,
      blankRate: 0.05,
      header: true,
      seed: 2024,
    });
    rmSync(join(logsDir, logName(GAP)));
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
    await conn.run("SET threads = 2; SET memory_limit = '1GB'");
  });
  afterAll(() => {
    conn?.closeSync();
    instance?.closeSync();
    temp.cleanup();
  });

  it('the oracle uses the 249 ISO codes, as playtally does', () => {
    expect(COUNTRIES).toHaveLength(249);
    expect(new Set(COUNTRIES).size).toBe(249);
    expect([...COUNTRIES].sort()).toEqual([...COUNTRY_CODES].sort());
  });

  it('the data has non-ASCII rows that are not valid UTF-8', () => {
    const invalid = readdirSync(logsDir).filter((name) => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(join(logsDir, name)));
        return false;
      } catch {
        return true;
      }
    });
    expect(invalid.length).toBeGreaterThan(0);
  });

  it.each([
    { label: 'default date (newest log)', chartDay: undefined },
    { label: 'an earlier date', chartDay: FIRST + 7 },
  ])('both chart files are byte-identical: $label', async ({ chartDay }) => {
    const summary = await runTop50({ logsDir, outDir, threads: 2, day: chartDay });
    const d = chartDay ?? FIRST + DAYS - 1;
    expect(summary.date).toBe(isoDay(d));
    const duck = await duckCharts(conn, logsDir, d);
    const read = (name: string): string => readFileSync(join(outDir, name), 'latin1');
    const country = read(`country_top50_${compactDay(d)}.txt`);
    const user = read(`user_top50_${compactDay(d)}.txt`);

    // The oracle's output is not trivially empty, and the top-50 cut applies.
    expect(duck.country.split('\n').length - 1).toBeGreaterThan(200);
    expect(duck.user.split('\n').length - 1).toBeGreaterThan(5_000);
    expect(duck.user.split('\n').some((l) => l.split(',').length === 50)).toBe(true);
    expect(firstDifference(country, duck.country), 'country chart').toBeUndefined();
    expect(firstDifference(user, duck.user), 'user chart').toBeUndefined();

    // Counts: every line and every valid row, per day and in total, the same on both sides.
    const report = JSON.parse(read(`quality_${compactDay(d)}.json`)) as QualityReport;
    expect(report.window.missing).toEqual([isoDay(GAP)]);
    expect(report.totals.rejectedByReason.non_ascii).toBeGreaterThan(0);
    expect(report.totals.rejected).toBeGreaterThan(report.totals.rows * 0.015);
    expect(duck.valid).toBe(report.totals.valid);
    expect(duck.lines).toBe(report.totals.rows);
    expect(report.days.map((day) => ({ date: day.date, rows: day.rows, valid: day.valid }))).toEqual(
      [...duck.perFile].map(([day, [rows, valid]]) => ({
        date: `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`,
        rows,
        valid,
      })),
    );
    expect(leftovers(outDir)).toEqual([]);
  });

  it('a day larger than one 32 MiB parse unit (a line across the cut) is byte-identical too', async () => {
    const bigLogs = temp.make('playtally-duck-big-');
    const bigOut = temp.make('playtally-duck-bigout-');
    const bigDay = FIRST + 20;
    generateLogs({
      dir: bigLogs,
      start: bigDay,
      days: 1,
      rows: 1_600_000,
      corruptRate: 0.02,
      crlfRate: 0.05,
      blankRate: 0.1,
      header: true,
      seed: 8,
    });
    const path = join(bigLogs, logName(bigDay));
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(UNIT_BYTES);
    expect(size).toBeLessThan(2 * UNIT_BYTES);
    // The byte before the unit boundary is not a newline: a row straddles the two units.
    const fd = openSync(path, 'r');
    const around = Buffer.alloc(2);
    readSync(fd, around, 0, 2, UNIT_BYTES - 1);
    closeSync(fd);
    expect(around[0]).not.toBe(10);

    const first = await runTop50({ logsDir: bigLogs, outDir: bigOut, threads: 3 });
    const duck = await duckCharts(conn, bigLogs, bigDay);
    const read = (name: string): string => readFileSync(join(bigOut, name), 'latin1');
    const country = read(`country_top50_${compactDay(bigDay)}.txt`);
    const user = read(`user_top50_${compactDay(bigDay)}.txt`);
    expect(firstDifference(country, duck.country), 'country chart').toBeUndefined();
    expect(firstDifference(user, duck.user), 'user chart').toBeUndefined();
    expect(first.totals.valid).toBe(duck.valid);
    expect(first.totals.rows).toBe(duck.lines);

    // Touched: the content hash over both units matches the one the parse computed, so reused.
    const later = new Date(statSync(path).mtimeMs + 60_000);
    utimesSync(path, later, later);
    const second = await runTop50({ logsDir: bigLogs, outDir: bigOut, threads: 2 });
    expect(second.days.map((d) => d.reused)).toEqual([true]);
    expect(read(`user_top50_${compactDay(bigDay)}.txt`)).toBe(user);
    expect(leftovers(bigOut)).toEqual([]);
  });
});
