import { alignTo, growTo, kernelInstance } from '../ops/wasmKernel.js';
import type { ListenBatch } from '../parse/listenParser.js';
import { WASM_BASE64 } from './spillPartition.wasm.js';

/** What SpillKernel.partition stopped at (the kernel's DONE and FULL; its only other answer is WIDE). */
export const DONE = 0;
export const FULL = 1;

interface KernelExports {
  partition(
    songs: number,
    users: number,
    countries: number,
    from: number,
    n: number,
    fills: number,
    buffers: number,
    mask: number,
    capacity: number,
  ): number;
  stoppedAt(): number;
  fullBuffer(): number;
}

/**
 * A day's spill buffers in a WebAssembly memory, and the kernel that partitions a batch of rows
 * into them (spillPartition.as.ts): `buffers` buffers (partition * 2 + table) of `capacity` narrow
 * pairs each, two words a pair (song, then the user or the country), with their fills; past them,
 * the batch being partitioned, copied in (its arrays are the parser's, reused batch after batch).
 */
export class SpillKernel {
  /**
   * A kernel let go (`release`), for the next day's spill on this thread: a memory made for each
   * day stayed until V8 collected it, 30 to 40 MB more peak RSS in a cold week. Dropped once the
   * thread goes on to other work (dropSpare: worker.ts, before a chart merge).
   */
  private static spare: SpillKernel | undefined;

  /** The kernel kept for the next day let go too (the days are done: its memory is collected). */
  static dropSpare(): void {
    SpillKernel.spare = undefined;
  }

  /** A kernel of `buffers` buffers of `capacity` pairs, empty: the one let go last if it fits. */
  static take(buffers: number, capacity: number): SpillKernel {
    const spare = SpillKernel.spare;
    SpillKernel.spare = undefined;
    if (spare !== undefined && spare.buffers === buffers && spare.capacity === capacity) return spare;
    return new SpillKernel(buffers, capacity);
  }

  private readonly memory = new WebAssembly.Memory({ initial: 1 });
  private readonly exports: KernelExports;
  private readonly fillsAt = 0;
  private readonly buffersAt: number;
  private readonly inputAt: number;
  private rowRoom = 0;
  private fills!: Int32Array;
  private words!: Uint32Array;

  private constructor(
    private readonly buffers: number,
    private readonly capacity: number,
  ) {
    this.buffersAt = alignTo(4 * buffers, 8);
    this.inputAt = this.buffersAt + 8 * buffers * capacity;
    growTo(this.memory, this.inputAt, 'the spill buffers');
    this.exports = kernelInstance<KernelExports>(WASM_BASE64, this.memory);
    this.views();
  }

  /** The batch's rows copied in, ready for `partition`. */
  load(batch: ListenBatch): void {
    const n = batch.length;
    if (n > this.rowRoom) {
      this.rowRoom = Math.max(n, 1024);
      growTo(this.memory, this.inputAt + 17 * this.rowRoom, 'a batch of rows to spill');
      this.views();
    }
    const buffer = this.memory.buffer;
    new Float64Array(buffer, this.inputAt, n).set(batch.songs.subarray(0, n));
    new Float64Array(buffer, this.inputAt + 8 * this.rowRoom, n).set(batch.users.subarray(0, n));
    new Uint8Array(buffer, this.inputAt + 16 * this.rowRoom, n).set(batch.countries.subarray(0, n));
  }

  /**
   * Rows [from, n) of the loaded batch into the buffers, hash(user) & mask choosing a users
   * buffer and hash(song) & mask a countries buffer: DONE, or FULL (a buffer the row at
   * stoppedAt() needs is full: fullBuffer() says which; empty it and go on from that row), or
   * WIDE (the row at stoppedAt() has an id of 2^32 or more: place it yourself, go on after it).
   */
  partition(from: number, n: number, mask: number): number {
    const at = this.inputAt;
    const room = this.rowRoom;
    return this.exports.partition(
      at,
      at + 8 * room,
      at + 16 * room,
      from,
      n,
      this.fillsAt,
      this.buffersAt,
      mask,
      this.capacity,
    );
  }

  stoppedAt(): number {
    return this.exports.stoppedAt();
  }

  fullBuffer(): number {
    return this.exports.fullBuffer();
  }

  /** Pairs in buffer b. */
  fill(b: number): number {
    return this.fills[b]!;
  }

  /** Buffer b's pairs, as bytes: a view of the memory, valid until the next `load`. */
  pairs(b: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.buffersAt + 8 * b * this.capacity, 8 * this.fills[b]!);
  }

  /** Buffer b emptied (once written out). */
  empty(b: number): void {
    this.fills[b] = 0;
  }

  /** One pair into buffer b, which has room for it. */
  put(b: number, song: number, key: number): void {
    const f = this.fills[b]!;
    const word = (this.buffersAt >>> 2) + 2 * (b * this.capacity + f);
    this.words[word] = song;
    this.words[word + 1] = key;
    this.fills[b] = f + 1;
  }

  /** Done with (its buffers written out): kept for the next `take` on this thread. */
  release(): void {
    this.fills.fill(0);
    SpillKernel.spare = this;
  }

  private views(): void {
    this.fills = new Int32Array(this.memory.buffer, this.fillsAt, this.buffers);
    this.words = new Uint32Array(this.memory.buffer);
  }
}
