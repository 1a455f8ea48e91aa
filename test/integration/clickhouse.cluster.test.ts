import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseCluster } from '../../src/engines/clickhouse/cluster.js';
import { PlaytallyError } from '../../src/ops/errors.js';
import { CLICKHOUSE_URLS, haveClickHouse, requireClickHouse } from '../support/clickhouse.js';
import { mulberry32 } from '../support/prng.js';

/**
 * The ground the scale-out engine (issue 6) stands on, checked against the cluster CI starts
 * (scripts/clickhouse-cluster.sh: two shards of Debian's ClickHouse 18.16): the official client
 * talks to it; a Distributed table over a MergeTree table per shard, partitioned by day, answers
 * a `LIMIT n BY` ranking over all shards equal to one computed here; dropping a day's partition
 * on every shard makes reloading a day idempotent.
 */
requireClickHouse('integration/clickhouse.cluster.test');

const DB = `playtally_test_${process.pid}`;
let shards: ClickHouseClient[] = [];

interface Row {
  day: string;
  user: number;
  song: number;
  country: string;
}

beforeAll(async () => {
  if (!haveClickHouse) return;
  shards = CLICKHOUSE_URLS.map((url) => createClient({ url }));
  for (const shard of shards) {
    await shard.command({ query: `CREATE DATABASE IF NOT EXISTS ${DB}` });
    await shard.command({
      query: `CREATE TABLE ${DB}.listens_local (day Date, user_id UInt64, sng_id UInt64, country FixedString(2))
              ENGINE = MergeTree() PARTITION BY day ORDER BY (user_id, sng_id)`,
    });
    await shard.command({
      query: `CREATE TABLE ${DB}.listens AS ${DB}.listens_local
              ENGINE = Distributed(playtally, ${DB}, listens_local, user_id)`,
    });
  }
});

afterAll(async () => {
  for (const shard of shards) {
    await shard.command({ query: `DROP DATABASE IF EXISTS ${DB}` });
    await shard.close();
  }
});

/** Each row to the shard of its user (user_id modulo the shard count, as the Distributed key). */
async function insert(rows: Row[]): Promise<void> {
  for (let s = 0; s < shards.length; s++) {
    const mine = rows.filter((r) => r.user % shards.length === s);
    if (mine.length === 0) continue;
    await shards[s]!.insert({
      table: `${DB}.listens_local`,
      values: mine.map((r) => ({ day: r.day, user_id: r.user, sng_id: r.song, country: r.country })),
      format: 'JSONEachRow',
    });
  }
}

async function dropDay(day: string): Promise<void> {
  for (const shard of shards) {
    await shard.command({ query: `ALTER TABLE ${DB}.listens_local DROP PARTITION '${day}'` });
  }
}

function randomRows(day: string, n: number, seed: number): Row[] {
  const random = mulberry32(seed);
  const countries = ['FR', 'US', 'GB'];
  return Array.from({ length: n }, () => ({
    day,
    user: 1 + Math.floor(random() * 40),
    song: 1 + Math.floor(random() * 12),
    country: countries[Math.floor(random() * countries.length)]!,
  }));
}

/** Top `k` songs per country: plays descending, then song ascending (the chart order). */
function expectedTop(rows: Row[], k: number): string[] {
  const counts = new Map<string, Map<number, number>>();
  for (const r of rows) {
    const byCountry = counts.get(r.country) ?? new Map<number, number>();
    byCountry.set(r.song, (byCountry.get(r.song) ?? 0) + 1);
    counts.set(r.country, byCountry);
  }
  const lines: string[] = [];
  for (const country of [...counts.keys()].sort()) {
    const top = [...counts.get(country)!].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
    for (const [song, plays] of top) lines.push(`${country}\t${song}\t${plays}`);
  }
  return lines;
}

async function topOverCluster(from: string, to: string, k: number): Promise<string[]> {
  const result = await shards[0]!.query({
    query: `SELECT country, sng_id, count() AS plays FROM ${DB}.listens
            WHERE day BETWEEN '${from}' AND '${to}'
            GROUP BY country, sng_id ORDER BY country, plays DESC, sng_id LIMIT ${k} BY country`,
    format: 'TabSeparated',
  });
  return (await result.text()).split('\n').filter((l) => l !== '');
}

describe.runIf(haveClickHouse)('the ClickHouse cluster (2 shards, 18.16)', () => {
  it('has the shards CI started, and the client speaks to each', async () => {
    expect(shards.length).toBe(2);
    for (const shard of shards) {
      const rows = await (
        await shard.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })
      ).json();
      expect((rows as { v: string }[])[0]!.v).toMatch(/^\d+\.\d+/);
    }
    const clusters = await shards[0]!.query({
      query: "SELECT count() AS n FROM system.clusters WHERE cluster = 'playtally'",
      format: 'JSONEachRow',
    });
    expect(Number(((await clusters.json()) as { n: string }[])[0]!.n)).toBe(2);
  });

  it('ranks LIMIT n BY over the Distributed table as the chart order says, across both shards', async () => {
    const day1 = randomRows('2024-01-01', 3_000, 1);
    const day2 = randomRows('2024-01-02', 3_000, 2);
    await insert([...day1, ...day2]);
    // Rows landed on both shards.
    for (const shard of shards) {
      const n = await shard.query({
        query: `SELECT count() AS n FROM ${DB}.listens_local`,
        format: 'JSONEachRow',
      });
      expect(Number(((await n.json()) as { n: string }[])[0]!.n)).toBeGreaterThan(0);
    }
    expect(await topOverCluster('2024-01-01', '2024-01-02', 5)).toEqual(expectedTop([...day1, ...day2], 5));
    expect(await topOverCluster('2024-01-02', '2024-01-02', 5)).toEqual(expectedTop(day2, 5));
  });

  it('reloading a day after dropping its partition on every shard does not double-count', async () => {
    const day3 = randomRows('2024-01-03', 2_000, 3);
    await insert(day3);
    await dropDay('2024-01-03');
    await insert(day3);
    expect(await topOverCluster('2024-01-03', '2024-01-03', 3)).toEqual(expectedTop(day3, 3));
    const changed = randomRows('2024-01-03', 1_500, 4);
    await dropDay('2024-01-03');
    await insert(changed);
    expect(await topOverCluster('2024-01-03', '2024-01-03', 3)).toEqual(expectedTop(changed, 3));
  });
});

describe('credentials a shard refuses (issue 17, point 11)', () => {
  it.runIf(haveClickHouse)('are a clear error naming the shard, exit 4, without the password', async () => {
    const wrong = CLICKHOUSE_URLS.map((url) => url.replace('://', '://default:not-the-password@'));
    const cluster = new ClickHouseCluster(wrong, 'playtally');
    try {
      const error = await cluster.ping().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PlaytallyError);
      expect((error as PlaytallyError).code).toBe('clickhouse_unavailable');
      expect((error as Error).message).toMatch(
        /^ClickHouse shard 1 at http:\/\/127\.0\.0\.1:\d+ refuses playtally's queries/,
      );
      expect((error as Error).message).not.toContain('not-the-password');
    } finally {
      await cluster.close();
    }
  });
});

describe('fewer URLs than the cluster has shards (issue 17, point 4)', () => {
  it.runIf(haveClickHouse)('is refused before any work, naming both counts (exit 2)', async () => {
    const one = new ClickHouseCluster([CLICKHOUSE_URLS[0]!], 'playtally');
    try {
      await one.ping();
      const error = await one.checkShardCount('playtally').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PlaytallyError);
      expect((error as PlaytallyError).code).toBe('usage');
      expect((error as Error).message).toMatch(
        new RegExp(`gives 1 shard URL but cluster playtally has ${CLICKHOUSE_URLS.length} shards`),
      );
      const unknown = await one.checkShardCount('no_such_cluster').catch((e: unknown) => e);
      expect((unknown as Error).message).toMatch(/no such cluster/);
    } finally {
      await one.close();
    }
    const all = new ClickHouseCluster(CLICKHOUSE_URLS, 'playtally');
    try {
      await expect(all.checkShardCount('playtally')).resolves.toBeUndefined();
    } finally {
      await all.close();
    }
  });
});
