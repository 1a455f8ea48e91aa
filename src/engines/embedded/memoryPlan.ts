import type { ResourceLimits } from 'node:worker_threads';
import type { ThreadsCut } from '../chartEngine.js';

/**
 * How a memory budget (--memory) is shared out. The process's peak RSS is roughly the base cost of
 * Node and its worker isolates, plus per worker: a read buffer, the partition buffers of phase 1,
 * and the working set of one partition in phase 2 or one window partition. The only size that
 * grows with the input is the partition, so the number of partitions is chosen from the input
 * size to keep one partition within its share.
 */
export interface MemoryPlan {
  memoryBytes: number;
  threads: number;
  /** Bytes a worker may spend on one partition's aggregation or window merge. */
  partitionBytes: number;
  /** Phase-1 partition buffers per worker. */
  spillBufferBytes: number;
  /** Read buffer per worker. */
  readBufferBytes: number;
  /**
   * The most V8's young generation of each worker thread may grow to, in MB. Left to itself it
   * grows to about 48 MB a worker when a thread allocates many short-lived objects (the thousand
   * small tasks of a window at --memory 256MB): 7 x 20M rows at 256MB peaked at about 385 MB with
   * V8's default and about 300 MB with 6 MB (docs/BENCHMARKS.md, "The merge's peak RSS").
   */
  youngGenerationMb: number;
}

/** Node itself, the main thread's state and each worker isolate, measured at about 40 MB each. */
const BASE_BYTES = 96 * 1024 * 1024;
const PER_WORKER_BASE_BYTES = 40 * 1024 * 1024;
/** Phase-2 working set per (key, song) pair: input, dense ids, grouping, hash table, output. */
const BYTES_PER_PAIR = 48;
/** The shortest valid row, `0|0|AD\n`, bounds how many pairs a file of a given size can hold. */
const MIN_ROW_BYTES = 7;
/** The embedded engine's memory budget unless `--memory` says. */
export const DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024;

export const MIN_PARTITIONS = 16;
export const MAX_PARTITIONS = 1 << 16;
export const MIN_MEMORY_BYTES = 256 * 1024 * 1024;

export function planMemory(memoryBytes: number, threads: number, partitionBytes?: number): MemoryPlan {
  const perWorker = Math.max(16 * 1024 * 1024, (memoryBytes - BASE_BYTES) / threads - PER_WORKER_BASE_BYTES);
  return {
    memoryBytes,
    threads,
    partitionBytes: partitionBytes ?? Math.floor(perWorker / 3),
    spillBufferBytes: Math.min(16 * 1024 * 1024, Math.floor(perWorker / 8)),
    readBufferBytes: 1024 * 1024,
    youngGenerationMb: youngGenerationFor(memoryBytes),
  };
}

/** Budget a worker thread beyond the first needs above the smallest budget (threadsWithin). */
const PER_EXTRA_THREAD_BYTES = 64 * 1024 * 1024;

/**
 * The worker threads a budget holds, at most `threads`: one at the smallest budget, one more for
 * each 64 MB above it. A thread costs its isolate, its buffers and the tasks in flight for it, and
 * the smallest budget cuts a day into the most partitions: 7 x 20M rows at --memory 256MB peaked at
 * about 290 MB with two workers and 209 MB with one; at 320MB, 274 MB with two (docs/BENCHMARKS.md,
 * "The merge's peak RSS"). The budget is a limit, the threads a wish: a process killed for its
 * memory charts nothing.
 */
export function threadsWithin(memoryBytes: number, threads: number): number {
  const held = 1 + Math.floor((memoryBytes - MIN_MEMORY_BYTES) / PER_EXTRA_THREAD_BYTES);
  return Math.max(1, Math.min(threads, held));
}

/** The threads a budget holds (threadsWithin), the cut said through `say` when it makes one. */
export function threadsHeld(memoryBytes: number, asked: number, say: (cut: ThreadsCut) => void): number {
  const threads = threadsWithin(memoryBytes, asked);
  if (threads < asked) say({ type: 'threadsCut', threads, asked, memoryBytes });
  return threads;
}

/** A worker thread's V8 limits within a budget: its young generation (youngGenerationFor). */
export function workerLimits(memoryBytes: number): ResourceLimits {
  return { maxYoungGenerationSizeMb: youngGenerationFor(memoryBytes) };
}

/**
 * A worker's young generation: a 64th of the budget, 4 MB (256MB) to 32 MB. The threads' tasks
 * keep their data in typed arrays outside V8's heap: what the young generation holds is task
 * descriptions and results, garbage within a task or two, so a small one costs no measurable time
 * (7 x 20M rows: the daily run at the default budget, 16 MB against V8's own, and the cold week at
 * 256MB, 3 to 12 MB: the same times within the machine's noise).
 */
export function youngGenerationFor(memoryBytes: number): number {
  return Math.min(32, Math.max(4, Math.floor(memoryBytes / (64 * 1024 * 1024))));
}

/*
 * A KPI job's days within a budget (kpiPartRowsWithin), fitted to what it measured
 * (docs/BENCHMARKS.md, "Genre KPIs within --memory"): a part's rows grouped by user take 13.5
 * bytes each (a track and a time, with room to grow); a fresh process holds 130 to 200 MB besides
 * when its days start (Node, the partials' names of ids, what the parse's threads left), about
 * 25 MB more for each worker, and some garbage between collections over a day's parts.
 */
const KPI_BASE_BYTES = 208 * 1024 * 1024;
const KPI_PER_WORKER_BYTES = 24 * 1024 * 1024;
const KPI_BYTES_PER_PART_ROW = 16;
/** The smallest KPI day part worth its reads: each part reads the whole day's partials again. */
export const MIN_KPI_PART_ROWS = 1_000_000;

/** What a fresh process holds when a job starts: Node and the CLI's modules (57 MB measured). */
const FRESH_PROCESS_BYTES = 64 * 1024 * 1024;

/**
 * What the process holds beyond a fresh one's, `rssBytes` being its resident memory now: in
 * `run --kpis-landing`, what the charts' step left (100 to 120 MB after 7 x 2M rows at 256MB to
 * 320MB), which the KPI step's budget must leave out.
 */
export function heldBeyondFresh(rssBytes: number): number {
  return Math.max(0, rssBytes - FRESH_PROCESS_BYTES);
}

/**
 * The most rows of a KPI day part within a budget, at most `maxRows`: what the budget leaves
 * besides the process's base, its workers and what it held already (`heldBytes`), shared by the
 * `threads` parts computed at once (one thread computes the parts itself, without workers). In a
 * fresh process about 3M rows at 256MB (one thread), 2M at 320MB and 4M at 384MB (two),
 * `maxRows` from 512MB.
 */
export function kpiPartRowsWithin(
  memoryBytes: number,
  threads: number,
  maxRows: number,
  heldBytes = 0,
): number {
  const workers = threads > 1 ? threads : 0;
  const perPart = (memoryBytes - heldBytes - KPI_BASE_BYTES - workers * KPI_PER_WORKER_BYTES) / threads;
  const rows = Math.floor(perPart / KPI_BYTES_PER_PART_ROW);
  return Math.min(maxRows, Math.max(MIN_KPI_PART_ROWS, rows));
}

/** Partitions for a log of `fileBytes`, so that one partition fits `plan.partitionBytes`. */
export function partitionsFor(fileBytes: number, plan: MemoryPlan): number {
  const maxPairs = Math.ceil(fileBytes / MIN_ROW_BYTES);
  const pairsPerPartition = Math.max(1, Math.floor(plan.partitionBytes / BYTES_PER_PAIR));
  let partitions = MIN_PARTITIONS;
  while (partitions < MAX_PARTITIONS && partitions * pairsPerPartition < maxPairs) partitions *= 2;
  return partitions;
}

/**
 * About how many distinct users `rows` rows hold, from a catalogue of `users`: as many as rows
 * drawn from it at random would hold, `users * (1 - e^(-rows / users))`, at most `rows` and
 * `users`; any skew in who listens makes it fewer. A file of 3.3M rows from a catalogue of 5M users
 * holds about 2.4M of them: sized for 5M, each worker's table was 107 MB where 71 MB holds them.
 */
export function distinctAbout(users: number, rows: number): number {
  return users <= 0 ? 0 : Math.ceil(users * -Math.expm1(-rows / users));
}
