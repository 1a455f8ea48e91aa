import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseCluster } from '../../src/engines/clickhouse/cluster.js';
import { type Manifest, readManifest } from '../../src/formats/manifest.js';
import type { RunRecord } from '../../src/formats/runHistory.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { windowOf } from '../../src/jobs/chartJob.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import type { RunEvent, RunOptions } from '../../src/unattended/runOptions.js';
import { chartDates } from '../support/chartFiles.js';
import { CLICKHOUSE_URLS, haveClickHouse, requireClickHouse, TestDatabases } from '../support/clickhouse.js';
import { runFolders } from '../support/cliRuns.js';
import { type ReferenceRow, referenceCharts, referenceRows } from '../support/reference.js';
import { day, firstDifference, logName, TempDirs } from '../support/tempDirs.js';

/**
 * One suite, every engine (STYLE.md 7), for the unattended commands: `run` and `backfill` with the
 * embedded engine (partials in the state folder) and with the ClickHouse engine (each day loaded
 * into the cluster, checked by its row count) must write the charts of the plain reference
 * implementation for every date, do nothing when nothing changed, archive, quarantine and prune the
 * same logs, and bring back a day whose data is gone (pruned, or lost behind playtally's back).
 * Where the engines differ by design (retention by default, what is parsed again), each case says
 * what each engine must do. Without a cluster the ClickHouse half is skipped with a message (a
 * failure under CI=true). `run --engine clickhouse` through the CLI: test/e2e/clickhouse.test.ts.
 */
requireClickHouse('integration/unattended.contract.test');

const FIRST = day('2024-07-01');
const W = 3;
/** About 90 listens per user per window over 400 songs: some user rows are cut at 50 songs. */
const GEN = { rows: 3_000, users: 100, songs: 400 };

const temp = new TempDirs();
const databases = new TestDatabases('playtally_unatt');
let cluster: ClickHouseCluster | undefined;
beforeAll(() => {
  if (haveClickHouse) cluster = new ClickHouseCluster(CLICKHOUSE_URLS, 'default');
});
afterAll(async () => {
  await cluster?.close();
  await databases.dropAll();
  temp.cleanup();
});

/** A new database name of this file, dropped in afterAll. */
function newDatabase(): string {
  return databases.next();
}

interface Engine {
  name: 'embedded' | 'clickhouse';
  /** The ClickHouse database of this case (a new one per case). */
  database?: string;
  clickhouse?: RunOptions['clickhouse'];
}

const ENGINES: [string, () => Engine][] = [['embedded', () => ({ name: 'embedded' })]];
if (haveClickHouse) {
  ENGINES.push([
    'clickhouse',
    () => {
      const database = newDatabase();
      return {
        name: 'clickhouse',
        database,
        clickhouse: { urls: CLICKHOUSE_URLS, database },
      };
    },
  ]);
}

/** ISO dates of day offsets from FIRST. */
function iso(offsets: number[]): string[] {
  return offsets.map((i) => isoDay(FIRST + i));
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** The generated logs of the day offsets `offsets` (content by day number), made in a side folder. */
function generated(offsets: number[], seed: number, extra: { rows?: number; corruptRate?: number } = {}) {
  const dir = temp.make('playtally-unatt-gen-');
  const out = new Map<number, Buffer>();
  for (const i of offsets) {
    generateLogs({ dir, start: FIRST + i, days: 1, ...GEN, seed, ...extra });
    out.set(FIRST + i, readFileSync(join(dir, logName(FIRST + i))));
  }
  return out;
}

const rowsCache = new WeakMap<Buffer, ReferenceRow[]>();
function rowsOf(bytes: Buffer): ReferenceRow[] {
  let rows = rowsCache.get(bytes);
  if (!rows) {
    rows = referenceRows(bytes);
    rowsCache.set(bytes, rows);
  }
  return rows;
}

interface Fixture {
  engine: Engine;
  logs: string;
  out: string;
  state: string;
  archive: string;
  /** What each day's log holds now: the data every chart must be computed from. */
  content: Map<number, Buffer>;
  /** Write a day's log into the landing folder (and into `content`). */
  land(day: number, bytes: Buffer): void;
  run(extra?: Partial<RunOptions>): Promise<RunRecord>;
  backfill(from: number, to: number, extra?: Partial<RunOptions>): Promise<RunRecord>;
  manifest(): Manifest;
  /**
   * The days whose data the engine holds, with their valid rows: partials present (embedded, rows
   * from the manifest), or rows on the cluster (ClickHouse, counted there).
   */
  held(): Promise<Record<string, number>>;
}

function fixture(engine: Engine, offsets: number[], seed: number): Fixture {
  const f = runFolders(temp, `playtally-unatt-${engine.name}-`, FIRST, 0, GEN);
  const archive = join(temp.make('playtally-unatt-archive-'), 'archive');
  const content = new Map<number, Buffer>();
  const fx: Fixture = {
    engine,
    ...f,
    archive,
    content,
    land(d, bytes) {
      writeFileSync(join(f.logs, logName(d)), bytes);
      content.set(d, bytes);
    },
    run: (extra = {}) =>
      runOnce({
        logsDir: f.logs,
        outDir: f.out,
        window: W,
        threads: 2,
        command: 'run',
        clickhouse: engine.clickhouse,
        ...extra,
      }),
    backfill: (from, to, extra = {}) =>
      fx.run({ command: 'backfill', from: FIRST + from, to: FIRST + to, ...extra }),
    manifest: () => readManifest(f.state)!,
    async held() {
      if (engine.database === undefined) {
        const out: Record<string, number> = {};
        for (const d of Object.values(fx.manifest().days)) {
          if (!d.pruned && d.partial !== '' && existsSync(join(f.state, d.partial))) out[d.date] = d.valid;
        }
        return out;
      }
      const rows = await query<{ day: number; n: string }>(
        `SELECT day, count() AS n FROM ${engine.database}.listens GROUP BY day ORDER BY day`,
      );
      return Object.fromEntries(rows.map((r) => [isoDay(r.day), Number(r.n)]));
    },
  };
  for (const [d, bytes] of generated(offsets, seed)) fx.land(d, bytes);
  return fx;
}

async function query<T>(sql: string, shard = 0): Promise<T[]> {
  const result = await cluster!.shards[shard]!.query({ query: sql, format: 'JSONEachRow' });
  return (await result.json()) as T[];
}

/** The rows of a day in each shard's `listens_local`. */
async function shardCounts(database: string, d: number): Promise<number[]> {
  const counts: number[] = [];
  for (let s = 0; s < cluster!.shards.length; s++) {
    const [row] = await query<{ n: string }>(
      `SELECT count() AS n FROM ${database}.listens_local WHERE day = ${d}`,
      s,
    );
    counts.push(Number(row!.n));
  }
  return counts;
}

/** The valid rows (by the reference parser) of the day offsets given, as `held()` reports them. */
function validRows(fx: Fixture, offsets: number[]): Record<string, number> {
  return Object.fromEntries(
    offsets.map((i) => [isoDay(FIRST + i), rowsOf(fx.content.get(FIRST + i)!).length]),
  );
}

function chartPath(out: string, kind: 'country' | 'user', d: number): string {
  return join(out, `${kind}_top50_${compactDay(d)}.txt`);
}

/** The charts of each date (offsets) are the reference charts of the window's logs in `fx.content`. */
function expectCharts(fx: Fixture, offsets: number[]): void {
  for (const i of offsets) {
    const d = FIRST + i;
    const rows = windowOf(d, W).flatMap((w) => {
      const bytes = fx.content.get(w);
      return bytes ? rowsOf(bytes) : [];
    });
    const want = referenceCharts(rows);
    const country = readFileSync(chartPath(fx.out, 'country', d), 'latin1');
    const user = readFileSync(chartPath(fx.out, 'user', d), 'latin1');
    expect(firstDifference(country, want.country), `country ${isoDay(d)}`).toBeUndefined();
    expect(firstDifference(user, want.user), `user ${isoDay(d)}`).toBeUndefined();
    expect(country.length).toBeGreaterThan(0);
  }
}

/** Inode and mtime of every chart file in `out`. */
function chartStats(out: string): Record<string, { ino: number; mtimeMs: number }> {
  const stats: Record<string, { ino: number; mtimeMs: number }> = {};
  for (const name of readdirSync(out)) {
    if (!/_top50_\d{8}\.txt$/.test(name)) continue;
    const st = statSync(join(out, name));
    stats[name] = { ino: st.ino, mtimeMs: st.mtimeMs };
  }
  return stats;
}

/** The log names (days) in a folder. */
function logsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^listen-\d{8}\.log$/.test(n))
    .sort();
}

function names(offsets: number[]): string[] {
  return offsets.map((i) => logName(FIRST + i));
}

/** What the engine must do, by engine. */
function per<T>(fx: Fixture, embedded: T, clickhouse: T): T {
  return fx.engine.name === 'embedded' ? embedded : clickhouse;
}

describe.each(ENGINES)('run and backfill, engine %s', (_name, makeEngine) => {
  it('run writes every date once; a second run does nothing; archived logs still feed the charts of a late day', async () => {
    // Days 0..5 without day 2, which lands late with day 6.
    const all = generated(range(0, 6), 11);
    const fx = fixture(makeEngine(), [], 11);
    for (const i of [0, 1, 3, 4, 5]) fx.land(FIRST + i, all.get(FIRST + i)!);

    const first = await fx.run();
    expect(first.ok).toBe(true);
    expect(first.days.map((d) => d.date)).toEqual(iso([0, 1, 3, 4, 5]));
    expect(first.totals.rows).toBe(5 * GEN.rows);
    expect(first.charts).toEqual(iso(range(0, 5)));
    expect(first.chartsCurrent).toBe(0);
    expect(first.missing).toEqual(iso([2]));
    expect(chartDates(fx.out)).toEqual(iso(range(0, 5)));
    expectCharts(fx, range(0, 5));
    // Retention by default: the embedded engine keeps the window's partials, the cluster every day.
    expect(first.pruned).toEqual(per(fx, iso([0, 1]), []));
    expect(await fx.held()).toEqual(validRows(fx, per(fx, [3, 4, 5], [0, 1, 3, 4, 5])));
    for (const d of Object.values(fx.manifest().days)) {
      expect(d.partial === '').toBe(fx.engine.name === 'clickhouse');
      expect(d.clickhouse).toBe(per(fx, undefined, `${CLICKHOUSE_URLS.join(',')}/${fx.engine.database}`));
    }

    const written = chartStats(fx.out);
    const second = await fx.run();
    expect(second.ok).toBe(true);
    expect(second.days).toEqual([]);
    expect(second.rebuilt).toEqual([]);
    expect(second.charts).toEqual([]);
    expect(second.chartsCurrent).toBe(6);
    expect(second.pruned).toEqual([]);
    expect(chartStats(fx.out)).toEqual(written);

    // Archived: the logs whose every chart is written (day 4 waits for the chart of day 6).
    const archiving = await fx.run({ archiveDir: fx.archive });
    expect(archiving.archived).toEqual(iso([0, 1, 3]));
    expect(archiving.days).toEqual([]);
    expect(archiving.charts).toEqual([]);
    expect(logsIn(fx.archive)).toEqual(names([0, 1, 3]));
    expect(logsIn(fx.logs)).toEqual(names([4, 5]));
    expect(chartStats(fx.out)).toEqual(written);

    // Day 2 lands late, day 6 on time: the charts of 2, 3, 4 need days 0, 1 and 3, in the archive only.
    fx.land(FIRST + 2, all.get(FIRST + 2)!);
    fx.land(FIRST + 6, all.get(FIRST + 6)!);
    const late = await fx.run({ archiveDir: fx.archive });
    expect(late.ok).toBe(true);
    expect(late.days.map((d) => d.date)).toEqual(iso([2, 6]));
    expect(late.charts).toEqual(iso([2, 3, 4, 6]));
    expect(late.chartsCurrent).toBe(3);
    // The embedded engine parses the pruned days 0 and 1 again from the archive; the cluster has them.
    expect(late.rebuilt).toEqual(per(fx, iso([0, 1]), []));
    expect(late.missing).toEqual([]);
    expectCharts(fx, range(0, 6));
    expect(late.archived).toEqual(iso([2, 4]));
    expect(logsIn(fx.logs)).toEqual(names([5, 6]));
    expect(await fx.held()).toEqual(validRows(fx, per(fx, [4, 5, 6], range(0, 6))));
  });

  it('a log replaced by garbage is quarantined, its data dropped and its dates rewritten without it', async () => {
    const fx = fixture(makeEngine(), range(0, 4), 21);
    const first = await fx.run();
    expect(first.charts).toEqual(iso(range(0, 4)));
    const bad = generated([2], 22, { corruptRate: 0.3 }).get(FIRST + 2)!;
    // Its valid rows would change the charts if they went in.
    expect(rowsOf(bad).length).toBeGreaterThan(GEN.rows / 2);
    writeFileSync(join(fx.logs, logName(FIRST + 2)), bad);

    const second = await fx.run();
    expect(second.ok).toBe(true);
    expect(second.quarantined.map((q) => [q.date, q.file, q.reason])).toEqual([
      [isoDay(FIRST + 2), logName(FIRST + 2), 'reject_rate'],
    ]);
    expect(second.days.map((d) => d.date)).toEqual(iso([2]));
    expect(second.days[0]!.rejectRate).toBeGreaterThan(0.05);
    expect(second.charts).toEqual(iso([2, 3, 4]));
    expect(second.chartsCurrent).toBe(2);
    // The chart of day 2 needs days 0 and 1, pruned by the embedded engine.
    expect(second.rebuilt).toEqual(per(fx, iso([0, 1]), []));
    expect(logsIn(fx.logs)).toEqual(names([0, 1, 3, 4]));
    expect(readFileSync(join(fx.logs, 'quarantine', logName(FIRST + 2))).equals(bad)).toBe(true);
    expect(existsSync(join(fx.logs, 'quarantine', `${logName(FIRST + 2)}.reason.json`))).toBe(true);
    const m = fx.manifest();
    expect(m.days[compactDay(FIRST + 2)]).toBeUndefined();
    expect(m.quarantined[compactDay(FIRST + 2)]?.reason).toBe('reject_rate');

    fx.content.delete(FIRST + 2);
    expectCharts(fx, range(0, 4));
    expect(await fx.held()).toEqual(validRows(fx, per(fx, [3, 4], [0, 1, 3, 4])));
    if (fx.engine.database !== undefined) {
      expect(await shardCounts(fx.engine.database, FIRST + 2)).toEqual([0, 0]);
      // The other days are on both shards.
      expect((await shardCounts(fx.engine.database, FIRST + 3)).every((n) => n > 0)).toBe(true);
    }

    const third = await fx.run();
    expect(third.days).toEqual([]);
    expect(third.quarantined).toEqual([]);
    expect(third.charts).toEqual([]);
    expect(third.chartsCurrent).toBe(5);
  });

  it('a log replaced by another valid log is taken in once, with its new rows only', async () => {
    const fx = fixture(makeEngine(), range(0, 3), 31);
    await fx.run();
    const before = readFileSync(chartPath(fx.out, 'country', FIRST + 2), 'latin1');
    const other = generated([1], 32, { rows: 2_000 }).get(FIRST + 1)!;
    fx.land(FIRST + 1, other);

    const second = await fx.run();
    expect(second.ok).toBe(true);
    expect(second.quarantined).toEqual([]);
    expect(second.days.map((d) => [d.date, d.valid])).toEqual([[isoDay(FIRST + 1), rowsOf(other).length]]);
    expect(second.charts).toEqual(iso([1, 2, 3]));
    expect(second.chartsCurrent).toBe(1);
    expect(second.rebuilt).toEqual(per(fx, iso([0]), []));
    expectCharts(fx, range(0, 3));
    expect(readFileSync(chartPath(fx.out, 'country', FIRST + 2), 'latin1')).not.toBe(before);
    // No double counting: the day holds the new log's valid rows, the old ones are gone.
    expect(await fx.held()).toEqual(validRows(fx, per(fx, [1, 2, 3], [0, 1, 2, 3])));
    expect(fx.manifest().days[compactDay(FIRST + 1)]!.valid).toBe(rowsOf(other).length);

    const third = await fx.run();
    expect(third.days).toEqual([]);
    expect(third.charts).toEqual([]);
    expect(await fx.held()).toEqual(validRows(fx, per(fx, [1, 2, 3], [0, 1, 2, 3])));
  });

  it('backfill keeps current dates; with --force it rewrites the same bytes, and dates past the newest log', async () => {
    const fx = fixture(makeEngine(), range(0, 4), 41);
    await fx.run();
    const bytes = new Map<string, Buffer>();
    for (const name of Object.keys(chartStats(fx.out))) bytes.set(name, readFileSync(join(fx.out, name)));
    expect(bytes.size).toBe(10);
    const written = chartStats(fx.out);

    const kept = await fx.backfill(0, 4);
    expect(kept.command).toBe('backfill');
    expect(kept.charts).toEqual([]);
    expect(kept.chartsCurrent).toBe(5);
    expect(chartStats(fx.out)).toEqual(written);

    const forced = await fx.backfill(0, 6, { force: true });
    expect(forced.ok).toBe(true);
    expect(forced.charts).toEqual(iso(range(0, 6)));
    expect(forced.chartsCurrent).toBe(0);
    expect(forced.days).toEqual([]);
    expect(forced.rebuilt).toEqual(per(fx, iso([0, 1]), []));
    const rewritten = chartStats(fx.out);
    for (const [name, before] of bytes) {
      expect(readFileSync(join(fx.out, name)).equals(before), name).toBe(true);
      // Written again (through a temporary name), not left alone.
      expect(rewritten[name]!.ino).not.toBe(written[name]!.ino);
    }
    expect(chartDates(fx.out)).toEqual(iso(range(0, 6)));
    expectCharts(fx, range(0, 6));
  });

  it('--keep-days = window prunes the old days on both engines; a backfill of an old date loads them again from the archive', async () => {
    const fx = fixture(makeEngine(), range(0, 5), 51);
    const first = await fx.run({ archiveDir: fx.archive, keepDays: W });
    expect(first.archived).toEqual(iso(range(0, 3)));
    expect(first.pruned).toEqual(iso(range(0, 2)));
    expect(await fx.held()).toEqual(validRows(fx, [3, 4, 5]));
    const m = fx.manifest();
    for (const i of range(0, 5)) {
      const d = m.days[compactDay(FIRST + i)]!;
      expect(d.pruned === true, d.date).toBe(i <= 2);
      if (fx.engine.name === 'embedded') expect(existsSync(join(fx.state, d.partial)), d.date).toBe(i > 2);
    }
    if (fx.engine.database !== undefined) {
      for (const i of range(0, 2)) expect(await shardCounts(fx.engine.database, FIRST + i)).toEqual([0, 0]);
    }
    expectCharts(fx, range(0, 5));

    // The chart of day 1 needs days 0 and 1 (window 3), now only in the archive.
    const back = await fx.backfill(1, 1, { archiveDir: fx.archive, force: true });
    expect(back.ok).toBe(true);
    expect(back.charts).toEqual(iso([1]));
    expect(back.days).toEqual([]);
    expect(back.rebuilt).toEqual(iso([0, 1]));
    expectCharts(fx, range(0, 5));
    // Without --keep-days, the embedded engine prunes them again; the cluster keeps them now.
    expect(back.pruned).toEqual(per(fx, iso([0, 1]), []));
    expect(await fx.held()).toEqual(validRows(fx, per(fx, [3, 4, 5], [0, 1, 3, 4, 5])));
    const again = fx.manifest().days[compactDay(FIRST)]!;
    expect(again.pruned).toBe(per(fx, true, undefined));
    expect(again.archived).toBe(join(fx.archive, logName(FIRST)));
  });

  it('without --keep-days the cluster keeps every day, the embedded engine the window (and a day whose log is gone)', async () => {
    const fx = fixture(makeEngine(), range(0, 2), 61);
    const first = await fx.run();
    expect(first.pruned).toEqual([]);
    // Day 0's log is removed by hand; days 3 and 4 land.
    rmSync(join(fx.logs, logName(FIRST)));
    for (const [d, bytes] of generated([3, 4], 62)) fx.land(d, bytes);

    const second = await fx.run();
    expect(second.days.map((d) => d.date)).toEqual(iso([3, 4]));
    expect(second.charts).toEqual(iso([3, 4]));
    expect(second.chartsCurrent).toBe(3);
    expect(second.missing).toEqual([]);
    // Embedded: day 1 is pruned; day 0 is not, since nothing could bring its partial back.
    expect(second.pruned).toEqual(per(fx, iso([1]), []));
    expect(await fx.held()).toEqual(validRows(fx, per(fx, [0, 2, 3, 4], range(0, 4))));
    expectCharts(fx, range(0, 4));

    // Day 0 without its log still goes into the chart of day 2, from the data kept.
    const back = await fx.backfill(2, 2, { force: true });
    expect(back.charts).toEqual(iso([2]));
    expect(back.rebuilt).toEqual(per(fx, iso([1]), []));
    expectCharts(fx, [2]);
  });

  it('data of a day lost behind playtally`s back is noticed when a chart needs the day, and taken in again', async () => {
    const fx = fixture(makeEngine(), range(0, 3), 71);
    await fx.run();
    const target = FIRST + 2;
    const valid = rowsOf(fx.content.get(target)!).length;
    if (fx.engine.database !== undefined) {
      // One shard only, as an operator's mistake would.
      await cluster!.shards[1]!.command({
        query: `ALTER TABLE ${fx.engine.database}.listens_local DROP PARTITION ${target}`,
      });
      const [one, two] = await shardCounts(fx.engine.database, target);
      expect(one).toBeGreaterThan(0);
      expect(two).toBe(0);
      expect(one).toBeLessThan(valid);
    } else {
      rmSync(join(fx.state, fx.manifest().days[compactDay(target)]!.partial));
    }
    expect((await fx.held())[isoDay(target)] ?? 0).toBeLessThan(valid);

    // A run with no chart to write does not look (its charts were right when written).
    const quiet = await fx.run();
    expect(quiet.charts).toEqual([]);
    expect(quiet.rebuilt).toEqual([]);

    const back = await fx.backfill(2, 3, { force: true });
    expect(back.ok).toBe(true);
    expect(back.charts).toEqual(iso([2, 3]));
    expect(back.days).toEqual([]);
    expect(back.rebuilt).toEqual(per(fx, iso([0, 2]), iso([2])));
    expectCharts(fx, range(0, 3));
    expect(await fx.held()).toEqual(validRows(fx, per(fx, [1, 2, 3], range(0, 3))));
    if (fx.engine.database !== undefined) {
      const counts = await shardCounts(fx.engine.database, target);
      expect(counts.every((n) => n > 0)).toBe(true);
      expect(counts[0]! + counts[1]!).toBe(valid);
    }
  });
  it('a day whose log and data are both gone is left out of the charts it was in, with a warning', async () => {
    const fx = fixture(makeEngine(), range(0, 2), 81);
    await fx.run();
    // Day 0's log is deleted and its data lost; day 1's log is replaced, so dates 1 and 2 are due.
    rmSync(join(fx.logs, logName(FIRST)));
    fx.content.delete(FIRST);
    if (fx.engine.database !== undefined) {
      for (const shard of cluster!.shards) {
        await shard.command({
          query: `ALTER TABLE ${fx.engine.database}.listens_local DROP PARTITION ${FIRST}`,
        });
      }
    } else {
      rmSync(join(fx.state, fx.manifest().days[compactDay(FIRST)]!.partial));
    }
    for (const [d, bytes] of generated([1], 82)) fx.land(d, bytes);
    const events: RunEvent[] = [];
    const record = await fx.run({ onRunEvent: (e) => events.push(e) });
    expect(record.ok).toBe(true);
    expect(record.charts).toEqual(iso([1, 2]));
    const unavailable = events.flatMap((e) => (e.type === 'unavailable' ? [e.date] : []));
    expect(unavailable).toContain(isoDay(FIRST));
    expectCharts(fx, [1, 2]);
    // And the next run has nothing left to do.
    const next = await fx.run();
    expect(next.ok).toBe(true);
    expect(next.charts).toEqual([]);
  });
});
