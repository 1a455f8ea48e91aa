import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DayRecord,
  logIdentity,
  parsedUnderCurrentRule,
  type StateStore,
} from '../../formats/manifest.js';
import type { SpillIndex } from '../../formats/pairSpill.js';
import { type PartialDirectory, PartialWriter, readPartialDirectory } from '../../formats/partialFile.js';
import { compactDay, isoDay } from '../../ops/dates.js';
import { PlaytallyError } from '../../ops/errors.js';
import { settleAll } from '../../ops/settleAll.js';
import { ROW_RULE_VERSION } from '../../parse/listenParser.js';
import { emptyRejectCounts, MAX_EXAMPLES, REJECT_REASONS, type RejectExample } from '../../parse/rejects.js';
import { segmentKeysFor } from '../../partials/aggregatePairs.js';
import { combineUnitHashes, sameContent } from '../../sources/contentHash.js';
import { estimateGzipSize, streamLogChunks } from '../../sources/lineChunks.js';
import { isS3, openFile, statFile } from '../../sources/locations.js';
import { type LogFile, logReadFailure } from '../../sources/logFiles.js';
import { logUnits } from '../../sources/logUnits.js';
import { type MemoryPlan, partitionsFor } from './memoryPlan.js';
import type {
  AggregatePartitionResult,
  AggregatePartitionTask,
  FinishSpillResult,
  ParseChunkTask,
  ParseUnitResult,
  Task,
} from './tasks.js';
import type { WorkerPool } from './workerPool.js';

export interface DayPartial {
  record: DayRecord;
  directory: PartialDirectory<DayRecord>;
  path: string;
  /** Built in this run (false: reused from the state directory). */
  built: boolean;
}

/**
 * The partial for one log day: reused when the manifest says it was built from this very file
 * (same size and mtime, or, if the mtime moved, the same content hash) and its header and
 * directory check out; built otherwise, or when `force` says it was found damaged. A day built
 * calls `overlap` once its partitions' aggregation is queued (see buildDayPartial).
 */
export async function ensureDayPartial(
  log: LogFile,
  state: StateStore,
  pool: WorkerPool,
  plan: MemoryPlan,
  runTmpDir: string,
  force = false,
  overlap?: () => void,
): Promise<DayPartial> {
  const key = compactDay(log.day);
  const known = state.day(key);
  // A day parsed under an older row rule is parsed again, unless its log is gone.
  const ruleHolds =
    known !== undefined && (parsedUnderCurrentRule(known) || (await statFile(log.path)) === undefined);
  if (!force && known && ruleHolds && known.file === log.name && known.size === log.size) {
    const reusable = readIfWhole(state.partialPath(known));
    if (reusable) {
      if (known.mtimeMs === log.mtimeMs)
        return { record: known, directory: reusable, path: state.partialPath(known), built: false };
      // Touched but maybe unchanged: a hash pass costs a fraction of a rebuild.
      if (await sameContent(log, known.hash)) {
        const record = { ...known, mtimeMs: log.mtimeMs };
        state.putDay(key, record);
        return { record, directory: reusable, path: state.partialPath(record), built: false };
      }
    }
  }
  if ((await statFile(log.path)) === undefined) {
    // Its partial damaged (or rebuilt on request) and its log gone: the day cannot be had.
    throw new PlaytallyError(
      'missing_days',
      `the partial of ${isoDay(log.day)} is damaged or missing and its log ${log.path} is gone: ` +
        'put the log back (or its archived copy) to rebuild it',
      { date: isoDay(log.day), file: log.path },
    );
  }
  return buildDayPartial(log, state, pool, plan, runTmpDir, overlap);
}

/** The bytes a log holds once decompressed, or an estimate of them (see estimateGzipSize). */
function dataSize(log: LogFile): Promise<number> | number {
  return log.compressed ? estimateGzipSize(log.path, log.size) : log.size;
}

/** Whether a day's partial is there and its header and directory check out. */
export function partialIsWhole(path: string): boolean {
  return readIfWhole(path) !== undefined;
}

function readIfWhole(path: string): PartialDirectory<DayRecord> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readPartialDirectory<DayRecord>(path);
  } catch {
    // Damaged, truncated, unreadable, not even a file: the log is still there to rebuild it.
    return undefined;
  }
}

/**
 * Phase 1 parses the log into the workers' spill files, phase 2 aggregates each partition into a
 * block of the partial. `overlap` is called when every partition's task is queued: the pool runs
 * tasks in the order they are queued, so a next day's parse queued then starts on each worker as
 * it leaves this day's last partitions, instead of both waiting for the slowest partition and this
 * thread's commit (about 0.15 s a day at 20M rows).
 */
async function buildDayPartial(
  log: LogFile,
  state: StateStore,
  pool: WorkerPool,
  plan: MemoryPlan,
  runTmpDir: string,
  overlap?: () => void,
): Promise<DayPartial> {
  const started = Date.now();
  const key = compactDay(log.day);
  const partitions = partitionsFor(await dataSize(log), plan);
  // A folder of this build's own: the workers keep a spill file per folder, and a day built again
  // (a retried failure, a damaged partial) never shares one with an earlier build of it.
  const spillDir = mkdtempSync(join(runTmpDir, `spill-${key}-`));
  try {
    // Phase 1: parse in parallel, radix-partitioning valid rows into spill files.
    let phase1: ParsedLog;
    try {
      phase1 =
        log.compressed || isS3(log.path)
          ? await parseStreamedLog(log, pool, plan, spillDir, partitions)
          : await parsePlainLog(log, pool, plan, spillDir, partitions);
    } catch (error) {
      // Close this day's spill file in each worker: a run going on to other days leaves none open.
      await pool.runOnEach({ kind: 'finishSpill', spillDir }).catch(() => {});
      throw error;
    }
    const { parsed, hash } = phase1;
    const spills = (await pool.runOnEach<FinishSpillResult>({ kind: 'finishSpill', spillDir })).filter(
      (s): s is SpillIndex => s !== null,
    );

    // Phase 2: aggregate each partition, written in partition order for a deterministic file.
    const partialName = `partials/listen-${key}-${hash.slice(0, 16)}.ptp`;
    const writer = new PartialWriter(join(state.dir, partialName), partitions);
    let users = 0;
    let userSongPairs = 0;
    let countrySongPairs = 0;
    try {
      const ready = new Map<number, AggregatePartitionResult>();
      let next = 0;
      // The buffers of the blocks written, handed back to the workers for the next blocks.
      const written: ArrayBuffer[] = [];
      const tablePairs = new Map<string, number>();
      for (const s of spills)
        for (const c of s.chunks) {
          const table = `${c.table}:${c.partition}`;
          tablePairs.set(table, (tablePairs.get(table) ?? 0) + c.pairs);
        }
      const largestTable = Math.max(0, ...tablePairs.values());
      const handBack = (task: Task): ArrayBuffer[] => {
        const reuse = written.splice(0, 2);
        (task as AggregatePartitionTask).reuse = reuse;
        return reuse;
      };
      // Settled all before a failure is told: a partition still running would write into the
      // writer aborted below (its descriptor perhaps reused by then).
      const aggregated = settleAll(
        Array.from({ length: partitions }, (_, partition) =>
          pool
            .run<AggregatePartitionResult>(
              {
                kind: 'aggregatePartition',
                partition,
                segmentKeys: segmentKeysFor(partitions),
                largestTable,
                // Its own runs only: a day of 20M rows spills about 1,300 runs, and every task
                // carried every run's description through the structured clone.
                spills: spills.map((s) => ({
                  path: s.path,
                  chunks: s.chunks.filter((c) => c.partition === partition),
                })),
              },
              [],
              handBack,
            )
            .then((result) => {
              ready.set(result.partition, result);
              for (let r = ready.get(next); r !== undefined; r = ready.get(next)) {
                ready.delete(next);
                writer.writePartition(r.users.bytes, r.users.stats, r.countries.bytes, r.countries.stats);
                // Written (synchronously): their buffers can go back.
                written.push(r.users.bytes.buffer as ArrayBuffer, r.countries.bytes.buffer as ArrayBuffer);
                users += r.users.stats.keys;
                userSongPairs += r.users.stats.pairs;
                countrySongPairs += r.countries.stats.pairs;
                next++;
              }
            }),
        ),
      );
      overlap?.();
      await aggregated;
      const record = dayRecord(log, hash, partialName, partitions, parsed, {
        users,
        userSongPairs,
        countrySongPairs,
        started,
      });
      const directory = writer.commit(record);
      state.putDay(key, record);
      return { record, directory, path: join(state.dir, partialName), built: true };
    } catch (error) {
      rmSync(writer.abort(), { force: true });
      throw error;
    }
  } finally {
    removeInBackground(spillDir);
  }
}

/**
 * Remove a day's spill folder without waiting: unlinking the day's spill files (320 MB for 20M
 * rows) took about 50 ms of the main thread while both workers waited for the next day. It is
 * renamed first, so that it is gone from its name at once; whatever is left when the run ends
 * goes with the run's folder (EmbeddedChartEngine.close).
 */
function removeInBackground(dir: string): void {
  const gone = `${dir}.gone-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    renameSync(dir, gone);
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  rm(gone, { recursive: true, force: true }).catch(() => {});
}

interface ParsedLog {
  parsed: ParseUnitResult[];
  hash: string;
}

/** A plain log: its 32 MB units, read and parsed by the workers directly. */
async function parsePlainLog(
  log: LogFile,
  pool: WorkerPool,
  plan: MemoryPlan,
  spillDir: string,
  partitions: number,
): Promise<ParsedLog> {
  // Every unit settled before a failure is told: one still queued would open a spill file after
  // the day's were closed (finishSpill), and leave it open in its worker.
  const parsed = await settleAll(
    logUnits(log.size).map((unit) =>
      pool.run<ParseUnitResult>({
        kind: 'parseUnit',
        path: log.path,
        unit,
        spillDir,
        partitions,
        spillBufferBytes: plan.spillBufferBytes,
        readBufferBytes: plan.readBufferBytes,
        maxExamples: MAX_EXAMPLES,
      }),
    ),
  );
  return {
    parsed,
    hash: combineUnitHashes(
      log.size,
      parsed.map((p) => p.digest),
    ),
  };
}

/**
 * A gzip log, or any log on S3: read here as a stream (decompressed on the way if gzip) and handed
 * to the workers in chunks of whole lines. At most two chunks per worker are in flight, which
 * bounds memory and keeps every worker busy; the stream is held back meanwhile.
 */
async function parseStreamedLog(
  log: LogFile,
  pool: WorkerPool,
  plan: MemoryPlan,
  spillDir: string,
  partitions: number,
): Promise<ParsedLog> {
  const parsed: ParseUnitResult[] = [];
  const inFlight = new Set<Promise<void>>();
  const limit = pool.size * 2;
  try {
    const { hash } = await streamLogChunks(
      await openFile(log.path),
      { gzip: log.compressed, label: log.path },
      async (chunk) => {
        const task: ParseChunkTask = {
          kind: 'parseChunk',
          index: chunk.index,
          bytes: chunk.bytes,
          skipFirstLine: chunk.skipFirstLine,
          spillDir,
          partitions,
          spillBufferBytes: plan.spillBufferBytes,
          maxExamples: MAX_EXAMPLES,
        };
        const done = pool.run<ParseUnitResult>(task, [chunk.bytes.buffer as ArrayBuffer]).then((result) => {
          parsed[result.unit] = result;
        });
        const settled = (): void => {
          inFlight.delete(done);
        };
        done.then(settled, settled);
        inFlight.add(done);
        while (inFlight.size >= limit) await Promise.race(inFlight);
      },
      (bytes) => pool.progress({ type: 'progress', bytes, rows: 0 }),
    );
    await Promise.all(inFlight);
    return { parsed, hash };
  } catch (error) {
    // Let the chunks still on the workers finish before the spill folder goes.
    await Promise.allSettled(inFlight);
    // A damaged gzip or an unreadable file is that log's problem only.
    throw logReadFailure(error, log);
  }
}

function dayRecord(
  log: LogFile,
  hash: string,
  partial: string,
  partitions: number,
  parsed: ParseUnitResult[],
  sizes: { users: number; userSongPairs: number; countrySongPairs: number; started: number },
): DayRecord {
  const rejects = emptyRejectCounts();
  const examples: RejectExample[] = [];
  let lines = 0;
  let header = 0;
  let valid = 0;
  for (const unit of parsed) {
    unit.rejects.forEach((n, reason) => {
      rejects[REJECT_REASONS[reason]!] += n;
    });
    for (const e of unit.examples) {
      if (examples.length < MAX_EXAMPLES) {
        examples.push({ line: lines + header + e.line, reason: REJECT_REASONS[e.reason]!, text: e.text });
      }
    }
    lines += unit.lines;
    header += unit.header;
    valid += unit.valid;
  }
  return {
    ...logIdentity(log, hash),
    rule: ROW_RULE_VERSION,
    partial,
    partitions,
    lines,
    header,
    valid,
    rejected: lines - valid,
    rejects,
    examples,
    users: sizes.users,
    userSongPairs: sizes.userSongPairs,
    countrySongPairs: sizes.countrySongPairs,
    builtAt: new Date().toISOString(),
    buildMs: Date.now() - sizes.started,
  };
}
