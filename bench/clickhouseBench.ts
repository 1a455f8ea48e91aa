import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compactDay, isoDay } from '../src/ops/dates.js';
import { CLI, median, record, run, sameFile, top50Argv } from './benchSupport.js';

/**
 * The scale-out case of `npm run bench` (issue 6), when a ClickHouse cluster is given
 * (CLICKHOUSE_URLS, as scripts/clickhouse-cluster.sh prints): the same days through `top50`,
 * interleaved, R rounds of
 *
 *   - embedded cold: all days from the raw logs into a fresh state folder;
 *   - ClickHouse cold: all days loaded into a fresh database, then the charts;
 *   - ClickHouse incremental: the other days loaded beforehand (untimed), the newest one loaded,
 *     then the charts;
 *   - ClickHouse charts only: every day already loaded;
 *
 * with the CPU time of the ClickHouse servers (from /proc) beside playtally's own, and the
 * chart files compared byte for byte with the embedded engine's.
 */
export async function clickhouseBench(options: {
  urls: string[];
  dir: string;
  logs: string;
  days: number;
  last: number;
  rows: number;
  runs: number;
  record: boolean;
}): Promise<boolean> {
  const { urls, dir, logs, last, runs } = options;
  const first = last - options.days + 1;
  const database = 'playtally_bench';
  const results: Record<string, Measure[]> = { embedded: [], cold: [], incremental: [], charts: [] };
  const top50 = (out: string, state: string, day: number, engine: 'embedded' | 'clickhouse') =>
    measure(
      top50Argv(
        { logs, out, state, day },
        ...(engine === 'clickhouse'
          ? ['--engine', 'clickhouse', '--clickhouse', urls.join(','), '--clickhouse-database', database]
          : []),
      ),
    );
  const dropDatabase = () => dropOnEach(urls, database);
  for (let r = 0; r < runs; r++) {
    console.error(`bench: clickhouse round ${r + 1} of ${runs}`);
    const embeddedState = join(dir, 'state-ch-embedded');
    rmSync(embeddedState, { recursive: true, force: true });
    results.embedded!.push(await top50(join(dir, 'out-ch-embedded'), embeddedState, last, 'embedded'));
    rmSync(embeddedState, { recursive: true, force: true });

    const chState = join(dir, 'state-ch');
    rmSync(chState, { recursive: true, force: true });
    await dropDatabase();
    results.cold!.push(await top50(join(dir, 'out-ch-cold'), chState, last, 'clickhouse'));
    results.charts!.push(await top50(join(dir, 'out-ch-charts'), chState, last, 'clickhouse'));

    rmSync(chState, { recursive: true, force: true });
    await dropDatabase();
    if (last > first) await top50(join(dir, 'out-ch-base'), chState, last - 1, 'clickhouse');
    results.incremental!.push(await top50(join(dir, 'out-ch-incremental'), chState, last, 'clickhouse'));
    rmSync(chState, { recursive: true, force: true });
  }
  await dropDatabase();

  const file = (out: string, kind: string) => join(dir, out, `${kind}_top50_${compactDay(last)}.txt`);
  const identical = ['out-ch-cold', 'out-ch-charts', 'out-ch-incremental'].every((out) =>
    ['country', 'user'].every((kind) => sameFile(file(out, kind), file('out-ch-embedded', kind))),
  );
  const embeddedWall = median(results.embedded!.map((m) => m.wallMs));
  const row = (label: string, m: Measure[]) =>
    `| ${label} | ${(median(m.map((x) => x.wallMs)) / 1000).toFixed(1)} s | ` +
    `${(median(m.map((x) => x.cpuMs)) / 1000).toFixed(1)} s | ${(median(m.map((x) => x.serverCpuMs)) / 1000).toFixed(1)} s | ` +
    `${Math.round(median(m.map((x) => x.peakRssBytes)) / 2 ** 20)} MB | ${(median(m.map((x) => x.wallMs)) / embeddedWall).toFixed(2)}x |`;
  const report = [
    `### ${options.days} days x ${options.rows.toLocaleString('en-US')} rows on a local two-shard ClickHouse ${await serverVersion(urls[0]!)}, median of ${runs} (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Window ${isoDay(first)}..${isoDay(last)}; cluster: \`scripts/clickhouse-cluster.sh\` (two clickhouse-server processes on ` +
      'the same 2 cores as playtally). Command: `CLICKHOUSE_URLS=... npm run bench -- --clickhouse-only ' +
      `--days ${options.days} --rows ${options.rows} --runs ${runs}\`.`,
    '',
    '| run | wall | playtally CPU | ClickHouse CPU | playtally peak RSS | wall / embedded cold |',
    '|---|---|---|---|---|---|',
    row('embedded cold (all days from raw logs)', results.embedded!),
    row('ClickHouse cold (all days loaded, then the charts)', results.cold!),
    row('ClickHouse incremental (newest day loaded, then the charts)', results.incremental!),
    row('ClickHouse charts only (every day loaded)', results.charts!),
    '',
    `Chart files identical to the embedded engine's: ${identical ? 'yes' : 'NO'}.`,
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (options.record) record('clickhouse', report);
  return identical;
}

interface Measure {
  wallMs: number;
  cpuMs: number;
  serverCpuMs: number;
  peakRssBytes: number;
}

async function measure(argv: string[]): Promise<Measure> {
  const before = serverCpuMs();
  const { stdout, wallMs } = await run(CLI, argv);
  const summary = JSON.parse(stdout) as { cpuMs: number; peakRssBytes: number };
  return {
    wallMs,
    cpuMs: summary.cpuMs,
    serverCpuMs: serverCpuMs() - before,
    peakRssBytes: summary.peakRssBytes,
  };
}

/** User + system CPU time of every clickhouse-server process on this machine, in ms. */
function serverCpuMs(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(clickhouse-serv')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // a process that ended meanwhile
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** Drop the benchmark's database on every shard (over HTTP: the client is not needed for one statement). */
export async function dropOnEach(urls: string[], database: string): Promise<void> {
  for (const url of urls) {
    const r = await fetch(url, { method: 'POST', body: `DROP DATABASE IF EXISTS ${database}` });
    if (!r.ok) throw new Error(`${url}: ${await r.text()}`);
  }
}

async function serverVersion(url: string): Promise<string> {
  const r = await fetch(url, { method: 'POST', body: 'SELECT version()' });
  return (await r.text()).trim();
}
