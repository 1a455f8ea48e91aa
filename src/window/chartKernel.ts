import { alignTo, growTo, kernelInstance } from '../ops/wasmKernel.js';
import type { ByteWriter } from '../partials/varint.js';
import { WASM_BASE64 } from './chartKernel.wasm.js';
import type { CountryChart } from './countryCharts.js';
import type { BlockSpan } from './mergeTopK.js';

/**
 * The window's charts merged from spans of 'words' blocks in WebAssembly (chartKernel.as.ts): a
 * user range's rows as the user chart's text, `user|song:plays,...\n` (`userRows`), and a window
 * partition's country charts (`countryCharts`). The user chart's merge of 7 day runs for 2M users
 * and its 1 GB of text were most of a daily run's CPU, and in JavaScript each entry passed
 * through two Float64Arrays per merge round, a typed-array check per access and a call per key
 * (docs/BENCHMARKS.md, "The user chart in WebAssembly"). The kernel does what mergeSpans (and
 * writeChartLine) do, for the spans and keys it handles: a span of the varint layout (ids past
 * 2^32), a user of more than USER_ENTRIES day entries (a country of more than COUNTRY_ENTRIES),
 * a day entry of 2^23 plays or more, a key in more than 511 spans (a window of more than 511 days)
 * or a truncated group leave the whole range or partition to mergeSpans (the methods return
 * undefined): the kernel's sums of plays stay below 2^32.
 *
 * The spans are read straight into the kernel's memory (`room`, which readPieces asks for room),
 * so that nothing is copied in; the charts leave through a window of 256 KiB (textWindow), copied
 * out as it fills. A worker keeps one for its user ranges (a WebAssembly memory does not shrink:
 * it holds the largest range's spans) and one for its country partitions, let go after them.
 */
export class ChartKernel {
  private readonly memory = new WebAssembly.Memory({ initial: 1 });
  private exports: KernelExports;
  /** Where the tables, the text window and the spans' bytes lie, and for what (set by `take`). */
  private tablesAt = 0;
  private textAt = 0;
  private inputAt = 0;
  private cursorRoom = 0;
  private chartRoom = 0;
  private entryRoom = 0;
  /**
   * Keys of the last chart ranked from candidates, without a merge of their runs (the kernel's
   * rankFromCandidates, as mergeTopK.ts ranks a key of many entries): told for tests.
   */
  candidateKeys = 0;

  constructor() {
    this.exports = kernelInstance<KernelExports>(WASM_BASE64, this.memory);
    this.exports.init();
  }

  /**
   * Where readPieces reads a user range's spans for charts of `k`: this kernel's memory, with room
   * for a user of USER_ENTRIES day entries.
   */
  userRoom(k: number): { take(length: number, pieces: number): Uint8Array } {
    return { take: (length, pieces) => this.take(length, pieces, k, USER_ENTRIES) };
  }

  /**
   * Where readPieces reads a window partition's countries blocks for charts of `k`: this kernel's
   * memory, with room for every entry the blocks can hold in one key (an entry takes 5 bytes at
   * least: its song's word and one byte of plays), up to COUNTRY_ENTRIES.
   */
  countryRoom(k: number): { take(length: number, pieces: number): Uint8Array } {
    return {
      take: (length, pieces) =>
        this.take(length, pieces, k, Math.min(Math.ceil(length / 5) + 1, COUNTRY_ENTRIES)),
    };
  }

  /**
   * The user chart rows of the keys in [low, high) of `spans` (views of this kernel's memory from
   * the last `userRoom`), appended to `out`; returns how many, or undefined (and `out` as it was)
   * when a span or a key is one the kernel leaves to mergeSpans.
   */
  userRows(
    spans: readonly BlockSpan[],
    k: number,
    low: number,
    high: number,
    out: ByteWriter,
  ): number | undefined {
    const start = out.length;
    const rows = this.chart(spans, k, low, high, false, (window) => {
      out.reserve(window.length);
      out.bytes.set(window, out.length);
      out.length += window.length;
    });
    if (rows === undefined) out.length = start;
    return rows;
  }

  /**
   * The charts of every key of `spans` (a window partition's countries blocks, views of this
   * kernel's memory from the last `countryRoom`), or undefined when the kernel leaves them to
   * mergeSpans.
   */
  countryCharts(spans: readonly BlockSpan[], k: number): CountryChart[] | undefined {
    const charts: CountryChart[] = [];
    const rows = this.chart(spans, k, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, true, (window) => {
      // Records of u64 words (key, n, then n entries: plays in the low word, the song in the high).
      const words = new Uint32Array(window.buffer, window.byteOffset, window.length >>> 2);
      for (let at = 0; at < words.length; ) {
        const n = words[at + 2]!;
        const songs = new Float64Array(n);
        const plays = new Float64Array(n);
        for (let i = 0, e = at + 4; i < n; i++, e += 2) {
          plays[i] = words[e]!;
          songs[i] = words[e + 1]!;
        }
        charts.push({ country: words[at]! + words[at + 1]! * TWO_32, songs, plays });
        at += 4 + 2 * n;
      }
    });
    return rows === undefined ? undefined : charts;
  }

  /** The spans' room and layout (see userRoom, countryRoom); the views of earlier takes are detached when the memory grows. */
  private take(length: number, pieces: number, k: number, entries: number): Uint8Array {
    const fixed = this.exports.FIXED_BYTES.value;
    this.cursorRoom = pieces;
    this.chartRoom = k;
    this.entryRoom = entries;
    this.tablesAt = fixed;
    this.textAt = alignTo(tableEnd(this.tablesAt, pieces, pieces, k, entries), 8);
    this.inputAt = alignTo(this.textAt + textWindow(k), 8);
    // 8 bytes past the spans: a damaged varint at a span's end is read a few bytes beyond it.
    growTo(this.memory, this.inputAt + length + 8, 'the spans of a chart merge');
    return new Uint8Array(this.memory.buffer, this.inputAt, length);
  }

  /**
   * The kernel over `spans`, its window handed to `onWindow` each time it fills and at the end;
   * returns the keys charted, or undefined when the kernel leaves the spans to mergeSpans.
   */
  private chart(
    spans: readonly BlockSpan[],
    k: number,
    low: number,
    high: number,
    records: boolean,
    onWindow: (window: Uint8Array) => void,
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
    const opened = kernel.open(
      count,
      groups,
      this.tablesAt,
      this.entryRoom,
      window,
      k,
      this.textAt,
      low,
      high,
      records ? 1 : 0,
    );
    if (opened !== DONE) return undefined;
    const text = new Uint8Array(buffer, this.textAt, window);
    for (;;) {
      const status = kernel.run();
      if (status === CANNOT) return undefined;
      onWindow(text.subarray(0, kernel.written()));
      if (status === DONE) {
        this.candidateKeys = kernel.candidates();
        return kernel.keys();
      }
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
    records: number,
  ): number;
  run(): number;
  written(): number;
  keys(): number;
  candidates(): number;
}

/** `run`'s answers (the kernel's DONE and CANNOT; TEXT_FULL otherwise). */
const DONE = 0;
const CANNOT = 2;
const TWO_32 = 2 ** 32;

/**
 * A user's most day entries in the kernel: 64K (about 9,000 listens a day over a week; 2 MB of
 * entry arrays). A range with a heavier user (a bot) is merged by mergeSpans, which ranks such
 * keys from their candidates or their blocks as they lie.
 */
const USER_ENTRIES = 1 << 16;

/**
 * A country's most day entries in the kernel, over a window partition's days: 1M (24 MB of entry
 * arrays and histogram). A country of a partition holds about ten thousand in a week of 7 x 20M
 * rows; one that holds more (one country with every row) is left to mergeSpans, which ranks it
 * from its candidates or from its blocks as they lie, in bounded memory.
 */
const COUNTRY_ENTRIES = 1 << 20;

/** The text window: 256 KiB (in the L2 cache as it is copied out), and at least a full row or record of k. */
function textWindow(k: number): number {
  return Math.max(1 << 18, 64 + 22 * k);
}

/**
 * The end of the kernel's tables from `at` (its `open` lays them out so) for `cursors` cursors in
 * `groups` groups, a chart of k and keys of up to `entries` day entries.
 */
function tableEnd(at: number, cursors: number, groups: number, k: number, entries: number): number {
  let end = alignTo(at + 8 * cursors, 8) + 12 * cursors;
  end = alignTo(end + 4 * (groups + 1), 8) + 12 * groups + 4 * cursors + 4 * (cursors + 1);
  end = alignTo(end, 8) + 16 * entries + 4 * (2 * entries + 1026);
  return alignTo(end, 8) + 8 * k;
}
