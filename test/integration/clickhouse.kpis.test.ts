import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ClickHouseCluster } from '../../src/engines/clickhouse/cluster.js';
import { kpiShardOf } from '../../src/engines/clickhouse/kpiTables.js';
import { murmurHash3_32 } from '../../src/engines/clickhouse/murmurHash3.js';
import { tsvString } from '../../src/engines/clickhouse/shardInserts.js';
import { runKpis } from '../../src/jobs/kpiJob.js';
import { CLICKHOUSE_URLS, haveClickHouse, requireClickHouse, TestDatabases } from '../support/clickhouse.js';
import { kpiLanding } from '../support/kpiLanding.js';
import { mulberry32 } from '../support/prng.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * What the ClickHouse KPI engine stands on: playtally places each user's rows on the shard
 * ClickHouse's own `murmurHash3_32(user_id)` names (the Distributed tables' sharding key), so the
 * JS hash must equal the server's on every string, and the TSV escaping must give the server back
 * the very string; after a run every row is where the key says. `kpis --engine clickhouse` through
 * the CLI: test/e2e/clickhouse.test.ts.
 */
requireClickHouse('integration/clickhouse.kpis.test');

const temp = new TempDirs();
const databases = new TestDatabases('playtally_kpich');
afterAll(async () => {
  await databases.dropAll();
  temp.cleanup();
});
const newDatabase = (): string => databases.next();

/** User ids that differ in what a hash over UTF-16 units, or a TSV without escapes, gets wrong. */
const HARD_USERS = [
  'u\tTab',
  'u\\tTab',
  'u\\',
  'u"q"',
  "u'q'",
  'u,c',
  'u\nLF',
  'u\r\nCRLF',
  'ü',
  '日本語',
  '\u{1F600}',
  '\uFF5E',
  '\\N',
];

/** Random strings from pools of what can go wrong, of every length 0..24 (every tail of 4). */
function probeStrings(): string[] {
  const random = mulberry32(31);
  const pools = [
    'abcXYZ019 ~-_.',
    '\t\n\r\\',
    '"\',;:',
    '\u0001\u0007\u001b\u007f\u0000',
    'éüßñ\u00ff\u0100',
    '日本語\u4e00\u0800\u07ff',
    '\uFF21\uFFE0\uFF5E\uFFFD\uFFEE',
    '\u{1F600}\u{1F3B5}\u{10000}\u{10FFFF}',
  ].map((pool) => [...pool]);
  const strings = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', '\\N', '\\', '\t', '\\t', ...HARD_USERS];
  for (let i = 0; i < 300; i++) {
    const length = Math.floor(random() * 25);
    let s = '';
    for (let j = 0; j < length; j++) {
      const pool = pools[Math.floor(random() * pools.length)]!;
      s += pool[Math.floor(random() * pool.length)]!;
    }
    strings.push(s);
  }
  return strings;
}

describe.runIf(haveClickHouse)('the sharding key: JS and ClickHouse agree', () => {
  it('murmurHash3_32 equals the server on a few hundred strings, which tsvString brings over intact', async () => {
    const cluster = new ClickHouseCluster(CLICKHOUSE_URLS, newDatabase());
    try {
      const db = cluster.database;
      const strings = probeStrings();
      // Each covered: a control character, a backslash, a tab, and characters of 2, 3 and 4 bytes.
      const has = (test: (codePoint: number) => boolean) => (text: string) =>
        [...text].some((c) => test(c.codePointAt(0)!));
      const kinds: [string, (text: string) => boolean][] = [
        [
          'a control character other than \\t \\n \\r',
          has((c) => c < 0x20 && c !== 9 && c !== 10 && c !== 13),
        ],
        ['a backslash', has((c) => c === 0x5c)],
        ['a tab', has((c) => c === 9)],
        ['a character of 2 bytes', has((c) => c >= 0x80 && c < 0x800)],
        ['a character from U+F000', has((c) => c >= 0xf000 && c <= 0xffff)],
        ['a character above U+FFFF', has((c) => c > 0xffff)],
      ];
      for (const [kind, holds] of kinds) expect(strings.filter(holds).length, kind).toBeGreaterThan(10);
      await cluster.onEach(`CREATE DATABASE IF NOT EXISTS ${db}`);
      for (let s = 0; s < cluster.shards.length; s++) {
        const shard = cluster.shards[s]!;
        await shard.command({ query: `CREATE TABLE ${db}.probe (id UInt32, s String) ENGINE = Memory` });
        const tsv = strings.map((text, id) => `${id}\t${tsvString(text)}\n`).join('');
        await shard.insert({
          table: `${db}.probe`,
          values: Readable.from([tsv], { objectMode: false }),
          format: 'TabSeparated',
        });
        const result = await shard.query({
          query: `SELECT id, s, length(s) AS bytes, murmurHash3_32(s) AS hash FROM ${db}.probe ORDER BY id`,
          format: 'JSONEachRow',
        });
        const rows = (await result.json()) as { id: number; s: string; bytes: string; hash: string }[];
        expect(rows.map((r) => Number(r.id))).toEqual(strings.map((_, i) => i));
        for (const row of rows) {
          const text = strings[Number(row.id)]!;
          const label = `shard ${s + 1}, string ${JSON.stringify(text)}`;
          expect(row.s, label).toBe(text);
          expect(Number(row.bytes), label).toBe(Buffer.byteLength(text));
          expect(Number(row.hash), label).toBe(murmurHash3_32(text));
        }
      }
      // Known values of MurmurHash3_x86_32, seed 0, over the UTF-8 bytes.
      expect(murmurHash3_32('')).toBe(0);
      expect(murmurHash3_32('hello')).toBe(0x248bfa47);
    } finally {
      await cluster.close();
    }
  });

  it("after a run each user's rows and catalogue entry are on the shard of the Distributed table's key", async () => {
    const database = newDatabase();
    const dir = kpiLanding(temp, 12, 600);
    const random = mulberry32(5);
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) {
      const user = HARD_USERS[i % HARD_USERS.length]!;
      const minute = String(Math.floor(random() * 60)).padStart(2, '0');
      lines.push(`"${user.replaceAll('"', '""')}",trk0001A,2024-03-01T08:${minute}:0${i % 10}Z`);
    }
    writeFileSync(join(dir, 'streams', 'hard.csv'), `user_id,track_id,listen_time\n${lines.join('\n')}\n`);
    writeFileSync(
      join(dir, 'users', 'hard.csv'),
      `user_id,user_name,user_age,user_country,created_at\n${HARD_USERS.map((u) => `"${u.replaceAll('"', '""')}",n,1,FR,2020-01-01`).join('\n')}\n`,
    );
    const out = temp.make('playtally-kpich-place-');
    await runKpis({
      landingDir: dir,
      outDir: out,
      threads: 2,
      clickhouse: { urls: CLICKHOUSE_URLS, database },
    });
    const cluster = new ClickHouseCluster(CLICKHOUSE_URLS, database);
    try {
      const shards = cluster.shards.length;
      const everyUser = new Set<string>();
      for (let s = 0; s < shards; s++) {
        for (const table of ['stream_rows_local', 'users_local']) {
          const result = await cluster.shards[s]!.query({
            query: `SELECT DISTINCT user_id, murmurHash3_32(user_id) % ${shards} AS key FROM ${database}.${table}`,
            format: 'JSONEachRow',
          });
          const rows = (await result.json()) as { user_id: string; key: number }[];
          expect(rows.length, `${table} on shard ${s + 1}`).toBeGreaterThan(10);
          for (const { user_id, key } of rows) {
            expect(kpiShardOf(user_id, shards), `${JSON.stringify(user_id)} in ${table}`).toBe(s);
            expect(Number(key), `${JSON.stringify(user_id)} in ${table}`).toBe(s);
            if (table === 'stream_rows_local') everyUser.add(user_id);
          }
        }
      }
      // Every valid user's rows were loaded somewhere: u0..u39 and the hard ids.
      expect([...everyUser].sort()).toEqual(
        [...Array.from({ length: 40 }, (_, i) => `u${i}`), ...HARD_USERS].sort(),
      );
      // And the Distributed table itself sends rows by that key to those same shards.
      const probe = HARD_USERS.map((u) => `${day('2030-01-01')}\t${tsvString(u)}\tprobe\t0\n`).join('');
      await cluster.shards[0]!.insert({
        table: `${database}.stream_rows`,
        values: Readable.from([probe], { objectMode: false }),
        format: 'TabSeparated',
        clickhouse_settings: { insert_distributed_sync: 1 },
      });
      for (let s = 0; s < shards; s++) {
        const result = await cluster.shards[s]!.query({
          query: `SELECT user_id FROM ${database}.stream_rows_local WHERE day = ${day('2030-01-01')} ORDER BY user_id`,
          format: 'JSONEachRow',
        });
        const placed = ((await result.json()) as { user_id: string }[]).map((r) => r.user_id);
        expect(placed, `shard ${s + 1}`).toEqual(
          HARD_USERS.filter((u) => kpiShardOf(u, shards) === s).sort((a, b) =>
            Buffer.compare(Buffer.from(a), Buffer.from(b)),
          ),
        );
        expect(placed.length, `shard ${s + 1}`).toBeGreaterThan(0);
      }
    } finally {
      await cluster.close();
    }
  });
});
