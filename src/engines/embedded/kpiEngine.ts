import type { FilePartialHeader } from '../../formats/kpiPartials.js';
import { loadDayGroups } from '../../formats/kpiPartials.js';
import {
  type Catalog,
  computeDayKpis,
  type DayAggregate,
  finishDayKpis,
  mergeAggregates,
} from '../../kpis/genreKpis.js';
import type { KpiDayEngine } from '../kpiEngine.js';
import { WorkerPool } from './workerPool.js';

/** Days with at least this many rows are computed on the workers, cut by user. */
export const PARALLEL_DAY_ROWS = 200_000;

/**
 * The KPI engine of this process: a small day is computed on the main thread from its rows (only
 * that day's rows in memory); a large one is cut by user into one part per worker, whose
 * aggregates sum exactly.
 */
export function embeddedKpiEngine(options: { threads: number; parallelDayRows?: number }): KpiDayEngine {
  const parallelDayRows = options.parallelDayRows ?? PARALLEL_DAY_ROWS;
  const headers = new Map<string, { header: FilePartialHeader; dataStart: number }>();
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
      if (options.threads > 1 && dayRows >= parallelDayRows) {
        pool ??= new WorkerPool(options.threads);
        const workers = pool;
        const shared = {
          day,
          granularity,
          sources: partials,
          catalogId: catalogKey,
          catalog: catalogJson(catalogKey, catalog),
        };
        const parts = await Promise.all(
          Array.from({ length: options.threads }, (_, part) =>
            workers.run<DayAggregate>({ kind: 'kpiDayPart', part, parts: options.threads, ...shared }),
          ),
        );
        return finishDayKpis(day, granularity, mergeAggregates(parts));
      }
      const loaded = loadDayGroups(partials, day, undefined, headers);
      return computeDayKpis(day, loaded.groups, loaded.users, loaded.tracks, catalog, granularity);
    },
    async close() {
      await pool?.close();
    },
  };
}
