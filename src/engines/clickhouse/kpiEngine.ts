import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../ops/atomicFile.js';
import { compactDay } from '../../ops/dates.js';
import type { KpiDayEngine, KpiDayInput } from '../kpiEngine.js';
import { ClickHouseCluster, type ClickHouseOptions, identifier, sqlDay } from './cluster.js';
import { buildKpiRows, queryDayKpis } from './kpiQueries.js';
import { ensureKpiTables } from './kpiTables.js';
import { loadCatalog, StreamDayLoader } from './loadKpiInputs.js';
import { ensureLoadRecords, LoadRecords } from './loadRecords.js';

/** What the cluster holds, as this state folder loaded it; checked against row counts before use. */
interface ClickHouseKpiState {
  target: string;
  catalog?: { key: string; songs: number; users: number };
  /** YYYYMMDD -> the files (name:sha256, in name order) the day's rows were loaded from. */
  days: Record<string, { inputs: string[]; rows: number }>;
}

const STATE_FILE = 'clickhouse-kpis.json';

/**
 * The KPI engine on a ClickHouse cluster. Everything around the day is the KPI job's
 * (jobs/kpiJob.ts): streams files are parsed by playtally's own parser into partials, so rejects
 * are the same; error files, archiving and the quality report are the same. A due day's rows are
 * loaded from the partials of its files (replacing the day's partition, skipped when the cluster
 * already holds these very rows) and its KPIs computed in SQL. It checks every shard answers and
 * creates the tables when opened, so a cluster that is down fails the run before any file moves.
 */
export async function clickhouseKpiEngine(
  options: ClickHouseOptions,
  stateDir: string,
): Promise<KpiDayEngine> {
  const clusterName = identifier(options.cluster ?? 'playtally', '--clickhouse-cluster');
  const cluster = new ClickHouseCluster(options.urls, options.database ?? 'playtally');
  const target = `${options.urls.join(',')}/${cluster.database}`;
  try {
    await cluster.ping();
    await ensureKpiTables(cluster, clusterName);
    await ensureLoadRecords(cluster);
  } catch (error) {
    await cluster.close();
    throw error;
  }
  const statePath = join(stateDir, STATE_FILE);
  const state = readState(statePath, target);
  const save = (): void => writeFileAtomic(statePath, `${JSON.stringify(state, null, 2)}\n`);
  const loader = new StreamDayLoader(cluster);
  // What the cluster's rows come from, checked beside the counts: another state folder on the
  // same database may have loaded the same day (or catalogue) from other files since.
  const sources = new LoadRecords(cluster, 'stream_rows');
  const catalogSource = new LoadRecords(cluster, 'catalog');
  let catalogChecked = false;
  let closed = false;

  const ensureCatalog = async ({ catalog, catalogKey }: KpiDayInput): Promise<void> => {
    if (catalogChecked) return;
    const known = state.catalog;
    const current =
      known?.key === catalogKey &&
      (await catalogSource.source(0)) === catalogKey &&
      (await count(cluster, `${cluster.database}.users`)) === known.users &&
      (await songsOnEveryShard(cluster)).every((n) => n === known.songs);
    if (!current) {
      state.catalog = undefined;
      save();
      catalogSource.forget(0);
      state.catalog = { key: catalogKey, ...(await loadCatalog(cluster, catalog)) };
      await catalogSource.set(0, catalogKey);
      save();
    }
    catalogChecked = true;
  };

  return {
    async computeDay(input) {
      await ensureCatalog(input);
      const key = compactDay(input.day);
      const inputs = input.sources.map((s) => `${s.file}:${s.sha256}`);
      const inputsKey = createHash('sha256').update(inputs.join('\n')).digest('hex');
      const rows = input.sources.reduce((n, s) => n + s.rows, 0);
      const known = state.days[key];
      const loaded =
        known !== undefined &&
        known.rows === rows &&
        known.inputs.join('\n') === inputs.join('\n') &&
        (await count(cluster, `${cluster.database}.stream_rows`, input.day)) === rows &&
        (await sources.source(input.day)) === inputsKey;
      if (!loaded) {
        delete state.days[key];
        save();
        sources.forget(input.day);
        await loader.load(
          input.day,
          input.sources.map((s) => s.partial),
        );
        await sources.set(input.day, inputsKey);
        state.days[key] = { inputs, rows };
        save();
      }
      await buildKpiRows(cluster, input.day);
      return queryDayKpis(cluster, input.day, input.granularity);
    },
    async close() {
      if (closed) return;
      closed = true;
      await cluster.close();
    },
  };
}

/** Rows of a (Distributed) table, or of its partition of `day`. */
async function count(cluster: ClickHouseCluster, table: string, day?: number): Promise<number> {
  const where = day === undefined ? '' : ` WHERE day = ${sqlDay(day)}`;
  const [row] = await cluster.rows<{ n: string }>(`SELECT count() AS n FROM ${table}${where}`);
  return Number(row?.n ?? 0);
}

/** `songs` is a whole copy on each shard: its row count on each. */
async function songsOnEveryShard(cluster: ClickHouseCluster): Promise<number[]> {
  return Promise.all(
    cluster.shards.map(async (_, shard) => {
      const [row] = await cluster.rows<{ n: string }>(
        `SELECT count() AS n FROM ${cluster.database}.songs`,
        shard,
      );
      return Number(row?.n ?? 0);
    }),
  );
}

function readState(path: string, target: string): ClickHouseKpiState {
  if (existsSync(path)) {
    try {
      const state = JSON.parse(readFileSync(path, 'utf8')) as ClickHouseKpiState;
      // Another cluster or database: nothing loaded there is known.
      if (state.target === target && typeof state.days === 'object') return state;
    } catch {
      // Unreadable: everything is loaded again (a load replaces what it loads).
    }
  }
  return { target, days: {} };
}
