import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseCluster } from '../../src/engines/clickhouse/cluster.js';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { isoDay } from '../../src/ops/dates.js';
import type { StatusReport } from '../../src/unattended/statusReport.js';
import { chartDates } from '../support/chartFiles.js';
import {
  CLICKHOUSE_URLS,
  clickhouseArgs,
  haveClickHouse,
  requireClickHouse,
  TestDatabases,
} from '../support/clickhouse.js';
import { cli, requireBuiltCli, runDone, runFolders } from '../support/cliRuns.js';
import { kpiOutputs } from '../support/kpiLanding.js';
import { day, firstDifference, listTree, TempDirs } from '../support/tempDirs.js';

/**
 * The ClickHouse engine through the built CLI: `top50`, `kpis` and `run` with `--engine
 * clickhouse`. Without a cluster: their usage errors (exit 2) and a shard that does not answer
 * (exit 4, before any file moves); on the cluster: the files of the embedded engine, days loaded
 * once then reused, tables of an older playtally refused. Without CLICKHOUSE_URLS the cluster cases
 * are skipped with a message (a failure under CI=true). The engine's contracts:
 * test/integration/{chartEngine,kpiEngine,unattended}.contract.test.ts.
 */
requireClickHouse('e2e/clickhouse.test');

const temp = new TempDirs();
const databases = new TestDatabases('playtally_e2e');
beforeAll(requireBuiltCli);
afterAll(async () => {
  await databases.dropAll();
  temp.cleanup();
});
const newDatabase = (): string => databases.next();

// ---------------------------------------------------------------------------------------------
// top50 --engine clickhouse

/** The first day of the logs of top50. */
const FIRST = day('2024-06-01');
const DATABASE = newDatabase();

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

// ---------------------------------------------------------------------------------------------
// kpis --engine clickhouse

/** A generated landing folder with a streams file missing a column and a binary `.csv`. */
function badLanding(): string {
  const dir = temp.make('playtally-kpich-landing-');
  generateKpiDataset({
    dir,
    start: day('2024-08-01'),
    days: 2,
    streamsPerDay: 4_000,
    filesPerDay: 2,
    songs: 200,
    users: 300,
    dirtRate: 0.05,
    seed: 3,
    bad: true,
  });
  return dir;
}

describe('kpis --engine clickhouse through the CLI', () => {
  it('--clickhouse without --engine clickhouse is a usage error (exit 2)', () => {
    const dir = badLanding();
    const before = listTree(dir);
    const r = cli(['kpis', '--landing', dir, '--out', temp.make(), '--clickhouse', 'http://127.0.0.1:18123']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('--clickhouse is for --engine clickhouse');
    expect(listTree(dir)).toEqual(before);
  });

  it('a shard that does not answer is exit 4 naming it, and no file leaves the landing folder', () => {
    const dir = badLanding();
    const before = listTree(dir);
    expect(before).toEqual(
      expect.arrayContaining(['streams/not-a-csv.csv', 'streams/streams-20240801-bad.csv']),
    );
    const urls = [...(haveClickHouse ? [CLICKHOUSE_URLS[0]!] : []), 'http://127.0.0.1:1'];
    const out = temp.make('playtally-kpich-down-');
    const r = cli(['kpis', '--landing', dir, '--out', out, ...clickhouseArgs(newDatabase(), urls)]);
    expect(r.status, r.stderr).toBe(4);
    expect(r.stderr).toContain(`ClickHouse shard ${urls.length} at http://127.0.0.1:1 does not answer`);
    expect(listTree(dir)).toEqual(before);
    expect(readdirSync(out).filter((n) => !n.startsWith('.'))).toEqual([]);
    // The same folder with the embedded engine: the bad files go to error/, the others to archive/.
    const embedded = cli(['kpis', '--landing', dir, '--out', out, '--quiet']);
    expect(embedded.status, embedded.stderr).toBe(0);
    expect(listTree(join(dir, 'error'))).toEqual(
      expect.arrayContaining(['streams/not-a-csv.csv', 'streams/streams-20240801-bad.csv']),
    );
    expect(readdirSync(join(dir, 'streams'))).toEqual([]);
  });

  it.runIf(haveClickHouse)('on the cluster it writes the files of the embedded engine', () => {
    const a = badLanding();
    const b = temp.make('playtally-kpich-landing-b-');
    cpSync(a, b, { recursive: true });
    const embeddedOut = temp.make('playtally-kpich-emb-');
    const clickhouseOut = temp.make('playtally-kpich-ch-');
    const embedded = cli(['kpis', '--landing', a, '--out', embeddedOut, '--quiet']);
    expect(embedded.status, embedded.stderr).toBe(0);
    const database = newDatabase();
    const args = [
      'kpis',
      '--landing',
      b,
      '--out',
      clickhouseOut,
      ...clickhouseArgs(database),
      '--json',
      '--quiet',
    ];
    const r = cli(args);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      days: { date: string }[];
      errorFiles: { file: string }[];
      archived: string[];
    };
    expect(summary.days.map((d) => d.date)).toEqual(expect.arrayContaining(['2024-08-01', '2024-08-02']));
    expect(summary.errorFiles.map((f) => f.file).sort()).toEqual([
      'not-a-csv.csv',
      'streams-20240801-bad.csv',
    ]);
    expect(summary.archived.length).toBe(4);
    const files = kpiOutputs(clickhouseOut);
    expect(Object.keys(files).length).toBe(3 * summary.days.length);
    expect(files).toEqual(kpiOutputs(embeddedOut));
    // The two landing folders ended the same: bad files in error/, the others in archive/.
    expect(listTree(b)).toEqual(listTree(a));
    const loaded = JSON.parse(
      readFileSync(join(clickhouseOut, '.playtally-kpis', 'clickhouse-kpis.json'), 'utf8'),
    ) as { target: string; days: Record<string, unknown> };
    expect(loaded.target).toBe(`${CLICKHOUSE_URLS.join(',')}/${database}`);
    expect(Object.keys(loaded.days).length).toBe(summary.days.length);
    // Once more: nothing is due.
    const again = cli(args);
    expect(again.status, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { days: unknown[] }).days).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// run --engine clickhouse

/** The first day of the logs of `run`, its window and its generator. */
const RUN_FIRST = day('2024-07-01');
const W = 3;
const GEN = { rows: 3_000, users: 100, songs: 400 };

/** ISO dates of day offsets from RUN_FIRST. */
function iso(offsets: number[]): string[] {
  return offsets.map((i) => isoDay(RUN_FIRST + i));
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

describe.runIf(haveClickHouse)('run --engine clickhouse through the CLI', () => {
  it('writes the files of the embedded run; status says clickhouse; a shard that does not answer is exit 4', () => {
    const f = runFolders(temp, 'playtally-unatt-cli-', RUN_FIRST, 4, { ...GEN, seed: 81 });
    const embedded = temp.make('playtally-unatt-cli-emb-');
    const common = ['--logs', f.logs, '--window', String(W), '--threads', '2'];
    const e = cli(['run', ...common, '--out', embedded]);
    expect(e.status, e.stderr).toBe(0);
    const database = newDatabase();
    const engine = clickhouseArgs(database);
    const c = cli(['run', ...common, '--out', f.out, ...engine]);
    expect(c.status, c.stderr).toBe(0);
    const done = runDone(c);
    expect(done.parsed).toBe(4);
    expect(done.charts).toEqual(iso(range(0, 3)));
    expect(done.pruned).toBe(0);
    expect(runDone(e).pruned).toBe(1);

    const files = listTree(f.out).filter((p) => !p.startsWith('.playtally'));
    expect(files).toEqual(listTree(embedded).filter((p) => !p.startsWith('.playtally')));
    expect(files).toHaveLength(3 * 4);
    for (const name of files) {
      const got = readFileSync(join(f.out, name), 'utf8');
      const want = readFileSync(join(embedded, name), 'utf8');
      if (name.endsWith('.json')) {
        // The quality report, but for when it was written.
        const strip = (s: string) => ({ ...JSON.parse(s), generatedAt: undefined });
        expect(strip(got), name).toEqual(strip(want));
      } else expect(firstDifference(got, want), name).toBeUndefined();
    }

    const json = cli(['status', '--out', f.out, '--json']);
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as StatusReport;
    expect(report.days.map((d) => [d.date, d.partial])).toEqual(
      iso(range(0, 3)).map((d) => [d, 'clickhouse']),
    );
    const text = cli(['status', '--out', f.out]);
    expect(text.status).toBe(0);
    const dayLines = text.stdout.split('\n').filter((l) => /^ {2}\d{4}-\d{2}-\d{2} {2}listen-/.test(l));
    expect(dayLines).toHaveLength(4);
    for (const line of dayLines) expect(line).toMatch(/ clickhouse {2}in logs folder$/);
    const embeddedStatus = JSON.parse(cli(['status', '--out', embedded, '--json']).stdout) as StatusReport;
    expect(embeddedStatus.days.map((d) => d.partial)).toEqual(['pruned', 'present', 'present', 'present']);

    // A cluster of which a shard does not answer: nothing is moved or written.
    for (const [urls, shard] of [
      ['http://127.0.0.1:1', 'ClickHouse shard 1 at http://127.0.0.1:1 does not answer'],
      [
        `${CLICKHOUSE_URLS[0]},http://127.0.0.1:1`,
        'ClickHouse shard 2 at http://127.0.0.1:1 does not answer',
      ],
    ] as const) {
      const g = runFolders(temp, 'playtally-unatt-cli-down-', RUN_FIRST, 2, { ...GEN, rows: 500, seed: 82 });
      const archive = join(g.out, 'archive');
      const before = listTree(g.logs);
      const down = cli([
        'run',
        '--logs',
        g.logs,
        '--out',
        g.out,
        '--archive',
        archive,
        ...clickhouseArgs(newDatabase(), urls),
      ]);
      expect(down.status, down.stderr).toBe(4);
      expect(down.stderr).toContain(shard);
      expect(listTree(g.logs)).toEqual(before);
      expect(existsSync(archive)).toBe(false);
      expect(chartDates(g.out)).toEqual([]);
      expect(readdirSync(g.out).filter((n) => !n.startsWith('.'))).toEqual([]);
    }
  });
});
