import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type FilePartialHeader,
  FilePartialWriter,
  filePartialName,
  forEachRowChunk,
} from '../../formats/kpiPartials.js';
import { MAX_ROW_EXAMPLES, type RowExample } from '../../parse/catalogs.js';
import { IdInterner, type NameList } from '../../parse/idInterner.js';
import type { StreamFileResult } from '../../parse/streamRows.js';
import { sha256OfFile } from '../../sources/contentHash.js';
import { isS3, statFile } from '../../sources/locations.js';
import { logUnits } from '../../sources/logUnits.js';
import type { ParseStreamsRangeResult, ParseStreamsResult } from './tasks.js';
import type { WorkerPool } from './workerPool.js';

/**
 * The least a range of a streams file is: ranges smaller than this are not worth their cost.
 */
export const MIN_RANGE_BYTES = 32 * 1024 * 1024;

/**
 * The largest range for these files: a worker's share of them. A file larger than a share (one
 * large file, or one much larger than the others) is cut into ranges read on several workers, so
 * that no worker is left with more than its share while others wait; files of a share or less are
 * read whole, one a worker (ranges cost their own: each interns its ids anew, and the main thread
 * hashes the file and merges them).
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
 * promise a file). A large local file is cut into ranges read in parallel, its content hash
 * computed here meanwhile, and its partial written here from the ranges, while the workers go on
 * with the other files (writeRangesPartial: the same bytes as a whole-file read gives). A file
 * whose ranges do not meet at a record's end (a quoted field with a line break across a cut), that
 * changed while it was read, or that a range could not read, is read again whole.
 */
export function parseStreamsFiles(
  pool: WorkerPool,
  files: StreamsFileToParse[],
  partialDir: string,
  rangeBytes = rangeBytesFor(
    files.filter((f) => !isS3(f.path)),
    pool.size,
  ),
): Promise<ParseStreamsResult>[] {
  const cuts = rangesFor(files, rangeBytes);
  return files.map((file, i) => {
    const ranges = cuts[i]!;
    return ranges < 2
      ? wholeFile(pool, file, partialDir)
      : inRanges(pool, file, partialDir, Math.ceil(file.size / ranges));
  });
}

/**
 * Into how many ranges each file is cut (1: read whole): a local file larger than `rangeBytes`
 * into ranges of at most that. A file on S3 is read whole.
 *
 * The files beyond whole rounds of one a worker (the first of three files on two workers) were
 * once cut too, a range a worker, so that the workers ended together. That cost more than the
 * worker it kept busy: a cut file's names are merged and its rows rewritten on the main thread,
 * which shares the two cores with the workers, and each range interns its names anew. Without it,
 * 8 interleaved rounds of kpis on 10M rows in three files (50K users): the same wall time (4.02
 * against 4.03 s), 1 s less CPU (6.05 against 7.0 s); with 2M users, 3 rounds: 0.3 to 1.0 s less.
 */
export function rangesFor(files: StreamsFileToParse[], rangeBytes: number): number[] {
  return files.map((file) => (isS3(file.path) ? 1 : Math.ceil(file.size / rangeBytes)));
}

function wholeFile(
  pool: WorkerPool,
  file: StreamsFileToParse,
  partialDir: string,
): Promise<ParseStreamsResult> {
  const { name, path, size, mtimeMs } = file;
  return pool.run<ParseStreamsResult>({ kind: 'parseStreams', name, path, size, mtimeMs, partialDir });
}

async function inRanges(
  pool: WorkerPool,
  file: StreamsFileToParse,
  partialDir: string,
  rangeBytes: number,
): Promise<ParseStreamsResult> {
  const units = logUnits(file.size, rangeBytes);
  const parts = units.map((unit) =>
    pool.run<ParseStreamsRangeResult>({
      kind: 'parseStreamsRange',
      name: file.name,
      path: file.path,
      index: unit.index,
      start: unit.start,
      end: unit.end,
      last: unit.index === units.length - 1,
      partialDir,
    }),
  );
  const hashing = sha256OfFile(file.path);
  // Every promise is awaited: a failed range must not be an unhandled rejection. A file that
  // cannot be read is read again whole, which tells it as the whole-file read does (an unreadable
  // file is set aside, not the run failed).
  const settled = await Promise.allSettled([hashing, ...parts]);
  const ranges = settled
    .slice(1)
    .flatMap((s) =>
      s.status === 'fulfilled' ? [(s as PromiseFulfilledResult<ParseStreamsRangeResult>).value] : [],
    );
  const now = settled.every((s) => s.status === 'fulfilled') ? await statFile(file.path) : undefined;
  if (
    now === undefined ||
    ranges.some((r) => !r.endsAtRecord || r.bad !== undefined) ||
    now.size !== file.size ||
    now.mtimeMs !== file.mtimeMs
  ) {
    removeRangeRows(ranges);
    return wholeFile(pool, file, partialDir);
  }
  const sha256 = (settled[0] as PromiseFulfilledResult<string>).value;
  // Merged here: this thread waits for the workers meanwhile, and a worker that merged left the
  // other waiting for the file's last range (the merge holds one block at a time, not the rows).
  const merged = writeRangesPartial(file, sha256, partialDir, ranges);
  return { ...merged, ms: merged.ms + ranges.reduce((ms, r) => ms + r.ms, 0) };
}

/** The ranges' scratch files of rows, removed. */
function removeRangeRows(ranges: ParseStreamsRangeResult[]): void {
  for (const r of ranges) rmSync(r.rows.path, { force: true });
}

/**
 * The partial of a file read in ranges, written from them: the same names, rows and report as a
 * whole-file read's (its blocks cut elsewhere). The ranges' scratch files are removed, written or
 * not.
 */
export function writeRangesPartial(
  file: StreamsFileToParse,
  sha256: string,
  partialDir: string,
  ranges: ParseStreamsRangeResult[],
): ParseStreamsResult {
  const started = Date.now();
  const out = new FilePartialWriter(partialDir, file.name);
  try {
    const merged = mergeRanges(file.name, ranges, out);
    const written = finishFilePartial(out, partialDir, file, {
      sha256,
      report: merged.result.report,
      examples: merged.result.examples,
      users: merged.users,
      tracks: merged.tracks,
    });
    return { result: { ...merged.result, sha256 }, ...written, ms: Date.now() - started };
  } catch (error) {
    out.discard();
    throw error;
  } finally {
    removeRangeRows(ranges);
  }
}

/**
 * A streams file's partial finished: its header written last and the file renamed to its name in
 * `partialDir` (the file's name and content hash); what the job is told about it. For a file read
 * whole (the worker's `parseStreams`) and one read in ranges alike.
 */
export function finishFilePartial(
  writer: FilePartialWriter,
  partialDir: string,
  file: { name: string; size: number; mtimeMs: number },
  content: Pick<FilePartialHeader, 'sha256' | 'report' | 'examples' | 'users' | 'tracks'>,
): Pick<ParseStreamsResult, 'partial' | 'partialBytes' | 'days'> {
  const partial = join(partialDir, filePartialName(file.name, content.sha256));
  const header = writer.finish(partial, {
    file: file.name,
    size: file.size,
    mtimeMs: file.mtimeMs,
    ...content,
  });
  return {
    partial,
    partialBytes: statSync(partial).size,
    days: header.days.map(({ day, rows }) => ({ day, rows })),
  };
}

/**
 * The ranges of one file as the whole file read in one go gives them: ids renumbered in order of
 * first appearance in the file, each day's rows in file order (written to `out` day by day, a
 * block at a time), rejects summed (reasons in order of first appearance), the first examples
 * with their record numbers counted from the file's start.
 */
export function mergeRanges(
  name: string,
  ranges: ParseStreamsRangeResult[],
  out: FilePartialWriter,
): {
  result: Omit<StreamFileResult, 'sha256'>;
  users: NameList;
  tracks: NameList;
} {
  const users = new IdInterner();
  const tracks = new IdInterner();
  const report = {
    kind: 'streams' as const,
    file: name,
    rows: 0,
    accepted: 0,
    rejects: {} as Record<string, number>,
  };
  const examples: RowExample[] = [];
  let recordsBefore = 0;
  const ids = ranges.map((range) => {
    report.rows += range.report.rows;
    report.accepted += range.report.accepted;
    for (const [reason, n] of Object.entries(range.report.rejects))
      report.rejects[reason] = (report.rejects[reason] ?? 0) + n;
    for (const example of range.examples) {
      if (examples.length < MAX_ROW_EXAMPLES)
        examples.push({ ...example, record: example.record + recordsBefore });
    }
    recordsBefore += range.records;
    return { users: users.idsOfList(range.users), tracks: tracks.idsOfList(range.tracks) };
  });
  const days = [...new Set(ranges.flatMap((r) => r.rows.days.map((d) => d.day)))].sort((a, b) => a - b);
  for (const day of days) {
    ranges.forEach((range, i) => {
      const section = range.rows.days.find((d) => d.day === day);
      if (section === undefined) return;
      const { path, dataStart } = range.rows;
      forEachRowChunk(path, dataStart, section, 'all', (chunk) => {
        out.addBlock(
          day,
          renumbered(chunk.users, ids[i]!.users),
          renumbered(chunk.tracks, ids[i]!.tracks),
          chunk.times,
        );
      });
    });
  }
  return { result: { report, examples }, users: users.nameList(), tracks: tracks.nameList() };
}

/** `ids` with each id replaced by `to[id]`, in place. */
function renumbered(ids: Uint32Array, to: Int32Array): Uint32Array {
  for (let i = 0; i < ids.length; i++) ids[i] = to[ids[i]!]!;
  return ids;
}
