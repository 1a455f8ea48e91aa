import { type ClickHouseCluster, requireDayColumns } from './cluster.js';

/**
 * The tables of the listen logs, on every shard: `listens_local` (MergeTree, one partition per
 * log day, `day` the day number: see sqlDay, ordered by user then song, the order of the user charts) holds the shard's users'
 * valid rows; `listens` (Distributed over the cluster named `clusterName`, sharded by user_id)
 * reads all shards at once, for the country charts and for anyone querying by hand.
 */
export async function ensureListenTables(cluster: ClickHouseCluster, clusterName: string): Promise<void> {
  const db = cluster.database;
  await cluster.onEach(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await requireDayColumns(cluster, ['listens_local', 'listens']);
  await cluster.onEach(
    `CREATE TABLE IF NOT EXISTS ${db}.listens_local (
       day Int32, user_id UInt64, sng_id UInt64, country FixedString(2)
     ) ENGINE = MergeTree() PARTITION BY day ORDER BY (user_id, sng_id)`,
  );
  await cluster.onEach(
    `CREATE TABLE IF NOT EXISTS ${db}.listens AS ${db}.listens_local
     ENGINE = Distributed(${clusterName}, ${db}, listens_local, user_id)`,
  );
}

/** The shard a user's rows live on: user_id modulo the shard count, as the Distributed key says. */
export function shardOf(user: number, shards: number): number {
  return user % shards;
}
