import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, threadId } from 'node:worker_threads';
import { writeChartLine } from '../../formats/chartFiles.js';
import { FilePartialWriter } from '../../formats/kpiPartials.js';
import { COUNTRIES, PairSpill, type SpillChunk, USERS } from '../../formats/pairSpill.js';
import { GroupArrays, StreamDays } from '../../kpis/streamDays.js';
import { readFullySync } from '../../ops/fileIo.js';
import { SNIFF_BYTES } from '../../parse/catalogs.js';
import { looksBinary } from '../../parse/csvHeader.js';
import { IdInterner } from '../../parse/idInterner.js';
import { type ListenBatch, ListenParser, listenBatchArrays } from '../../parse/listenParser.js';
import { exampleText } from '../../parse/rejects.js';
import { readStreamsFile, StreamRowReader, streamsHeader } from '../../parse/streamRows.js';
import {
  aggregatePacked,
  aggregatePairs,
  checksumSegments,
  SEGMENT_KEYS,
  USER_SEGMENT_PAIRS,
} from '../../partials/aggregatePairs.js';
import { PairSorter } from '../../partials/radixSort.js';
import { SpillKernel } from '../../partials/spillPartition.js';
import { ByteWriter } from '../../partials/varint.js';
import {
  type LogHasher,
  logHasher,
  type RangeUnitDigests,
  rangeUnitDigests,
  unitHasher,
} from '../../sources/contentHash.js';
import { chunkLines } from '../../sources/lineChunks.js';
import { closeS3, csvInput } from '../../sources/locations.js';
import { readUnitLines } from '../../sources/logUnits.js';
import { ChartKernel } from '../../window/chartKernel.js';
import type { CountryChart } from '../../window/countryCharts.js';
import { MergeScratch, mergeSpans } from '../../window/mergeTopK.js';
import { doneReading, progressReporter } from './fileProgress.js';
import { aggregateDayPart } from './kpiDayPart.js';
import { distinctAbout } from './memoryPlan.js';
import { finishFilePartial } from './streamsParse.js';
import {
  type AggregatedBlock,
  type AggregatePartitionResult,
  type AggregatePartitionTask,
  EXIT_MESSAGE,
  errorMessage,
  type FinishSpillResult,
  type FinishSpillTask,
  type MergeCountriesResult,
  type MergeCountriesTask,
  type MergeUsersResult,
  type MergeUsersTask,
  type ParseChunkTask,
  type ParseStreamsRangeResult,
  type ParseStreamsRangeTask,
  type ParseStreamsResult,
  type ParseStreamsTask,
  type ParseUnitResult,
  type ParseUnitTask,
  type ProgressMessage,
  type Task,
  type UnitExample,
} from './tasks.js';
import { rangeTextWriter, readCountrySpans, readRangeSpans } from './windowPlan.js';

/**
 * A worker thread: runs one task at a time for the job on the main thread. The state it keeps
 * between tasks is its spill file of each day being parsed (phase 1 appends to it unit after
 * unit, until the day's finishSpill), by the file's path: days overlap (a day's units may follow
 * the day before's, and a day parsed again after a failure may come while the next is parsed),
 * and each day's rows must go to that day's file only.
 */
const spills = new Map<string, PairSpill>();
let readBuffer: Buffer | undefined;

/** This worker's spill file in a day's spill folder. */
function spillPathIn(spillDir: string): string {
  return join(spillDir, `worker-${threadId}.spill`);
}

const PROGRESS_EVERY_BYTES = 8 * 1024 * 1024;

/** The arrays of this worker's parsers' batches, one parser at a time (ListenParserOptions.arrays). */
let batchArrays: Omit<ListenBatch, 'length'> | undefined;

/** A parser writing valid rows into this worker's spill file for the day, with its reject examples. */
function dayParser(task: ParseUnitTask | ParseChunkTask): { parser: ListenParser; examples: UnitExample[] } {
  const spillPath = spillPathIn(task.spillDir);
  let target = spills.get(spillPath);
  if (target === undefined) {
    target = new PairSpill(spillPath, task.partitions, task.spillBufferBytes);
    spills.set(spillPath, target);
  }
  const examples: UnitExample[] = [];
  const atFileStart = task.kind === 'parseUnit' ? task.unit.start === 0 : task.index === 0;
  batchArrays ??= listenBatchArrays();
  const parser = new ListenParser({
    atFileStart,
    arrays: batchArrays,
    onBatch: (batch) => target.add(batch),
    onReject: (reason, line, bytes) => {
      if (examples.length < task.maxExamples) examples.push({ line, reason, text: exampleText(bytes) });
    },
  });
  return { parser, examples };
}

function unitResult(
  index: number,
  parser: ListenParser,
  examples: UnitExample[],
  digest: string,
): ParseUnitResult {
  return {
    unit: index,
    lines: parser.lines,
    header: parser.header,
    valid: parser.valid,
    rejects: Array.from(parser.rejects),
    examples,
    digest,
  };
}

function parseUnit(task: ParseUnitTask, hash: LogHasher): ParseUnitResult {
  if (readBuffer === undefined || readBuffer.length !== task.readBufferBytes) {
    readBuffer = Buffer.allocUnsafe(task.readBufferBytes);
  }
  const { parser, examples } = dayParser(task);
  const fd = openSync(task.path, 'r');
  let unreported = 0;
  let reportedRows = 0;
  const report = (): void => {
    parentPort!.postMessage({
      type: 'progress',
      bytes: unreported,
      rows: parser.lines - reportedRows,
    } satisfies ProgressMessage);
    unreported = 0;
    reportedRows = parser.lines;
  };
  try {
    readUnitLines(fd, task.unit, readBuffer, hash, (chunk) => {
      parser.push(chunk);
      unreported += chunk.length;
      if (unreported >= PROGRESS_EVERY_BYTES) report();
    });
    parser.end();
  } finally {
    closeSync(fd);
  }
  if (unreported > 0) report();
  return unitResult(task.unit.index, parser, examples, hash.digest());
}

/**
 * One chunk of a decompressed gzip log (see sources/lineChunks.ts): whole lines, except that it
 * may begin with the tail of a line an earlier chunk counted. The main thread reports progress
 * (in compressed bytes); this reports only the rows.
 */
function parseChunk(task: ParseChunkTask): ParseUnitResult {
  const { parser, examples } = dayParser(task);
  parser.push(chunkLines(task.bytes, task.skipFirstLine));
  parser.end();
  parentPort!.postMessage({ type: 'progress', bytes: 0, rows: parser.lines } satisfies ProgressMessage);
  return unitResult(task.index, parser, examples, '');
}

function finishSpill(task: FinishSpillTask): FinishSpillResult {
  const path = spillPathIn(task.spillDir);
  const spill = spills.get(path);
  spills.delete(path);
  return spill?.finish() ?? null;
}

function aggregatePartition(task: AggregatePartitionTask): AggregatePartitionResult {
  const reuse = task.reuse ?? [];
  return {
    partition: task.partition,
    users: aggregateTable(task, USERS, task.segmentKeys, USER_SEGMENT_PAIRS, reuse),
    countries: aggregateTable(task, COUNTRIES, SEGMENT_KEYS, Number.POSITIVE_INFINITY, reuse),
  };
}

/**
 * The encoded block copied out of the encoder (which the next block reuses): into the smallest of
 * `reuse` that holds it, taken from the list, or into a new buffer an eighth longer than the block,
 * so that it holds one of the next partitions' blocks (of about the same size) when it comes back.
 */
function blockBytes(encoded: Uint8Array, reuse: ArrayBuffer[]): Uint8Array {
  let best = -1;
  for (let i = 0; i < reuse.length; i++) {
    const size = reuse[i]!.byteLength;
    if (size >= encoded.length && (best < 0 || size < reuse[best]!.byteLength)) best = i;
  }
  const buffer = best >= 0 ? reuse.splice(best, 1)[0]! : new ArrayBuffer(Math.ceil(encoded.length * 1.125));
  const bytes = new Uint8Array(buffer, 0, encoded.length);
  bytes.set(encoded);
  return bytes;
}

/** Load one (table, partition) from every spill file and aggregate it into a block. */
function aggregateTable(
  { spills, partition, largestTable = 0 }: AggregatePartitionTask,
  table: number,
  segmentKeys: number,
  segmentPairs: number,
  reuse: ArrayBuffer[],
): AggregatedBlock {
  const runs: { path: string; chunk: SpillChunk }[] = [];
  let n = 0;
  let wide = false;
  for (const s of spills) {
    for (const chunk of s.chunks) {
      if (chunk.table !== table || chunk.partition !== partition) continue;
      runs.push({ path: s.path, chunk });
      n += chunk.pairs;
      wide ||= chunk.wide;
    }
  }
  // The encoder and the sort's buffers are made for the day's largest table at once (see the task).
  const room = Math.max(n, largestTable);
  const out = blockWriter(room);
  if (!wide) {
    // Every pair is narrow: read them back to back into the sorter's memory, no conversion.
    const sorter = pairSorter(room);
    const raw = new Uint8Array(sorter.pairs.buffer, sorter.pairs.byteOffset, sorter.pairs.byteLength);
    let at = 0;
    forEachRun(runs, (fd, chunk) => {
      readFully(fd, raw, at, chunk.pairs * 8, chunk.offset);
      at += chunk.pairs * 8;
    });
    // The 'words' layout: the songs read in place by the window's merge (aggregatePairs.ts).
    const stats = aggregatePacked(sorter, n, out, segmentKeys, segmentPairs);
    const bytes = blockBytes(out.result(), reuse);
    checksumSegments(stats.segments, bytes);
    return { bytes, stats };
  }
  const keys = new Float64Array(n);
  const songs = new Float64Array(n);
  let at = 0;
  forEachRun(runs, (fd, chunk) => {
    const raw = new Uint8Array(chunk.pairs * (chunk.wide ? 16 : 8));
    readFully(fd, raw, 0, raw.length, chunk.offset);
    if (chunk.wide) {
      const values = new Float64Array(raw.buffer);
      for (let i = 0; i < chunk.pairs; i++, at++) {
        keys[at] = values[2 * i]!;
        songs[at] = values[2 * i + 1]!;
      }
    } else {
      const values = new Uint32Array(raw.buffer);
      for (let i = 0; i < chunk.pairs; i++, at++) {
        songs[at] = values[2 * i]!;
        keys[at] = values[2 * i + 1]!;
      }
    }
  });
  const stats = aggregatePairs(keys, songs, n, out, segmentKeys, segmentPairs);
  const bytes = blockBytes(out.result(), reuse);
  checksumSegments(stats.segments, bytes);
  return { bytes, stats };
}

/**
 * The packed sort's memory (the pairs and the radix sort's second region), kept from one
 * aggregation task to the next: a day's partitions are of similar sizes, and allocating (and
 * zeroing) fresh memory per table per partition cost more than the reuse holds. Kept too while
 * the worker parses (the days of a cold week overlap: a worker goes from one day's parse to
 * another's partitions and back), dropped when it turns to the charts or the KPIs (see run). A
 * WebAssembly memory let go is given back only at some later collection: made afresh for each
 * day, the week's sorters piled up (a cold week of 7 x 20M rows peaked 100 MB higher).
 */
let sorter: PairSorter | undefined;
/** The tasks of a day's partial, through which the sorter is kept. */
const BUILDS_PARTIALS = new Set<Task['kind']>([
  'parseUnit',
  'parseChunk',
  'finishSpill',
  'aggregatePartition',
]);
/** The encoder's buffer, kept likewise: each block leaves as a copy of its bytes (blockBytes). */
let encoder: ByteWriter | undefined;

/** An empty writer with room for about 5 bytes a pair (a block takes 5 to 6 once encoded). */
function blockWriter(n: number): ByteWriter {
  const bytes = Math.max(1024, n * 5);
  if (encoder === undefined || encoder.bytes.length < bytes)
    encoder = new ByteWriter(Math.ceil(bytes * 1.125));
  encoder.length = 0;
  return encoder;
}

function pairSorter(n: number): PairSorter {
  // A little headroom, for a task without the day's largest table (largestTable), whose next
  // partition, a few percent bigger, then does not reallocate.
  if (sorter === undefined || sorter.capacity < n) sorter = new PairSorter(Math.ceil(n * 1.125));
  return sorter;
}

/** Open each spill file once and visit its runs in order. */
function forEachRun(
  runs: { path: string; chunk: SpillChunk }[],
  visit: (fd: number, chunk: SpillChunk) => void,
): void {
  let path = '';
  let fd = -1;
  try {
    for (const run of runs) {
      if (run.path !== path) {
        if (fd >= 0) closeSync(fd);
        fd = openSync(run.path, 'r');
        path = run.path;
      }
      visit(fd, run.chunk);
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

function readFully(fd: number, into: Uint8Array, at: number, length: number, position: number): void {
  if (readFullySync(fd, into, at, length, position) < length) throw new Error('spill file truncated');
}

/**
 * This worker's memory for merging country partitions, reused partition after partition: the
 * kernel that merges them (its memory holds the blocks' bytes), and mergeSpans' scratch arrays (a
 * country's songs of the week) for the partitions the kernel leaves to it. Fresh memory costs its
 * page faults each time (about 11 us a 4 KiB page on these VMs; docs/BENCHMARKS.md). Let go when
 * the countries are done, before the user chart's own peak.
 */
let countryMemory: { kernel: ChartKernel; scratch: MergeScratch } | undefined;

/** The window's country charts of one partition: its blocks of every day, merged. */
function mergeCountries(task: MergeCountriesTask): MergeCountriesResult {
  countryMemory ??= { kernel: new ChartKernel(), scratch: new MergeScratch() };
  const spans = readCountrySpans(task.sources, countryMemory.kernel.countryRoom(task.top));
  let countries = countryMemory.kernel.countryCharts(spans, task.top);
  if (countries === undefined) {
    const charts: CountryChart[] = [];
    mergeSpans(
      spans,
      task.top,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      (country, songs, plays, n) => {
        // Typed copies: a JavaScript array a chart was made element by element and cloned so.
        charts.push({ country, songs: songs.slice(0, n), plays: plays.slice(0, n) });
      },
      countryMemory.scratch,
    );
    countries = charts;
  }
  return { partition: task.partition, countries };
}

/** This worker's arrays for a KPI day part's groups, reused part after part (see GroupArrays). */
const dayArrays = new GroupArrays();

/** This worker's user chart kernel: its memory holds a user range's spans, range after range. */
let userCharts: ChartKernel | undefined;

/**
 * The user chart rows of one user range: the range's segments of every users block of every day,
 * merged into text rows (returned as bytes, in user order, for the job to write in place). By the
 * kernel (window/chartKernel.ts), or by mergeSpans where it leaves the range to it.
 */
function mergeUsers(task: MergeUsersTask): MergeUsersResult {
  userCharts ??= new ChartKernel();
  const spans = readRangeSpans(task.sources, userCharts.userRoom(task.top));
  const out = rangeTextWriter(task.inputBytes, task.textBuffer);
  let rows = userCharts.userRows(spans, task.top, task.low, task.high, out);
  rows ??= mergeSpans(spans, task.top, task.low, task.high, (user, songs, plays, n) => {
    writeChartLine(out, user, songs, plays, n);
  }).keys;
  // Handed over without a copy: the job receives a view of this buffer.
  return { range: task.range, bytes: out.result(), rows };
}

/** The users' and tracks' interners of this worker's streams parses, kept from file to file. */
const interners = { users: new IdInterner(), tracks: new IdInterner() };

/**
 * This worker's interners, emptied for a file (or range) of `bytes` to parse: one task at a time
 * uses them. With `users`, about how many users the file may hold, the users' table is sized
 * once for them, or for the rows its bytes hold at ROW_BYTES_ABOUT if fewer (a large users
 * catalogue and a small file): grown from its least, the table of a file of 1.6M users was
 * rehashed a dozen times (0.2 s of the worker's first file, and as many dead tables to be
 * collected). Sized for fewer than come, it grows as before.
 */
function parseInterners(bytes: number, users: number | undefined): { users: IdInterner; tracks: IdInterner } {
  interners.users.clear();
  interners.tracks.clear();
  if (users !== undefined) interners.users.reserve(distinctAbout(users, Math.ceil(bytes / ROW_BYTES_ABOUT)));
  return interners;
}

/**
 * About the bytes of a streams row, for sizing only: a listen time of 20 bytes, two ids and their
 * commas (the generated rows are 52 bytes; the least a valid row takes is MIN_STREAM_ROW_BYTES).
 */
const ROW_BYTES_ABOUT = 32;

/**
 * A KPI streams file, parsed here (files are read in parallel) into its partial on disk. The file
 * is read as a stream (a local file or an S3 object), so this task is the one that awaits.
 */
async function parseStreams(task: ParseStreamsTask): Promise<ParseStreamsResult> {
  const started = Date.now();
  // The rows go to the partial a block at a time as they are read (formats/kpiPartials.ts).
  const partial = new FilePartialWriter(task.partialDir, task.name);
  try {
    const rows = new StreamDays(
      (day, users, tracks, times) => partial.addBlock(day, users, tracks, times),
      undefined,
      parseInterners(task.size, task.users),
    );
    const result = await readStreamsFile(
      csvInput(task, SNIFF_BYTES),
      rows,
      await logHasher(false),
      progressReporter(task.progress),
    );
    doneReading(task.progress);
    if (result.bad) {
      partial.discard();
      return { result, days: [], ms: Date.now() - started };
    }
    rows.flush();
    // Written from where they are: the interners are done.
    partial.endSegment(rows.users.nameListView(), rows.tracks.nameListView());
    const written = finishFilePartial(partial, task.partialDir, task, {
      hash: result.hash,
      report: result.report,
      examples: result.examples,
    });
    return { result, ...written, ms: Date.now() - started };
  } catch (error) {
    partial.discard();
    throw error;
  }
}

/**
 * A range of a streams file: the lines that start in it, their rows written a block at a time to
 * a scratch file, then their names: a segment, which the file's partial copies in and removes. A
 * later range reads the file's header from its head; a head that is binary or holds no whole
 * record is the first range's to report, so this one reads nothing (the file is then read whole).
 */
function parseStreamsRange(task: ParseStreamsRangeTask, hash: RangeUnitDigests): ParseStreamsRangeResult {
  const started = Date.now();
  const scratch = new FilePartialWriter(task.partialDir, task.name);
  const rows = new StreamDays(
    (day, users, tracks, times) => scratch.addBlock(day, users, tracks, times),
    undefined,
    parseInterners(task.end - task.start, task.users),
  );
  const file = { name: task.name, path: task.path };
  let fd: number | undefined;
  try {
    fd = openSync(task.path, 'r');
    const head = Buffer.alloc(SNIFF_BYTES);
    const headBytes = readFullySync(fd, head, 0, SNIFF_BYTES, 0);
    const header = task.index === 0 ? undefined : streamsHeader(head.subarray(0, headBytes));
    const reader = new StreamRowReader(file, rows, { midFile: task.index > 0, header });
    let units: ParseStreamsRangeResult['units'];
    if (!looksBinary(head.subarray(0, headBytes)) && (task.index === 0 || header !== undefined)) {
      readUnitLines(fd, task, Buffer.allocUnsafe(1 << 20), hash, (chunk) => reader.push(chunk));
      // The units begun in the range hashed here, the last one read on to its end: the file is
      // not read again to be hashed.
      const opened = fd;
      units = hash.finish((pos, into) => readSync(opened, into, 0, into.length, pos));
    }
    const range = reader.finish(task.last);
    rows.flush();
    return {
      ...range,
      ...(units === undefined ? {} : { units }),
      endsAtRecord: range.endsAtRecord && (task.index === 0 || header !== undefined),
      // Written from where they are: the interners are done.
      segment: scratch.closeSegment(rows.users.nameListView(), rows.tracks.nameListView()),
      ms: Date.now() - started,
    };
  } catch (error) {
    scratch.discard();
    throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

type Done = { result: unknown; transfer: ArrayBuffer[] };

async function run(task: Task): Promise<Done> {
  if (task.kind !== 'aggregatePartition') encoder = undefined;
  if (!BUILDS_PARTIALS.has(task.kind)) {
    sorter = undefined;
    SpillKernel.dropSpare();
  }
  if (task.kind !== 'mergeCountries') countryMemory = undefined;
  switch (task.kind) {
    case 'parseUnit':
      return { result: parseUnit(task, await unitHasher()), transfer: [] };
    case 'parseChunk':
      return { result: parseChunk(task), transfer: [] };
    case 'finishSpill':
      return { result: finishSpill(task), transfer: [] };
    case 'aggregatePartition': {
      const result = aggregatePartition(task);
      return {
        result,
        transfer: [result.users.bytes.buffer as ArrayBuffer, result.countries.bytes.buffer as ArrayBuffer],
      };
    }
    case 'mergeCountries':
      return { result: mergeCountries(task), transfer: [] };
    case 'mergeUsers': {
      const result = mergeUsers(task);
      return { result, transfer: [result.bytes.buffer as ArrayBuffer] };
    }
    case 'parseStreams':
      return { result: await parseStreams(task), transfer: [] };
    case 'parseStreamsRange':
      return { result: parseStreamsRange(task, await rangeUnitDigests(task.start, task.end)), transfer: [] };
    case 'kpiDayPart': {
      const result = aggregateDayPart(task, dayArrays);
      // Moved, not copied: an aggregate's plays at hour granularity are tens of MB, which stayed
      // here as garbage as their copy was merged.
      const { listen, total, unique, plays } = result;
      const arrays = [listen, total, unique, plays.counts, ...(plays.ids === undefined ? [] : [plays.ids])];
      return { result, transfer: arrays.map((a) => a.buffer as ArrayBuffer) };
    }
  }
}

// The pool sends a worker its next task only once the last is done, so one runs at a time here.
parentPort!.on('message', async (task: Task | typeof EXIT_MESSAGE) => {
  if (task === EXIT_MESSAGE) {
    // Kept-alive S3 connections would hold the thread's event loop open.
    closeS3();
    parentPort!.close();
    return;
  }
  try {
    const { result, transfer } = await run(task);
    parentPort!.postMessage({ type: 'done', result }, transfer);
  } catch (error) {
    parentPort!.postMessage(errorMessage(error));
  }
});
