import { ClickHouseCluster } from '../../src/engines/clickhouse/cluster.js';

/**
 * Where the ClickHouse integration tests find their cluster: CLICKHOUSE_URLS, comma-separated
 * HTTP URLs of the shards (as `scripts/clickhouse-cluster.sh start` prints). Without it the tests
 * skip with a message on a developer's machine; under CI=true they fail, since .ci/run starts the
 * cluster.
 */
export const CLICKHOUSE_URLS: string[] = (process.env.CLICKHOUSE_URLS ?? '')
  .split(',')
  .map((u) => u.trim())
  .filter((u) => u !== '');

export const haveClickHouse = CLICKHOUSE_URLS.length > 0;

/** Say why a suite is skipped, or fail when CI should have started the cluster. */
export function requireClickHouse(suite: string): void {
  if (haveClickHouse) return;
  const hint =
    'start one with `scripts/clickhouse-cluster.sh start` and export the CLICKHOUSE_URLS it prints';
  if (process.env.CI === 'true') throw new Error(`${suite}: no ClickHouse cluster under CI=true (${hint})`);
  process.stderr.write(`${suite}: skipped, no ClickHouse (${hint})\n`);
}

/**
 * The databases a test file makes on the cluster, one per case so that cases do not see each
 * other's days; `dropAll` (in afterAll) drops them on every shard.
 */
export class TestDatabases {
  private readonly names: string[] = [];

  constructor(private readonly prefix: string) {}

  next(): string {
    const name = `${this.prefix}_${process.pid}_${this.names.length}`;
    this.names.push(name);
    return name;
  }

  async dropAll(): Promise<void> {
    if (!haveClickHouse || this.names.length === 0) return;
    const cluster = new ClickHouseCluster(CLICKHOUSE_URLS, 'default');
    try {
      for (const name of this.names) await cluster.onEach(`DROP DATABASE IF EXISTS ${name}`);
    } finally {
      await cluster.close();
    }
  }
}

/** The CLI options of a run on the ClickHouse engine: these shards (default: the test cluster), this database. */
export function clickhouseArgs(database: string, urls: string[] | string = CLICKHOUSE_URLS): string[] {
  return [
    '--engine',
    'clickhouse',
    '--clickhouse',
    Array.isArray(urls) ? urls.join(',') : urls,
    '--clickhouse-database',
    database,
  ];
}
