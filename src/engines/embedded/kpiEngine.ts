import {
  daySources,
  loadDayGroups,
  type PartialHeaders,
  PartialNames,
  partialIds,
  readFilePartialHeader,
} from '../../formats/kpiPartials.js';
import {
  AggregateSum,
  aggregateDay,
  type Catalog,
  CatalogNumbering,
  type DayAggregate,
  type DayKpis,
  finishDayKpis,
} from '../../kpis/genreKpis.js';
import { GroupArrays } from '../../kpis/streamDays.js';
import type { KpiDayEngine, KpiDayInput } from '../kpiEngine.js';
import { aggregateDayPart } from './kpiDayPart.js';
import { DEFAULT_MEMORY_BYTES, kpiPartRowsWithin, workerLimits } from './memoryPlan.js';
import { WorkerPool } from './workerPool.js';

/** Days with at least this many rows are computed on the workers, cut by user. */
export const PARALLEL_DAY_ROWS = 200_000;

/**
 * The most rows of a day one part holds: its rows grouped by user take 12 bytes each, so about
 * 100 MB a part, whatever the day's size (a larger day is cut into more parts, each reading the
 * day's partials again for its users). A smaller memory budget holds smaller parts
 * (kpiPartRowsWithin).
 */
export const MAX_PART_ROWS = 8_000_000;

/** Into how many parts (by a hash of the user) a day is cut: a part a thread, or more of them. */
export function dayParts(rows: number, threads: number, maxPartRows = MAX_PART_ROWS): number {
  return threads * Math.max(1, Math.ceil(rows / (threads * maxPartRows)));
}

/**
 * The KPI engine of this process: a small day is computed on the main thread from its rows (only
 * that day's rows in memory); a large one is cut by user into parts, one a worker or more (at most
 * `maxPartRows` rows a part), whose aggregates sum exactly. The partials' names and the catalogue
 * are numbered here, once a run (PartialNames, CatalogNumbering): a part goes to its worker as
 * numbers only.
 */
export function embeddedKpiEngine(options: {
  threads: number;
  /** The process's memory budget (default 1GB): it sets the most rows of a part unless `maxPartRows` does. */
  memoryBytes?: number;
  /** What the process held beyond a fresh one's when the job started: left out of the budget. */
  heldBytes?: number;
  parallelDayRows?: number;
  maxPartRows?: number;
}): KpiDayEngine {
  const parallelDayRows = options.parallelDayRows ?? PARALLEL_DAY_ROWS;
  const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  const maxPartRows =
    options.maxPartRows ?? kpiPartRowsWithin(memoryBytes, options.threads, MAX_PART_ROWS, options.heldBytes);
  // The young generation of the chart engine's workers, for the same reason: at a small budget
  // their garbage between collections is a large share of it.
  const newPool = (): WorkerPool => new WorkerPool(options.threads, undefined, workerLimits(memoryBytes));
  // The run's numbering, one for a catalogue: users are numbered by its ids.
  let numbering: RunNumbering | undefined;
  const numberingFor = (catalog: Catalog, key: string): RunNumbering => {
    if (numbering?.key !== key) numbering = runNumbering(catalog, key);
    return numbering;
  };
  let pool: WorkerPool | undefined;
  let closed = false;
  // The rows of the days computed here, grouped by user, in arrays kept from day to day as each
  // worker keeps its own: a day's fresh arrays came on top of the last day's, not yet collected.
  const arrays = new GroupArrays();
  return {
    // A large day goes to the workers as soon as it is asked for, and the small ones around it are
    // computed here meanwhile (a run's days one after the other left the workers idle, about 0.4 s
    // at 10M rows, while this thread computed the small days of the rows past either midnight).
    daysAhead: 4,
    async computeDay(input) {
      try {
        return await compute(input);
      } catch (error) {
        // A partial found damaged is parsed again under the same path: its header read anew.
        // (From a worker, the error is rebuilt from its code and path: tasks.ts errorFromMessage.)
        const { code, path } = error as { code?: unknown; path?: unknown };
        if (code === 'PARTIAL_CORRUPT' && typeof path === 'string') numbering?.headers.delete(path);
        throw error;
      }
    },
    startThreads(rowsAtMost) {
      // Never after close: threads started then would keep the process alive.
      if (closed || options.threads < 2 || rowsAtMost < parallelDayRows) return;
      pool ??= newPool();
    },
    // The header read and its names numbered while the parse's other files are read (about 0.1 s
    // a file of 3M rows here, which the first large day waited for).
    readAhead(partial, catalog, catalogKey) {
      const { headers, names } = numberingFor(catalog, catalogKey);
      if (headers.has(partial)) return;
      try {
        const read = { header: readFilePartialHeader(partial) };
        headers.set(partial, read);
        partialIds(read, names);
      } catch {
        // Damaged: the day that reads it says so, and the job parses its file again.
      }
    },
    // The day threads end (each held about 60 MB of arrays kept for the next day's part) while
    // the job writes the last day's files: its peak at 2M users by the hour.
    async idle() {
      const threads = pool;
      pool = undefined;
      await threads?.close();
    },
    async close() {
      closed = true;
      await pool?.close();
    },
  };

  async function compute({ day, granularity, sources, catalog, catalogKey }: KpiDayInput): Promise<DayKpis> {
    const dayRows = sources.reduce((n, s) => n + s.rows, 0);
    const threads = options.threads;
    const parallel = threads > 1 && dayRows >= parallelDayRows;
    // The workers start while the day is numbered here; a small day, computed here, waits for
    // the days asked for after it to reach them.
    if (parallel) pool ??= newPool();
    else await new Promise((resolve) => setImmediate(resolve));
    const run = numberingFor(catalog, catalogKey);
    const names = run.names;
    const files = daySources(
      sources.map((s) => s.partial),
      day,
      names,
      run.headers,
    );
    const numbered = run.catalog.of();
    const users = names.users.size;
    const trackName = (t: number): string => names.tracks.name(t);
    const count = dayParts(dayRows, parallel ? threads : 1, maxPartRows);
    if (count === 1) {
      const groups = loadDayGroups(files, users, arrays);
      const aggregate = aggregateDay(groups, users, numbered, granularity, arrays.kernel());
      return finishDayKpis(day, granularity, aggregate, numbered, trackName);
    }
    // Each part added to the day's sum as it comes, and let go.
    const sum = new AggregateSum(count);
    if (parallel) {
      const workers = pool!;
      await Promise.all(
        Array.from({ length: count }, (_, part) =>
          workers
            .run<DayAggregate>({
              kind: 'kpiDayPart',
              granularity,
              // Every part's task holds the same sources; the workers read their ids where this
              // thread keeps them (shared memory, not copied).
              sources: files,
              part,
              parts: count,
              users,
              catalog: numbered,
            })
            .then((aggregate) => sum.add(aggregate)),
        ),
      );
    } else {
      // One thread and a day too large for one part: its parts one after the other, each as a
      // worker computes it.
      for (let part = 0; part < count; part++)
        sum.add(
          aggregateDayPart(
            { granularity, sources: files, part, parts: count, users, catalog: numbered },
            arrays,
          ),
        );
    }
    return finishDayKpis(day, granularity, sum.result(), numbered, trackName);
  }
}

/**
 * What a run numbers by, for one catalogue: its users by the catalogue's ids (CatalogNumbering),
 * the partials read and their ids in that numbering.
 */
interface RunNumbering {
  key: string;
  catalog: CatalogNumbering;
  names: PartialNames;
  headers: PartialHeaders;
}

function runNumbering(catalog: Catalog, key: string): RunNumbering {
  const numbered = new CatalogNumbering(catalog);
  const names = new PartialNames(numbered.users, numbered.tracks);
  return { key, catalog: numbered, names, headers: new Map() };
}
