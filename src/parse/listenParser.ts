import { COUNTRY_BY_LETTERS } from './countries.js';
import { type ListenScan, listenScan, SCAN_WINDOW_BYTES } from './listenScan.js';
import { MAX_LINE_BYTES, REJECT_REASONS, Reject } from './rejects.js';

/** Largest id a row may carry: 2^53 - 1, the largest integer a double holds exactly. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** Valid rows handed over together; the arrays are reused after `onBatch` returns. */
export interface ListenBatch {
  readonly songs: Float64Array;
  readonly users: Float64Array;
  readonly countries: Uint8Array;
  length: number;
}

/** Rows a batch holds unless ListenParserOptions says otherwise. */
const BATCH_ROWS = 65_536;

/** Empty arrays for batches of `rows` rows (ListenParserOptions.arrays, or a parser's own). */
export function listenBatchArrays(rows = BATCH_ROWS): Omit<ListenBatch, 'length'> {
  return { songs: new Float64Array(rows), users: new Float64Array(rows), countries: new Uint8Array(rows) };
}

export interface ListenParserOptions {
  /** Receives each full batch of valid rows, and the last partial one at `end()`. */
  onBatch: (batch: ListenBatch) => void;
  /** Receives each rejected row: reason index (see REJECT_REASONS), 1-based line, the line's bytes. */
  onReject?: (reason: number, line: number, bytes: Uint8Array) => void;
  /** Rows per batch (default 65,536). */
  batchSize?: number;
  /**
   * The arrays to gather the batches in (their length the batch size), instead of new ones: a
   * worker parses a day in units, and a unit's 1.1 MB of new arrays cost their pages' first touch
   * (about 11 us a page on the EPYC VMs). One parser at a time may use them.
   */
  arrays?: Omit<ListenBatch, 'length'>;
  /**
   * The bytes start at the beginning of the file (default true): its first line may then be a
   * header naming the columns. False for a worker's unit or chunk that starts mid-file.
   */
  atFileStart?: boolean;
  /**
   * The common rows read by the WebAssembly kernel (listenScan.ts), many lines a call (default
   * true); false reads every line in JavaScript, as the tests and benchmarks do to compare.
   */
  kernel?: boolean;
}

/**
 * Version of the row rule (what is a valid row, and how a line is classified). A day parsed under
 * an older rule may have rejected rows this rule accepts, so its partial is rebuilt (see
 * StateStore). 1: the first rule; 2: blanks around fields ignored, a header line skipped.
 */
export const ROW_RULE_VERSION = 2;

/** Lines read here at most between two tries of the kernel that took none (ListenParser.parseLines). */
const MAX_BACKOFF_LINES = 1024;

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const SPACE = 32;
const TAB = 9;
const PIPE = 124;
const DIGIT_0 = 48;
const LETTER_A = 65;

/**
 * Streaming parser for `sng_id|user_id|country` listen rows: a pure function of the bytes it is
 * given, with no I/O. Feed it chunks with `push` (a row may be split anywhere, even inside a
 * `\r\n`), then call `end()`. Valid rows come out in typed-array batches; every other line is
 * counted under the first reject reason that applies and never stops the parse.
 *
 * Memory is bounded: the only state carried between chunks is the unfinished line, and a line
 * longer than MAX_LINE_BYTES is skipped to its end without being buffered.
 *
 * @example
 * const parser = new ListenParser({ onBatch: (b) => console.log(b.length, b.songs[0]) });
 * parser.push(Buffer.from('42|7|FR\n43|7|F'));
 * parser.push(Buffer.from('R\n'));
 * parser.end(); // logs "2 42"
 */
export class ListenParser {
  /** Rows seen so far (valid and rejected; a header line is not a row). */
  lines = 0;
  /** 1 once the first line was found to be a header naming the columns, else 0. */
  header = 0;
  /** Valid rows emitted so far. */
  valid = 0;
  /** Rejected rows per reason, indexed like REJECT_REASONS. */
  readonly rejects = new Float64Array(REJECT_REASONS.length);

  private readonly batch: ListenBatch;
  private readonly batchSize: number;
  private readonly onBatch: ListenParserOptions['onBatch'];
  private readonly onReject: ListenParserOptions['onReject'];
  /** The unfinished line of the previous chunk; one extra byte holds a trailing `\r`. */
  private readonly carry = new Uint8Array(MAX_LINE_BYTES + 2);
  private carryLength = 0;
  /** The carried line is longer than the carry buffer: its bytes past the buffer are dropped. */
  private carryOverflow = false;
  // Fields of the last line that classifyLine found valid.
  private slowSong = 0;
  private slowUser = 0;
  private slowCountry = 0;
  /** The song, user and country index of the last row blankedRow read. */
  private readonly fields = new Float64Array(3);
  /** The next line is the file's first, and may be its header. */
  private headerAllowed: boolean;
  private readonly scan: ListenScan | undefined;

  constructor(options: ListenParserOptions) {
    this.batchSize = options.arrays?.songs.length ?? options.batchSize ?? BATCH_ROWS;
    this.headerAllowed = options.atFileStart ?? true;
    this.onBatch = options.onBatch;
    this.onReject = options.onReject;
    this.batch = { ...(options.arrays ?? listenBatchArrays(this.batchSize)), length: 0 };
    this.scan = options.kernel === false ? undefined : listenScan();
  }

  /** Parse the complete lines of `chunk`; an unfinished last line waits for the next chunk. */
  push(chunk: Uint8Array): void {
    let start = 0;
    if (this.carryLength > 0 || this.carryOverflow) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline < 0) {
        this.appendCarry(chunk, 0, chunk.length);
        return;
      }
      this.appendCarry(chunk, 0, newline);
      this.finishCarriedLine();
      start = newline + 1;
    }
    const tail = this.parseLines(chunk, start, chunk.length);
    if (tail < chunk.length) this.appendCarry(chunk, tail, chunk.length);
  }

  /** Parse the last line (a file need not end with a newline) and emit the last batch. */
  end(): void {
    if (this.carryLength > 0 || this.carryOverflow) this.finishCarriedLine();
    this.flush();
  }

  /** Total rejected rows. */
  get rejected(): number {
    let total = 0;
    for (const n of this.rejects) total += n;
    return total;
  }

  private flush(): void {
    if (this.batch.length > 0) {
      this.onBatch(this.batch);
      this.batch.length = 0;
    }
  }

  private appendCarry(chunk: Uint8Array, from: number, to: number): void {
    const room = this.carry.length - this.carryLength;
    const n = to - from;
    if (n > room) {
      this.carry.set(chunk.subarray(from, from + room), this.carryLength);
      this.carryLength += room;
      this.carryOverflow = true;
    } else {
      this.carry.set(chunk.subarray(from, to), this.carryLength);
      this.carryLength += n;
    }
  }

  private finishCarriedLine(): void {
    const line = this.carry.subarray(0, this.carryLength);
    if (this.carryOverflow) this.reject(Reject.lineTooLong, line);
    else this.acceptOrReject(line, 0, line.length);
    this.carryLength = 0;
    this.carryOverflow = false;
  }

  private acceptOrReject(buf: Uint8Array, start: number, end: number): void {
    const reason = this.classifyLine(buf, start, end);
    if (reason >= 0) {
      if (this.headerAllowed && this.lines === 0 && isHeaderLine(buf, start, end)) {
        this.header = 1;
        this.headerAllowed = false;
        return;
      }
      this.reject(reason, buf.subarray(start, end));
      return;
    }
    this.lines++;
    this.valid++;
    const batch = this.batch;
    const n = batch.length;
    batch.songs[n] = this.slowSong;
    batch.users[n] = this.slowUser;
    batch.countries[n] = this.slowCountry;
    batch.length = n + 1;
    if (batch.length === this.batchSize) this.flush();
  }

  private reject(reason: number, bytes: Uint8Array): void {
    this.lines++;
    this.rejects[reason]!++;
    // Line numbers count the header line too: they are the file's.
    this.onReject?.(reason, this.lines + this.header, bytes);
  }

  /**
   * The hot loop. The kernel (listenScan.ts) reads the common rows many at a time; a line it does
   * not take is read here: the well-formed row inline, byte by byte, with every field in a local;
   * any deviation (and any line it cannot finish) goes to classifyLine, which is slow and exact.
   * Returns the offset of the first line that is not complete in `buf`.
   */
  private parseLines(buf: Uint8Array, start: number, end: number): number {
    const batch = this.batch;
    const songs = batch.songs;
    const users = batch.users;
    const countries = batch.countries;
    const batchSize = this.batchSize;
    let n = batch.length;
    let lines = this.lines;
    let valid = this.valid;
    let i = start;
    // The end of the last whole line: the fast path reads only lines that end before it.
    const whole = buf.lastIndexOf(NEWLINE, end - 1) + 1;
    const scan = this.scan;
    // The whole lines copied into the kernel's memory, [loadedFrom, loadedTo) (at most
    // SCAN_WINDOW_BYTES at a time, so that its memory stays small whatever the chunk); the lines to
    // read here before asking it again, after it took none: more each time it takes none in a row,
    // so that a log of lines it never takes costs it nothing.
    let loadedFrom = 0;
    let loadedTo = 0;
    // The kernel's load count after this call's last load: another parser's load (from onBatch)
    // replaces the bytes, which are then loaded again.
    let loaded = -1;
    let linesHere = 0;
    let backoff = 1;
    while (i < end) {
      if (scan !== undefined && linesHere === 0 && i < whole) {
        if (i >= loadedTo || scan.loads !== loaded) {
          loadedFrom = i;
          loadedTo =
            whole - i <= SCAN_WINDOW_BYTES ? whole : buf.lastIndexOf(NEWLINE, i + SCAN_WINDOW_BYTES - 1) + 1;
          // A line longer than the window leaves it empty (loadedTo <= i): the kernel, which
          // takes no line of 32 bytes or more, is not asked, and the line is read here.
          scan.load(buf, loadedFrom, Math.max(loadedFrom, loadedTo));
          loaded = scan.loads;
        }
        const rows = loadedTo > i ? scan.scan(i - loadedFrom, loadedTo - loadedFrom, batchSize - n) : 0;
        if (rows > 0) {
          songs.set(scan.songs.subarray(0, rows), n);
          users.set(scan.users.subarray(0, rows), n);
          countries.set(scan.countries.subarray(0, rows), n);
          n += rows;
          lines += rows;
          valid += rows;
          i = loadedFrom + scan.stoppedAt;
          backoff = 1;
          if (n === batchSize) {
            batch.length = n;
            this.onBatch(batch);
            n = 0;
          }
          continue;
        }
        linesHere = backoff;
        backoff = Math.min(2 * backoff, MAX_BACKOFF_LINES);
      }
      if (linesHere > 0) linesHere--;
      const lineStart = i;
      let c = 0;
      let song = 0;
      let user = 0;
      let country = -1;
      // biome-ignore lint/suspicious/noConfusingLabels: one labelled block is the cheapest way out of the accept path
      fast: {
        // Every line before `whole` ends in a \n, which is no digit, letter or pipe: the loops below
        // stop at it at the latest, so they need not look for `end` (a compare a byte).
        if (i >= whole) break fast;
        // sng_id (a byte is a digit when c, taken as unsigned, is at most 9: one compare)
        while ((c = buf[i]! - DIGIT_0) >>> 0 <= 9) {
          song = song * 10 + c;
          i++;
        }
        if (i === lineStart || buf[i] !== PIPE || song > MAX_ID) break fast;
        const userStart = ++i;
        // user_id
        while ((c = buf[i]! - DIGIT_0) >>> 0 <= 9) {
          user = user * 10 + c;
          i++;
        }
        if (i === userStart || buf[i] !== PIPE || user > MAX_ID) break fast;
        i++;
        // country: two upper-case letters, then \n or \r\n (each byte read only after a letter)
        const a = buf[i]! - LETTER_A;
        if (a >>> 0 > 25) break fast;
        const b = buf[i + 1]! - LETTER_A;
        if (b >>> 0 > 25) break fast;
        country = COUNTRY_BY_LETTERS[a * 26 + b]!;
        if (country < 0) break fast;
        c = buf[i + 2]!;
        if (c === NEWLINE) i += 3;
        else if (c === CARRIAGE_RETURN && buf[i + 3] === NEWLINE) i += 4;
        else break fast;
        // Only ids with many leading zeros make a well-formed line this long.
        if (i - lineStart > MAX_LINE_BYTES + 1) {
          i = lineStart;
          break fast;
        }
        songs[n] = song;
        users[n] = user;
        countries[n] = country;
        lines++;
        valid++;
        if (++n === batchSize) {
          batch.length = n;
          this.onBatch(batch);
          n = 0;
        }
        continue;
      }
      // A row with blanks around its fields (the public sample's layout): one more pass, here.
      const next = blankedRow(buf, lineStart, end, this.fields);
      if (next >= 0) {
        songs[n] = this.fields[0]!;
        users[n] = this.fields[1]!;
        countries[n] = this.fields[2]!;
        lines++;
        valid++;
        if (++n === batchSize) {
          batch.length = n;
          this.onBatch(batch);
          n = 0;
        }
        i = next;
        continue;
      }
      // Slow path: find the line's end, then classify it exactly.
      const newline = buf.indexOf(NEWLINE, lineStart);
      if (newline < 0 || newline >= end) {
        i = lineStart;
        break;
      }
      batch.length = n;
      this.lines = lines;
      this.valid = valid;
      this.acceptOrReject(buf, lineStart, newline);
      n = batch.length;
      lines = this.lines;
      valid = this.valid;
      i = newline + 1;
    }
    batch.length = n;
    this.lines = lines;
    this.valid = valid;
    if (lines > 0) this.headerAllowed = false;
    return i;
  }

  /**
   * Returns -1 for a valid line (its fields left in slowSong, slowUser, slowCountry) or the index
   * of the first reject reason that applies. `end` excludes the `\n`; one `\r` before it is allowed.
   * Blanks (spaces, tabs) around a field are ignored; a line of blanks only is empty.
   */
  private classifyLine(buf: Uint8Array, start: number, end: number): number {
    if (end > start && buf[end - 1] === CARRIAGE_RETURN) end--;
    if (end - start > MAX_LINE_BYTES) return Reject.lineTooLong;
    for (let k = start; k < end; k++) if (buf[k]! >= 0x80) return Reject.nonAscii;
    if (skipBlanks(buf, start, end) === end) return Reject.empty;
    let firstPipe = -1;
    let secondPipe = -1;
    for (let k = start; k < end; k++) {
      if (buf[k] !== PIPE) continue;
      if (firstPipe < 0) firstPipe = k;
      else if (secondPipe < 0) secondPipe = k;
      else return Reject.fieldCount;
    }
    if (secondPipe < 0) return Reject.fieldCount;
    const songStart = skipBlanks(buf, start, firstPipe);
    const song = parseId(buf, songStart, trimBlanks(buf, songStart, firstPipe));
    if (song === BAD_ID) return Reject.badId;
    const userStart = skipBlanks(buf, firstPipe + 1, secondPipe);
    const user = parseId(buf, userStart, trimBlanks(buf, userStart, secondPipe));
    if (user === BAD_ID) return Reject.badId;
    if (song === TOO_LARGE || user === TOO_LARGE) return Reject.idTooLarge;
    const countryStart = skipBlanks(buf, secondPipe + 1, end);
    if (trimBlanks(buf, countryStart, end) - countryStart !== 2) return Reject.malformedCountry;
    const a = buf[countryStart]! - LETTER_A;
    const b = buf[countryStart + 1]! - LETTER_A;
    if (a < 0 || a > 25 || b < 0 || b > 25) return Reject.malformedCountry;
    const country = COUNTRY_BY_LETTERS[a * 26 + b]!;
    if (country < 0) return Reject.unknownCountry;
    this.slowSong = song;
    this.slowUser = user;
    this.slowCountry = country;
    return -1;
  }
}

/**
 * A well-formed row with blanks around its fields (`29569957 | 7788196 | BL`), read in one pass
 * from `start`: returns the offset past its `\n`, with song, user and country index in `out`, or
 * -1 for anything else (an unfinished line, any deviation), which classifyLine then decides.
 */
function blankedRow(buf: Uint8Array, start: number, end: number, out: Float64Array): number {
  let i = idThenPipe(buf, start, end, out, 0);
  if (i < 0 || (i = idThenPipe(buf, i, end, out, 1)) < 0) return -1;
  i = skipBlanks(buf, i, end);
  if (end - i < 2) return -1;
  const a = buf[i]! - LETTER_A;
  const b = buf[i + 1]! - LETTER_A;
  if (a < 0 || a > 25 || b < 0 || b > 25) return -1;
  const country = COUNTRY_BY_LETTERS[a * 26 + b]!;
  if (country < 0) return -1;
  // The line's content ends here, before one \r if there is one.
  const contentEnd = (i = skipBlanks(buf, i + 2, end));
  if (i < end && buf[i] === CARRIAGE_RETURN) i++;
  if (i >= end || buf[i] !== NEWLINE || contentEnd - start > MAX_LINE_BYTES) return -1;
  out[2] = country;
  return i + 1;
}

/** Blanks, an id of at most MAX_ID (its value into out[at]), blanks and a pipe: the offset past the pipe, or -1. */
function idThenPipe(buf: Uint8Array, start: number, end: number, out: Float64Array, at: number): number {
  const from = skipBlanks(buf, start, end);
  let i = from;
  let id = 0;
  let c = 0;
  while (i < end && (c = buf[i]! - DIGIT_0) >= 0 && c <= 9) {
    id = id * 10 + c;
    i++;
  }
  if (i === from) return -1;
  i = skipBlanks(buf, i, end);
  if (i >= end || buf[i] !== PIPE || id > MAX_ID) return -1;
  out[at] = id;
  return i + 1;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** The first offset in [start, end) that is not a blank, or `end`. */
function skipBlanks(buf: Uint8Array, start: number, end: number): number {
  while (start < end && isBlank(buf[start]!)) start++;
  return start;
}

/** The end of [start, end) without its trailing blanks. */
function trimBlanks(buf: Uint8Array, start: number, end: number): number {
  while (end > start && isBlank(buf[end - 1]!)) end--;
  return end;
}

const HEADER = ['sng_id', 'user_id', 'country'];

/**
 * Is the line `sng_id|user_id|country`, in any case, with blanks around the names? A UTF-8 byte
 * order mark before it is allowed (a header saved by a spreadsheet). `end` excludes the `\n`.
 */
function isHeaderLine(buf: Uint8Array, start: number, end: number): boolean {
  if (end > start && buf[end - 1] === CARRIAGE_RETURN) end--;
  if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf)
    start += 3;
  if (end - start > 64) return false;
  const fields = Buffer.from(buf.buffer, buf.byteOffset + start, end - start)
    .toString('latin1')
    .split('|');
  return (
    fields.length === HEADER.length &&
    fields.every((f, i) => f.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase() === HEADER[i])
  );
}

const BAD_ID = -1;
const TOO_LARGE = -2;

/** An id's value, BAD_ID when it is empty or has a non-digit, TOO_LARGE above MAX_ID. */
function parseId(buf: Uint8Array, start: number, end: number): number {
  if (end === start) return BAD_ID;
  let value = 0;
  for (let k = start; k < end; k++) {
    const d = buf[k]! - DIGIT_0;
    if (d < 0 || d > 9) return BAD_ID;
    value = value * 10 + d;
  }
  // Past 2^53 the double rounds, but never below 2^53, so the comparison stays exact.
  return value > MAX_ID ? TOO_LARGE : value;
}
