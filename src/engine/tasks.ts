import type { BlockStats } from '../partials/aggregatePairs.js';
import type { SpillIndex } from '../partials/pairSpill.js';
import type { BlockRef } from '../partials/partialFile.js';
import type { LogUnit } from '../sources/logUnits.js';

/** Messages between the job (main thread) and its workers; all plain, structured-clonable data. */

export interface ParseUnitTask {
  kind: 'parseUnit';
  path: string;
  unit: LogUnit;
  /** Folder for the day's spill files; each worker opens its own on first use and keeps it for the day. */
  spillDir: string;
  partitions: number;
  spillBufferBytes: number;
  readBufferBytes: number;
  maxExamples: number;
}

export interface UnitExample {
  /** Line number within the unit, 1-based. */
  line: number;
  reason: number;
  text: string;
}

export interface ParseUnitResult {
  unit: number;
  lines: number;
  valid: number;
  rejects: number[];
  examples: UnitExample[];
  digest: string;
}

export interface FinishSpillTask {
  kind: 'finishSpill';
}

export type FinishSpillResult = SpillIndex | null;

export interface AggregatePartitionTask {
  kind: 'aggregatePartition';
  partition: number;
  spills: SpillIndex[];
}

export interface AggregatedBlock {
  bytes: Uint8Array;
  stats: BlockStats;
}

export interface AggregatePartitionResult {
  partition: number;
  users: AggregatedBlock;
  countries: AggregatedBlock;
}

export interface WindowSource {
  path: string;
  users: BlockRef[];
  countries: BlockRef[];
}

export interface MergeWindowTask {
  kind: 'mergeWindow';
  partition: number;
  top: number;
  sources: WindowSource[];
  /**
   * The users' chart rows of this partition go, sorted by user, into `${usersPrefix}-${r}.txt`
   * for each user range r: range r holds users below boundaries[r] (and at or above
   * boundaries[r - 1]); the last range has no upper bound.
   */
  usersPrefix: string;
  boundaries: number[];
}

export interface CountryChart {
  country: number;
  songs: number[];
  plays: number[];
}

export interface MergeWindowResult {
  partition: number;
  users: number;
  userPairs: number;
  /** Bytes written per user range (0: no file). */
  rangeBytes: number[];
  countries: CountryChart[];
}

/** Merge one user range's files from every window partition into the output at `position`. */
export interface MergeUserRangeTask {
  kind: 'mergeUserRange';
  inputs: string[];
  outputPath: string;
  position: number;
}

export interface MergeUserRangeResult {
  rows: number;
  bytes: number;
}

export type Task =
  | ParseUnitTask
  | FinishSpillTask
  | AggregatePartitionTask
  | MergeWindowTask
  | MergeUserRangeTask;

/** Progress a worker reports while parsing: bytes and lines read since its last report. */
export interface ProgressMessage {
  type: 'progress';
  bytes: number;
  rows: number;
}
