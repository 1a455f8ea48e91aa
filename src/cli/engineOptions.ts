import { type Command, Option } from 'commander';
import type { ClickHouseOptions } from '../engines/clickhouse/cluster.js';
import { PlaytallyError } from '../ops/errors.js';

export interface EngineCliOptions {
  engine: 'embedded' | 'clickhouse';
  clickhouse?: string;
  clickhouseDatabase: string;
  clickhouseCluster: string;
}

/** `--engine` and the ClickHouse connection options, for the commands that compute charts or KPIs. */
export function withEngineOptions(command: Command, what = 'the charts'): Command {
  return command
    .addOption(
      new Option(
        '--engine <engine>',
        `where ${what} are computed: in this process, or on a ClickHouse cluster`,
      )
        .choices(['embedded', 'clickhouse'])
        .default('embedded'),
    )
    .option(
      '--clickhouse <urls>',
      "with --engine clickhouse: the shards' HTTP URLs, comma-separated, in shard order (or $PLAYTALLY_CLICKHOUSE)",
    )
    .option(
      '--clickhouse-database <name>',
      "with --engine clickhouse: the database of playtally's tables",
      'playtally',
    )
    .option(
      '--clickhouse-cluster <name>',
      "with --engine clickhouse: the cluster's name in the servers' remote_servers",
      'playtally',
    );
}

/** The ClickHouse options of an `--engine clickhouse` run; undefined for the embedded engine. */
export function clickhouseOptions(options: EngineCliOptions): ClickHouseOptions | undefined {
  if (options.engine !== 'clickhouse') {
    if (options.clickhouse !== undefined) {
      throw new PlaytallyError(
        'usage',
        '--clickhouse is for --engine clickhouse (the default engine is embedded)',
      );
    }
    return undefined;
  }
  const urls = (options.clickhouse ?? process.env.PLAYTALLY_CLICKHOUSE ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (urls.length === 0) {
    throw new PlaytallyError(
      'usage',
      '--engine clickhouse needs --clickhouse <urls> (or $PLAYTALLY_CLICKHOUSE)',
    );
  }
  return { urls, database: options.clickhouseDatabase, cluster: options.clickhouseCluster };
}
