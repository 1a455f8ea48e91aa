import { alignTo, growTo, kernelInstance } from '../ops/wasmKernel.js';
import type { ByteWriter } from '../partials/varint.js';
import type { BlockSpan } from './mergeTopK.js';
import { WASM_BASE64 } from './userCharts.wasm.js';

/**
 * A user range's chart rows, `user|song:plays,...\n`, merged from its spans of 'words' blocks and
 * written in WebAssembly (userCharts.as.ts): the user chart's merge of 7 day runs for 2M users
 * and its 1 GB of text were most of a daily run's CPU, and in JavaScript each entry passed
 * through two Float64Arrays per merge round, a typed-array check per access and a call per key
 * (docs/BENCHMARKS.md, "The user chart in WebAssembly"). The kernel does what mergeSpans and
 * writeChartLine do, for the keys it handles: a key of more than ENTRY_ROOM day entries, plays
 * too large for a histogram or a span of the varint layout leave the whole range to them
 * (`merge` returns undefined).
 *
 * The range's spans are read straight into the kernel's memory (`take`, as readPieces asks), so
 * that nothing is copied in; the text leaves through a window of 256 KiB (textWindow), copied
 * into the caller's writer as it fills. A worker keeps one for its ranges (a WebAssembly memory does
 * not shrink: it holds the largest range's spans).
 */
export class UserChartKernel {
  private readonly memory = new WebAssembly.Memory({ initial: 1 });
  private exports: KernelExports;
  /** Where the tables, the text window and the spans' bytes lie (set by `take`). */
  private tablesAt = 0;
  private textAt = 0;
  private inputAt = 0;
  private cursorRoom = 0;
  private chartRoom = 0;

  constructor() {
    this.exports = kernelInstance<KernelExports>(WASM_BASE64, this.memory);
    this.exports.init();
  }

  /** Where readPieces reads a range's spans for charts of `k`: this kernel's memory (`take`). */
  room(k: number): { take(length: number, pieces: number): Uint8Array } {
    return { take: (length, pieces) => this.take(length, pieces, k) };
  }

  /**
   * A view of `length` bytes of the kernel's memory for a range's `pieces` spans, and room for
   * their cursors, a chart of `k` and the text window. What an earlier view held is overwritten;
   * the views of earlier takes are detached when the memory grows.
   */
  take(length: number, pieces: number, k: number): Uint8Array {
    const fixed = this.exports.FIXED_BYTES.value;
    this.cursorRoom = Math.max(pieces, this.cursorRoom);
    this.chartRoom = Math.max(k, this.chartRoom);
    this.tablesAt = fixed;
    this.textAt = alignTo(this.tablesAt + tableBytes(this.cursorRoom, this.chartRoom), 8);
    this.inputAt = alignTo(this.textAt + textWindow(this.chartRoom), 8);
    // 8 bytes past the spans: a damaged varint at a span's end is read a few bytes beyond it.
    growTo(this.memory, this.inputAt + length + 8, "a user range's spans");
    return new Uint8Array(this.memory.buffer, this.inputAt, length);
  }

  /**
   * The chart rows of the keys in [low, high) of `spans` (views of this kernel's memory from the
   * last `take`), appended to `out`; returns how many, or undefined (and `out` as it was) when a
   * span or a key is one the kernel leaves to mergeSpans.
   */
  merge(
    spans: readonly BlockSpan[],
    k: number,
    low: number,
    high: number,
    out: ByteWriter,
  ): number | undefined {
    const count = spans.length;
    const buffer = this.memory.buffer;
    if (count > this.cursorRoom || k > this.chartRoom) return undefined;
    for (const span of spans) if (span.layout !== 'words' || span.bytes.buffer !== buffer) return undefined;
    // Cursors in group order (stable), as mergeSpans numbers them.
    const order = spans
      .map((_, i) => i)
      .sort((a, b) => (spans[a]!.group ?? 0) - (spans[b]!.group ?? 0) || a - b);
    const words = new Uint32Array(buffer);
    const at = this.tablesAt >>> 2;
    const ends = at + count;
    const keys = alignTo(this.tablesAt + 8 * count, 8) >>> 2;
    const firsts = (alignTo(this.tablesAt + 8 * count, 8) + 12 * count) >>> 2;
    let groups = 0;
    let previousGroup = Number.NaN;
    order.forEach((i, c) => {
      const span = spans[i]!;
      words[at + c] = span.bytes.byteOffset + span.start;
      words[ends + c] = span.bytes.byteOffset + span.end;
      words[keys + 2 * c] = span.base % TWO_32;
      words[keys + 2 * c + 1] = Math.floor(span.base / TWO_32);
      const group = span.group ?? 0;
      if (group !== previousGroup) words[firsts + groups++] = c;
      previousGroup = group;
    });
    words[firsts + groups] = count;
    const kernel = this.exports;
    const window = textWindow(k);
    if (
      this.textAt < tableEnd(this.tablesAt, count, groups, k) ||
      kernel.open(count, groups, this.tablesAt, ENTRY_ROOM, window, k, this.textAt, low, high) !== DONE
    )
      return undefined;
    const start = out.length;
    const text = new Uint8Array(buffer, this.textAt, window);
    for (;;) {
      const status = kernel.run();
      if (status === CANNOT) {
        out.length = start;
        return undefined;
      }
      const n = kernel.written();
      out.reserve(n);
      out.bytes.set(text.subarray(0, n), out.length);
      out.length += n;
      if (status === DONE) return kernel.keys();
    }
  }
}

interface KernelExports {
  FIXED_BYTES: WebAssembly.Global;
  init(): void;
  open(
    cursors: number,
    groups: number,
    layout: number,
    entryRoom: number,
    textBytes: number,
    k: number,
    text: number,
    low: number,
    high: number,
  ): number;
  run(): number;
  written(): number;
  keys(): number;
}

/** `run`'s answers (the kernel's DONE and CANNOT; TEXT_FULL otherwise). */
const DONE = 0;
const CANNOT = 2;
const TWO_32 = 2 ** 32;

/**
 * A key's most day entries in the kernel: 64K (a user of about 9,000 listens a day over a week;
 * 2 MB of entry arrays). A range with a heavier key (a bot's) is merged by mergeSpans, which
 * ranks such keys from their candidates or their blocks as they lie.
 */
const ENTRY_ROOM = 1 << 16;

/** The text window: 256 KiB (in the L2 cache as it is copied out), and at least a full row of k. */
function textWindow(k: number): number {
  return Math.max(1 << 18, 64 + 22 * k);
}

/** The kernel's tables' bytes from `at` (its `open` lays them out so), for `cursors` and a chart of k. */
function tableEnd(at: number, cursors: number, groups: number, k: number): number {
  let end = alignTo(at + 8 * cursors, 8) + 12 * cursors;
  end = alignTo(end + 4 * (groups + 1), 8) + 12 * groups + 4 * cursors + 4 * (cursors + 1);
  end = alignTo(end, 8) + 16 * ENTRY_ROOM + 4 * (2 * ENTRY_ROOM + 1026);
  return alignTo(end, 8) + 8 * k;
}

/** Room for the tables of `cursors` cursors (as many groups at most) and a chart of k. */
function tableBytes(cursors: number, k: number): number {
  return tableEnd(0, cursors, cursors, k) + 64;
}
