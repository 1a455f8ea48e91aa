import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, version } from '@duckdb/node-api';
import { COUNTRY_CODES } from '../src/parse/countries.js';

/**
 * The peer we measure against: DuckDB computing the same two chart files straight from the raw
 * logs, written as its best user would write it (issue 19): one `GROUP BY key, sng_id` count per
 * chart, the top 50 of each key kept by `QUALIFY row_number() ...`, the ranked `key|sng_id|n`
 * rows `COPY`'d in key order to a file, and one streaming byte-level pass in this process that
 * joins each key's rows into its line. The country is an ENUM (a one-byte key, sorted as the
 * codes). Run as a child process by the benchmark so that its time, CPU and peak RSS are its own.
 *
 *   node dist/bench/duckdbPeer.js --memory 1GB --threads 2 --country OUT --user OUT --temp DIR
 *     [--form table|raw] [--count 1] FILE...
 *
 * The row rule is playtally's (docs/FORMATS.md) in SQL: three `|`-separated fields (a fourth
 * column catches a row with more), blanks (space, tab) around a field ignored, ids of ASCII digits
 * (leading zeros allowed) up to 2^53-1, the country one of the 249 codes, the line at most 1024
 * bytes. Where it differs: DuckDB's CSV reader ends a line at a lone `\r`, so `1|2|JP\r\r` (and
 * `1|2|JP\r3|4|FR`) reads as valid rows where the contract rejects the line; the benchmark's data
 * leaves that one corruption out. A header line fails the id check, as it is no row.
 */
export function listensSql(files: string[]): string {
  const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
  // Every field read as text: the row rule is checked on the text (DuckDB's casts alone take
  // '+5', '1_0', '1.5' and a vertical tab), then the checked ids are cast. nullstr: an empty field
  // stays '' and only a missing one is NULL, so `x IS NULL` means "no fourth field". Blanks are
  // trimmed from a country only when it is not two bytes already (trim with a set is slow).
  const listens = `
    SELECT song, user_id, country FROM (
      SELECT TRY_CAST(s AS UBIGINT) AS song, TRY_CAST(u AS UBIGINT) AS user_id,
             TRY_CAST(CASE WHEN strlen(c) = 2 THEN c ELSE trim(c, ' \t') END AS country_code) AS country
      FROM read_csv([${list}], columns = {'s': 'VARCHAR', 'u': 'VARCHAR', 'c': 'VARCHAR', 'x': 'VARCHAR'},
                    delim = '|', header = false, quote = '', escape = '', nullstr = '\x02',
                    null_padding = true, ignore_errors = true, strict_mode = false, auto_detect = false)
      WHERE x IS NULL AND strlen(s) + strlen(u) + strlen(c) <= 1022
        AND regexp_full_match(s, '[ \t]*[0-9]+[ \t]*') AND regexp_full_match(u, '[ \t]*[0-9]+[ \t]*')
    )
    WHERE song <= 9007199254740991 AND user_id <= 9007199254740991 AND country IS NOT NULL`;
  return listens;
}

/**
 * How the peer reads the logs. `table` (the default, the faster one): the valid rows are read
 * once into a table of a database file in the temp folder (typed, compressed, spilled by DuckDB's
 * buffer manager), and both charts are counted from it. `raw`: each chart's query reads and
 * checks the raw logs itself (nothing stored, the CSV read and checked twice).
 */
export type PeerForm = 'table' | 'raw';

/** The statements of the peer: setup, the two ranked COPYs, and a count of valid rows. */
export function chartsSql(
  files: string[],
  countryPath: string,
  userPath: string,
  top: number,
  form: PeerForm = 'table',
): { setup: string[]; country: string; user: string; count: string } {
  const listens = form === 'table' ? 'SELECT * FROM listens' : listensSql(files);
  const chart = (key: string, path: string): string => `
    COPY (
      SELECT ${key}, song, n FROM (SELECT ${key}, song, count(*) AS n FROM (${listens}) GROUP BY ALL)
      QUALIFY row_number() OVER (PARTITION BY ${key} ORDER BY n DESC, song) <= ${top}
      ORDER BY ${key}, n DESC, song
    ) TO '${path.replaceAll("'", "''")}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '|')`;
  const codes = [...COUNTRY_CODES].sort().map((c) => `'${c}'`);
  return {
    setup: [
      `CREATE TYPE country_code AS ENUM (${codes.join(', ')})`,
      ...(form === 'table' ? [`CREATE TABLE listens AS ${listensSql(files)}`] : []),
    ],
    country: chart('country', countryPath),
    user: chart('user_id', userPath),
    count: `SELECT count(*) FROM (${listens})`,
  };
}

export interface PeerRun {
  files: string[];
  countryPath: string;
  userPath: string;
  /** DuckDB's memory_limit, e.g. '1GB'. */
  memory: string;
  threads: number;
  /** temp_directory, and the database file of the `table` form. */
  temp: string;
  top?: number;
  form?: PeerForm;
  /** Also count the valid rows (after the timed work). */
  count?: boolean;
}

/** Both chart files of `run.files`, as playtally writes them; the valid rows when asked. */
export async function duckdbCharts(run: PeerRun): Promise<{ chartsMs: number; validRows?: number }> {
  const started = Date.now();
  const form = run.form ?? 'table';
  mkdirSync(run.temp, { recursive: true });
  const database = join(run.temp, 'peer.duckdb');
  rmSync(database, { force: true });
  rmSync(`${database}.wal`, { force: true });
  const instance = await DuckDBInstance.create(form === 'table' ? database : ':memory:', {
    memory_limit: run.memory,
    threads: String(run.threads),
    temp_directory: join(run.temp, 'spill'),
    preserve_insertion_order: 'false',
  });
  const connection = await instance.connect();
  const countryRanked = `${run.countryPath}.ranked`;
  const userRanked = `${run.userPath}.ranked`;
  const sql = chartsSql(run.files, countryRanked, userRanked, run.top ?? 50, form);
  try {
    for (const statement of sql.setup) await connection.run(statement);
    await connection.run(sql.country);
    // The country file is small: joined while DuckDB counts the users.
    const country = joinRanked(countryRanked, run.countryPath);
    await connection.run(sql.user);
    await country;
    await joinRanked(userRanked, run.userPath);
    const chartsMs = Date.now() - started;
    const valid = run.count ? await connection.runAndReadAll(sql.count) : undefined;
    return { chartsMs, validRows: valid ? Number(valid.getRows()[0]![0]) : undefined };
  } finally {
    connection.closeSync();
    instance.closeSync();
    rmSync(countryRanked, { force: true });
    rmSync(userRanked, { force: true });
    rmSync(database, { force: true });
    rmSync(`${database}.wal`, { force: true });
  }
}

/**
 * `key|song|n` lines, grouped by key in order, into `key|song:n,song:n,...` lines: one streaming
 * pass over the bytes (a chunk at a time, never the whole file in memory), a plain loop over each
 * chunk with no call per line.
 */
export async function joinRanked(from: string, to: string): Promise<void> {
  const out = createWriteStream(to);
  const size = 1 << 20;
  let buf = Buffer.allocUnsafe(size + 4096);
  let pos = 0;
  const prev = new Uint8Array(4096);
  let prevLength = -1;
  let carry: Buffer | undefined;
  for await (const piece of createReadStream(from, { highWaterMark: size }) as AsyncIterable<Buffer>) {
    const chunk = carry ? Buffer.concat([carry, piece]) : piece;
    const n = chunk.length;
    let start = 0;
    let i = 0;
    for (;;) {
      // The key, up to the first '|'.
      while (i < n && chunk[i] !== 124) i++;
      if (i >= n) break;
      let end = i + 1;
      while (end < n && chunk[end] !== 10) end++;
      if (end >= n) break;
      const keyLength = i - start;
      let same = keyLength === prevLength;
      for (let k = 0; same && k < keyLength; k++) same = prev[k] === chunk[start + k];
      if (same) buf[pos++] = 44;
      else {
        if (prevLength >= 0) buf[pos++] = 10;
        for (let k = 0; k <= keyLength; k++) buf[pos++] = prev[k] = chunk[start + k]!;
        prevLength = keyLength;
      }
      for (let k = i + 1; k < end; k++) {
        const b = chunk[k]!;
        buf[pos++] = b === 124 ? 58 : b;
      }
      start = i = end + 1;
      if (pos >= size) {
        if (!out.write(buf.subarray(0, pos))) await once(out, 'drain');
        buf = Buffer.allocUnsafe(size + 4096);
        pos = 0;
      }
    }
    carry = start < n ? chunk.subarray(start) : undefined;
  }
  if (prevLength >= 0) buf[pos++] = 10;
  if (pos > 0) out.write(buf.subarray(0, pos));
  out.end();
  await once(out, 'finish');
}

async function main(argv: string[]): Promise<void> {
  const args = new Map<string, string>();
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) args.set(a.slice(2), argv[++i]!);
    else files.push(a);
  }
  const form = args.get('form') ?? 'table';
  if (form !== 'table' && form !== 'raw') throw new Error(`--form table or raw, not ${form}`);
  const { chartsMs, validRows } = await duckdbCharts({
    files,
    countryPath: args.get('country')!,
    userPath: args.get('user')!,
    memory: args.get('memory') ?? '1GB',
    threads: Number(args.get('threads') ?? 2),
    temp: args.get('temp') ?? '/tmp/playtally-duckdb',
    top: Number(args.get('top') ?? 50),
    form,
    count: args.has('count'),
  });
  // CPU time and peak RSS of the whole process, the count (when asked) included.
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      wallMs: chartsMs,
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
      peakRssBytes: usage.maxRSS * 1024,
      validRows,
      version: version(),
    })}\n`,
  );
}

if (process.argv[1]?.endsWith('duckdbPeer.js')) await main(process.argv.slice(2));
