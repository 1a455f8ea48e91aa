import { accessSync, constants, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { processAlive, removeStaleTempFiles } from '../ops/atomicFile.js';
import { isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { type DayRecord, StateStore } from '../ops/stateStore.js';
import { chartPaths, type UserRange, writeCountryChart, writeUserChart } from '../sinks/chartFiles.js';
import { buildQualityReport, type QualityReport, writeQualityReport } from '../sinks/qualityReport.js';
import { type IgnoredFile, scanLogs } from '../sources/logFiles.js';
import { type DayPartial, ensureDayPartial } from './dayPartial.js';
import { planMemory } from './memoryPlan.js';
import type { MergeUserRangeResult, MergeWindowResult, WindowSource } from './tasks.js';
import { WorkerPool } from './workerPool.js';

export interface Top50Options {
  logsDir: string;
  outDir: string;
  /** Default: `<outDir>/.playtally`. */
  stateDir?: string;
  /** Chart date as a day number; default: the newest log day. */
  day?: number;
  window?: number;
  top?: number;
  memoryBytes?: number;
  threads?: number;
  strict?: boolean;
  /** Overrides the memory plan's partition budget (tests use it to force many partitions). */
  partitionBytes?: number;
  onEvent?: (event: Top50Event) => void;
}

export type Top50Event =
  | { type: 'ignored'; file: IgnoredFile }
  | { type: 'missing'; days: string[] }
  | { type: 'dayStart'; date: string; file: string; bytes: number }
  | { type: 'progress'; bytes: number; rows: number }
  | { type: 'dayDone'; date: string; reused: boolean; rows: number; ms: number }
  | { type: 'damaged'; date: string; problem: string }
  | { type: 'mergeStart'; days: number; partitions: number }
  | { type: 'mergeDone'; ms: number };

export interface Top50Summary {
  date: string;
  window: QualityReport['window'];
  /** Every log day of the window; `ms` is the time this run spent on it (parse or reuse). */
  days: {
    date: string;
    file: string;
    reused: boolean;
    rows: number;
    valid: number;
    rejected: number;
    ms: number;
  }[];
  totals: QualityReport['totals'];
  outputs: {
    country: { path: string; rows: number };
    user: { path: string; rows: number };
    quality: string;
  };
  threads: number;
  memoryBytes: number;
  elapsedMs: number;
  /** CPU time of the whole process (all threads), user + system. */
  cpuMs: number;
  /** Wall time of each stage: bringing the days' partials up to date, merging the window, writing. */
  stagesMs: { partials: number; merge: number; countryChart: number; userChart: number };
  peakRssBytes: number;
}

export const DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024;

/**
 * The top-50 job: bring every log day of the window into a partial (reusing the ones already
 * built), merge the partials partition by partition into chart rows, and write the two chart files
 * and the quality report, each through a temporary name.
 */
export async function runTop50(options: Top50Options): Promise<Top50Summary> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const windowLength = options.window ?? 7;
  const top = options.top ?? 50;
  const threads = options.threads ?? availableParallelism();
  const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  const logsDir = resolve(options.logsDir);
  const outDir = resolve(options.outDir);
  const stateDir = resolve(options.stateDir ?? join(outDir, '.playtally'));

  let isDir = false;
  try {
    isDir = statSync(logsDir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir)
    throw new PlaytallyError('logs_not_found', `logs folder ${logsDir} does not exist or is not a folder`);
  const scan = scanLogs(logsDir);
  for (const file of scan.ignored) emit({ type: 'ignored', file });
  if (scan.logs.length === 0) {
    throw new PlaytallyError('no_logs', `no listen-YYYYMMDD.log files in ${logsDir}`);
  }
  const day = options.day ?? scan.logs[scan.logs.length - 1]!.day;
  const windowDays = Array.from({ length: windowLength }, (_, i) => day - windowLength + 1 + i);
  const logs = scan.logs.filter((l) => l.day >= windowDays[0]! && l.day <= day);
  const present = new Set(logs.map((l) => l.day));
  const missing = windowDays.filter((d) => !present.has(d)).map(isoDay);
  if (missing.length > 0) emit({ type: 'missing', days: missing });
  if (logs.length === 0) {
    throw new PlaytallyError(
      'no_logs_in_window',
      `no logs for the window ${isoDay(windowDays[0]!)}..${isoDay(day)} in ${logsDir}`,
    );
  }
  if (options.strict && missing.length > 0) {
    throw new PlaytallyError('missing_days', `missing log days in the window: ${missing.join(', ')}`, {
      missing,
    });
  }

  ensureWritable(outDir, 'output_not_writable', 'output folder');
  const state = new StateStore(stateDir);
  ensureWritable(stateDir, 'state_not_writable', 'state folder');
  removeStaleTempFiles(outDir);
  removeStaleTempFiles(state.partialsDir);
  removeStaleTempFiles(stateDir);
  removeStaleRunDirs(state.tmpDir);

  const plan = planMemory(memoryBytes, threads, options.partitionBytes);
  const runTmpDir = join(state.tmpDir, `run-${process.pid}-${Date.now()}`);
  mkdirSync(runTmpDir, { recursive: true });
  const pool = new WorkerPool(threads, ({ bytes, rows }) => emit({ type: 'progress', bytes, rows }));
  try {
    const partials: DayPartial[] = [];
    const dayMs: number[] = [];
    for (const log of logs) {
      const dayStarted = Date.now();
      emit({ type: 'dayStart', date: isoDay(log.day), file: log.name, bytes: log.size });
      const partial = await ensureDayPartial(log, state, pool, plan, runTmpDir);
      partials.push(partial);
      dayMs.push(Date.now() - dayStarted);
      emit({
        type: 'dayDone',
        date: isoDay(log.day),
        reused: !partial.built,
        rows: partial.record.lines,
        ms: Date.now() - dayStarted,
      });
    }

    const partialsDone = Date.now();
    const paths = chartPaths(outDir, day);
    // Block checksums are checked as the merge reads them: a partial found damaged there is
    // rebuilt from its log and the merge run again.
    let merged: Awaited<ReturnType<typeof mergeWindow>>;
    for (let attempt = 0; ; attempt++) {
      try {
        merged = await mergeWindow(partials, pool, top, runTmpDir, emit);
        break;
      } catch (error) {
        const { code, path } = error as { code?: unknown; path?: unknown };
        const damaged = partials.findIndex((p) => p.path === path);
        if (code !== 'PARTIAL_CORRUPT' || damaged < 0 || attempt >= partials.length) throw error;
        emit({ type: 'damaged', date: partials[damaged]!.record.date, problem: (error as Error).message });
        const rebuildStarted = Date.now();
        partials[damaged] = await ensureDayPartial(logs[damaged]!, state, pool, plan, runTmpDir, true);
        dayMs[damaged]! += Date.now() - rebuildStarted;
      }
    }
    const mergeDone = Date.now();
    const countryRows = writeCountryChart(
      paths.country,
      merged.results.map((r) => r.countries),
      top,
    );
    const countryDone = Date.now();
    const userRows = await writeUserChart(paths.user, merged.userRanges, (inputs, outputPath, position) =>
      pool.run<MergeUserRangeResult>({ kind: 'mergeUserRange', inputs, outputPath, position }),
    );
    const userDone = Date.now();

    const records = new Map<number, DayRecord>(logs.map((l, i) => [l.day, partials[i]!.record]));
    const report = buildQualityReport(day, windowDays, records);
    const qualityPath = writeQualityReport(outDir, report, day);
    return {
      date: isoDay(day),
      window: report.window,
      days: logs.map((l, i) => ({
        date: isoDay(l.day),
        file: l.name,
        reused: !partials[i]!.built,
        rows: partials[i]!.record.lines,
        valid: partials[i]!.record.valid,
        rejected: partials[i]!.record.rejected,
        ms: dayMs[i]!,
      })),
      totals: report.totals,
      outputs: {
        country: { path: paths.country, rows: countryRows },
        user: { path: paths.user, rows: userRows },
        quality: qualityPath,
      },
      threads,
      memoryBytes,
      elapsedMs: Date.now() - started,
      cpuMs: cpuMs(),
      stagesMs: {
        partials: partialsDone - started,
        merge: mergeDone - partialsDone,
        countryChart: countryDone - mergeDone,
        userChart: userDone - countryDone,
      },
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    await pool.close();
    rmSync(runTmpDir, { recursive: true, force: true });
  }
}

/**
 * Merge the window's partials. Days may have been split into different partition counts (all
 * powers of two); window partition q of the smallest count P gathers every finer partition
 * p with p mod P = q, which holds exactly the same keys. Each window partition writes its user
 * rows split into user ranges (chosen from the partials' key samples), so that the user chart
 * can then be assembled range by range in parallel.
 */
async function mergeWindow(
  partials: DayPartial[],
  pool: WorkerPool,
  top: number,
  runTmpDir: string,
  emit: (event: Top50Event) => void,
): Promise<{ results: MergeWindowResult[]; userRanges: UserRange[] }> {
  const started = Date.now();
  const partitions = Math.min(...partials.map((p) => p.directory.partitions));
  emit({ type: 'mergeStart', days: partials.length, partitions });
  const boundaries = userRangeBoundaries(partials, pool.size * 4);
  const tasks: Promise<MergeWindowResult>[] = [];
  for (let q = 0; q < partitions; q++) {
    const sources: WindowSource[] = partials.map((p) => {
      const fine = p.directory.partitions;
      const source: WindowSource = { path: p.path, users: [], countries: [] };
      for (let f = q; f < fine; f += partitions) {
        source.users.push(p.directory.users[f]!);
        source.countries.push(p.directory.countries[f]!);
      }
      return source;
    });
    const usersPrefix = join(runTmpDir, `users-${q}`);
    tasks.push(
      pool.run<MergeWindowResult>({
        kind: 'mergeWindow',
        partition: q,
        top,
        sources,
        usersPrefix,
        boundaries,
      }),
    );
  }
  // Every task settles before a failure is reported, so a retry never races a task still writing.
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  const results = settled.map((s) => (s as PromiseFulfilledResult<MergeWindowResult>).value);
  const userRanges: UserRange[] = [];
  for (let r = 0; r <= boundaries.length; r++) {
    const range: UserRange = { inputs: [], bytes: 0 };
    for (const result of results) {
      if (result.rangeBytes[r]! === 0) continue;
      range.inputs.push(join(runTmpDir, `users-${result.partition}-${r}.txt`));
      range.bytes += result.rangeBytes[r]!;
    }
    userRanges.push(range);
  }
  emit({ type: 'mergeDone', ms: Date.now() - started });
  return { results, userRanges };
}

/** Up to `ranges - 1` ascending user ids that split the window's users into ranges of similar size. */
function userRangeBoundaries(partials: DayPartial[], ranges: number): number[] {
  const sample: number[] = [];
  for (const p of partials) for (const block of p.directory.users) sample.push(...(block.sample ?? []));
  sample.sort((a, b) => a - b);
  const boundaries: number[] = [];
  for (let r = 1; r < ranges; r++) {
    const value = sample[Math.floor((r * sample.length) / ranges)];
    if (value !== undefined && value > (boundaries[boundaries.length - 1] ?? -1)) boundaries.push(value);
  }
  return boundaries;
}

function ensureWritable(dir: string, code: 'output_not_writable' | 'state_not_writable', what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new PlaytallyError(code, `${what} ${dir} is not writable: ${(error as Error).message}`);
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

function cpuMs(): number {
  const usage = process.cpuUsage();
  return Math.round((usage.user + usage.system) / 1000);
}
