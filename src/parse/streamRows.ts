import { readFailure } from '../ops/ioErrors.js';
import type { BadFile, CsvInput, FileReport, HeadedBytes, RowExample } from './catalogs.js';
import { MAX_ROW_EXAMPLES } from './catalogs.js';
import { checkHeader, looksBinary, missingColumns } from './csvHeader.js';
import { CsvRecordScanner } from './csvRecords.js';
import type { IdInterner } from './idInterner.js';
import { ROWS, type RowLayout, streamScan } from './streamScan.js';
import { parseListenTime, parseListenTimeBytes } from './timestamps.js';

const NEWLINE = 10;
/**
 * After this many lines in a row handed to the scanner one by one (a file whose fields are all
 * quoted), the rest of each chunk goes to it whole, at its own speed, until a plain line comes.
 */
const HANDED_LINES_BEFORE_CHUNK = 16;

export const STREAM_COLUMNS = ['user_id', 'track_id', 'listen_time'] as const;

/** The fewest bytes of a valid stream row: two 1-byte ids, a date alone, two commas, a line end. */
export const MIN_STREAM_ROW_BYTES = 15;

/** Why a stream row is rejected before any join: the reasons a file's rows alone can tell. */
export const STREAM_ROW_REJECTS = ['malformed_csv', 'field_count', 'empty_id', 'bad_timestamp'] as const;

/** Where readStreamsFile puts the valid rows: ids interned from the bytes, then the row. */
export interface StreamRowSink {
  readonly users: IdInterner;
  readonly tracks: IdInterner;
  addRow(user: number, track: number, time: number): void;
  /**
   * Rows 0 to `rows` of a batch, in `runs` runs of one UTC day: run r is its rows from
   * `runFrom[r]` to the next run's first (or `rows`), of day `runDays[r]` (utcDayOf of their times).
   */
  addRuns(
    users: Uint32Array,
    tracks: Uint32Array,
    times: Float64Array,
    rows: number,
    runFrom: Int32Array,
    runDays: Int32Array,
    runs: number,
  ): void;
}

/** A digest taken of bytes fed in order. */
export interface ByteDigest {
  update(bytes: Uint8Array): void;
  digest(): string;
}

export interface StreamFileResult {
  report: FileReport;
  /**
   * The content hash of the file's bytes (of those read, for a file found unusable):
   * sources/contentHash.ts, a plain file's.
   */
  hash: string;
  /** Set when the file is not a usable streams CSV (it goes to the error folder). */
  bad?: BadFile;
  examples: RowExample[];
}

/**
 * Read one streams file (local or on S3, as a stream): its header maps the columns (any order,
 * extra columns ignored); each row with both ids and a valid ISO 8601 listen time goes to `rows`
 * (its ids interned there; time in microseconds since the epoch, UTC); other rows are counted by
 * reason. Fields are read as bytes: no string is made for a valid row. Duplicates and unknown
 * tracks or users are not decided here: that needs every file of the day and the catalogues.
 */
export async function readStreamsFile(
  file: CsvInput,
  rows: StreamRowSink,
  /**
   * The file's content hash, fed its bytes as they are read (the caller's: sources/contentHash.ts
   * logHasher, which a parser, opening no file, does not import).
   */
  hash: ByteDigest,
  /** Told each chunk's bytes once its rows are read. */
  onRead?: (bytes: number) => void,
): Promise<StreamFileResult> {
  const base = { kind: 'streams' as const, file: file.name, path: file.path };
  let opened: HeadedBytes;
  try {
    // Each chunk is hashed and scanned before the next is read; the scanner copies what it carries.
    opened = await file.open({ transient: true });
  } catch (error) {
    const bad: BadFile = {
      ...base,
      reason: 'unreadable',
      message: (readFailure(error, file.path) as Error).message,
    };
    return { report: emptyReport(file.name), examples: [], hash: '', bad };
  }
  try {
    const reader = new StreamRowReader(file, rows, { midFile: false });
    if (looksBinary(opened.head)) {
      hash.update(opened.head);
      return { report: reader.report, examples: [], hash: hash.digest(), bad: notCsv(file) };
    }
    for await (const chunk of opened.chunks) {
      hash.update(chunk);
      reader.push(chunk);
      onRead?.(chunk.length);
      if (reader.bad !== undefined) break;
    }
    const { report, examples, bad } = reader.finish(true);
    const digest = hash.digest();
    return bad === undefined ? { report, examples, hash: digest } : { report, examples, hash: digest, bad };
  } finally {
    opened.close();
  }
}

/** What a range of a streams file holds (see StreamRowReader); the file's hash is the caller's. */
export interface StreamRangeResult {
  report: FileReport;
  /** The range's first examples, numbered from its first record (1). */
  examples: RowExample[];
  /** Records scanned, the header's included in the first range: the next range's numbering starts after. */
  records: number;
  /** False when the range does not end at a record's end (a quoted field going on past it). */
  endsAtRecord: boolean;
  bad?: BadFile;
}

/**
 * The rows of a streams file, or of a range of it, fed in chunks: its header is the first record
 * of the file (a later range is handed it with `header`), each row is checked and its ids interned
 * from the bytes into `rows`, rejects are counted and the first ones kept as examples.
 *
 * A file can be read in ranges on several threads: each range from the first line that starts
 * in it to the end of its last line, scanned with `midFile`; it is read right if every range but
 * the last ends at the end of a record (`endsAtRecord`), as it does unless a quoted field holds a
 * line break across the cut. Record numbers in a later range's examples count from its start.
 *
 * Most lines of a streams file are plain: each field where its commas put it, with no quote (or
 * quoted whole, with nothing to unescape). Those are read in one pass over their bytes by a
 * WebAssembly kernel (plainRows, StreamScan), valid rows and rejects alike, and every other line
 * (the header, a quote inside a field or a doubled one, a reject with quotes, a line too long,
 * one cut by the chunk's end) is handed to the RFC 4180 scanner, which then decides alone until
 * it is at a record's end again: the same rows, rejects, examples and record numbers as the
 * scanner alone gives. The pass gives rows whose fields are all in the chunk at hand, so that their ids
 * are looked up a batch at a time (IdInterner.idsOfSpans).
 */
export class StreamRowReader {
  readonly report: FileReport;
  readonly examples: RowExample[] = [];
  bad: BadFile | undefined;
  private readonly scanner: CsvRecordScanner;
  private user = -1;
  private track = -1;
  private time = -1;
  private width = 0;
  /** Where the plain rows' fields are (plainRows; made at the first, after the header). */
  private layout: RowLayout | undefined;
  /** A batch's ids (plainRows). */
  private readonly userIds = new Int32Array(ROWS);
  private readonly trackIds = new Int32Array(ROWS);
  /** The same ids as the rows' columns hold them (every one found or added: none is -1). */
  private readonly userColumn = new Uint32Array(this.userIds.buffer);
  private readonly trackColumn = new Uint32Array(this.trackIds.buffer);
  /** Lines handed to the scanner one by one since the last plain one. */
  private handedLines = 0;

  constructor(
    private readonly file: { name: string; path: string },
    private readonly rows: StreamRowSink,
    options: { midFile: boolean; header?: string[] },
  ) {
    this.report = emptyReport(file.name);
    if (options.header !== undefined) this.takeHeader(options.header);
    const { users, tracks } = rows;
    const report = this.report;
    this.scanner = new CsvRecordScanner({
      midFile: options.midFile,
      onSpans: (r, record) => {
        if (this.bad !== undefined) return;
        if (this.width === 0) {
          this.takeHeader(Array.from({ length: r.count }, (_, k) => r.text(k)));
          return;
        }
        const { starts, ends, escaped, bytes } = r;
        // A blank line is no row at all.
        if (r.count === 1 && starts[0] === ends[0]) return;
        report.rows++;
        if (r.count < this.width) {
          this.reject('field_count', record, () => r.joined());
          return;
        }
        const user = this.user;
        const track = this.track;
        const time = this.time;
        if (r.isEmpty(user) || r.isEmpty(track)) {
          this.reject('empty_id', record, () => r.joined());
          return;
        }
        const at =
          escaped[time] === 0
            ? parseListenTimeBytes(bytes, starts[time]!, ends[time]!)
            : parseListenTime(r.text(time));
        if (Number.isNaN(at)) {
          this.reject('bad_timestamp', record, () => r.joined());
          return;
        }
        report.accepted++;
        rows.addRow(r.idIn(user, users), r.idIn(track, tracks), at);
      },
      onMalformed: (problem, record, text) => {
        report.rows++;
        this.reject('malformed_csv', record, `${problem}: ${text}`);
      },
    });
  }

  push(chunk: Uint8Array): void {
    // A new chunk, even if its array is the last one's, filled again.
    streamScan().forget();
    const end = chunk.length;
    let at = 0;
    while (at < end && this.bad === undefined) {
      if (this.width > 0 && this.scanner.atRecordBoundary) {
        const next = this.plainRows(chunk, at, end);
        if (next > at) this.handedLines = 0;
        at = next;
        if (at === end) break;
      }
      // One line to the scanner (a quoted field may go on past it: the next lines follow until
      // the scanner is at a record's end); or the rest of the chunk, where plain lines are rare.
      const newline = this.handedLines < HANDED_LINES_BEFORE_CHUNK ? chunk.indexOf(NEWLINE, at) : -1;
      const next = newline < 0 ? end : newline + 1;
      this.scanner.push(chunk.subarray(at, next));
      this.handedLines++;
      at = next;
    }
  }

  /**
   * The hot loop: reads the lines of `buf` from `from` (a record's start) that the WebAssembly
   * kernel reads (StreamScan: plain lines, and fields quoted whole with nothing to unescape) and
   * returns the offset of the first line it leaves to the scanner (`end` when none). Its rows'
   * ids are looked up a batch at a time from their spans in the kernel's copy of the chunk; its
   * rejects (lines with no quote: too few fields, an empty id, a bad time) are counted here as
   * the scanner would count them, each one's line its example's text. A blank line is no row, as
   * there.
   */
  private plainRows(buf: Uint8Array, from: number, end: number): number {
    const scan = streamScan();
    scan.load(buf);
    const layout = (this.layout ??= {
      width: this.width,
      user: this.user,
      track: this.track,
      time: this.time,
      maxLineBytes: this.scanner.maxRecordBytes,
    });
    const report = this.report;
    const { users, tracks } = this.rows;
    const { userIds, trackIds } = this;
    // The scanner numbers records from the header's (1): a line read here is numbered after it.
    const firstRecord = this.scanner.records + 1;
    let lines = 0;
    let i = from;
    for (;;) {
      i = scan.scanRows(i, end, layout);
      const n = scan.rows;
      if (n > 0) {
        report.rows += n;
        report.accepted += n;
        users.idsOfSpans(scan.bytes, scan.userStarts, scan.userEnds, n, userIds);
        tracks.idsOfSpans(scan.bytes, scan.trackStarts, scan.trackEnds, n, trackIds);
        this.rows.addRuns(
          this.userColumn,
          this.trackColumn,
          scan.times,
          n,
          scan.runFrom,
          scan.runDays,
          scan.runs,
        );
      }
      const rejected = scan.rejects;
      for (let k = 0; k < rejected; k++) {
        report.rows++;
        const reason = STREAM_ROW_REJECTS[scan.rejectReason(k)]!;
        this.reject(reason, firstRecord + lines + scan.rejectLine(k), () => scan.rejectText(k));
      }
      lines += scan.lines;
      if (!scan.full) break;
    }
    this.scanner.countRecords(lines);
    return i;
  }

  /** Ends the input: `last`, the file's end (its last record needs no line ending). */
  finish(last: boolean): StreamRangeResult {
    const endsAtRecord = this.scanner.atRecordBoundary;
    if (last && this.bad === undefined) this.scanner.end();
    if (this.bad === undefined && this.width === 0) {
      this.bad = {
        kind: 'streams',
        file: this.file.name,
        path: this.file.path,
        reason: 'missing_columns',
        message: `${this.file.name} is empty: no header`,
        missing: [...STREAM_COLUMNS],
      };
    }
    const result = {
      report: this.report,
      examples: this.examples,
      records: this.scanner.records,
      endsAtRecord: last || endsAtRecord,
    };
    return this.bad === undefined ? result : { ...result, bad: this.bad };
  }

  private takeHeader(fields: string[]): void {
    const header = checkHeader(fields, STREAM_COLUMNS);
    if (!header.ok) {
      this.bad = {
        kind: 'streams',
        file: this.file.name,
        path: this.file.path,
        ...missingColumns(this.file.name, header),
      };
      return;
    }
    ({ user_id: this.user, track_id: this.track, listen_time: this.time } = header.columns);
    this.width = header.width;
  }

  /** A reject counted, and kept as an example while there are few (`text`: its text, made only then). */
  private reject(reason: string, record: number, text: string | (() => string)): void {
    this.report.rejects[reason] = (this.report.rejects[reason] ?? 0) + 1;
    if (this.examples.length < MAX_ROW_EXAMPLES) {
      const shown = typeof text === 'string' ? text : text();
      this.examples.push({ file: this.file.name, record, reason, text: shown.slice(0, 200) });
    }
  }
}

/**
 * The header of a streams file from its first bytes (`head`, at least one whole record unless the
 * file is that short): its fields, or undefined when the head holds no whole first record.
 */
export function streamsHeader(head: Uint8Array): string[] | undefined {
  let header: string[] | undefined;
  const scanner = new CsvRecordScanner({
    onRecord: (fields) => {
      header ??= [...fields];
    },
  });
  scanner.push(head);
  return header;
}

function emptyReport(file: string): FileReport {
  return { kind: 'streams', file, rows: 0, accepted: 0, rejects: {} };
}

function notCsv(file: { name: string; path: string }): BadFile {
  return {
    kind: 'streams',
    file: file.name,
    path: file.path,
    reason: 'not_csv',
    message: `${file.name} is not a CSV file (binary content)`,
  };
}
