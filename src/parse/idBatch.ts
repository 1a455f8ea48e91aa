import type { CsvFields } from './catalogRecords.js';
import { RecordSpans } from './csvRecords.js';
import type { IdInterner } from './idInterner.js';

/**
 * A catalogue's rows whose ids are interned a batch at a time (IdInterner.idsOfSpans, whose reads
 * of the table overlap), each row taken as new until its batch is settled. Read one at a time, the
 * 2M ids of a users file each waited for their slot of a 43 MB table: 0.66 s of the main thread
 * in a run, beside the streams' parse. A row's id that its batch finds known (a duplicate) is told
 * to `duplicate` with the row's record number and text, in the rows' order; the caller settles
 * the batch before it rejects any row of its own, so that its rejects stay in the file's order,
 * and at the end of each chunk it pushes, so that the rows waiting are in a chunk still there.
 *
 * Only a plain record (no quoted field: its text is its bytes) in a chunk waits in a batch, by
 * where it lies in the chunk (nothing copied); a record split across chunks, in the scanner's
 * buffer, is not.
 */
export class IdBatch {
  /** The chunk the rows waiting are in. */
  private bytes: Uint8Array = new Uint8Array(0);
  private count = 0;
  private readonly recordStarts = new Int32Array(ID_BATCH);
  private readonly recordEnds = new Int32Array(ID_BATCH);
  private readonly idStarts = new Int32Array(ID_BATCH);
  private readonly idEnds = new Int32Array(ID_BATCH);
  private readonly records = new Int32Array(ID_BATCH);
  private readonly ids = new Int32Array(ID_BATCH);

  constructor(
    private readonly into: IdInterner,
    private readonly duplicate: (record: number, text: string) => void,
  ) {}

  /**
   * Record `record`'s id, field `k` of `row`, in the batch (settled when it is full): false when
   * the row cannot wait in one (a quoted field, a record split across chunks, fields not read by
   * the scanner), and nothing is added.
   */
  add(row: CsvFields, k: number, record: number): boolean {
    if (!(row instanceof RecordSpans) || row.carried) return false;
    const { bytes, starts, ends, count } = row;
    // Unquoted fields follow each other one comma apart; a quoted one's span leaves its quotes out.
    for (let f = 1; f < count; f++) if (starts[f] !== ends[f - 1]! + 1) return false;
    if (bytes !== this.bytes) {
      this.settle();
      this.bytes = bytes;
    }
    const n = this.count++;
    this.recordStarts[n] = starts[0]!;
    this.recordEnds[n] = ends[count - 1]!;
    this.idStarts[n] = starts[k]!;
    this.idEnds[n] = ends[k]!;
    this.records[n] = record;
    if (n + 1 === ID_BATCH) this.settle();
    return true;
  }

  /** The rows waiting, their ids interned: those found known told to `duplicate`, in order. */
  settle(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const ids = this.ids;
    let next = this.into.size;
    this.into.idsOfSpans(this.bytes, this.idStarts, this.idEnds, n, ids);
    for (let i = 0; i < n; i++) {
      // New ids are numbered in the rows' order: a row whose id is not the next new one was known.
      if (ids[i] === next) next++;
      else this.duplicate(this.records[i]!, this.text(i));
    }
  }

  private text(i: number): string {
    const bytes = this.bytes;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
      'utf8',
      this.recordStarts[i]!,
      this.recordEnds[i]!,
    );
  }
}

/** Rows a batch: as a streams batch (parse/streamScan.ts ROWS). */
const ID_BATCH = 1024;
