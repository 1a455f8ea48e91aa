import {
  cpSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { compactDay, isoDay, parseDay } from '../src/ops/dates.js';
import {
  type ArgsSpec,
  args,
  CLI,
  ensureKpiLanding,
  ensureListenLogs,
  median,
  ROOT,
  record,
  run,
  runScript,
  sameFile,
  top50Argv,
} from './benchSupport.js';
import { clickhouseBench, dropOnEach } from './clickhouseBench.js';

/**
 * `npm run bench`: the one command that measures all of it (docs/BENCHMARKS.md says what each
 * part takes). In order:
 *
 * 1. the charts side by side: D days x N rows generated once (reused while the parameters match),
 *    then R interleaved rounds of
 *    - playtally cold: all days parsed from the raw logs into a fresh state directory;
 *    - playtally incremental: the last day added onto existing partials of the others;
 *    - DuckDB: the same two chart files from the raw logs, memory_limit 1GB, all threads;
 *    - playtally incremental from gzip: the same, with the newest day as listen-YYYYMMDD.log.gz;
 *    - (once) playtally cold with --memory 512MB;
 *    and, with a ClickHouse cluster, the scale-out case (clickhouseBench);
 * 2. the genre KPI case (kpiBench): playtally kpis and the same KPIs in DuckDB SQL, R interleaved
 *    rounds, then (once) playtally kpis with --memory 256MB;
 * 3. the micro-benchmarks, each its own script in a child process: the listen-log parser alone
 *    (parseBench, N rows), the streams CSV parser alone (streamsParseBench, a third of the KPI
 *    day's rows: one of its three files) and one day's partial (partialBench, the charts' newest day);
 * 4. with --scaling only (about 23 GB of data, half an hour or more): how cost grows (scaling.ts).
 *
 * Every run is a child process that reports its own CPU time and peak RSS; outputs are compared
 * byte for byte. Prints Markdown tables and, with --record, writes each into its block of
 * docs/BENCHMARKS.md (the micro-benchmarks and scaling.ts write their own).
 *
 *   npm run bench -- [--days 7] [--rows 20000000] [--runs 3] [--dir bench-data] [--record]
 *                    [--no-duckdb] [--duckdb-fallback-memory 8GB] [--no-gzip]
 *                    [--clickhouse URLS | $CLICKHOUSE_URLS] [--no-clickhouse | --clickhouse-only]
 *                    [--no-kpi | --kpi-only] [--kpi-days 1] [--kpi-streams 10000000] [--kpi-users N] [--kpi-songs N]
 *                    [--no-micro] [--scaling] [--scaling-cases LIST]
 */
const SPEC: ArgsSpec = {
  usage: 'npm run bench -- [options]   (or node dist/bench/main.js [options])',
  about:
    'The charts and the genre KPIs side by side with DuckDB, then the micro-benchmarks (parser, streams\n' +
    "parser, one day's partial); with --scaling also how cost grows. Data is generated once under --dir.",
  options: {
    days: { value: 'D', help: 'days in the charts window (default 7)' },
    rows: {
      value: 'N',
      help: "listen rows per day; also the parser micro-benchmark's rows (default 20000000)",
    },
    runs: {
      value: 'R',
      help: 'rounds of each case (default 3); passed on to the micro-benchmarks and scaling when given',
    },
    dir: {
      value: 'DIR',
      help: 'where the data and outputs go (default bench-data; scaling under DIR/scaling)',
    },
    record: { help: 'write each table into its block of docs/BENCHMARKS.md' },
    'no-duckdb': { help: 'skip DuckDB in the charts case' },
    'duckdb-fallback-memory': {
      value: 'SIZE',
      help: "DuckDB's memory_limit when 1GB is not enough (default 8GB)",
    },
    'no-gzip': { help: 'skip the incremental run from a gzip-compressed newest day' },
    clickhouse: {
      value: 'URLS',
      help: 'a ClickHouse cluster for the scale-out cases (default $CLICKHOUSE_URLS)',
    },
    'no-clickhouse': { help: 'skip the scale-out cases even with a cluster' },
    'clickhouse-only': { help: 'run the charts scale-out case only (needs a cluster)' },
    'no-kpi': { help: 'skip the KPI case' },
    'kpi-only': { help: 'run the KPI case only (no charts, no micro-benchmarks)' },
    'kpi-days': { value: 'D', help: 'days of stream rows in the KPI case (default 1)' },
    'kpi-streams': {
      value: 'N',
      help: 'stream rows per day in the KPI case; a third of it for the streams parser (default 10000000)',
    },
    'kpi-users': {
      value: 'N',
      help: "users in the KPI case's catalogue and streams (default the generator's, 50000; e.g. 2000000)",
    },
    'kpi-songs': { value: 'N', help: "songs in the KPI case's catalogue (default the generator's, 20000)" },
    'no-micro': { help: "skip the micro-benchmarks (parser, streams parser, one day's partial)" },
    scaling: { help: 'also run scaling.ts (about 23 GB of data under DIR/scaling; half an hour or more)' },
    'scaling-cases': {
      value: 'LIST',
      help: "scaling.ts's cases (its --cases; default issue 19's, see its --help); implies --scaling",
    },
  },
};
/** The first day of the generated logs (`playtally generate`'s default --start). */
const FIRST_DAY = '2024-01-01';
const PEER = join(ROOT, 'dist/bench/duckdbPeer.js');
const PEER_KPI = join(ROOT, 'dist/bench/duckdbKpiPeer.js');
let duckdbVersion = 'unknown';

interface Measure {
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
  /** ms to build the newest day's partial, when the run built it. */
  dayMs?: number;
  /**
   * The partials stage over the days it built, when it built them all (a cold run): its days
   * overlap (each starts while the one before aggregates), so a day's own time counts some of
   * the day before's.
   */
  builtDayMs?: number;
}

/** One playtally run; its --json summary carries its own CPU time and peak RSS. */
async function playtally(
  logs: string,
  out: string,
  state: string,
  day: number,
  memory: string,
): Promise<Measure> {
  const { stdout, wallMs } = await run(CLI, top50Argv({ logs, out, state, day }, '--memory', memory));
  const summary = JSON.parse(stdout) as {
    cpuMs: number;
    peakRssBytes: number;
    days: { date: string; reused: boolean; ms: number }[];
    stagesMs: { partials: number };
  };
  const newest = summary.days.find((d) => d.date === isoDay(day));
  const allBuilt = summary.days.length > 0 && summary.days.every((d) => !d.reused);
  return {
    wallMs,
    cpuMs: summary.cpuMs,
    peakRssBytes: summary.peakRssBytes,
    dayMs: newest && !newest.reused ? newest.ms : undefined,
    builtDayMs: allBuilt ? summary.stagesMs.partials / summary.days.length : undefined,
  };
}

async function duckdb(files: string[], out: string, threads: number, memory: string): Promise<Measure> {
  mkdirSync(out, { recursive: true });
  const { stdout, wallMs } = await run(PEER, [
    '--memory',
    memory,
    '--threads',
    String(threads),
    '--temp',
    join(out, 'duckdb-tmp'),
    '--country',
    join(out, 'country.txt'),
    '--user',
    join(out, 'user.txt'),
    ...files,
  ]);
  const peer = JSON.parse(stdout) as { cpuMs: number; peakRssBytes: number; version: string };
  duckdbVersion = peer.version;
  rmSync(join(out, 'duckdb-tmp'), { recursive: true, force: true });
  return { wallMs, cpuMs: peer.cpuMs, peakRssBytes: peer.peakRssBytes };
}

/**
 * `logs-gz/`: the other days linked to the plain logs (same size and mtime, so their partials are
 * reused) and the newest day gzip-compressed (zlib's default level, as `gzip` would).
 */
async function prepareGzipLogs(files: string[], gzLogs: string, params: string): Promise<void> {
  const marker = join(gzLogs, '.params.json');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === params) return;
  rmSync(gzLogs, { recursive: true, force: true });
  mkdirSync(gzLogs, { recursive: true });
  const newest = files[files.length - 1]!;
  for (const file of files.slice(0, -1)) symlinkSync(file, join(gzLogs, basename(file)));
  console.error(`bench: compressing ${basename(newest)}`);
  await pipeline(
    createReadStream(newest),
    createGzip(),
    createWriteStream(join(gzLogs, `${basename(newest)}.gz`)),
  );
  writeFileSync(marker, params);
}

/** The charts case side by side (or the KPI or scale-out case alone), then the KPI case. */
async function sideBySide(options: Map<string, string>): Promise<void> {
  // The scale-out cases run when a cluster is given and not declined (--no-clickhouse).
  const clickhouseUrls = (options.get('clickhouse') ?? process.env.CLICKHOUSE_URLS ?? '')
    .split(',')
    .filter((u) => u !== '');
  const withClickhouse = clickhouseUrls.length > 0 && !options.has('no-clickhouse');
  if (options.has('kpi-only')) {
    await kpiBench(
      options,
      resolve(options.get('dir') ?? join(ROOT, 'bench-data')),
      Number(options.get('runs') ?? 3),
      withClickhouse ? clickhouseUrls : [],
    );
    return;
  }
  const days = Number(options.get('days') ?? 7);
  const rows = Number(options.get('rows') ?? 20_000_000);
  const runs = Number(options.get('runs') ?? 3);
  const dir = resolve(options.get('dir') ?? join(ROOT, 'bench-data'));
  if (options.has('clickhouse-only') && !withClickhouse)
    throw new Error('--clickhouse-only needs CLICKHOUSE_URLS');
  const withDuckdb = !options.has('no-duckdb');
  const fallbackMemory = options.get('duckdb-fallback-memory') ?? '8GB';
  let duckdbMemory = '1GB';
  let duckdbFailure: string | undefined;
  const threads = availableParallelism();
  const start = parseDay(FIRST_DAY)!;
  const last = start + days - 1;
  const logs = join(dir, 'logs');

  const params = await ensureListenLogs(logs, { days, rows });
  const files = Array.from({ length: days }, (_, i) => join(logs, `listen-${compactDay(start + i)}.log`));

  const scaleOut = () =>
    clickhouseBench({
      urls: clickhouseUrls,
      dir,
      logs,
      days,
      last,
      rows,
      runs,
      record: options.has('record'),
    });
  if (options.has('clickhouse-only')) {
    if (!(await scaleOut())) process.exitCode = 1;
    return;
  }

  // The gzip case reads the same days, the newest one compressed (made once, reused).
  const withGzip = !options.has('no-gzip');
  const gzLogs = join(dir, 'logs-gz');
  if (withGzip) await prepareGzipLogs(files, gzLogs, params);

  // The incremental case starts from partials of the first days, built once, untimed.
  const baseState = join(dir, 'state-base');
  rmSync(baseState, { recursive: true, force: true });
  if (days > 1) await playtally(logs, join(dir, 'out-base'), baseState, last - 1, '1GB');

  const results: Record<string, Measure[]> = { cold: [], incremental: [], incrementalGz: [], duckdb: [] };
  for (let r = 0; r < runs; r++) {
    console.error(`bench: round ${r + 1} of ${runs}`);
    const coldState = join(dir, 'state-cold');
    rmSync(coldState, { recursive: true, force: true });
    results.cold!.push(await playtally(logs, join(dir, 'out-cold'), coldState, last, '1GB'));
    rmSync(coldState, { recursive: true, force: true });

    const incrementalState = join(dir, 'state-incremental');
    rmSync(incrementalState, { recursive: true, force: true });
    if (days > 1) cpSync(baseState, incrementalState, { recursive: true });
    results.incremental!.push(
      await playtally(logs, join(dir, 'out-incremental'), incrementalState, last, '1GB'),
    );
    rmSync(incrementalState, { recursive: true, force: true });

    if (withGzip) {
      if (days > 1) cpSync(baseState, incrementalState, { recursive: true });
      results.incrementalGz!.push(
        await playtally(gzLogs, join(dir, 'out-gz'), incrementalState, last, '1GB'),
      );
      rmSync(incrementalState, { recursive: true, force: true });
    }

    if (withDuckdb) {
      // DuckDB gets the same 1 GB as playtally; when that is not enough it is recorded and the
      // rounds run with --duckdb-fallback-memory instead, so that there is a time to compare.
      if (duckdbMemory === '1GB') {
        try {
          results.duckdb!.push(await duckdb(files, join(dir, 'out-duckdb'), threads, duckdbMemory));
          continue;
        } catch (error) {
          const message = (error as Error).message;
          if (!/Out of Memory/i.test(message)) throw error;
          duckdbFailure =
            message
              .split('\n')
              .find((l) => /Out of Memory/i.test(l))
              ?.trim() ?? 'out of memory';
          duckdbMemory = fallbackMemory;
          console.error(`bench: DuckDB failed at 1GB (${duckdbFailure}); using ${fallbackMemory}`);
        }
      }
      results.duckdb!.push(await duckdb(files, join(dir, 'out-duckdb'), threads, duckdbMemory));
    }
  }
  console.error('bench: cold run with --memory 512MB');
  const smallState = join(dir, 'state-512');
  rmSync(smallState, { recursive: true, force: true });
  const small = await playtally(logs, join(dir, 'out-512'), smallState, last, '512MB');
  rmSync(smallState, { recursive: true, force: true });

  const name = (kind: string): string => join(dir, 'out-cold', `${kind}_top50_${compactDay(last)}.txt`);
  const identical =
    sameFile(name('country'), join(dir, 'out-incremental', `country_top50_${compactDay(last)}.txt`)) &&
    sameFile(name('user'), join(dir, 'out-incremental', `user_top50_${compactDay(last)}.txt`)) &&
    sameFile(name('country'), join(dir, 'out-512', `country_top50_${compactDay(last)}.txt`)) &&
    sameFile(name('user'), join(dir, 'out-512', `user_top50_${compactDay(last)}.txt`)) &&
    (!withGzip ||
      (sameFile(name('country'), join(dir, 'out-gz', `country_top50_${compactDay(last)}.txt`)) &&
        sameFile(name('user'), join(dir, 'out-gz', `user_top50_${compactDay(last)}.txt`))));
  const duckdbIdentical = withDuckdb
    ? sameFile(name('country'), join(dir, 'out-duckdb', 'country.txt')) &&
      sameFile(name('user'), join(dir, 'out-duckdb', 'user.txt'))
    : undefined;

  const row = (label: string, m: Measure[]): string => {
    const wall = median(m.map((x) => x.wallMs));
    const ratio = withDuckdb ? median(results.duckdb!.map((x) => x.wallMs)) / wall : Number.NaN;
    return `| ${label} | ${(wall / 1000).toFixed(1)} s | ${(median(m.map((x) => x.cpuMs)) / 1000).toFixed(1)} s | ${Math.round(
      median(m.map((x) => x.peakRssBytes)) / 2 ** 20,
    )} MB | ${Number.isNaN(ratio) ? '-' : `${ratio.toFixed(1)}x`} |`;
  };
  const dayMs = results.cold!.map((m) => m.builtDayMs).filter((x): x is number => x !== undefined);
  const gzDayMs = results.incrementalGz!.map((m) => m.dayMs).filter((x): x is number => x !== undefined);
  const incrementalDayMs = results
    .incremental!.map((m) => m.dayMs)
    .filter((x): x is number => x !== undefined);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const report = [
    `### ${days} days x ${rows.toLocaleString('en-US')} rows, median of ${runs} (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${cpu}, ${threads} cores, ${Math.round(totalmem() / 2 ** 30)} GB RAM, Node ${process.version}. ` +
      `Command: \`npm run bench -- ${process.argv.slice(2).join(' ')}\`.`,
    '',
    '| run | wall | CPU | peak RSS | DuckDB wall / this |',
    '|---|---|---|---|---|',
    row('playtally cold (all days from raw logs)', results.cold!),
    row('playtally incremental (newest day added to partials)', results.incremental!),
    ...(withGzip ? [row('playtally incremental, newest day as .log.gz', results.incrementalGz!)] : []),
    ...(withDuckdb
      ? [row(`DuckDB ${duckdbVersion} from raw logs (memory_limit ${duckdbMemory})`, results.duckdb!)]
      : []),
    row('playtally cold, --memory 512MB (one run)', [small]),
    '',
    `Newest day parsed into its partial: median ${(median(incrementalDayMs) / 1000).toFixed(1)} s in the incremental run` +
      (dayMs.length
        ? ` (in the cold run, whose days overlap, its partials stage over its days: ${(median(dayMs) / 1000).toFixed(1)} s)`
        : '') +
      (gzDayMs.length ? `; from gzip: ${(median(gzDayMs) / 1000).toFixed(1)} s` : '') +
      '.',
    ...(duckdbFailure
      ? [
          `DuckDB with memory_limit 1GB did not finish: \`${duckdbFailure}\`; its rounds ran with ${duckdbMemory}.`,
          '',
        ]
      : []),
    `Outputs identical across cold, incremental${withGzip ? ', gzip' : ''} and 512MB runs: ${identical ? 'yes' : 'NO'}` +
      (withDuckdb ? `; identical to DuckDB's: ${duckdbIdentical ? 'yes' : 'NO'}.` : '.'),
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (options.has('record')) record('top50', report);
  if (!identical || duckdbIdentical === false) process.exitCode = 1;
  if (withClickhouse && !(await scaleOut())) process.exitCode = 1;
  if (!options.has('no-kpi')) await kpiBench(options, dir, runs, withClickhouse ? clickhouseUrls : []);
}

/**
 * The KPI case: a landing folder of `days` x `streams` rows (generated once), then R rounds of
 * playtally kpis and the DuckDB peer side by side, outputs compared byte for byte. With a
 * ClickHouse cluster, each round also runs `kpis --engine clickhouse` cold (a fresh state folder
 * and database: everything parsed and loaded) and again with the rows on the cluster (the output
 * files deleted, so every day is computed again from what the cluster holds).
 */
async function kpiBench(
  options: Map<string, string>,
  dir: string,
  runs: number,
  clickhouseUrls: string[],
): Promise<void> {
  const days = Number(options.get('kpi-days') ?? 1);
  const streams = Number(options.get('kpi-streams') ?? 10_000_000);
  const users = options.has('kpi-users') ? Number(options.get('kpi-users')) : undefined;
  const songs = options.has('kpi-songs') ? Number(options.get('kpi-songs')) : undefined;
  const threads = availableParallelism();
  // A landing of its own for a catalogue of other sizes: the default one is not generated again.
  const sized = [users === undefined ? '' : `-${users}u`, songs === undefined ? '' : `-${songs}s`].join('');
  const landing = join(dir, `kpi-landing${sized}`);
  await ensureKpiLanding(landing, { days, streams, users, songs });
  const ours: Measure[] = [];
  const theirs: Measure[] = [];
  const onCluster: Record<'cold' | 'loaded', Measure[]> = { cold: [], loaded: [] };
  const clickhouseKpis = async (out: string, state: string): Promise<Measure> => {
    const r = await run(CLI, [
      'kpis',
      '--landing',
      landing,
      '--out',
      out,
      '--state',
      state,
      '--no-archive',
      '--json',
      '--quiet',
      '--engine',
      'clickhouse',
      '--clickhouse',
      clickhouseUrls.join(','),
      '--clickhouse-database',
      'playtally_bench_kpis',
    ]);
    const summary = JSON.parse(r.stdout) as { cpuMs: number; peakRssBytes: number };
    return { wallMs: r.wallMs, cpuMs: summary.cpuMs, peakRssBytes: summary.peakRssBytes };
  };
  /** `playtally kpis` from the raw CSVs into a fresh `out`, measured. */
  const kpis = async (out: string, ...extra: string[]): Promise<Measure> => {
    rmSync(out, { recursive: true, force: true });
    const mine = await run(CLI, [
      'kpis',
      '--landing',
      landing,
      '--out',
      out,
      '--no-archive',
      '--json',
      '--quiet',
      ...extra,
    ]);
    const summary = JSON.parse(mine.stdout) as { cpuMs: number; peakRssBytes: number };
    return { wallMs: mine.wallMs, cpuMs: summary.cpuMs, peakRssBytes: summary.peakRssBytes };
  };
  for (let r = 0; r < runs; r++) {
    console.error(`bench: KPI round ${r + 1} of ${runs}`);
    if (clickhouseUrls.length > 0) {
      const out = join(dir, 'kpi-out-clickhouse');
      const state = join(dir, 'kpi-state-clickhouse');
      rmSync(out, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
      await dropOnEach(clickhouseUrls, 'playtally_bench_kpis');
      onCluster.cold.push(await clickhouseKpis(out, state));
      for (const name of readdirSync(out)) rmSync(join(out, name), { recursive: true, force: true });
      onCluster.loaded.push(await clickhouseKpis(out, state));
    }
    ours.push(await kpis(join(dir, 'kpi-out')));
    const peerOut = join(dir, 'kpi-out-duckdb');
    rmSync(peerOut, { recursive: true, force: true });
    const peer = await run(PEER_KPI, [
      '--landing',
      landing,
      '--out',
      peerOut,
      '--threads',
      String(threads),
      '--memory',
      '1GB',
      '--temp',
      join(dir, 'kpi-duckdb-tmp'),
    ]);
    const p = JSON.parse(peer.stdout) as { cpuMs: number; peakRssBytes: number; version: string };
    duckdbVersion = p.version;
    theirs.push({ wallMs: peer.wallMs, cpuMs: p.cpuMs, peakRssBytes: p.peakRssBytes });
  }
  if (clickhouseUrls.length > 0) await dropOnEach(clickhouseUrls, 'playtally_bench_kpis');
  console.error('bench: kpis with --memory 256MB');
  const smallest = await kpis(join(dir, 'kpi-out-256'), '--memory', '256MB');
  const out = join(dir, 'kpi-out');
  const names = readdirSync(out)
    .filter((n) => n.endsWith('.csv'))
    .sort();
  const identical =
    names.length > 0 &&
    names.join() ===
      readdirSync(join(dir, 'kpi-out-duckdb'))
        .filter((n) => n.endsWith('.csv'))
        .sort()
        .join() &&
    names.every((n) => sameFile(join(out, n), join(dir, 'kpi-out-duckdb', n))) &&
    names.every((n) => sameFile(join(out, n), join(dir, 'kpi-out-256', n))) &&
    (clickhouseUrls.length === 0 ||
      names.every((n) => sameFile(join(out, n), join(dir, 'kpi-out-clickhouse', n))));
  const ratio = median(theirs.map((m) => m.wallMs)) / median(ours.map((m) => m.wallMs));
  const line = (label: string, m: Measure[], x: string): string =>
    `| ${label} | ${(median(m.map((v) => v.wallMs)) / 1000).toFixed(1)} s | ${(median(m.map((v) => v.cpuMs)) / 1000).toFixed(1)} s | ${Math.round(
      median(m.map((v) => v.peakRssBytes)) / 2 ** 20,
    )} MB | ${x} |`;
  const report = [
    `### Genre KPIs: ${days} day(s) x ${streams.toLocaleString('en-US')} stream rows, ${(users ?? 50_000).toLocaleString('en-US')} users, ${(songs ?? 20_000).toLocaleString('en-US')} songs, median of ${runs} (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} cores, ${Math.round(totalmem() / 2 ** 30)} GB RAM, Node ${process.version}. ` +
      `Command: \`${clickhouseUrls.length > 0 ? 'CLICKHOUSE_URLS=... ' : ''}npm run bench -- ${process.argv.slice(2).join(' ')}\`.`,
    '',
    '| run | wall | CPU | peak RSS | DuckDB wall / this |',
    '|---|---|---|---|---|',
    line('playtally kpis (all files from the raw CSVs)', ours, `${ratio.toFixed(2)}x`),
    line(
      `DuckDB ${duckdbVersion} SQL (bench/kpiSql.ts, memory_limit 1GB, ${threads} threads)`,
      theirs,
      '1.00x',
    ),
    line(
      'playtally kpis, --memory 256MB (one run: one worker thread)',
      [smallest],
      `${(median(theirs.map((m) => m.wallMs)) / smallest.wallMs).toFixed(2)}x`,
    ),
    ...(clickhouseUrls.length > 0
      ? [
          line(
            'playtally kpis --engine clickhouse, cold (parsed, loaded into a local two-shard cluster, queried)',
            onCluster.cold,
            `${(median(theirs.map((m) => m.wallMs)) / median(onCluster.cold.map((m) => m.wallMs))).toFixed(2)}x`,
          ),
          line(
            'playtally kpis --engine clickhouse, rows already on the cluster (queried again)',
            onCluster.loaded,
            `${(median(theirs.map((m) => m.wallMs)) / median(onCluster.loaded.map((m) => m.wallMs))).toFixed(2)}x`,
          ),
        ]
      : []),
    '',
    `Output files identical (genre_kpis_*.csv, top_genres_*.csv; playtally's at both budgets${clickhouseUrls.length > 0 ? ', both engines' : ''} and DuckDB's): ${identical ? 'yes' : 'NO'}.`,
  ].join('\n');
  process.stdout.write(`${report}\n`);
  // The default catalogue's table, or one of its own per size (bench:kpi-2000000u, ...).
  if (options.has('record')) record(`kpi${sized}`, report);
  if (!identical) process.exitCode = 1;
}

/**
 * The micro-benchmarks on data of the same sizes as the cases above: the parser on a day of
 * --rows rows, the streams parser on one file of the KPI day (a third of its rows), the partial
 * of the charts' newest day. Each records its own block with --record.
 */
async function microBenchmarks(options: Map<string, string>, dir: string): Promise<boolean> {
  const days = Number(options.get('days') ?? 7);
  const rows = Number(options.get('rows') ?? 20_000_000);
  const streams = Math.max(1, Math.round(Number(options.get('kpi-streams') ?? 10_000_000) / 3));
  const newest = join(dir, 'logs', `listen-${compactDay(parseDay(FIRST_DAY)! + days - 1)}.log`);
  const passed = forwarded(options, 'runs', 'record');
  const parse = await runScript('parseBench', ['--rows', String(rows), '--dir', dir, ...passed]);
  const streamsParse = await runScript('streamsParseBench', [
    '--streams',
    String(streams),
    '--dir',
    dir,
    ...passed,
  ]);
  const partial = await runScript('partialBench', ['--log', newest, ...passed]);
  return parse && streamsParse && partial;
}

/** `--name value` (or `--flag`) for each of `names` this command was given, to pass on. */
function forwarded(options: Map<string, string>, ...names: string[]): string[] {
  return names.flatMap((name) => {
    const value = options.get(name);
    if (value === undefined) return [];
    return SPEC.options[name]?.value === undefined ? [`--${name}`] : [`--${name}`, value];
  });
}

async function main(): Promise<void> {
  const options = args(SPEC);
  const dir = resolve(options.get('dir') ?? join(ROOT, 'bench-data'));
  const withScaling = options.has('scaling') || options.has('scaling-cases');
  const cases = options.has('scaling-cases') ? ['--cases', options.get('scaling-cases')!] : [];
  const scaling = ['--dir', join(dir, 'scaling'), ...cases, ...forwarded(options, 'runs', 'record')];
  // Scaling's data must be known to fit before the other parts run, not after them.
  if (withScaling && !(await runScript('scaling', [...scaling, '--plan']))) {
    process.exitCode = 1;
    return;
  }
  await sideBySide(options);
  // The micro-benchmarks need the charts' logs: not with a case run alone.
  const alone = options.has('kpi-only') || options.has('clickhouse-only');
  if (!options.has('no-micro') && !alone && !(await microBenchmarks(options, dir))) process.exitCode = 1;
  if (withScaling && !(await runScript('scaling', scaling))) process.exitCode = 1;
}

await main();
