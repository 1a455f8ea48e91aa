import { growTo, kernelInstance, pagesFor } from '../ops/wasmKernel.js';
import { WASM_BASE64 } from './streamScan.wasm.js';

/**
 * The plain-row pass of a streams CSV chunk (StreamRowReader's hot loop), a WebAssembly kernel
 * compiled from streamScan.as.ts: it reads the lines with every field where its commas put it
 * (plain, or quoted whole with nothing to unescape), a batch at a time: the valid rows, and the
 * rejects of lines with no quote; it stops at the first line that is anything else (the CSV
 * scanner's). In JavaScript the same pass spent about 200 ns a row on this loop's
 * bytes and the listen times' digits, most of it V8's checks at each typed-array access
 * (docs/BENCHMARKS.md, "The streams' plain rows in WebAssembly").
 *
 * One a thread (streamScan()): a chunk's rows are read, their ids looked up and handed on within
 * one synchronous call (StreamRowReader.push), so readers on a thread never share it mid-chunk;
 * and a WebAssembly memory is given back only at some later collection, so one is kept.
 */
export class StreamScan {
  private readonly memory: WebAssembly.Memory;
  private readonly exports: ScanExports;
  /** The chunk in the memory (copied by `load`), and the views of the memory. */
  private loaded: Uint8Array | undefined;
  private i32!: Int32Array;
  /** The batch's rows: each one's ids as spans of `bytes`, and its listen time. */
  bytes!: Uint8Array;
  userStarts!: Int32Array;
  userEnds!: Int32Array;
  trackStarts!: Int32Array;
  trackEnds!: Int32Array;
  times!: Float64Array;
  private rejectStarts!: Int32Array;
  private rejectEnds!: Int32Array;
  private rejectLines!: Int32Array;
  private rejectReasons!: Int32Array;
  /** The batch's runs of rows of one UTC day: run r's first row, and its day. */
  runFrom!: Int32Array;
  runDays!: Int32Array;

  constructor() {
    this.memory = new WebAssembly.Memory({ initial: pagesFor(CHUNK_AT + (1 << 20), 'a chunk') });
    this.exports = kernelInstance<ScanExports>(WASM_BASE64, this.memory);
    if (
      this.exports.CHUNK_AT.value !== CHUNK_AT ||
      this.exports.ROWS.value !== ROWS ||
      this.exports.REJECTS.value !== REJECTS
    )
      throw new Error('streamScan.wasm.ts does not match streamScan.ts: run npm run build:wasm');
    this.views();
  }

  /** `chunk` copied into the memory, unless it is the one there (a chunk is read in many calls). */
  load(chunk: Uint8Array): void {
    if (chunk === this.loaded) return;
    if (growTo(this.memory, CHUNK_AT + chunk.length + SLACK, 'a chunk')) this.views();
    this.bytes.set(chunk, CHUNK_AT);
    this.loaded = chunk;
  }

  /** The chunk loaded is not to be taken as the next one's, even if it is the same object. */
  forget(): void {
    this.loaded = undefined;
  }

  /**
   * The plain rows of the loaded chunk from `from` (a line's start) to `end` into the batch (ROWS
   * at most), their fields where `layout` says: returns where the scan stopped (`end`; a line the
   * caller reads its own way; or, when `full`, the line after the batch's last row). `rows` and
   * `lines` tell what it read.
   */
  scanRows(from: number, end: number, layout: RowLayout): number {
    const { width, user, track, time, maxLineBytes } = layout;
    return (
      this.exports.scanRows(CHUNK_AT + from, CHUNK_AT + end, width, user, track, time, maxLineBytes) -
      CHUNK_AT
    );
  }

  /** Rows in the batch after the last scanRows. */
  get rows(): number {
    return this.i32[S_ROWS]!;
  }

  /** Lines the last scanRows read (its rows and blank lines). */
  get lines(): number {
    return this.i32[S_LINES]!;
  }

  /** Whether the last scanRows stopped because the batch was full (of rows or of rejects). */
  get full(): boolean {
    return this.i32[S_FULL] === 1;
  }

  /** Runs of rows of one UTC day in the batch after the last scanRows (runFrom, runDays). */
  get runs(): number {
    return this.i32[S_RUNS]!;
  }

  /** Rejects in the batch after the last scanRows. */
  get rejects(): number {
    return this.i32[S_REJECTS]!;
  }

  /** Reject k's reason: its index in STREAM_ROW_REJECTS (streamRows.ts), 1 to 3. */
  rejectReason(k: number): number {
    return this.rejectReasons[k]!;
  }

  /** Reject k's line: its place among the lines the last scanRows read (from 0). */
  rejectLine(k: number): number {
    return this.rejectLines[k]!;
  }

  /** Reject k's line as text (its line ending left out), decoded as the CSV scanner decodes a field. */
  rejectText(k: number): string {
    const start = this.rejectStarts[k]!;
    return Buffer.from(this.memory.buffer, start, this.rejectEnds[k]! - start).toString('utf8');
  }

  /** The kernel's listen time of `text` (parseListenTimeBytes's): for the tests that hold them together. */
  listenTime(text: Uint8Array): number {
    this.forget();
    this.bytes.set(text, CHUNK_AT);
    return this.exports.listenTime(CHUNK_AT, CHUNK_AT + text.length);
  }

  private views(): void {
    const buffer = this.memory.buffer;
    this.bytes = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.userStarts = new Int32Array(buffer, USER_STARTS_AT, ROWS);
    this.userEnds = new Int32Array(buffer, USER_STARTS_AT + 4 * ROWS, ROWS);
    this.trackStarts = new Int32Array(buffer, USER_STARTS_AT + 8 * ROWS, ROWS);
    this.trackEnds = new Int32Array(buffer, USER_STARTS_AT + 12 * ROWS, ROWS);
    this.times = new Float64Array(buffer, USER_STARTS_AT + 16 * ROWS, ROWS);
    this.rejectStarts = new Int32Array(buffer, REJECTS_AT, REJECTS);
    this.rejectEnds = new Int32Array(buffer, REJECTS_AT + 4 * REJECTS, REJECTS);
    this.rejectLines = new Int32Array(buffer, REJECTS_AT + 8 * REJECTS, REJECTS);
    this.rejectReasons = new Int32Array(buffer, REJECTS_AT + 12 * REJECTS, REJECTS);
    this.runFrom = new Int32Array(buffer, RUNS_AT, ROWS);
    this.runDays = new Int32Array(buffer, RUNS_AT + 4 * ROWS, ROWS);
  }
}

/** Where a streams file's fields are: its header's width and columns, and the longest line. */
export interface RowLayout {
  width: number;
  user: number;
  track: number;
  time: number;
  maxLineBytes: number;
}

let scan: StreamScan | undefined;

/** This thread's StreamScan. */
export function streamScan(): StreamScan {
  scan ??= new StreamScan();
  return scan;
}

interface ScanExports {
  scanRows(
    from: number,
    end: number,
    width: number,
    user: number,
    track: number,
    time: number,
    max: number,
  ): number;
  listenTime(start: number, end: number): number;
  ROWS: WebAssembly.Global;
  REJECTS: WebAssembly.Global;
  CHUNK_AT: WebAssembly.Global;
}

/** The kernel's layout (streamScan.as.ts), checked against its exports. */
export const ROWS = 1024;
const REJECTS = 256;
const USER_STARTS_AT = 64;
const REJECTS_AT = USER_STARTS_AT + 24 * ROWS;
const RUNS_AT = REJECTS_AT + 16 * REJECTS;
const CHUNK_AT = RUNS_AT + 8 * ROWS;
const S_ROWS = 0;
const S_LINES = 1;
const S_FULL = 2;
const S_REJECTS = 3;
const S_RUNS = 4;
/** Bytes past a chunk the kernel may load (a word read at its last bytes). */
const SLACK = 64;
