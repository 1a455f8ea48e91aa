import { isAscii } from 'node:buffer';
import type { IdInterner } from './idInterner.js';
import { EXAMPLE_TEXT_CHARS, exampleText } from './rejects.js';

/** Why a record was not handed to `onRecord`. */
export const CSV_PROBLEMS = ['unterminated_quote', 'text_after_quote', 'record_too_long'] as const;

export type CsvProblem = (typeof CSV_PROBLEMS)[number];

/** Default longest record in bytes, not counting its line ending. */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024;

export interface CsvRecordScannerOptions {
  /**
   * Receives each well-formed record: its fields as strings and its 1-based number (the header is
   * record 1). `fields` is one array reused for every record: copy it to keep it past the call. An
   * empty line arrives as `['']`; skipping it is the caller's choice. Give this or `onSpans`.
   */
  onRecord?: (fields: string[], record: number) => void;
  /**
   * Instead of `onRecord`: each well-formed record as byte spans of the input, for a caller that
   * reads its fields as bytes (the streams' ids and times) and decodes only what it must. Nothing
   * is decoded for it, so the chunk's text is never made. `record` is valid during the call only.
   */
  onSpans?: (record: RecordSpans, number: number) => void;
  /**
   * Receives each malformed record instead of `onRecord`: what is wrong with it, its number, and a
   * printable copy of its first bytes (see `exampleText`). Scanning goes on at the next record.
   */
  onMalformed?: (problem: CsvProblem, record: number, text: string) => void;
  /** Longest record in bytes, not counting its `\n` or `\r\n` (default 64 KiB). */
  maxRecordBytes?: number;
  /**
   * The input starts at a record boundary inside a file, not at its start: no BOM is looked for
   * (a range of a file read on its own; see `atRecordBoundary`).
   */
  midFile?: boolean;
}

/**
 * The undocumented Buffer methods that Buffer#toString itself calls, there since Node's early days:
 * without its argument handling they save about 20 ns a field.
 */
interface SliceMethods {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

type Bytes = Buffer & SliceMethods;

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const QUOTE = 34;
const COMMA = 44;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]) as Bytes;

// Lexer states of `findRecordEnd`, which follows a record across chunks.
const FIELD_START = 0;
/** In an unquoted field, or in the text after a closing quote (a malformed field). */
const UNQUOTED = 1;
const QUOTED = 2;
/** In a quoted field just past a quote: the closing one, or the first of a `""`. */
const QUOTED_QUOTE = 3;

const PROBLEM_UNTERMINATED = 0;
const PROBLEM_TEXT_AFTER_QUOTE = 1;
const PROBLEM_TOO_LONG = 2;

/**
 * Streaming RFC 4180 record scanner for the hot path: a pure function of the bytes it is given,
 * with no I/O. Feed it chunks with `push` (a record may be split anywhere: inside a field, between
 * the quotes of a `""`, between `\r` and `\n`), then call `end()`.
 *
 * The dialect: comma between fields; a record ends at `\n` or `\r\n` outside quotes, and a `\r`
 * anywhere else is data; a field that starts with `"` is quoted, and inside it `""` is one quote
 * while commas, `\r` and `\n` are data; a UTF-8 BOM at the very start is skipped; fields are
 * decoded as UTF-8 (an invalid sequence becomes U+FFFD); an empty line is a record with one empty
 * field; the last record needs no line ending. Field counts are not checked: that is the caller's.
 *
 * For input without malformed records this is exactly what csv-parse returns with `{ bom: true,
 * relax_column_count: true, record_delimiter: ['\r\n', '\n'] }`, plus `relax_quotes: true` when a
 * quote is inside an unquoted field (the tests check it). Where csv-parse with its defaults differs:
 *   - it detects the line ending from the first one in the file (`\n`, `\r\n` or a lone `\r`) and
 *     uses only that one: mixed endings leave `\r` in fields, and a lone `\r` met first ends records;
 *   - it keeps a BOM as data (option `bom: false`);
 *   - it throws when a record has another field count than the first one (an empty line does);
 *   - it throws on a quote inside an unquoted field (`ab"c`); here the quote is data, as with its
 *     `relax_quotes`, since such a field cannot hide a delimiter and the caller validates values;
 *   - it throws on text after a closing quote (`"ab"c`) and on an unterminated quote; here they are
 *     malformed records (with `relax_quotes` it would return `"ab"c` as a literal field);
 *   - it has no record size limit (`max_record_size: 0`); here see below.
 * A `\r` at the very end of input, with no `\n` after it, is data here (as in csv-parse with the
 * record delimiters above; with its defaults it depends on the first line ending of the file).
 *
 * Malformed records never stop the scan; each is reported once to `onMalformed`, still counts in
 * `records`, and the next record keeps its right number:
 *   - `text_after_quote`: `"ab"c,...`; the rest of the record is read on as if unquoted, so its end
 *     is where it would be without the stray text;
 *   - `unterminated_quote`: the input ends inside a quoted field;
 *   - `record_too_long`: the record has more than `maxRecordBytes` bytes. It is skipped without being
 *     buffered, to the first `\n` after its first `maxRecordBytes` bytes, quoted or not: a stray
 *     opening quote then costs at most that many bytes of input rather than the rest of the file,
 *     at the price of resuming mid-field after a genuinely oversized quoted field with line breaks.
 *
 * Memory is bounded: between chunks only the unfinished record is kept, in a buffer of
 * `maxRecordBytes + 2` bytes, and no field string shares memory with a chunk. Speed comes from
 * finding delimiters in the bytes and making each field's string once, with no per-byte string
 * building: when a chunk is all ASCII (checked once, in SIMD), it is decoded once as latin1 text and
 * a short field is a copied slice of it, a long one a latin1 copy of its bytes; otherwise each field
 * is decoded as UTF-8 on its own. A callback that throws leaves the scanner unusable.
 *
 * @example
 * const scanner = new CsvRecordScanner({ onRecord: (f, n) => console.log(n, f.join('|')) });
 * scanner.push(Buffer.from('user_id,track_id\nu1,"t,1"\r\nu2,t'));
 * scanner.push(Buffer.from('2\n'));
 * scanner.end(); // logs "1 user_id|track_id", "2 u1|t,1", "3 u2|t2"
 */
export class CsvRecordScanner {
  /** Records seen so far, well-formed and malformed. */
  records = 0;
  /** Malformed records seen so far. */
  malformed = 0;
  /**
   * Records seen so far that ended with `\r\n`, and with a `\n` alone (a record the input's end
   * ends is in neither): whether a file's line endings are all of one kind.
   */
  crlfEnds = 0;
  lfEnds = 0;

  private readonly onRecord: CsvRecordScannerOptions['onRecord'];
  private readonly onSpans: CsvRecordScannerOptions['onSpans'];
  private readonly onMalformed: CsvRecordScannerOptions['onMalformed'];
  /** The longest record in bytes this scanner reads, not counting its line ending. */
  readonly maxRecordBytes: number;
  private readonly fields: string[] = [];
  /** The record being scanned, as spans; decoded into `fields` for `onRecord`. */
  private readonly spans = new RecordSpans();
  /** The unfinished record of the previous chunks, with room for its `\r\n`. */
  private readonly carry: Bytes;
  private carryLength = 0;
  /** Lexer state at the end of the carried bytes. */
  private carryState = FIELD_START;
  /** Inside a too-long record, already reported: drop bytes up to the next `\n`. */
  private skipping = false;
  /** Bytes of the BOM matched so far; the input has started once this is settled. */
  private bomMatched = 0;
  private started = false;

  constructor(options: CsvRecordScannerOptions) {
    const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxRecordBytes must be a positive integer`);
    this.maxRecordBytes = max;
    if ((options.onRecord === undefined) === (options.onSpans === undefined))
      throw new TypeError('give onRecord or onSpans');
    this.onRecord = options.onRecord;
    this.onSpans = options.onSpans;
    this.started = options.midFile === true;
    this.onMalformed = options.onMalformed;
    this.carry = Buffer.alloc(max + 2) as Bytes;
  }

  /** Scan the complete records of `chunk`; an unfinished last record waits for the next chunk. */
  push(chunk: Uint8Array): void {
    if (this.started) {
      this.pushBytes(chunk);
      return;
    }
    // The BOM may itself be split across chunks: hold its bytes until it is matched or refuted.
    const heldBefore = this.bomMatched;
    let k = 0;
    while (k < chunk.length && this.bomMatched < 3 && chunk[k] === BOM[this.bomMatched]) {
      k++;
      this.bomMatched++;
    }
    if (this.bomMatched === 3) {
      this.started = true;
      this.pushBytes(chunk.subarray(k));
    } else if (k < chunk.length) {
      // Not a BOM after all: the bytes held from earlier chunks are data.
      this.started = true;
      if (heldBefore > 0) this.pushBytes(BOM.subarray(0, heldBefore));
      this.pushBytes(chunk);
    }
  }

  /**
   * Whether the bytes pushed so far end exactly at the end of a record, outside any quotes: the
   * next byte of the file then starts a record, so a range of the file that starts there can be
   * scanned on its own (`midFile`). False inside a quoted field that spans lines.
   */
  get atRecordBoundary(): boolean {
    return this.started && this.carryLength === 0 && !this.skipping;
  }

  /**
   * Count `n` records the caller read itself, from the input between pushes at a record boundary
   * (a caller's fast path for plain lines): the records after them keep their right numbers.
   */
  countRecords(n: number): void {
    this.records += n;
  }

  /** Scan the last record (the input need not end with a line ending). */
  end(): void {
    if (!this.started) {
      this.started = true;
      if (this.bomMatched > 0 && this.bomMatched < 3) this.pushBytes(BOM.subarray(0, this.bomMatched));
    }
    if (this.carryLength > 0) {
      const carry = this.carry;
      this.scan(carry, 0, this.carryLength, this.textOf(carry, this.carryLength), true);
      this.carryLength = 0;
    }
    this.carryState = FIELD_START;
    this.skipping = false;
  }

  /** The chunk's text to slice fields from, when they are decoded here at all (see asciiText). */
  private textOf(buf: Bytes, end: number): string | undefined {
    return this.onRecord === undefined ? undefined : asciiText(buf, end);
  }

  private pushBytes(chunk: Uint8Array): void {
    const length = chunk.length;
    if (length === 0) return;
    const buf = (
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, length)
    ) as Bytes;
    let start = 0;
    if (this.skipping) {
      const newline = buf.indexOf(NEWLINE);
      if (newline < 0) return;
      this.skipping = false;
      start = newline + 1;
    } else if (this.carryLength > 0) {
      start = this.finishCarriedRecord(buf);
      if (start < 0) return;
    }
    const tail = this.scan(buf, start, length, this.textOf(buf, length), false);
    if (tail < length) this.keepTail(buf, tail, length);
  }

  /**
   * The hot loop. Scans the records of `buf[start, end)` and returns the offset of the first one it
   * cannot finish (`end` if none). With `final`, `end` is the end of input and also ends a record.
   *
   * A record may end no further than its byte `maxRecordBytes + 1` (a `\r\n` after the longest
   * record), so the scan of a record never goes past `stop`: reaching it means too long when it is
   * that limit, else the record is unfinished. This keeps every record's cost bounded, and makes the
   * verdict independent of where the chunks are split.
   */
  private scan(buf: Bytes, start: number, end: number, text: string | undefined, final: boolean): number {
    const spans = this.spans;
    spans.bytes = buf;
    spans.carried = buf === this.carry;
    const max = this.maxRecordBytes;
    const room = max + 2;
    let i = start;
    records: while (i < end) {
      const recordStart = i;
      const limit = recordStart + room;
      const stop = end < limit ? end : limit;
      let n = 0;
      let problem = -1;
      // The offset of the record's \n, or `end` when the input ends it.
      let recordEnd = -1;
      let c = 0;
      for (;;) {
        if (i < stop && buf[i] === QUOTE) {
          const contentStart = ++i;
          let escaped = false;
          for (;;) {
            while (i < stop && buf[i] !== QUOTE) i++;
            if (i + 1 >= stop || buf[i + 1] !== QUOTE) break;
            escaped = true;
            i += 2;
          }
          if (i + 1 >= stop) {
            // No closing quote yet, or one in the last byte with nothing seen after it.
            if (stop === limit) {
              i = this.skipTooLong(buf, recordStart, end);
              continue records;
            }
            if (!final) return recordStart;
            if (i >= stop) {
              problem = PROBLEM_UNTERMINATED;
            } else {
              spans.put(n++, contentStart, i, escaped);
              i++;
            }
            recordEnd = end;
            break;
          }
          // A closing quote at i, and i + 1 < stop.
          c = buf[++i]!;
          if (c === COMMA) {
            spans.put(n++, contentStart, i - 1, escaped);
            i++;
            continue;
          }
          if (c === NEWLINE) {
            spans.put(n++, contentStart, i - 1, escaped);
            recordEnd = i++;
            break;
          }
          if (c === CARRIAGE_RETURN) {
            if (i + 1 < stop) {
              if (buf[i + 1] === NEWLINE) {
                spans.put(n++, contentStart, i - 1, escaped);
                recordEnd = i + 1;
                i += 2;
                break;
              }
            } else if (stop === limit) {
              i = this.skipTooLong(buf, recordStart, end);
              continue records;
            } else if (!final) {
              return recordStart;
            }
          }
          // Text after the closing quote: read the rest of the field as unquoted, below.
          problem = PROBLEM_TEXT_AFTER_QUOTE;
        }
        // An unquoted field; a quote in it is data.
        const fieldStart = i;
        while (i < stop && (c = buf[i]!) !== COMMA && c !== NEWLINE) i++;
        if (i >= stop) {
          if (stop === limit) {
            i = this.skipTooLong(buf, recordStart, end);
            continue records;
          }
          if (!final) return recordStart;
          // The input ends the record: a \r before it is data.
          spans.put(n++, fieldStart, i, false);
          recordEnd = end;
          break;
        }
        if (c === COMMA) {
          spans.put(n++, fieldStart, i, false);
          i++;
          continue;
        }
        recordEnd = i;
        spans.put(n++, fieldStart, i > fieldStart && buf[i - 1] === CARRIAGE_RETURN ? i - 1 : i, false);
        i++;
        break;
      }
      const record = ++this.records;
      if (recordEnd < end) {
        if (recordEnd > recordStart && buf[recordEnd - 1] === CARRIAGE_RETURN) this.crlfEnds++;
        else this.lfEnds++;
      }
      // Only a record ending exactly at its byte maxRecordBytes + 1 with no \r before it gets here too long.
      if (recordEnd - recordStart > max && (recordEnd === end || buf[recordEnd - 1] !== CARRIAGE_RETURN)) {
        problem = PROBLEM_TOO_LONG;
      }
      if (problem >= 0) {
        this.report(problem, record, exampleText(buf.subarray(recordStart, recordEnd)));
        continue;
      }
      spans.count = n;
      this.deliver(text, record);
    }
    return i;
  }

  private deliver(text: string | undefined, record: number): void {
    const spans = this.spans;
    if (this.onSpans !== undefined) {
      this.onSpans(spans, record);
      return;
    }
    const fields = this.fields;
    const n = spans.count;
    for (let k = 0; k < n; k++) {
      const value = decode(spans.bytes as Bytes, spans.starts[k]!, spans.ends[k]!, text);
      fields[k] = spans.escaped[k] === 1 ? value.replaceAll('""', '"') : value;
    }
    if (fields.length !== n) fields.length = n;
    this.onRecord!(fields, record);
  }

  /**
   * A record has passed maxRecordBytes: report it, and return the offset after the first \n at or
   * after its byte maxRecordBytes + 1, or `end` (with `skipping` set) when there is none in `buf`.
   */
  private skipTooLong(buf: Bytes, recordStart: number, end: number): number {
    this.report(
      PROBLEM_TOO_LONG,
      ++this.records,
      headText(buf, recordStart, Math.min(end, recordStart + this.maxRecordBytes + 1)),
    );
    const newline = buf.indexOf(NEWLINE, recordStart + this.maxRecordBytes + 1);
    if (newline >= 0 && newline < end) return newline + 1;
    this.skipping = true;
    return end;
  }

  private report(problem: number, record: number, text: string): void {
    this.malformed++;
    this.onMalformed?.(CSV_PROBLEMS[problem]!, record, text);
  }

  /**
   * Finds where the carried record ends in `buf`, within what maxRecordBytes allows; completes and
   * scans it. Returns the offset in `buf` after it, or -1 when `buf` is used up.
   */
  private finishCarriedRecord(buf: Bytes): number {
    const carry = this.carry;
    const room = carry.length - this.carryLength;
    const newline = this.findRecordEnd(buf, Math.min(buf.length, room));
    if (newline >= 0) {
      carry.set(buf.subarray(0, newline + 1), this.carryLength);
      const length = this.carryLength + newline + 1;
      this.carryLength = 0;
      this.carryState = FIELD_START;
      this.scan(carry, 0, length, this.textOf(carry, length), false);
      return newline + 1;
    }
    if (buf.length < room) {
      carry.set(buf, this.carryLength);
      this.carryLength += buf.length;
      return -1;
    }
    // Too long: the same verdict and the same resumption point as scan's.
    // Its first bytes, as scan would show them: from the carry and from this chunk.
    const head = Buffer.concat(
      [carry.subarray(0, this.carryLength), buf.subarray(0, room - 1)],
      Math.min(EXAMPLE_TEXT_CHARS, this.maxRecordBytes + 1),
    );
    this.report(PROBLEM_TOO_LONG, ++this.records, headText(head, 0, head.length));
    this.carryLength = 0;
    this.carryState = FIELD_START;
    const next = buf.indexOf(NEWLINE, room - 1);
    if (next >= 0) return next + 1;
    this.skipping = true;
    return -1;
  }

  /** Carry the unfinished record `buf[from, to)`, which scan guarantees fits, and its lexer state. */
  private keepTail(buf: Bytes, from: number, to: number): void {
    this.carry.set(buf.subarray(from, to), 0);
    this.carryLength = to - from;
    this.carryState = FIELD_START;
    this.findRecordEnd(this.carry, this.carryLength);
  }

  /**
   * The record-end lexer of scan, one byte at a time from `carryState`, over `buf[0, to)`: returns
   * the offset of the \n that ends the record, or -1 with `carryState` updated. Only the bytes
   * around chunk boundaries go through here.
   */
  private findRecordEnd(buf: Uint8Array, to: number): number {
    let state = this.carryState;
    for (let i = 0; i < to; i++) {
      const c = buf[i]!;
      switch (state) {
        case FIELD_START:
          if (c === NEWLINE) return i;
          state = c === QUOTE ? QUOTED : c === COMMA ? FIELD_START : UNQUOTED;
          break;
        case UNQUOTED:
          if (c === NEWLINE) return i;
          if (c === COMMA) state = FIELD_START;
          break;
        case QUOTED:
          if (c === QUOTE) state = QUOTED_QUOTE;
          break;
        default:
          if (c === NEWLINE) return i;
          state = c === QUOTE ? QUOTED : c === COMMA ? FIELD_START : UNQUOTED;
      }
    }
    this.carryState = state;
    return -1;
  }
}

/** The printable start of `buf[start, end)`, the first bytes of a record too long to be read to its end. */
function headText(buf: Uint8Array, start: number, end: number): string {
  return exampleText(buf.subarray(start, Math.min(end, start + EXAMPLE_TEXT_CHARS))) + '...';
}

/**
 * V8 copies a substring shorter than this (SlicedString::kMinLength) instead of pointing into its
 * parent: such a slice of a chunk's text never keeps the chunk alive in a caller's map.
 */
const COPIED_SLICE_CHARS = 13;

/** `buf[0, end)` as latin1 text when it is all ASCII, for slicing short fields out of; else undefined. */
function asciiText(buf: Bytes, end: number): string | undefined {
  return isAscii(buf.subarray(0, end)) ? buf.latin1Slice(0, end) : undefined;
}

/**
 * The field `buf[start, end)` as a string of its own. With `text` (the chunk is all ASCII), a short
 * field is a slice of it, a long one a latin1 copy; else UTF-8 decoding. Each is one call, and the
 * slice saves most of a native call: about 15% of the scan on typical rows.
 */
function decode(buf: Bytes, start: number, end: number, text: string | undefined): string {
  const length = end - start;
  if (length === 0) return '';
  if (text === undefined) return buf.utf8Slice(start, end);
  return length < COPIED_SLICE_CHARS ? text.slice(start, end) : buf.latin1Slice(start, end);
}

/**
 * One record's fields as spans of `bytes`: field k is `bytes[starts[k], ends[k])`, the quotes of a
 * quoted field left out; `escaped[k]` is 1 when it holds a doubled quote `""` (one quote in the
 * value). The arrays grow with the widest record seen and are reused.
 */
export class RecordSpans {
  bytes: Uint8Array = new Uint8Array(0);
  /**
   * `bytes` is the scanner's own buffer of a record split across chunks, written over as the
   * next chunk's tail is kept; otherwise it is the chunk pushed, valid as long as the caller keeps it.
   */
  carried = false;
  count = 0;
  starts = new Int32Array(16);
  ends = new Int32Array(16);
  escaped = new Uint8Array(16);

  /** Field k's value as text (UTF-8, an invalid sequence as U+FFFD), as `onRecord` gets it. */
  text(k: number): string {
    const value = (this.bytes as Bytes).utf8Slice(this.starts[k]!, this.ends[k]!);
    return this.escaped[k] === 1 ? value.replaceAll('""', '"') : value;
  }

  isEmpty(k: number): boolean {
    return this.starts[k] === this.ends[k];
  }

  /** Field k's id in `ids`, from its bytes unless it holds a doubled quote (then from its text). */
  idIn(k: number, ids: IdInterner): number {
    if (this.escaped[k] === 1) return ids.id(this.text(k));
    return ids.idOf(this.bytes, this.starts[k]!, this.ends[k]!);
  }

  /** Every field's text, joined by commas: the record as a reject example shows it. */
  joined(): string {
    return Array.from({ length: this.count }, (_, k) => this.text(k)).join(',');
  }

  put(k: number, start: number, end: number, escaped: boolean): void {
    if (k === this.starts.length) this.grow();
    this.starts[k] = start;
    this.ends[k] = end;
    this.escaped[k] = escaped ? 1 : 0;
  }

  private grow(): void {
    const capacity = this.starts.length * 2;
    const starts = new Int32Array(capacity);
    starts.set(this.starts);
    const ends = new Int32Array(capacity);
    ends.set(this.ends);
    const escaped = new Uint8Array(capacity);
    escaped.set(this.escaped);
    this.starts = starts;
    this.ends = ends;
    this.escaped = escaped;
  }
}
