import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type FilePartialHeader, FilePartialWriter, filePartialName } from '../../formats/kpiPartials.js';
import { MAX_ROW_EXAMPLES, type RowExample } from '../../parse/catalogs.js';
import type { StreamFileResult } from '../../parse/streamRows.js';
import { combineUnitHashes } from '../../sources/contentHash.js';
import { isS3, statFile } from '../../sources/locations.js';
import { UNIT_BYTES } from '../../sources/logUnits.js';
import { type FileProgress, fileProgress, unreadBytes } from './fileProgress.js';
import type { ParseStreamsRangeResult, ParseStreamsRangeTask, ParseStreamsResult } from './tasks.js';
import type { WorkerPool } from './workerPool.js';

/**
 * The least a range of a streams file is: ranges smaller than this are not worth their cost.
 */
export const MIN_RANGE_BYTES = 32 * 1024 * 1024;

/**
 * The largest range for these files: a worker's share of them. A file larger than a share (one
 * large file, or one much larger than the others) is cut into ranges read on several workers, so
 * that no worker is left with more than its share while others wait; files of a share or less are
 * read whole, one a worker, but for a last round that leaves workers idle (rangesFor): ranges cost
 * their own (each interns its ids anew, and the main thread hashes the file and copies the ranges
 * into the partial).
 */
export function rangeBytesFor(files: { size: number }[], threads: number): number {
  const total = files.reduce((n, f) => n + f.size, 0);
  return Math.max(MIN_RANGE_BYTES, Math.ceil(total / threads));
}

export interface StreamsFileToParse {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * Each file parsed into its partial in `partialDir` on the pool, in order of the list (one
 * promise a file). A large local file is cut into ranges read in parallel (rangesFor), its
 * content hash computed here meanwhile, and its partial written here from the ranges, while the
 * workers go on with the other files (writeRangesPartial: a segment a range, the same rows and
 * report as a whole-file read gives). A file whose ranges do not meet at a record's end (a quoted
 * field with a line break across a cut), that changed while it was read, or that a range could
 * not read, is read again whole.
 */
export function parseStreamsFiles(
  pool: WorkerPool,
  files: StreamsFileToParse[],
  partialDir: string,
  options: {
    /** The largest range (default: rangeBytesFor the local files). */
    rangeBytes?: number;
    /** About how many users a file may hold (the users catalogue's rows): each worker sizes its table once. */
    users?: number;
  } = {},
): Promise<ParseStreamsResult>[] {
  const rangeBytes =
    options.rangeBytes ??
    rangeBytesFor(
      files.filter((f) => !isS3(f.path)),
      pool.size,
    );
  const cuts = rangesFor(files, rangeBytes, pool.size);
  const { users } = options;
  // How far each file read whole has been read (FileProgress): a range is sized, as it is handed
  // out, for its worker to end with those still reading theirs.
  const kib = fileProgress(files.length);
  const othersLeft = (): number => {
    let bytes = 0;
    files.forEach((file, i) => {
      if (cuts[i]! < 2) bytes += unreadBytes(kib, i, file.size);
    });
    return bytes;
  };
  return files.map((file, i) => {
    const ranges = cuts[i]!;
    return ranges < 2
      ? wholeFile(pool, file, partialDir, users, { kib, at: i })
      : inRanges(pool, file, partialDir, ranges, users, othersLeft);
  });
}

/**
 * The bytes of a file's next range, handed out as a worker is free: of the `rest` of the file not
 * yet handed out, in `left` ranges, a share for this worker to end when the others do, who have
 * `others` bytes of files read whole still to read before they take the later ranges (an even
 * share when none: `rest / left`). The whole files' workers share their cores with the job's
 * thread (it reads the catalogues meanwhile), so one of them is often 0.1 to 0.3 s behind the
 * other; ranges of equal bytes left the first worker idle that long.
 * Each range keeps at least half an even share, so that a late worker's range is never empty.
 */
export function rangeShare(rest: number, left: number, others: number): number {
  if (left <= 1) return rest;
  const least = Math.ceil(rest / (2 * left));
  const balanced = Math.ceil((rest + others) / left);
  return Math.min(rest - (left - 1) * least, Math.max(least, balanced));
}

/**
 * Into how many ranges each file is cut (1: read whole): a local file larger than `rangeBytes`
 * into as many ranges as ranges of that would be (each one's bytes set as it is handed out:
 * rangeShare). When every file is read whole and they do not make whole rounds of
 * one a worker (three files on two workers), the files of the last round (queued last) are cut so
 * that each worker reads a range of them (files of at least MIN_RANGE_BYTES a range): the workers
 * end together, where one read the last file while the others waited, about a file's parse (1 s
 * at 10M rows in three files). A file on S3 is read whole.
 *
 * This once cost more than the worker it kept busy, when the main thread merged a cut file's
 * ranges into one list of names and rewrote their rows; a partial now keeps each range as a
 * segment of its own (formats/kpiPartials.ts), as written.
 */
export function rangesFor(files: StreamsFileToParse[], rangeBytes: number, threads: number): number[] {
  const cuts = files.map((file) => (isS3(file.path) ? 1 : Math.ceil(file.size / rangeBytes)));
  const lastRound = files.length % threads;
  if (lastRound === 0 || cuts.some((n) => n > 1)) return cuts;
  const each = Math.floor(threads / lastRound);
  for (let i = files.length - lastRound; i < files.length; i++) {
    const file = files[i]!;
    if (!isS3(file.path)) cuts[i] = Math.max(1, Math.min(each, Math.floor(file.size / MIN_RANGE_BYTES)));
  }
  return cuts;
}

function wholeFile(
  pool: WorkerPool,
  file: StreamsFileToParse,
  partialDir: string,
  users: number | undefined,
  progress?: FileProgress,
): Promise<ParseStreamsResult> {
  const { name, path, size, mtimeMs } = file;
  return pool.run<ParseStreamsResult>({
    kind: 'parseStreams',
    name,
    path,
    size,
    mtimeMs,
    partialDir,
    ...(users === undefined ? {} : { users }),
    ...(progress === undefined ? {} : { progress }),
  });
}

async function inRanges(
  pool: WorkerPool,
  file: StreamsFileToParse,
  partialDir: string,
  count: number,
  users: number | undefined,
  othersLeft: () => number,
): Promise<ParseStreamsResult> {
  // Each range's bytes decided as it is handed out (the pool's `prepare`), in order: where the
  // last one handed out ended.
  let handedTo = 0;
  const parts = Array.from({ length: count }, (_, index) => {
    const task: ParseStreamsRangeTask = {
      kind: 'parseStreamsRange',
      name: file.name,
      path: file.path,
      index,
      start: 0,
      end: 0,
      last: index === count - 1,
      partialDir,
      ...(users === undefined ? {} : { users }),
    };
    return pool.run<ParseStreamsRangeResult>(task, [], () => {
      task.start = handedTo;
      task.end = handedTo + rangeShare(file.size - handedTo, count - index, othersLeft());
      handedTo = task.end;
      return [];
    });
  });
  // Every promise is awaited: a failed range must not be an unhandled rejection. A file that
  // cannot be read is read again whole, which tells it as the whole-file read does (an unreadable
  // file is set aside, not the run failed).
  const settled = await Promise.allSettled(parts);
  const ranges = settled.flatMap((s) =>
    s.status === 'fulfilled' ? [(s as PromiseFulfilledResult<ParseStreamsRangeResult>).value] : [],
  );
  const now = ranges.length === count ? await statFile(file.path) : undefined;
  const hash = rangesHash(file.size, ranges);
  if (
    now === undefined ||
    hash === undefined ||
    ranges.some((r) => !r.endsAtRecord || r.bad !== undefined) ||
    now.size !== file.size ||
    now.mtimeMs !== file.mtimeMs
  ) {
    removeRangeSegments(ranges);
    return wholeFile(pool, file, partialDir, users);
  }
  // Written here (the first range's file kept, the others' bytes copied after it, a MiB at a
  // time): the workers go on meanwhile.
  const written = writeRangesPartial(file, hash, partialDir, ranges);
  return { ...written, ms: written.ms + ranges.reduce((ms, r) => ms + r.ms, 0) };
}

/**
 * The file's content hash from its ranges' unit digests (each range hashed the units that start
 * in it), as a read of the whole file gives it; undefined unless they are every unit's, in order
 * (a range that was not read has none: the file is then read whole).
 */
function rangesHash(size: number, ranges: ParseStreamsRangeResult[]): string | undefined {
  const digests: string[] = [];
  for (const { units } of ranges) {
    if (units === undefined || units.first !== digests.length) return undefined;
    digests.push(...units.digests);
  }
  return size > 0 && digests.length === Math.ceil(size / UNIT_BYTES)
    ? combineUnitHashes(size, digests)
    : undefined;
}

/** The ranges' scratch files, removed. */
function removeRangeSegments(ranges: ParseStreamsRangeResult[]): void {
  for (const r of ranges) rmSync(r.segment.path, { force: true });
}

/**
 * The partial of a file read in ranges, written from them: each range's rows and names a segment
 * of it, the first range's file taken as the partial's and the others' copied in as they wrote
 * them (not renumbered into one list of names: that merge interned every name again here, and
 * rewrote every row, 0.1 s at 50,000 users and 100 MB more at 2M); the report a whole-file read
 * gives. The ranges' scratch files are removed, written or not.
 */
function writeRangesPartial(
  file: StreamsFileToParse,
  hash: string,
  partialDir: string,
  ranges: ParseStreamsRangeResult[],
): ParseStreamsResult {
  const started = Date.now();
  let out: FilePartialWriter | undefined;
  try {
    // The first range's scratch file becomes the partial (its bytes not copied); the others'
    // segments are copied in after it.
    const [first, ...others] = ranges;
    out = new FilePartialWriter(partialDir, file.name, first!.segment);
    for (const range of others) out.appendSegment(range.segment);
    const result = rangesReport(file.name, ranges);
    const written = finishFilePartial(out, partialDir, file, { hash, ...result });
    return { result: { ...result, hash }, ...written, ms: Date.now() - started };
  } catch (error) {
    out?.discard();
    throw error;
  } finally {
    // The first's is gone already, renamed or discarded.
    removeRangeSegments(ranges);
  }
}

/**
 * A streams file's partial finished, its segments written: its header written last and the file
 * renamed to its name in `partialDir` (the file's name and content hash); what the job is told
 * about it. For a file read whole (the worker's `parseStreams`) and one read in ranges alike.
 */
export function finishFilePartial(
  writer: FilePartialWriter,
  partialDir: string,
  file: { name: string; size: number; mtimeMs: number },
  content: Pick<FilePartialHeader, 'hash' | 'report' | 'examples'>,
): Pick<ParseStreamsResult, 'partial' | 'partialBytes' | 'days'> {
  const partial = join(partialDir, filePartialName(file.name, content.hash));
  const days = writer.finish(partial, {
    file: file.name,
    size: file.size,
    mtimeMs: file.mtimeMs,
    ...content,
  });
  return { partial, partialBytes: statSync(partial).size, days };
}

/**
 * The report of a file read in ranges, as the whole file read in one go gives it: rows and
 * rejects summed (reasons in order of first appearance), the first examples with their record
 * numbers counted from the file's start.
 */
function rangesReport(name: string, ranges: ParseStreamsRangeResult[]): Omit<StreamFileResult, 'hash'> {
  const report = {
    kind: 'streams' as const,
    file: name,
    rows: 0,
    accepted: 0,
    rejects: {} as Record<string, number>,
  };
  const examples: RowExample[] = [];
  let recordsBefore = 0;
  for (const range of ranges) {
    report.rows += range.report.rows;
    report.accepted += range.report.accepted;
    for (const [reason, n] of Object.entries(range.report.rejects))
      report.rejects[reason] = (report.rejects[reason] ?? 0) + n;
    for (const example of range.examples) {
      if (examples.length < MAX_ROW_EXAMPLES)
        examples.push({ ...example, record: example.record + recordsBefore });
    }
    recordsBefore += range.records;
  }
  return { report, examples };
}
