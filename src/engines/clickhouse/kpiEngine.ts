import { createHash } from 'node:crypto';
import { openClickHouseKpiRecord } from '../../formats/clickhouseKpiRecord.js';
import { compactDay } from '../../ops/dates.js';
import type { KpiDayEngine, KpiDayInput } from '../kpiEngine.js';
import { ClickHouseCluster, type ClickHouseOptions, clusterTarget, identifier, sqlDay } from './cluster.js';
import { buildKpiRows, queryDayKpis } from './kpiQueries.js';
import { ensureKpiTables } from './kpiTables.js';
import { loadCatalog, StreamDayLoader } from './loadKpiInputs.js';
import { ensureLoadRecords, LoadRecords } from './loadRecords.js';

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
  const target = clusterTarget(options.urls, cluster.database);
  try {
    await cluster.ping();
    await cluster.checkShardCount(clusterName);
    await ensureKpiTables(cluster, clusterName);
    await ensureLoadRecords(cluster);
  } catch (error) {
    await cluster.close();
    throw error;
  }
  const record = openClickHouseKpiRecord(stateDir, target);
  const state = record.value;
  const save = (): void => record.save();
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
      const inputs = input.sources.map((s) => `${s.file}:${s.hash}`);
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
