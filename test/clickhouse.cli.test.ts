import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ClickHouseCluster } from '../src/engines/clickhouse/cluster.js';
import {
  CLICKHOUSE_URLS,
  clickhouseArgs,
  haveClickHouse,
  requireClickHouse,
  TestDatabases,
} from './support/clickhouse.js';
import { cli, runFolders } from './support/cliRuns.js';
import { day, TempDirs } from './support/tempDirs.js';

/** `top50 --engine clickhouse` through the CLI: its usage errors, an unreachable cluster, and a run. */
requireClickHouse('clickhouse.cli.test');

const temp = new TempDirs();
const databases = new TestDatabases('playtally_cli');
const DATABASE = databases.next();
afterAll(async () => {
  await databases.dropAll();
  temp.cleanup();
});
const FIRST = day('2024-06-01');

describe('top50 --engine clickhouse: command-line checks (no cluster needed)', () => {
  const f = runFolders(temp, 'playtally-chcli-', FIRST, 1, { rows: 1_000, seed: 2 });
  const base = ['top50', '--logs', f.logs, '--out', f.out, '--quiet'];

  it('needs --clickhouse (exit 2); --clickhouse needs --engine clickhouse (exit 2)', () => {
    const noUrls = cli([...base, '--engine', 'clickhouse']);
    expect(noUrls.status).toBe(2);
    expect(noUrls.stderr).toContain('--engine clickhouse needs --clickhouse <urls>');
    const noEngine = cli([...base, '--clickhouse', 'http://127.0.0.1:18123']);
    expect(noEngine.status).toBe(2);
    expect(noEngine.stderr).toContain('--clickhouse is for --engine clickhouse');
  });

  it('rejects a URL that is not http(s) and a database name that is not an identifier (exit 2)', () => {
    const badUrl = cli([...base, '--engine', 'clickhouse', '--clickhouse', 'ftp://x']);
    expect(badUrl.status).toBe(2);
    expect(badUrl.stderr).toContain('not an http(s) URL');
    const badDb = cli([
      ...base,
      '--engine',
      'clickhouse',
      '--clickhouse',
      'http://127.0.0.1:1',
      '--clickhouse-database',
      'x; DROP TABLE y',
    ]);
    expect(badDb.status).toBe(2);
    expect(badDb.stderr).toContain('must be letters, digits and _');
  });

  it('a cluster that does not answer is exit 4, naming the shard', () => {
    const r = cli([...base, '--engine', 'clickhouse', '--clickhouse', 'http://127.0.0.1:1']);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('ClickHouse shard 1 at http://127.0.0.1:1 does not answer');
  });
});

describe.runIf(haveClickHouse)('top50 --engine clickhouse on the cluster', () => {
  it('writes the files of the embedded engine, and --json reports the days loaded then reused', () => {
    const f = runFolders(temp, 'playtally-chcli-run-', FIRST, 3, {
      rows: 4_000,
      users: 300,
      songs: 90,
      seed: 4,
    });
    const embedded = temp.make('playtally-chcli-emb-');
    expect(cli(['top50', '--logs', f.logs, '--out', embedded, '--quiet']).status).toBe(0);
    const args = [
      'top50',
      '--logs',
      f.logs,
      '--out',
      f.out,
      ...clickhouseArgs(DATABASE),
      '--json',
      '--quiet',
    ];
    const first = cli(args);
    expect(first.status, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout) as { days: { reused: boolean }[]; date: string };
    expect(summary.days.map((d) => d.reused)).toEqual([false, false, false]);
    for (const kind of ['country', 'user']) {
      const name = `${kind}_top50_${summary.date.replaceAll('-', '')}.txt`;
      expect(readFileSync(join(f.out, name)).equals(readFileSync(join(embedded, name)))).toBe(true);
    }
    const second = JSON.parse(cli(args).stdout) as { days: { reused: boolean }[] };
    expect(second.days.every((d) => d.reused)).toBe(true);
  });

  it('refuses tables of an older playtally (day as Date) with exit 4, saying what to drop, and changes nothing', async () => {
    const f = runFolders(temp, 'playtally-chcli-old-', FIRST, 1, { rows: 500, seed: 6 });
    const cluster = new ClickHouseCluster(CLICKHOUSE_URLS, `${DATABASE}_old`);
    try {
      await cluster.onEach(`CREATE DATABASE IF NOT EXISTS ${cluster.database}`);
      await cluster.onEach(
        `CREATE TABLE ${cluster.database}.listens_local (day Date, user_id UInt64, sng_id UInt64, country FixedString(2))
         ENGINE = MergeTree() PARTITION BY day ORDER BY (user_id, sng_id)`,
      );
      await cluster.shards[0]!.command({
        query: `INSERT INTO ${cluster.database}.listens_local VALUES ('2024-06-01', 1, 2, 'FR')`,
      });
      const r = cli([
        'top50',
        '--logs',
        f.logs,
        '--out',
        f.out,
        ...clickhouseArgs(cluster.database),
        '--quiet',
      ]);
      expect(r.status).toBe(4);
      expect(r.stderr).toContain(`${cluster.database}.listens_local on shard 1`);
      // Nothing was created beside the old table either.
      const tables = await cluster.shards[0]!.query({
        query: `SELECT name FROM system.tables WHERE database = '${cluster.database}'`,
        format: 'JSONEachRow',
      });
      expect(await tables.json()).toEqual([{ name: 'listens_local' }]);
      expect(r.stderr).toContain('has day Date, from an older playtally');
      expect(r.stderr).toContain(`DROP TABLE ${cluster.database}.listens, ${cluster.database}.listens_local`);
      const kept = await cluster.shards[0]!.query({
        query: `SELECT count() AS n FROM ${cluster.database}.listens_local`,
        format: 'JSONEachRow',
      });
      expect(await kept.json()).toEqual([{ n: '1' }]);
      expect(readdirSync(f.out).filter((n) => n.endsWith('.txt'))).toEqual([]);
    } finally {
      await cluster.onEach(`DROP DATABASE IF EXISTS ${cluster.database}`);
      await cluster.close();
    }
  });
});
