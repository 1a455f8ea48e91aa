import { type ClickHouseCluster, requireDayColumns } from './cluster.js';
import { murmurHash3_32 } from './murmurHash3.js';

/**
 * The tables of the genre KPIs, on every shard. Rows live on the shard of their user
 * (`murmurHash3_32(user_id) % shards`, the Distributed tables' sharding key), so the exact
 * duplicates of a row and every listen of a user are on one shard:
 * - `stream_rows_local` / `stream_rows`: the valid stream rows (as playtally's parser read them),
 *   one partition per UTC day of listen time (`day` the day number, see sqlDay); a day is loaded again by replacing its partition.
 * - `kpi_rows_local` / `kpi_rows`: each day's distinct rows (duplicates dropped), with their UTC
 *   hour and whether their track and user are in the catalogue; built on each shard from its
 *   `stream_rows_local` partition, then read through `kpi_rows` joined with `songs`.
 * - `songs`: the whole songs catalogue (track, genre, duration) on every shard, so the join runs
 *   on the shards; `users_local` / `users`: the users catalogue, sharded like the rows.
 */
export async function ensureKpiTables(cluster: ClickHouseCluster, clusterName: string): Promise<void> {
  const db = cluster.database;
  await cluster.onEach(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await requireDayColumns(cluster, ['stream_rows_local', 'stream_rows', 'kpi_rows_local', 'kpi_rows']);
  const sharded = async (name: string, columns: string, engine: string): Promise<void> => {
    await cluster.onEach(`CREATE TABLE IF NOT EXISTS ${db}.${name}_local (${columns}) ENGINE = ${engine}`);
    await cluster.onEach(
      `CREATE TABLE IF NOT EXISTS ${db}.${name} AS ${db}.${name}_local
       ENGINE = Distributed(${clusterName}, ${db}, ${name}_local, murmurHash3_32(user_id))`,
    );
  };
  await sharded(
    'stream_rows',
    'day Int32, user_id String, track_id String, listened_at_us Float64',
    'MergeTree() PARTITION BY day ORDER BY (user_id, track_id, listened_at_us)',
  );
  await sharded(
    'kpi_rows',
    'day Int32, hour UInt8, user_id String, track_id String, known_track UInt8, known_user UInt8',
    'MergeTree() PARTITION BY day ORDER BY (track_id, user_id)',
  );
  await sharded('users', 'user_id String', 'MergeTree() ORDER BY user_id');
  await cluster.onEach(
    `CREATE TABLE IF NOT EXISTS ${db}.songs (track_id String, genre String, duration_ms UInt64)
     ENGINE = MergeTree() ORDER BY (track_id, genre)`,
  );
}

/** The shard of a user's KPI rows, as the KPI tables' sharding key places them. */
export function kpiShardOf(user: string, shards: number): number {
  return murmurHash3_32(user) % shards;
}
