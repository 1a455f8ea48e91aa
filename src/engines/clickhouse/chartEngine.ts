import {
  type DayRecord,
  logIdentity,
  parsedUnderCurrentRule,
  type StateStore,
} from '../../formats/manifest.js';
import { compactDay, isoDay, parseDay } from '../../ops/dates.js';
import { PlaytallyError } from '../../ops/errors.js';
import { ROW_RULE_VERSION } from '../../parse/listenParser.js';
import { contentHash, sameContent } from '../../sources/contentHash.js';
import { statFile } from '../../sources/locations.js';
import type { LogFile } from '../../sources/logFiles.js';
import type {
  ChartEngine,
  ChartEngineSetup,
  ChartsRequest,
  TakenDay,
  WrittenCharts,
} from '../chartEngine.js';
import { writeCountryChartFromCluster, writeUserChartFromCluster } from './chartQueries.js';
import { ClickHouseCluster, type ClickHouseOptions, clusterTarget, identifier, sqlDay } from './cluster.js';
import { ensureListenTables } from './listenTables.js';
import { loadListenDay } from './loadListenDay.js';
import { ensureLoadRecords, LoadRecords } from './loadRecords.js';

/**
 * The ClickHouse chart engine, for `top50`, `run`, `backfill` and `watch`: a day is taken in
 * by loading its log into the cluster (replacing the day's partition; playtally's own parser
 * counts the rejects, recorded in the manifest as the embedded engine records them), and the
 * charts are computed in ClickHouse SQL and written with the embedded engine's line writer, so
 * the files are byte-identical. A day is loaded once: the manifest records the cluster it went to
 * and from which log (size, mtime, content hash), checked against the cluster's row count before
 * it is trusted. The cluster keeps every day (it is there for history) unless `--keep-days` says.
 */
export class ClickHouseChartEngine implements ChartEngine {
  readonly keepsHistory = true;
  readonly figures = { threads: 1, memoryBytes: 0 };
  private readonly state: StateStore;
  private readonly top: number;
  /** Rows per day on the cluster, read once a session and kept in step with its loads and drops. */
  private counts: Map<number, number> | undefined;
  /** Which log each day's rows on the cluster came from. */
  private readonly sources: LoadRecords;

  private constructor(
    setup: ChartEngineSetup,
    private readonly cluster: ClickHouseCluster,
    /** `url,url/database`: where this session's days are loaded. */
    private readonly target: string,
  ) {
    this.state = setup.state;
    this.top = setup.top;
    this.sources = new LoadRecords(cluster, 'listens');
  }

  /** Check every shard answers and create the tables. */
  static async open(options: ClickHouseOptions, setup: ChartEngineSetup): Promise<ClickHouseChartEngine> {
    const clusterName = identifier(options.cluster ?? 'playtally', '--clickhouse-cluster');
    const cluster = new ClickHouseCluster(options.urls, options.database ?? 'playtally');
    try {
      await cluster.ping();
      await cluster.checkShardCount(clusterName);
      await ensureListenTables(cluster, clusterName);
      await ensureLoadRecords(cluster);
      return new ClickHouseChartEngine(setup, cluster, clusterTarget(options.urls, cluster.database));
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  async takeIn(log: LogFile, force: boolean): Promise<TakenDay> {
    const started = Date.now();
    const key = compactDay(log.day);
    const taken = force ? undefined : await this.loadedAlready(key, log);
    if (taken === undefined) {
      if ((await statFile(log.path)) === undefined) {
        throw new PlaytallyError(
          'missing_days',
          `the rows of ${isoDay(log.day)} are no longer on the cluster and its log ${log.path} is gone`,
          { date: isoDay(log.day), file: log.path },
        );
      }
      const hash = await contentHash(log);
      this.counts?.delete(log.day);
      this.sources.forget(log.day);
      const loaded = await loadListenDay(this.cluster, log);
      await this.sources.set(log.day, hash);
      this.counts?.set(log.day, loaded.valid);
      this.state.putDay(key, {
        ...logIdentity(log, hash),
        rule: ROW_RULE_VERSION,
        partial: '',
        partitions: 0,
        lines: loaded.lines,
        header: loaded.header,
        valid: loaded.valid,
        rejected: loaded.rejected,
        rejects: loaded.rejects,
        examples: loaded.examples,
        users: 0,
        userSongPairs: 0,
        countrySongPairs: 0,
        builtAt: new Date().toISOString(),
        buildMs: Date.now() - started,
        clickhouse: this.target,
      });
      return { record: this.state.day(key)!, built: true };
    }
    return taken;
  }

  /** The day as loaded before, if the cluster holds it from this very log. */
  private async loadedAlready(key: string, log: LogFile): Promise<TakenDay | undefined> {
    const known = this.state.day(key);
    if (!known || !(await this.holds(known))) return undefined;
    if (known.file !== log.name || known.size !== log.size) return undefined;
    // Loaded under an older row rule: loaded again while its log is at hand.
    if (!parsedUnderCurrentRule(known) && (await statFile(log.path)) !== undefined) return undefined;
    if (known.mtimeMs === log.mtimeMs) return { record: known, built: false };
    // Touched but maybe unchanged: a hash pass costs a fraction of a load.
    if ((await statFile(log.path)) === undefined || !(await sameContent(log, known.hash))) return undefined;
    const record = { ...known, mtimeMs: log.mtimeMs };
    this.state.putDay(key, record);
    return { record, built: false };
  }

  /** The cluster holds the day's rows as the manifest says: that many, from that log. */
  async holds(record: DayRecord): Promise<boolean> {
    if (record.pruned || record.clickhouse !== this.target) return false;
    const day = parseDay(record.date)!;
    return (await this.rowsOf(day)) === record.valid && (await this.sources.source(day)) === record.hash;
  }

  async prune(key: string): Promise<void> {
    await this.dropDay(parseDay(key)!);
    this.state.patchDay(key, { pruned: true });
  }

  async discard(day: number): Promise<void> {
    await this.dropDay(day);
  }

  private async dropDay(day: number): Promise<void> {
    this.counts?.delete(day);
    this.sources.forget(day);
    await this.cluster.onEach(
      `ALTER TABLE ${this.cluster.database}.listens_local DROP PARTITION ${sqlDay(day)}`,
    );
  }

  async computeCharts({ paths, logs }: ChartsRequest<TakenDay>): Promise<WrittenCharts> {
    const days = logs.map((l) => l.day);
    const countryRows = await writeCountryChartFromCluster(this.cluster, paths.country, days, this.top);
    const countryDone = Date.now();
    const userRows = await writeUserChartFromCluster(this.cluster, paths.user, days, this.top);
    return { countryRows, userRows, countryDone, userDone: Date.now() };
  }

  /** The rows the cluster holds for a day (all shards). */
  private async rowsOf(day: number): Promise<number> {
    if (this.counts === undefined) {
      // Every day's count in one query: a run asks about every day it knows.
      const rows = await this.cluster.rows<{ day: number; n: string }>(
        `SELECT day, count() AS n FROM ${this.cluster.database}.listens GROUP BY day`,
      );
      this.counts = new Map(rows.map((r) => [Number(r.day), Number(r.n)]));
    }
    return this.counts.get(day) ?? 0;
  }

  async close(): Promise<void> {
    await this.cluster.close();
  }
}
