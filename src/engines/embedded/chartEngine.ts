import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeCountryChart, writeUserChart } from '../../formats/chartFiles.js';
import type { DayRecord, StateStore } from '../../formats/manifest.js';
import { processAlive } from '../../ops/atomicFile.js';
import { settleAll } from '../../ops/settleAll.js';
import type { LogFile } from '../../sources/logFiles.js';
import { CountryBest } from '../../window/countryCharts.js';
import type {
  ChartEngine,
  ChartEngineSetup,
  ChartsRequest,
  Top50Event,
  WrittenCharts,
} from '../chartEngine.js';
import { type DayPartial, ensureDayPartial, partialIsWhole } from './dayPartial.js';
import { DEFAULT_MEMORY_BYTES, type MemoryPlan, planMemory, threadsHeld } from './memoryPlan.js';
import type { MergeCountriesResult, MergeUsersResult, MergeUsersTask } from './tasks.js';
import { countrySources, planWindow, type WindowPlan, windowPartitions } from './windowPlan.js';
import { WorkerPool } from './workerPool.js';

/**
 * The embedded engine: each day parsed into a partial in the state folder, the window merged by
 * the worker pool within the memory plan, in a scratch folder of this run.
 */
export class EmbeddedChartEngine implements ChartEngine<DayPartial> {
  readonly keepsHistory = false;
  readonly figures: { threads: number; memoryBytes: number };
  private readonly state: StateStore;
  private readonly top: number;
  private readonly threads: number;
  private readonly emit: (event: Top50Event) => void;
  private readonly plan: MemoryPlan;
  private readonly runTmpDir: string;
  private readonly pool: WorkerPool;

  constructor(setup: ChartEngineSetup) {
    this.state = setup.state;
    this.top = setup.top;
    this.emit = setup.emit;
    const memoryBytes = setup.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    // Fewer threads than asked when the budget holds fewer (said, and the summary reports them).
    this.threads = threadsHeld(memoryBytes, setup.threads ?? availableParallelism(), this.emit);
    this.figures = { threads: this.threads, memoryBytes };
    removeStaleRunDirs(this.state.tmpDir);
    // A run killed while quarantining a day can leave the day's partial behind, named by no record.
    this.state.removeOrphanPartials();
    this.plan = planMemory(memoryBytes, this.threads, setup.partitionBytes);
    this.runTmpDir = join(this.state.tmpDir, `run-${process.pid}-${Date.now()}`);
    mkdirSync(this.runTmpDir, { recursive: true });
    this.pool = new WorkerPool(
      this.threads,
      ({ bytes, rows }) => this.emit({ type: 'progress', bytes, rows }),
      { maxYoungGenerationSizeMb: this.plan.youngGenerationMb },
    );
  }

  /** The day's partial, reused or built (`force`: rebuilt, it was found damaged). */
  takeIn(log: LogFile, force: boolean, overlap?: () => void): Promise<DayPartial> {
    return ensureDayPartial(log, this.state, this.pool, this.plan, this.runTmpDir, force, overlap);
  }

  async holds(record: DayRecord): Promise<boolean> {
    // Whole, not only there: a damaged partial whose log is gone is a day the charts go without.
    return !record.pruned && record.partial !== '' && partialIsWhole(this.state.partialPath(record));
  }

  async prune(key: string): Promise<void> {
    this.state.prunePartial(key);
  }

  async discard(): Promise<void> {
    // The manifest removed the day's partial with its record.
  }

  computeCharts({ paths, taken, retake, last }: ChartsRequest<DayPartial>): Promise<WrittenCharts> {
    const { top, threads, plan, pool, emit } = this;
    return writeCharts({ paths, partials: taken, top, threads, plan, pool, emit, last }, retake);
  }

  async close(): Promise<void> {
    try {
      await this.pool.close();
    } finally {
      rmSync(this.runTmpDir, { recursive: true, force: true });
    }
  }
}

interface ChartsContext {
  paths: { country: string; user: string };
  partials: DayPartial[];
  top: number;
  threads: number;
  plan: MemoryPlan;
  pool: WorkerPool;
  emit: (event: Top50Event) => void;
  /** The session's last charts: the workers are let go once every merge task is done. */
  last?: boolean;
}

/**
 * Merge the window and write both chart files. Block and segment checksums are checked as the
 * merge reads them: a partial found damaged there is rebuilt from its log (`rebuild`, which
 * replaces it in `partials`) and the merge is run again.
 */
async function writeCharts(
  { paths, partials, top, threads, plan, pool, emit, last = false }: ChartsContext,
  rebuild: (day: number) => Promise<void>,
): Promise<WrittenCharts> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const countryPartitions = windowPartitions(partials);
      emit({ type: 'mergeStart', days: partials.length, partitions: countryPartitions });
      // Set once the user ranges are planned, before any task's answer can arrive.
      let total = Number.POSITIVE_INFINITY;
      let done = 0;
      const counted = <T>(part: Promise<T>): Promise<T> =>
        part.then((result) => {
          emit({ type: 'mergeProgress', done: ++done, total });
          // Every task done (none failed, so no day is taken in again): the threads' teardown,
          // about 45 ms at 7 x 20M rows, runs while the chart files are synced and renamed.
          if (done === total && last) pool.release();
          return result;
        });
      // Each partition's charts folded in as they come, not kept (see CountryBest).
      const countries = new CountryBest(top);
      const countryMerges = Array.from({ length: countryPartitions }, (_, q) =>
        counted(
          pool.run<MergeCountriesResult>({
            kind: 'mergeCountries',
            partition: q,
            top,
            sources: countrySources(partials, q, countryPartitions),
          }),
        ).then((result) => countries.add(result.countries)),
      );
      // The user ranges planned while the workers begin the countries (the plan sorts every
      // segment's first key: about 14 ms at 7 x 20M rows, both workers waiting for it before).
      let window: WindowPlan;
      try {
        window = planWindow(partials, plan, threads);
      } catch (error) {
        // Told once the countries' tasks have settled, as any failure below.
        await Promise.allSettled(countryMerges);
        throw error;
      }
      total = countryPartitions + window.userRanges.length;
      // The user ranges are asked for at once, behind the country merges in the pool's queue: the
      // workers go on to them while this thread ranks and writes the country chart (they waited
      // for it, about 0.3 s at 7 x 20M rows). Written ranges' buffers go back to the workers to
      // format later ranges into (windowPlan.ts' rangeTextWriter): a few buffers circulate
      // instead of one new one a range.
      const spare: ArrayBuffer[] = [];
      const userChart = writeUserChart(
        paths.user,
        window.userRanges.length,
        threads + 1,
        (r) => {
          const textBuffer = spare.pop();
          const task: MergeUsersTask = { kind: 'mergeUsers', top, ...window.userRanges[r]!, textBuffer };
          return counted(pool.run<MergeUsersResult>(task, textBuffer === undefined ? [] : [textBuffer]));
        },
        (bytes) => spare.push(bytes.buffer as ArrayBuffer),
      );
      const countryChart = settleAll(countryMerges).then(async () => {
        const rows = await writeCountryChart(paths.country, countries.rows());
        return { rows, done: Date.now() };
      });
      // Both settle before a failure is told, so that a retry never races a task still running.
      const [country, userRows] = await settleAll([countryChart, userChart]);
      const countryRows = country.rows;
      const countryDone = country.done;
      const userDone = Date.now();
      emit({ type: 'mergeDone', ms: userDone - started });
      return { countryRows, userRows, countryDone, userDone };
    } catch (error) {
      const { code, path } = error as { code?: unknown; path?: unknown };
      const damaged = partials.findIndex((p) => p.path === path);
      if (code !== 'PARTIAL_CORRUPT' || damaged < 0 || attempt >= partials.length) throw error;
      emit({ type: 'damaged', date: partials[damaged]!.record.date, problem: (error as Error).message });
      await rebuild(damaged);
    }
  }
}

/** Scratch folders of runs that were killed (their pid is gone). */
function removeStaleRunDirs(tmpDir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(tmpDir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^run-(\d+)-/.exec(name);
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) {
      rmSync(join(tmpDir, name), { recursive: true, force: true });
    }
  }
}
