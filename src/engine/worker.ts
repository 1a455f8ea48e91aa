import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, threadId } from 'node:worker_threads';
import { ListenParser } from '../parse/listenParser.js';
import { exampleText } from '../parse/rejects.js';
import { aggregatePacked, aggregatePairs } from '../partials/aggregatePairs.js';
import { COUNTRIES, PairSpill, type SpillChunk, type SpillIndex, USERS } from '../partials/pairSpill.js';
import { readBlock } from '../partials/partialFile.js';
import { ByteWriter } from '../partials/varint.js';
import { mergeSortedCharts } from '../sinks/mergeSortedCharts.js';
import { readUnitLines, unitHash } from '../sources/logUnits.js';
import { writeChartLine } from '../window/chartLines.js';
import { mergeTopK } from '../window/mergeTopK.js';
import type {
  AggregatedBlock,
  AggregatePartitionResult,
  AggregatePartitionTask,
  CountryChart,
  FinishSpillResult,
  MergeUserRangeResult,
  MergeUserRangeTask,
  MergeWindowResult,
  MergeWindowTask,
  ParseUnitResult,
  ParseUnitTask,
  ProgressMessage,
  Task,
  UnitExample,
} from './tasks.js';
import { writeAllSync } from './writeAll.js';

/**
 * A worker thread: runs one task at a time for the job on the main thread. The only state it
 * keeps between tasks is the current day's spill file (phase 1 appends to it unit after unit).
 */
let spill: PairSpill | undefined;
let readBuffer: Buffer | undefined;

const PROGRESS_EVERY_BYTES = 8 * 1024 * 1024;

function parseUnit(task: ParseUnitTask): ParseUnitResult {
  const spillPath = join(task.spillDir, `worker-${threadId}.spill`);
  if (spill === undefined || spill.path !== spillPath) {
    spill = new PairSpill(spillPath, task.partitions, task.spillBufferBytes);
  }
  if (readBuffer === undefined || readBuffer.length !== task.readBufferBytes) {
    readBuffer = Buffer.allocUnsafe(task.readBufferBytes);
  }
  const target = spill;
  const examples: UnitExample[] = [];
  const parser = new ListenParser({
    onBatch: (batch) => target.add(batch),
    onReject: (reason, line, bytes) => {
      if (examples.length < task.maxExamples) examples.push({ line, reason, text: exampleText(bytes) });
    },
  });
  const hash = unitHash();
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
  return {
    unit: task.unit.index,
    lines: parser.lines,
    valid: parser.valid,
    rejects: Array.from(parser.rejects),
    examples,
    digest: hash.digest('hex'),
  };
}

function finishSpill(): FinishSpillResult {
  const index = spill?.finish() ?? null;
  spill = undefined;
  return index;
}

function aggregatePartition(task: AggregatePartitionTask): AggregatePartitionResult {
  return {
    partition: task.partition,
    users: aggregateTable(task.spills, USERS, task.partition),
    countries: aggregateTable(task.spills, COUNTRIES, task.partition),
  };
}

/** Load one (table, partition) from every spill file and aggregate it into a block. */
function aggregateTable(spills: SpillIndex[], table: number, partition: number): AggregatedBlock {
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
  const out = new ByteWriter(Math.max(1024, n * 5));
  if (!wide) {
    // Every pair is narrow: read them back to back as uint64 keys, no conversion.
    const packed = new BigUint64Array(n);
    const bytes = new Uint8Array(packed.buffer);
    let at = 0;
    forEachRun(runs, (fd, chunk) => {
      readFully(fd, bytes, at, chunk.pairs * 8, chunk.offset);
      at += chunk.pairs * 8;
    });
    const stats = aggregatePacked(packed, out);
    return { bytes: out.result().slice(), stats };
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
  const stats = aggregatePairs(keys, songs, n, out);
  return { bytes: out.result().slice(), stats };
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
  let done = 0;
  while (done < length) {
    const n = readSync(fd, into, at + done, length - done, position + done);
    if (n === 0) throw new Error('spill file truncated');
    done += n;
  }
}

function mergeWindow(task: MergeWindowTask): MergeWindowResult {
  const userBlocks: Uint8Array[] = [];
  const countryBlocks: Uint8Array[] = [];
  for (const source of task.sources) {
    const fd = openSync(source.path, 'r');
    try {
      for (const ref of source.users) userBlocks.push(readBlock(fd, ref, source.path));
      for (const ref of source.countries) countryBlocks.push(readBlock(fd, ref, source.path));
    } finally {
      closeSync(fd);
    }
  }

  // Keys arrive ascending, so the user ranges are filled one after the other.
  const rangeBytes = new Array<number>(task.boundaries.length + 1).fill(0);
  const out = new ByteWriter(1 << 20);
  let range = -1;
  let fd = -1;
  const flush = (): void => {
    writeAllSync(fd, out.result());
    rangeBytes[range]! += out.length;
    out.length = 0;
  };
  let users: { keys: number; pairs: number };
  try {
    users = mergeTopK(userBlocks, task.top, (user, songs, plays, n) => {
      if (range < 0 || (range < task.boundaries.length && user >= task.boundaries[range]!)) {
        if (fd >= 0) {
          flush();
          closeSync(fd);
        }
        range = Math.max(range, 0);
        while (range < task.boundaries.length && user >= task.boundaries[range]!) range++;
        fd = openSync(`${task.usersPrefix}-${range}.txt`, 'w');
      }
      writeChartLine(out, user, songs, plays, n);
      if (out.length >= 1 << 20) flush();
    });
    if (fd >= 0) flush();
  } finally {
    if (fd >= 0) closeSync(fd);
  }

  const countries: CountryChart[] = [];
  mergeTopK(countryBlocks, task.top, (country, songs, plays, n) => {
    countries.push({
      country,
      songs: Array.from(songs.subarray(0, n)),
      plays: Array.from(plays.subarray(0, n)),
    });
  });
  return { partition: task.partition, users: users.keys, userPairs: users.pairs, rangeBytes, countries };
}

function mergeUserRange(task: MergeUserRangeTask): MergeUserRangeResult {
  const fd = openSync(task.outputPath, 'r+');
  try {
    return mergeSortedCharts(task.inputs, fd, task.position);
  } finally {
    closeSync(fd);
  }
}

function run(task: Task): { result: unknown; transfer: ArrayBuffer[] } {
  switch (task.kind) {
    case 'parseUnit':
      return { result: parseUnit(task), transfer: [] };
    case 'finishSpill':
      return { result: finishSpill(), transfer: [] };
    case 'aggregatePartition': {
      const result = aggregatePartition(task);
      return {
        result,
        transfer: [result.users.bytes.buffer as ArrayBuffer, result.countries.bytes.buffer as ArrayBuffer],
      };
    }
    case 'mergeWindow':
      return { result: mergeWindow(task), transfer: [] };
    case 'mergeUserRange':
      return { result: mergeUserRange(task), transfer: [] };
  }
}

parentPort!.on('message', (task: Task) => {
  try {
    const { result, transfer } = run(task);
    parentPort!.postMessage({ type: 'done', result }, transfer);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    const { code, path } = e as { code?: string; path?: string };
    parentPort!.postMessage({ type: 'error', message: e.message, stack: e.stack, code, path });
  }
});
