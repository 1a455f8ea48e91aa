import { CsvRecordScanner } from './csvRecords.js';
import type { IdInterner } from './idInterner.js';

/**
 * A catalogue record's fields, each decoded when it is asked for: a catalogue uses one to three
 * of its five to twenty-one columns (a songs file of the Spotify dataset), and decoding every
 * field to a string was half of reading it. Valid only while the record is being handed over.
 */
export interface CsvFields {
  readonly count: number;
  /** Field k's value. */
  text(k: number): string;
  /** Whether field k is empty. */
  isEmpty(k: number): boolean;
  /** Field k's id in `ids` (added if new): from its bytes where it has no doubled quote, no string made. */
  idIn(k: number, ids: IdInterner): number;
  /** The fields joined by commas, as a reject example shows the record. */
  joined(): string;
}

/** The fields of a record csv-parse read, as strings already. */
export class StringFields implements CsvFields {
  constructor(private readonly fields: string[]) {}

  get count(): number {
    return this.fields.length;
  }

  text(k: number): string {
    return this.fields[k]!;
  }

  isEmpty(k: number): boolean {
    return this.fields[k] === '';
  }

  idIn(k: number, ids: IdInterner): number {
    return ids.id(this.fields[k]!);
  }

  joined(): string {
    return this.fields.join(',');
  }
}

/**
 * The records of a songs or users file read with the scanner of parse/csvRecords.ts, for a file on
 * which it and csv-parse agree (a catalogue is then read in half the time). The catalogues'
 * contract is csv-parse's reading (docs/KPIS.md): `relax_quotes`, and the record delimiter taken
 * from the file's first line ending outside quotes. The scanner returns exactly csv-parse's records and
 * record numbers for a file without a malformed record (see CsvRecordScanner) whose records all
 * end in `\n`, or all in `\r\n` (line breaks inside quotes are data to both); `agrees` says
 * whether this file is one. When it is not (a record the scanner finds malformed, mixed line
 * endings, a `\r` in the first record, which may be an old Mac line ending to csv-parse), the
 * records given are to be dropped and the file read with csv-parse.
 */
export class CatalogRecords {
  private readonly scanner: CsvRecordScanner;
  private malformed = false;
  /** A `\r` in the first record, which csv-parse may take for the file's line ending (old Mac). */
  private carriageReturnFirst = false;

  constructor(onRecord: (fields: CsvFields, record: number) => void, maxRecordBytes: number) {
    this.scanner = new CsvRecordScanner({
      maxRecordBytes,
      onSpans: (fields, record) => {
        if (record === 1 && fields.joined().includes('\r')) this.carriageReturnFirst = true;
        if (this.agrees) onRecord(fields, record);
      },
      onMalformed: () => {
        this.malformed = true;
      },
    });
  }

  push(chunk: Uint8Array): void {
    if (this.agrees) this.scanner.push(chunk);
  }

  /** Ends the file; whether the records given are csv-parse's. */
  end(): boolean {
    if (this.agrees) this.scanner.end();
    return this.agrees;
  }

  /**
   * No malformed record so far, no `\r` in the first record, and the records' line endings all
   * `\n` or all `\r\n` (csv-parse takes the first one for all; the scanner takes both).
   */
  get agrees(): boolean {
    const { crlfEnds, lfEnds } = this.scanner;
    return !this.malformed && !this.carriageReturnFirst && (crlfEnds === 0 || lfEnds === 0);
  }
}
