import { growTo, kernelInstance, pagesFor } from '../ops/wasmKernel.js';
import { COUNTRY_BY_LETTERS } from './countries.js';
import { WASM_BASE64 } from './listenScan.wasm.js';

/**
 * ListenParser's fast path over many lines at once, a WebAssembly kernel compiled from
 * listenScan.as.ts: the common row (`sng_id|user_id|CC`, ids of 1 to 10 digits, blanks around the
 * fields or none, then `\n` or `\r\n`) read with SIMD, 32 bytes a line, its ids made 8 digits at a
 * time. On a day of 20M rows the parser took 36 to 44 ns a row in JavaScript, 23 to 26 ns with
 * the kernel (the copy of the bytes into its memory included), and 74 against 25 ns a row where
 * every field has blanks around it, as in the public samples (docs/BENCHMARKS.md, "The listen rows
 * read with SIMD"). It takes only valid rows, with the values the JavaScript gives them; the parser
 * reads every other line itself, as before.
 *
 * One a thread (listenScan()): a parser loads its bytes and takes the rows out within one
 * synchronous call (ListenParser.push), and loads them again if another parser used the kernel in
 * between (from its batch handler: `loads` tells); a WebAssembly memory is given back only at some
 * later collection, so one is kept.
 */
export class ListenScan {
  private readonly memory: WebAssembly.Memory;
  private readonly exports: ScanExports;
  private bytes!: Uint8Array;
  private state!: Int32Array;
  /** Loads so far: a parser that finds it moved on knows its bytes were replaced (ListenParser). */
  loads = 0;
  /** The batch's rows after the last scan: songs, users, country indexes. */
  songs!: Float64Array;
  users!: Float64Array;
  countries!: Uint8Array;

  constructor() {
    this.memory = new WebAssembly.Memory({
      initial: pagesFor(CHUNK_AT + SCAN_WINDOW_BYTES + SLACK, 'a chunk'),
    });
    this.exports = kernelInstance<ScanExports>(WASM_BASE64, this.memory);
    if (
      this.exports.ROWS.value !== ROWS ||
      this.exports.COUNTRIES_AT.value !== COUNTRIES_AT ||
      this.exports.SONGS_AT.value !== SONGS_AT ||
      this.exports.CHUNK_AT.value !== CHUNK_AT
    )
      throw new Error('listenScan.wasm.ts does not match listenScan.ts: run npm run build:wasm');
    this.views();
    const table = this.bytes.subarray(COUNTRIES_AT, COUNTRIES_AT + COUNTRY_BY_LETTERS.length);
    COUNTRY_BY_LETTERS.forEach((country, i) => {
      table[i] = country < 0 ? NO_COUNTRY : country;
    });
  }

  /** `bytes[from, to)` copied into the memory, for `scan`'s offsets (relative to `from`). */
  load(bytes: Uint8Array, from: number, to: number): void {
    if (growTo(this.memory, CHUNK_AT + (to - from) + SLACK, 'a chunk')) this.views();
    this.bytes.set(bytes.subarray(from, to), CHUNK_AT);
    this.loads++;
  }

  /**
   * The rows of the loaded bytes from `from` (a line's start) to `end` (the end of a line), at most
   * `most` (and ROWS), into songs, users and countries: returns how many; `stoppedAt` says where it
   * stopped (`end`, the line after the last row, or a line the caller reads itself).
   */
  scan(from: number, end: number, most: number): number {
    return this.exports.scan(CHUNK_AT + from, CHUNK_AT + end, most);
  }

  /** Where the last scan stopped, relative to the loaded bytes. */
  get stoppedAt(): number {
    return this.state[0]! - CHUNK_AT;
  }

  private views(): void {
    const buffer = this.memory.buffer;
    this.bytes = new Uint8Array(buffer);
    this.state = new Int32Array(buffer, 0, 4);
    this.songs = new Float64Array(buffer, SONGS_AT, ROWS);
    this.users = new Float64Array(buffer, SONGS_AT + 8 * ROWS, ROWS);
    this.countries = new Uint8Array(buffer, SONGS_AT + 16 * ROWS, ROWS);
  }
}

/**
 * Bytes of a chunk a parser loads at a time (ListenParser.parseLines), so that the kernel's memory
 * stays small whatever the chunk; the memory is made to hold them.
 */
export const SCAN_WINDOW_BYTES = 1 << 20;

/** The kernel's layout (listenScan.as.ts; the constructor checks the module's against these). */
const ROWS = 65536;
const COUNTRIES_AT = 16;
const SONGS_AT = 1024;
const CHUNK_AT = SONGS_AT + 17 * ROWS;
/** Bytes the kernel may read past the loaded ones (a line is read 32 bytes at a time). */
const SLACK = 32;
const NO_COUNTRY = 255;

let scanner: ListenScan | undefined;

/** This thread's kernel. */
export function listenScan(): ListenScan {
  scanner ??= new ListenScan();
  return scanner;
}

interface ScanExports {
  ROWS: WebAssembly.Global;
  COUNTRIES_AT: WebAssembly.Global;
  SONGS_AT: WebAssembly.Global;
  CHUNK_AT: WebAssembly.Global;
  scan(from: number, end: number, most: number): number;
}
