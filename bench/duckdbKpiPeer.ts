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
 *     [--form sets|distinct] [--dialect sniff|given] [--preserve-insertion-order true|false]
 *
 * Defaults: the fastest of the variants measured (docs/BENCHMARKS.md, "How the peers were tuned").
 */
export interface KpiPeerRun {
  landing: string;
  out: string;
  /** DuckDB's memory_limit, e.g. '1GB'. */
  memory: string;
  threads: number;
  temp: string;
  form?: 'sets' | 'distinct';
  /** `given`: the streams' dialect named instead of sniffed (the header still names the columns). */
  dialect?: 'sniff' | 'given';
  preserveInsertionOrder?: boolean;
}

/** The genre KPI and top-genre files of `run.landing`, written into `run.out` as playtally writes them. */
export async function duckdbKpiFiles(run: KpiPeerRun): Promise<string[]> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: run.memory,
    threads: String(run.threads),
    temp_directory: run.temp,
    preserve_insertion_order: String(run.preserveInsertionOrder ?? false),
  });
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    const streams = run.dialect === 'given' ? "delim = ',', new_line = '\\n', sample_size = 1024" : undefined;
    const files = await duckdbKpis(connection, run.landing, 'day', { form: run.form ?? 'distinct', streams });
    mkdirSync(run.out, { recursive: true });
    for (const [name, lines] of files) {
      const header = name.startsWith('genre_kpis_') ? GENRE_KPI_HEADER : TOP_GENRES_HEADER;
      writeFileSync(join(run.out, name), `${[header.join(','), ...lines].join('\n')}\n`);
    }
    return [...files.keys()].sort();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function main(argv: string[]): Promise<void> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) args.set(argv[i]!.slice(2), argv[i + 1]!);
  const form = args.get('form') ?? 'distinct';
  if (form !== 'sets' && form !== 'distinct') throw new Error(`--form sets or distinct, not ${form}`);
  const dialect = args.get('dialect') ?? 'given';
  if (dialect !== 'sniff' && dialect !== 'given') throw new Error(`--dialect sniff or given, not ${dialect}`);
  await duckdbKpiFiles({
    landing: args.get('landing')!,
    out: args.get('out')!,
    memory: args.get('memory') ?? '1GB',
    threads: Number(args.get('threads') ?? 2),
    temp: args.get('temp') ?? '/tmp/playtally-duckdb',
    form,
    dialect,
    preserveInsertionOrder: args.get('preserve-insertion-order') === 'true',
  });
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
      peakRssBytes: usage.maxRSS * 1024,
      version: version(),
    })}\n`,
  );
}

if (process.argv[1]?.endsWith('duckdbKpiPeer.js')) await main(process.argv.slice(2));
