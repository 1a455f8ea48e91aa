import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { planChartWindow, type Top50Options, type Top50Summary } from '../engine/top50Job.js';
import { writeFileAtomic } from '../ops/atomicFile.js';
import { compactDay, isoDay } from '../ops/dates.js';
import { ensureWritable } from '../ops/folders.js';
import { cpuMs, peakRssBytes } from '../ops/processUsage.js';
import { chartPaths } from '../sinks/chartFiles.js';
import { buildQualityReport, type DayFigures, writeQualityReport } from '../sinks/qualityReport.js';
import type { LogFile } from '../sources/logFiles.js';
import { writeCountryChartFromCluster, writeUserChartFromCluster } from './chartQueries.js';
import { ClickHouseCluster, identifier, sqlDate } from './cluster.js';
import { ensureListenTables } from './listenTables.js';
import { type LoadedDay, loadListenDay } from './loadListenDay.js';

export interface ClickHouseOptions {
  /** The HTTP URLs of the cluster's shards, in shard order. */
  urls: string[];
  /** Database of playtally's tables (default `playtally`). */
  database?: string;
  /** The cluster's name in the servers' remote_servers config (default `playtally`). */
  cluster?: string;
}

/** Which log a day was loaded from, and what the load counted; kept in the state folder. */
interface LoadedRecord {
  target: string;
  file: string;
  size: number;
  mtimeMs: number;
  loaded: LoadedDay;
}

const STATE_FILE = 'clickhouse-days.json';

/**
 * The top-50 job on a ClickHouse cluster: each log day of the window not yet loaded (or changed
 * since) is loaded, replacing its partition; then the charts are computed in ClickHouse SQL and
 * written with the same line writer as the embedded engine, so the files are byte-identical. The
 * quality report comes from playtally's own parse of each day. A day is loaded once: the state
 * folder records which log (size and mtime) each day came from, checked against the cluster's
 * row count before it is trusted.
 */
export async function runTop50ClickHouse(
  options: Top50Options & { clickhouse: ClickHouseOptions },
): Promise<Top50Summary> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const { day, windowDays, logs, missing } = planChartWindow(options);
  const outDir = resolve(options.outDir);
  ensureWritable(outDir, 'output_not_writable', 'output folder');
  const stateDir = resolve(options.stateDir ?? join(outDir, '.playtally'));
  ensureWritable(stateDir, 'state_not_writable', 'state folder');
  const top = options.top ?? 50;
  const clusterName = identifier(options.clickhouse.cluster ?? 'playtally', '--clickhouse-cluster');
  const cluster = new ClickHouseCluster(options.clickhouse.urls, options.clickhouse.database ?? 'playtally');
  const target = `${options.clickhouse.urls.join(',')}/${cluster.database}`;
  if (missing.length > 0) emit({ type: 'missing', days: missing });
  try {
    await cluster.ping();
    await ensureListenTables(cluster, clusterName);
    const state = readState(stateDir);
    const days: Top50Summary['days'] = [];
    const records = new Map<number, DayFigures>();
    for (const log of logs) {
      const dayStarted = Date.now();
      const key = compactDay(log.day);
      const known = state[key];
      emit({ type: 'dayStart', date: isoDay(log.day), file: log.name, bytes: log.size });
      let loaded: LoadedDay;
      let reused = false;
      if (known && isSameLog(known, log, target) && (await rowsOf(cluster, log.day)) === known.loaded.valid) {
        loaded = known.loaded;
        reused = true;
      } else {
        loaded = await loadListenDay(cluster, log);
        state[key] = { target, file: log.name, size: log.size, mtimeMs: log.mtimeMs, loaded };
        writeFileAtomic(join(stateDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
      }
      const ms = Date.now() - dayStarted;
      emit({ type: 'dayDone', date: loaded.date, reused, rows: loaded.lines, ms });
      records.set(log.day, figures(loaded));
      days.push({
        date: loaded.date,
        file: log.name,
        reused,
        rows: loaded.lines,
        valid: loaded.valid,
        rejected: loaded.rejected,
        ms,
      });
    }
    const loadsDone = Date.now();
    const paths = chartPaths(outDir, day);
    const from = isoDay(windowDays[0]!);
    const to = isoDay(day);
    const countryRows = await writeCountryChartFromCluster(cluster, paths.country, from, to, top);
    const countryDone = Date.now();
    const userRows = await writeUserChartFromCluster(cluster, paths.user, from, to, top);
    const userDone = Date.now();
    const report = buildQualityReport(day, windowDays, records);
    const quality = writeQualityReport(outDir, report, day);
    return {
      date: isoDay(day),
      window: report.window,
      days,
      totals: report.totals,
      outputs: {
        country: { path: paths.country, rows: countryRows },
        user: { path: paths.user, rows: userRows },
        quality,
      },
      threads: 1,
      memoryBytes: 0,
      elapsedMs: Date.now() - started,
      cpuMs: cpuMs(),
      stagesMs: {
        partials: loadsDone - started,
        countryChart: countryDone - loadsDone,
        userChart: userDone - countryDone,
      },
      peakRssBytes: peakRssBytes(),
    };
  } finally {
    await cluster.close();
  }
}

function figures(d: LoadedDay): DayFigures {
  return {
    date: d.date,
    file: d.file,
    lines: d.lines,
    valid: d.valid,
    rejected: d.rejected,
    rejects: d.rejects,
    examples: d.examples,
  };
}

function isSameLog(known: LoadedRecord, log: LogFile, target: string): boolean {
  return (
    known.target === target &&
    known.file === log.name &&
    known.size === log.size &&
    known.mtimeMs === log.mtimeMs
  );
}

/** The rows the cluster holds for a day (all shards). */
async function rowsOf(cluster: ClickHouseCluster, day: number): Promise<number> {
  const result = await cluster.shards[0]!.query({
    query: `SELECT count() AS n FROM ${cluster.database}.listens WHERE day = ${sqlDate(isoDay(day))}`,
    format: 'JSONEachRow',
  });
  return Number(((await result.json()) as { n: string }[])[0]?.n ?? 0);
}

function readState(dir: string): Record<string, LoadedRecord> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, LoadedRecord>;
  } catch {
    // Unreadable: every day is loaded again (a load replaces its day, so nothing is counted twice).
    return {};
  }
}
