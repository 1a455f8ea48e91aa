import type { DaySource, SegmentFile } from '../../formats/kpiPartials.js';
import type { SpillIndex } from '../../formats/pairSpill.js';
import type { BlockRef, SegmentRun } from '../../formats/partialFile.js';
import type { NumberedCatalog } from '../../kpis/genreKpis.js';
import { type ErrorCode, PlaytallyError } from '../../ops/errors.js';
import type { StreamFileResult, StreamRangeResult } from '../../parse/streamRows.js';
import type { BlockStats } from '../../partials/aggregatePairs.js';
import type { LogUnit } from '../../sources/logUnits.js';
import type { CountryChart } from '../../window/countryCharts.js';
import type { FileProgress } from './fileProgress.js';

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

/** A chunk of whole lines of a decompressed gzip log; `bytes` is transferred, not copied. */
export interface ParseChunkTask {
  kind: 'parseChunk';
  index: number;
  bytes: Uint8Array;
  /** The chunk begins inside a line an earlier chunk counted: skip to the first newline. */
  skipFirstLine: boolean;
  spillDir: string;
  partitions: number;
  spillBufferBytes: number;
  maxExamples: number;
}

export interface UnitExample {
  /** Line number within the unit, 1-based. */
  line: number;
  reason: number;
  text: string;
}

/** The result of a parseUnit or parseChunk task (`unit` is the unit's or chunk's index). */
export interface ParseUnitResult {
  unit: number;
  /** Rows (valid and rejected). */
  lines: number;
  /** 1 when the unit began the file and its first line was a header, else 0. */
  header: number;
  valid: number;
  rejects: number[];
  examples: UnitExample[];
  /** The unit digest of a plain log (sources/contentHash.ts); empty for a gzip chunk (the file is hashed whole). */
  digest: string;
}

/** Close this worker's spill file of the day whose spill folder is `spillDir`. */
export interface FinishSpillTask {
  kind: 'finishSpill';
  spillDir: string;
}

export type FinishSpillResult = SpillIndex | null;

export interface AggregatePartitionTask {
  kind: 'aggregatePartition';
  partition: number;
  spills: SpillIndex[];
  /** Keys a segment of the users block (segmentKeysFor the day's partitions). */
  segmentKeys: number;
  /**
   * Buffers of blocks already written, handed back (transferred) for this task's blocks: a block
   * goes into the smallest that holds it, or into a new one.
   */
  reuse?: ArrayBuffer[];
  /**
   * The pairs of the day's largest table of a partition: the sort's buffers are made that large
   * at once, not regrown as larger partitions come (three 11 MB pairs of buffers a worker a day of
   * 20M rows, each page faulted in).
   */
  largestTable?: number;
}

export interface AggregatedBlock {
  /** The block's bytes: a view of the start of its buffer, which may be longer. */
  bytes: Uint8Array;
  stats: BlockStats;
}

export interface AggregatePartitionResult {
  partition: number;
  users: AggregatedBlock;
  countries: AggregatedBlock;
}

/** A partial and the blocks of it that one window task reads whole. */
export interface WindowSource {
  path: string;
  blocks: BlockRef[];
}

export interface MergeCountriesTask {
  kind: 'mergeCountries';
  partition: number;
  top: number;
  sources: WindowSource[];
}

export interface MergeCountriesResult {
  partition: number;
  countries: CountryChart[];
}

/** A run of whole segments of one users block. */
export interface UserSpan extends SegmentRun {
  /** The key the span's first key delta counts from. */
  base: number;
  /** The block's partition modulo the window's smallest partition count (see mergeSpans). */
  group: number;
  /** The block's layout (BlockStats.layout): 'words' for a users block of a version 3 partial. */
  layout?: 'words';
}

export interface MergeUsersTask {
  kind: 'mergeUsers';
  range: number;
  /** Users in [low, high). */
  low: number;
  high: number;
  /** The range's share of the window's users blocks, in bytes: what its text buffer is sized from. */
  inputBytes: number;
  top: number;
  sources: { path: string; spans: UserSpan[] }[];
  /** An earlier range's text buffer, written and sent back (transferred) to format this range into. */
  textBuffer?: ArrayBuffer;
}

export interface MergeUsersResult {
  range: number;
  /** The range's chart rows, in user order. */
  bytes: Uint8Array;
  rows: number;
}

/**
 * Read one streams CSV of the KPI landing folder (see parse/streamRows.ts) and write its partial
 * (formats/kpiPartials.ts) into `partialDir`, named after the file and its content hash.
 */
export interface ParseStreamsTask {
  kind: 'parseStreams';
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
  partialDir: string;
  /** About how many users the file may hold (the users files' rows): the worker sizes its table once. */
  users?: number;
  /**
   * Where the worker tells how far it has read the file (FileProgress, shared memory): the ranges
   * of a file cut for the parse's last round are sized from it as they are handed out.
   */
  progress?: FileProgress;
}

export interface ParseStreamsResult {
  result: StreamFileResult;
  /** The partial written (absolute path) and its size; absent when the file is unusable (`result.bad`). */
  partial?: string;
  partialBytes?: number;
  /** Valid rows per UTC day. */
  days: { day: number; rows: number }[];
  /** The file's own time on the worker: read, parse and partial written (not its wait in the queue). */
  ms: number;
}

/**
 * One range of a streams file (bytes [start, end): the lines that start in it), read on a worker
 * while others read the rest (see engines/embedded/streamsParse.ts). Its rows and names, numbered
 * its own way, are written as a segment of the file's partial to a scratch file; the partial is
 * written from the segments once all its ranges are in.
 */
export interface ParseStreamsRangeTask {
  kind: 'parseStreamsRange';
  name: string;
  path: string;
  index: number;
  start: number;
  end: number;
  /** The file's last range: its last record needs no line ending. */
  last: boolean;
  /** Where the range's rows are written (a scratch file, the partials' folder). */
  partialDir: string;
  /** As ParseStreamsTask's. */
  users?: number;
}

export interface ParseStreamsRangeResult extends StreamRangeResult {
  /**
   * The range's rows and names (ids numbered in order of appearance in it), in a scratch file
   * (formats/kpiPartials.ts) removed once the partial is written.
   */
  segment: SegmentFile;
  /**
   * The digests of the file's units that start in the range, units `first` on (the file's content
   * hash combines every range's: sources/contentHash.ts rangeUnitDigests); none when the range
   * was not read (its file is then read whole).
   */
  units?: { first: number; digests: string[] };
  ms: number;
}

/**
 * One part of a day's genre KPIs: the rows of the users in part `part` of `parts` (partOfUser of
 * their run numbers, kpis/streamDays.ts), from the
 * day's sections of the file partials, aggregated (kpis/genreKpis.ts aggregateDay). The parts of
 * a day sum to the whole day exactly, since each user falls in one part. Names and catalogue come
 * as the main thread numbered them: the worker reads no header and interns no name.
 */
export interface KpiDayPartTask {
  kind: 'kpiDayPart';
  granularity: 'day' | 'hour';
  sources: DaySource[];
  part: number;
  parts: number;
  /** How many users the numbering has. */
  users: number;
  catalog: NumberedCatalog;
}

export type Task =
  | ParseUnitTask
  | ParseChunkTask
  | FinishSpillTask
  | AggregatePartitionTask
  | MergeCountriesTask
  | MergeUsersTask
  | ParseStreamsTask
  | ParseStreamsRangeTask
  | KpiDayPartTask;

/** Progress a worker reports while parsing: bytes and lines read since its last report. */
export interface ProgressMessage {
  type: 'progress';
  bytes: number;
  rows: number;
}

/** Sent by the pool when it closes: the worker closes its port and its thread ends by itself. */
export const EXIT_MESSAGE = 'exit';

/**
 * A task's failure, as the worker posts it: structured clone keeps an Error's message but not its
 * class or fields, so the worker's error boundary sends what the pool needs to rebuild it: a
 * PlaytallyError's code and details (its exit code), or a system error's code, path and call (the
 * I/O classifier's input, ops/ioErrors.ts).
 */
export interface ErrorMessage {
  type: 'error';
  message: string;
  stack?: string;
  playtally?: { code: ErrorCode; details: Record<string, unknown> };
  code?: string;
  path?: string;
  syscall?: string;
}

/** The worker's side of the error boundary: any thrown value as an ErrorMessage. */
export function errorMessage(error: unknown): ErrorMessage {
  const e = error instanceof Error ? error : new Error(String(error));
  const { code, path, syscall } = e as { code?: unknown; path?: unknown; syscall?: unknown };
  return {
    type: 'error',
    message: e.message,
    stack: e.stack,
    ...(e instanceof PlaytallyError ? { playtally: { code: e.code, details: e.details } } : {}),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof path === 'string' ? { path } : {}),
    ...(typeof syscall === 'string' ? { syscall } : {}),
  };
}

/** The pool's side: the error the task failed with, rebuilt with its class and fields. */
export function errorFromMessage(message: ErrorMessage): Error {
  const error: Error & { code?: string; path?: string; syscall?: string } =
    message.playtally !== undefined
      ? new PlaytallyError(message.playtally.code, message.message, message.playtally.details)
      : new Error(message.message);
  if (message.stack !== undefined) error.stack = message.stack;
  if (message.playtally === undefined) {
    if (message.code !== undefined) error.code = message.code;
    if (message.path !== undefined) error.path = message.path;
    if (message.syscall !== undefined) error.syscall = message.syscall;
  }
  return error;
}
