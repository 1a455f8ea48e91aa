import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { plural } from '../../ops/counts.js';
import { PlaytallyError } from '../../ops/errors.js';

/**
 * The shards of a ClickHouse cluster, one HTTP client each (the URLs of `--clickhouse`, in the
 * order of the cluster's shards). playtally talks to every shard itself: it drops and loads a
 * day's partition on each, and reads each shard's part of the user charts, so it needs no
 * distributed DDL (which needs ZooKeeper) and never waits on a Distributed table's async inserts.
 */
/** Where the ClickHouse engine runs: `--clickhouse`, `--clickhouse-database`, `--clickhouse-cluster`. */
export interface ClickHouseOptions {
  /** The HTTP URLs of the cluster's shards, in shard order. */
  urls: string[];
  /** Database of playtally's tables (default `playtally`). */
  database?: string;
  /** The cluster's name in the servers' remote_servers config (default `playtally`). */
  cluster?: string;
}

/**
 * A shard's URL as playtally says it and records it: without its user and password
 * (`http://user:secret@host:8123` is `http://host:8123` in messages, manifests and records).
 */
export function shownUrl(url: string): string {
  return url.replace(/^(https?:\/\/)[^@/]*@/, '$1');
}

/** `url,url/database`: where a state folder's data was loaded, as recorded (no credentials). */
export function clusterTarget(urls: string[], database: string): string {
  return `${urls.map(shownUrl).join(',')}/${database}`;
}

/**
 * Check a shard URL: http(s), a host, no query or fragment (settings and credentials have
 * options and the URL's user info; a `?user=` would be sent to every query and is refused).
 */
function checkShardUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !/^https?:$/.test(parsed.protocol) || parsed.host === '' || /\s/.test(url)) {
    throw new PlaytallyError('usage', `--clickhouse: not an http(s) URL: ${JSON.stringify(shownUrl(url))}`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new PlaytallyError(
      'usage',
      `--clickhouse: ${JSON.stringify(shownUrl(url))} has parameters; give a shard as http(s)://[user:password@]host:port, ` +
        'the database with --clickhouse-database',
    );
  }
}

export class ClickHouseCluster {
  readonly shards: ClickHouseClient[];
  /** The shards' URLs without credentials, for messages. */
  readonly shown: string[];

  constructor(
    readonly urls: string[],
    readonly database: string,
  ) {
    if (urls.length === 0) throw new PlaytallyError('usage', '--clickhouse needs at least one URL');
    for (const url of urls) checkShardUrl(url);
    this.shown = urls.map(shownUrl);
    this.database = identifier(database, 'database');
    this.shards = urls.map((url) =>
      createClient({
        url,
        // A month of a busy shard can take minutes; progress headers keep the connection from
        // looking idle to proxies and load balancers meanwhile.
        request_timeout: 30 * 60_000,
        clickhouse_settings: { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '10000' },
        compression: { request: false, response: false },
        // Failures reach playtally as errors, which it reports once in its own words.
        log: { level: ClickHouseLogLevel.OFF },
      }),
    );
  }

  /** Run a statement on every shard, one after the other. */
  async onEach(sql: string): Promise<void> {
    for (const shard of this.shards) await shard.command({ query: sql });
  }

  /**
   * A query's answer rows from one shard: the first by default, which answers for all through a
   * Distributed table. 64-bit numbers come as strings (JSONEachRow's default).
   */
  async rows<T>(query: string, shard = 0): Promise<T[]> {
    const result = await this.shards[shard]!.query({ query, format: 'JSONEachRow' });
    return (await result.json()) as T[];
  }

  /**
   * Check every shard answers and takes playtally's user (ClickHouse's /ping needs no login, so a
   * query follows it); a clear error (exit 4) naming the shard otherwise.
   */
  async ping(): Promise<void> {
    for (let i = 0; i < this.shards.length; i++) {
      const result = await this.shards[i]!.ping();
      if (!result.success) {
        const e = result.error as Error & { code?: string };
        throw new PlaytallyError(
          'clickhouse_unavailable',
          `ClickHouse shard ${i + 1} at ${this.shown[i]} does not answer: ${e.code ?? e.message}`,
          { url: this.shown[i] },
        );
      }
      try {
        await this.shards[i]!.query({ query: 'SELECT 1', format: 'JSONEachRow' });
      } catch (error) {
        const message = (error as Error).message.split('\n')[0]!;
        throw new PlaytallyError(
          'clickhouse_unavailable',
          `ClickHouse shard ${i + 1} at ${this.shown[i]} refuses playtally's queries: ${message}`,
          { url: this.shown[i] },
        );
      }
    }
  }

  /**
   * One URL per shard of `clusterName` (its remote_servers entry, as system.clusters lists it).
   * With fewer URLs, a day would be dropped on the shards playtally knows and read back through
   * the Distributed table over all of them, counting another load's rows: refused before any work.
   */
  async checkShardCount(clusterName: string): Promise<void> {
    const [row] = await this.rows<{ shards: string }>(
      `SELECT uniqExact(shard_num) AS shards FROM system.clusters WHERE cluster = '${clusterName}'`,
    );
    const shards = Number(row?.shards ?? 0);
    if (shards === 0) {
      throw new PlaytallyError(
        'usage',
        `--clickhouse-cluster ${clusterName}: no such cluster in the remote_servers of ${this.shown[0]} (system.clusters)`,
      );
    }
    if (shards !== this.urls.length) {
      throw new PlaytallyError(
        'usage',
        `--clickhouse gives ${plural(this.urls.length, 'shard URL')} but cluster ${clusterName} has ${plural(shards, 'shard')} ` +
          '(system.clusters): give one URL per shard, in shard order',
        { urls: this.urls.length, shards },
      );
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}

/**
 * An identifier placed in SQL: ClickHouse 18.16 has no query parameters, so every value that
 * goes into a statement is checked (identifiers, dates) or is a number playtally produced.
 */
export function identifier(name: string, what: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
    throw new PlaytallyError('usage', `${what} must be letters, digits and _ (got ${JSON.stringify(name)})`);
  }
  return name;
}

/**
 * A day placed in SQL: the day number (days since 1970-01-01, negative before), as the `day`
 * columns hold it. ClickHouse 18.16's Date holds only 1970-01-01 to 2105-12-31 and maps every
 * other day to one value, while dirty data has listens in 1969 (an epoch-0 time with an offset)
 * and logs can be named for any year: a Date column would merge such days into one partition.
 */
export function sqlDay(day: number): string {
  if (!Number.isSafeInteger(day)) throw new Error(`not a day number: ${day}`);
  return String(day);
}

/**
 * Refuse tables made by another version of playtally: a `day` column that is not the day number
 * (the first ClickHouse engine used Date). Their rows derive from the logs, which playtally does
 * not delete for you: drop the tables, or use another database.
 */
export async function requireDayColumns(cluster: ClickHouseCluster, tables: string[]): Promise<void> {
  for (let i = 0; i < cluster.shards.length; i++) {
    const columns = await cluster.rows<{ table: string; type: string }>(
      `SELECT table, type FROM system.columns
       WHERE database = '${cluster.database}' AND name = 'day'
         AND table IN (${tables.map((t) => `'${identifier(t, 'table')}'`).join(', ')})`,
      i,
    );
    for (const { table, type } of columns) {
      if (type === 'Int32') continue;
      throw new PlaytallyError(
        'clickhouse_schema',
        `${cluster.database}.${table} on shard ${i + 1} (${cluster.shown[i]}) has day ${type}, from an older ` +
          `playtally; this one keeps day numbers (Int32). Drop its tables on every shard ` +
          `(DROP TABLE ${cluster.database}.${table.replace(/_local$/, '')}, ${cluster.database}.${table.replace(/_local$/, '')}_local) ` +
          'and run again (the rows are loaded again from the logs), or use another --clickhouse-database',
        { table, type, url: cluster.shown[i] },
      );
    }
  }
}
