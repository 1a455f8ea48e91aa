import { createHash } from 'node:crypto';
import { readFailure } from '../ops/ioErrors.js';
import type { BadFile, CsvInput, FileReport, HeadedBytes, RowExample } from './catalogs.js';
import { MAX_ROW_EXAMPLES } from './catalogs.js';
import { checkHeader, looksBinary, missingColumns } from './csvHeader.js';
import { CsvRecordScanner } from './csvRecords.js';
import type { IdInterner } from './idInterner.js';
import { parseListenTime, parseListenTimeBytes } from './timestamps.js';

export const STREAM_COLUMNS = ['user_id', 'track_id', 'listen_time'] as const;

/** Why a stream row is rejected before any join: the reasons a file's rows alone can tell. */
export const STREAM_ROW_REJECTS = ['malformed_csv', 'field_count', 'empty_id', 'bad_timestamp'] as const;

/** Where readStreamsFile puts the valid rows: ids interned from the bytes, then the row. */
export interface StreamRowSink {
  readonly users: IdInterner;
  readonly tracks: IdInterner;
  addRow(user: number, track: number, time: number): void;
}

export interface StreamFileResult {
  report: FileReport;
  /** SHA-256 of the file's bytes (of those read, for a file found unusable). */
  sha256: string;
  /** Set when the file is not a usable streams CSV (it goes to the error folder). */
  bad?: BadFile;
  examples: RowExample[];
}

/**
 * Read one streams file (local or on S3, as a stream): its header maps the columns (any order,
 * extra columns ignored); each row with both ids and a valid ISO 8601 listen time goes to `rows`
 * (its ids interned there; time in microseconds since the epoch, UTC); other rows are counted by
 * reason. Fields are read as bytes: no string is made for a valid row. Duplicates and unknown tracks or users are not
 * decided here: that needs every file of the day and the catalogues.
 */
export async function readStreamsFile(file: CsvInput, rows: StreamRowSink): Promise<StreamFileResult> {
  const report: FileReport = { kind: 'streams', file: file.name, rows: 0, accepted: 0, rejects: {} };
  const examples: RowExample[] = [];
  const base = { kind: 'streams' as const, file: file.name, path: file.path };
  const reject = (reason: string, record: number, text: string): void => {
    report.rejects[reason] = (report.rejects[reason] ?? 0) + 1;
    if (examples.length < MAX_ROW_EXAMPLES)
      examples.push({ file: file.name, record, reason, text: text.slice(0, 200) });
  };

  let opened: HeadedBytes;
  try {
    opened = await file.open();
  } catch (error) {
    const bad: BadFile = {
      ...base,
      reason: 'unreadable',
      message: (readFailure(error, file.path) as Error).message,
    };
    return { report, examples, sha256: '', bad };
  }
  const hash = createHash('sha256');
  try {
    if (looksBinary(opened.head)) {
      hash.update(opened.head);
      return {
        report,
        examples,
        sha256: hash.digest('hex'),
        bad: { ...base, reason: 'not_csv', message: `${file.name} is not a CSV file (binary content)` },
      };
    }
    let user = -1;
    let track = -1;
    let time = -1;
    let width = 0;
    let bad: BadFile | undefined;
    const { users, tracks } = rows;
    const scanner = new CsvRecordScanner({
      onSpans: (r, record) => {
        if (bad !== undefined) return;
        if (width === 0) {
          const header = checkHeader(
            Array.from({ length: r.count }, (_, k) => r.text(k)),
            STREAM_COLUMNS,
          );
          if (!header.ok) {
            bad = { ...base, ...missingColumns(file.name, header) };
            return;
          }
          ({ user_id: user, track_id: track, listen_time: time } = header.columns);
          width = header.width;
          return;
        }
        const { starts, ends, escaped, bytes } = r;
        // A blank line is no row at all.
        if (r.count === 1 && starts[0] === ends[0]) return;
        report.rows++;
        if (r.count < width) {
          reject('field_count', record, r.joined());
          return;
        }
        if (starts[user] === ends[user] || starts[track] === ends[track]) {
          reject('empty_id', record, r.joined());
          return;
        }
        const at =
          escaped[time] === 0
            ? parseListenTimeBytes(bytes, starts[time]!, ends[time]!)
            : parseListenTime(r.text(time));
        if (Number.isNaN(at)) {
          reject('bad_timestamp', record, r.joined());
          return;
        }
        report.accepted++;
        rows.addRow(
          escaped[user] === 0 ? users.idOf(bytes, starts[user]!, ends[user]!) : users.id(r.text(user)),
          escaped[track] === 0 ? tracks.idOf(bytes, starts[track]!, ends[track]!) : tracks.id(r.text(track)),
          at,
        );
      },
      onMalformed: (problem, record, text) => {
        report.rows++;
        reject('malformed_csv', record, `${problem}: ${text}`);
      },
    });
    for await (const chunk of opened.chunks) {
      hash.update(chunk);
      scanner.push(chunk);
      if (bad !== undefined) break;
    }
    if (bad === undefined) scanner.end();
    if (bad === undefined && width === 0) {
      bad = {
        ...base,
        reason: 'missing_columns',
        message: `${file.name} is empty: no header`,
        missing: [...STREAM_COLUMNS],
      };
    }
    const sha256 = hash.digest('hex');
    return bad === undefined ? { report, examples, sha256 } : { report, examples, sha256, bad };
  } finally {
    opened.close();
  }
}
