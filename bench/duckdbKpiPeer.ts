import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, version } from '@duckdb/node-api';
import { GENRE_KPI_HEADER, TOP_GENRES_HEADER } from '../src/formats/kpiFiles.js';
import { duckdbKpis } from './kpiSql.js';

/**
 * The KPI benchmark's peer: DuckDB computing the genre KPI and top-genre files of a landing folder
 * in SQL (bench/kpiSql.ts), as a child process so that its time, CPU and peak RSS are its own.
 *
 *   node dist/bench/duckdbKpiPeer.js --landing DIR --out DIR [--memory 1GB] [--threads 2] [--temp DIR]
 */
async function main(argv: string[]): Promise<void> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) args.set(argv[i]!.slice(2), argv[i + 1]!);
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: args.get('memory') ?? '1GB',
    threads: args.get('threads') ?? '2',
    temp_directory: args.get('temp') ?? '/tmp/playtally-duckdb',
  });
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  const files = await duckdbKpis(connection, args.get('landing')!, 'day');
  const out = args.get('out')!;
  mkdirSync(out, { recursive: true });
  for (const [name, lines] of files) {
    const header = name.startsWith('genre_kpis_') ? GENRE_KPI_HEADER : TOP_GENRES_HEADER;
    writeFileSync(join(out, name), `${[header.join(','), ...lines].join('\n')}\n`);
  }
  connection.closeSync();
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
      peakRssBytes: usage.maxRSS * 1024,
      version: version(),
    })}\n`,
  );
}

await main(process.argv.slice(2));
