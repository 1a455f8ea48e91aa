import type { FilePartialHeader } from '../../formats/kpiPartials.js';
import { loadDayGroups, PartialNames } from '../../formats/kpiPartials.js';
import {
  aggregateDay,
  type Catalog,
  catalogGenres,
  computeDayKpis,
  type DayAggregate,
  finishDayKpis,
  mergeAggregates,
} from '../../kpis/genreKpis.js';
import { userPart } from '../../kpis/streamDays.js';
import type { KpiDayEngine } from '../kpiEngine.js';
import { WorkerPool } from './workerPool.js';

/** Days with at least this many rows are computed on the workers, cut by user. */
export const PARALLEL_DAY_ROWS = 200_000;

/**
 * The most rows of a day one part holds: its rows grouped by user take 12 bytes each, so about
 * 100 MB a part, whatever the day's size (a larger day is cut into more parts, each reading the
 * day's partials again for its users).
 */
export const MAX_PART_ROWS = 8_000_000;

/** Into how many parts (by a hash of the user) a day is cut: a part a thread, or more of them. */
export function dayParts(rows: number, threads: number, maxPartRows = MAX_PART_ROWS): number {
  return threads * Math.max(1, Math.ceil(rows / (threads * maxPartRows)));
}

/**
 * The KPI engine of this process: a small day is computed on the main thread from its rows (only
 * that day's rows in memory); a large one is cut by user into parts, one a worker or more (at most
 * `maxPartRows` rows a part), whose aggregates sum exactly.
 */
export function embeddedKpiEngine(options: {
  threads: number;
  parallelDayRows?: number;
  maxPartRows?: number;
}): KpiDayEngine {
  const parallelDayRows = options.parallelDayRows ?? PARALLEL_DAY_ROWS;
  const headers = new Map<string, { header: FilePartialHeader; dataStart: number }>();
  const names = new PartialNames();
  let pool: WorkerPool | undefined;
  let sent: { key: string; json: string } | undefined;
  const catalogJson = (key: string, catalog: Catalog): string => {
    if (sent?.key !== key) {
      sent = { key, json: JSON.stringify({ tracks: [...catalog.tracks], users: [...catalog.users] }) };
    }
    return sent.json;
  };
  return {
    async computeDay({ day, granularity, sources, catalog, catalogKey }) {
      const partials = sources.map((s) => s.partial);
      const dayRows = sources.reduce((n, s) => n + s.rows, 0);
      const threads = options.threads;
      if (threads > 1 && dayRows >= parallelDayRows) {
        const parts = dayParts(dayRows, threads, options.maxPartRows);
        pool ??= new WorkerPool(threads);
        const workers = pool;
        const shared = {
          day,
          granularity,
          sources: partials,
          catalogId: catalogKey,
          catalog: catalogJson(catalogKey, catalog),
        };
        const aggregates = await Promise.all(
          Array.from({ length: parts }, (_, part) =>
            workers.run<DayAggregate>({ kind: 'kpiDayPart', part, parts, ...shared }),
          ),
        );
        return finishDayKpis(day, granularity, mergeAggregates(aggregates));
      }
      const parts = dayParts(dayRows, 1, options.maxPartRows);
      if (parts === 1) {
        const loaded = loadDayGroups(partials, day, undefined, headers, names);
        return computeDayKpis(day, loaded.groups, loaded.users, loaded.tracks, catalog, granularity);
      }
      // One thread and a day too large for one part: its parts one after the other.
      const genres = catalogGenres(catalog);
      const aggregates = Array.from({ length: parts }, (_, part) => {
        const loaded = loadDayGroups(partials, day, (user) => userPart(user, parts) === part, headers);
        return aggregateDay(loaded.groups, loaded.users, loaded.tracks, catalog, granularity, genres);
      });
      return finishDayKpis(day, granularity, mergeAggregates(aggregates));
    },
    async close() {
      await pool?.close();
    },
  };
}
