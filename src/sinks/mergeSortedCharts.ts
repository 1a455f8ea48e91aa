import { closeSync, openSync, readSync } from 'node:fs';
import { writeAllSync } from '../engine/writeAll.js';
import { ByteWriter } from '../partials/varint.js';

const NEWLINE = 10;
const PIPE = 124;

/** Reads a chart file line by line through a fixed buffer; `key` is the line's leading number. */
class ChartLineReader {
  private buffer: Buffer;
  private start = 0;
  private end = 0;
  private position = 0;
  private eof = false;
  /** Current line is buffer[lineStart, lineEnd] (lineEnd includes the newline). */
  lineStart = 0;
  lineEnd = 0;
  key = 0;

  constructor(
    private readonly fd: number,
    bufferBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafe(bufferBytes);
  }

  get bytes(): Buffer {
    return this.buffer;
  }

  /** Advance to the next line; false at the end of the file. */
  next(): boolean {
    for (;;) {
      const newline = this.buffer.indexOf(NEWLINE, this.start);
      if (newline >= 0 && newline < this.end) {
        this.lineStart = this.start;
        this.lineEnd = newline + 1;
        this.start = newline + 1;
        let key = 0;
        for (let i = this.lineStart; this.buffer[i] !== PIPE; i++) key = key * 10 + (this.buffer[i]! - 48);
        this.key = key;
        return true;
      }
      if (this.eof) {
        if (this.start < this.end) throw new Error('chart file does not end with a newline');
        return false;
      }
      this.refill();
    }
  }

  private refill(): void {
    const pending = this.end - this.start;
    if (pending === this.buffer.length) {
      const grown = Buffer.allocUnsafe(this.buffer.length * 2);
      this.buffer.copy(grown, 0, this.start, this.end);
      this.buffer = grown;
    } else this.buffer.copy(this.buffer, 0, this.start, this.end);
    this.start = 0;
    this.end = pending;
    const n = readSync(this.fd, this.buffer, this.end, this.buffer.length - this.end, this.position);
    if (n === 0) this.eof = true;
    this.position += n;
    this.end += n;
  }
}

/**
 * Merge chart files whose rows are sorted by their numeric key (one per window partition, each
 * holding different keys) into `outputFd` at `position`, sorted by key, streaming through small
 * buffers. Returns the rows and bytes written.
 */
export function mergeSortedCharts(
  inputs: string[],
  outputFd: number,
  position = 0,
  bufferBytes = 256 * 1024,
): { rows: number; bytes: number } {
  const fds = inputs.map((path) => openSync(path, 'r'));
  try {
    const heap: ChartLineReader[] = [];
    for (const fd of fds) {
      const reader = new ChartLineReader(fd, bufferBytes);
      if (reader.next()) heap.push(reader);
    }
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i);
    const out = new ByteWriter(1 << 20);
    let rows = 0;
    let at = position;
    const flush = (): void => {
      writeAllSync(outputFd, out.result(), at);
      at += out.length;
      out.length = 0;
    };
    while (heap.length > 0) {
      const top = heap[0]!;
      const length = top.lineEnd - top.lineStart;
      out.reserve(length);
      out.bytes.set(top.bytes.subarray(top.lineStart, top.lineEnd), out.length);
      out.length += length;
      rows++;
      if (out.length >= 1 << 20) flush();
      if (!top.next()) {
        const last = heap.pop()!;
        if (heap.length > 0) heap[0] = last;
      }
      if (heap.length > 0) siftDown(heap, 0);
    }
    flush();
    return { rows, bytes: at - position };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

function siftDown(heap: ChartLineReader[], i: number): void {
  const n = heap.length;
  const item = heap[i]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap[child + 1]!.key < heap[child]!.key) child++;
    if (heap[child]!.key >= item.key) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = item;
}
