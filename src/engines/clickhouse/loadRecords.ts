import type { ClickHouseCluster } from './cluster.js';

/**
 * What each day's rows on the cluster were loaded from (a log's content hash, a KPI day's
 * inputs), written on every shard by the load itself. A state folder's manifest says what it
 * loaded; this says what is there now. A row count alone cannot tell another state folder's load
 * of the same day (another `--out` on the same database) from ours when the counts happen to
 * agree; the source can. Kept in `load_records` (ReplacingMergeTree: the newest entry per kind
 * and day wins), read once a session.
 */
export class LoadRecords {
  private sources: Map<number, string> | undefined;

  constructor(
    private readonly cluster: ClickHouseCluster,
    /** What was loaded: `listens`, `stream_rows`, `catalog`. */
    private readonly kind: string,
  ) {}

  /** The source of the day's rows, when every shard records the same one. */
  async source(day: number): Promise<string | undefined> {
    if (this.sources === undefined) {
      const perShard = await Promise.all(
        this.cluster.shards.map(async (_, shard) => {
          const rows = await this.cluster.rows<{ day: number; source: string }>(
            `SELECT day, argMax(source, version) AS source FROM ${this.cluster.database}.load_records
             WHERE kind = '${this.kind}' GROUP BY day`,
            shard,
          );
          return new Map(rows.map((r) => [Number(r.day), r.source]));
        }),
      );
      this.sources = new Map();
      for (const [day, source] of perShard[0]!) {
        if (perShard.every((shard) => shard.get(day) === source)) this.sources.set(day, source);
      }
    }
    return this.sources.get(day);
  }

  /** Record on every shard that the day's rows now come from `source` (hex or a day key). */
  async set(day: number, source: string): Promise<void> {
    if (!/^[0-9A-Za-z:._-]+$/.test(source)) throw new Error(`not a load source: ${JSON.stringify(source)}`);
    await this.cluster.onEach(
      `INSERT INTO ${this.cluster.database}.load_records (kind, day, source, version)
       VALUES ('${this.kind}', ${Math.trunc(day)}, '${source}', ${Date.now()})`,
    );
    this.sources?.set(day, source);
  }

  /** The day's rows are being replaced or dropped: no source until `set` says again. */
  forget(day: number): void {
    this.sources?.delete(day);
  }
}

/** The table of LoadRecords, on every shard. */
export async function ensureLoadRecords(cluster: ClickHouseCluster): Promise<void> {
  await cluster.onEach(
    `CREATE TABLE IF NOT EXISTS ${cluster.database}.load_records
       (kind String, day Int32, source String, version UInt64)
     ENGINE = ReplacingMergeTree(version) ORDER BY (kind, day)`,
  );
}
