import { DuckDBInstance, version } from '@duckdb/node-api';
import { COUNTRY_CODES } from '../src/parse/countries.js';

/**
 * The peer we measure against: DuckDB computing the same two chart files straight from the raw
 * logs, with the same row contract (DESIGN.md) written in SQL. Run as a child process by the
 * benchmark so that its time, CPU and peak RSS are its own.
 *
 *   node dist/bench/duckdbPeer.js --memory 1GB --threads 2 --country OUT --user OUT --temp DIR FILE...
 */
export function chartsSql(files: string[], countryPath: string, userPath: string, top: number): string[] {
  const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
  const countries = COUNTRY_CODES.map((c) => `'${c}'`).join(', ');
  // Valid listens, as a subquery: each chart query reads the raw files itself, so nothing the
  // size of the input is ever materialised (in-memory temp tables do not spill).
  const listens = `
    SELECT CAST(ltrim(s, '0') || '0' AS BIGINT) // 10 AS song,
           CAST(ltrim(u, '0') || '0' AS BIGINT) // 10 AS user_id, country
    FROM (
      SELECT split_part(line, '|', 1) AS s, split_part(line, '|', 2) AS u, split_part(line, '|', 3) AS country
      FROM (
        SELECT line
        FROM read_csv([${list}], columns = {'line': 'VARCHAR'}, header = false, delim = '\t',
                      quote = '', escape = '', new_line = '\\n', ignore_errors = true,
                      auto_detect = false, max_line_size = 1048576, strict_mode = false)
      )
      WHERE length(line) <= 1024 AND regexp_full_match(line, '[0-9]+\\|[0-9]+\\|[A-Z]{2}')
    )
    WHERE length(ltrim(s, '0')) <= 16 AND length(ltrim(u, '0')) <= 16 AND country IN (${countries})
      AND CAST(ltrim(s, '0') || '0' AS BIGINT) // 10 <= 9007199254740991
      AND CAST(ltrim(u, '0') || '0' AS BIGINT) // 10 <= 9007199254740991`;
  // Ranked rows, then one row per key with the ranks pivoted into columns: an ordered
  // string_agg (or a list per key) cannot spill and ran out of memory at 1 GB on a single day of
  // 20M rows; a plain grouped aggregate can.
  const pivot = Array.from({ length: top }, (_, i) => `max(entry) FILTER (WHERE rank = ${i + 1})`).join(', ');
  const chart = (key: string, path: string): string => `
    COPY (
      SELECT ${key}::VARCHAR || '|' || concat_ws(',', ${pivot})
      FROM (
        SELECT ${key}, song::VARCHAR || ':' || plays::VARCHAR AS entry,
               row_number() OVER (PARTITION BY ${key} ORDER BY plays DESC, song ASC) AS rank
        FROM (SELECT ${key}, song, count(*) AS plays FROM (${listens}) GROUP BY ${key}, song)
        QUALIFY rank <= ${top}
      )
      GROUP BY ${key}
      ORDER BY ${key}
    ) TO '${path.replaceAll("'", "''")}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x1f')`;
  // A line is one VARCHAR: no quoting, a delimiter no valid row contains. Lines that are not
  // valid UTF-8 are skipped by ignore_errors; they are non-ASCII rejects anyway. One known gap:
  // DuckDB's CSV reader ends a line at any \r, so `1|2|JP\r\r` reads as the valid `1|2|JP` (the
  // contract rejects it); the benchmark's data leaves that one corruption out.
  return [chart('country', countryPath), chart('user_id', userPath), `SELECT count(*) FROM (${listens})`];
}

async function main(argv: string[]): Promise<void> {
  const args = new Map<string, string>();
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) args.set(a.slice(2), argv[++i]!);
    else files.push(a);
  }
  const started = Date.now();
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: args.get('memory') ?? '1GB',
    threads: args.get('threads') ?? '2',
    temp_directory: args.get('temp') ?? '/tmp/playtally-duckdb',
    preserve_insertion_order: 'false',
  });
  const connection = await instance.connect();
  const [country, user, count] = chartsSql(
    files,
    args.get('country')!,
    args.get('user')!,
    Number(args.get('top') ?? 50),
  );
  await connection.run(country!);
  await connection.run(user!);
  // Counted apart from the timed work, as a check that both sides saw the same valid rows.
  const chartsMs = Date.now() - started;
  const usage = process.resourceUsage();
  const valid = args.has('count') ? await connection.runAndReadAll(count!) : undefined;
  process.stdout.write(
    `${JSON.stringify({
      wallMs: chartsMs,
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
      peakRssBytes: usage.maxRSS * 1024,
      validRows: valid ? Number(valid.getRows()[0]![0]) : undefined,
      version: version(),
    })}\n`,
  );
  connection.closeSync();
  instance.closeSync();
}

if (process.argv[1]?.endsWith('duckdbPeer.js')) await main(process.argv.slice(2));
