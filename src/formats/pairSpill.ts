import { closeSync, openSync, writeSync } from 'node:fs';
import type { ListenBatch } from '../parse/listenParser.js';
import { hashId } from '../partials/hash.js';
import { DONE, FULL, SpillKernel } from '../partials/spillPartition.js';

/**
 * The two aggregates a day needs, as (key, song) pairs:
 * - users: key = user id, partitioned by hash(user), so a user's whole chart lives in one partition;
 * - countries: key = country index, partitioned by hash(song), which spreads the big countries
 *   evenly (a (country, song) total still lives in exactly one partition).
 */
export const TABLES = ['users', 'countries'] as const;
export type TableName = (typeof TABLES)[number];
export const USERS = 0;
export const COUNTRIES = 1;

/**
 * One run of pairs in a spill file. A narrow pair is two uint32, song first then key, which read
 * as one little-endian uint64 is `key * 2^32 + song`: a partition of narrow pairs is loaded
 * straight into a BigUint64Array and sorted natively. A wide pair is two float64, key then song.
 */
export interface SpillChunk {
  table: number;
  partition: number;
  wide: boolean;
  offset: number;
  pairs: number;
}

export interface SpillIndex {
  path: string;
  chunks: SpillChunk[];
}

const TWO_32 = 4294967296;

/**
 * Phase 1 of a day: radix-partitions parsed rows into per-partition buffers and appends full
 * buffers to one spill file per worker, so memory stays at `bufferBytes` however big the day is.
 * Ids below 2^32 (nearly all of them) take 8 bytes a pair; larger ids take 16. The narrow pairs
 * are partitioned by a WebAssembly kernel (partials/spillPartition.as.ts) into buffers in its
 * memory; a row with a wide id stops it and is placed here.
 */
export class PairSpill {
  private readonly fd: number;
  private offset = 0;
  private readonly chunks: SpillChunk[] = [];
  private readonly mask: number;
  private readonly capacity: number;
  private readonly wideCapacity: number;
  private readonly wide: Float64Array[];
  private readonly wideFill: Int32Array;
  private readonly kernel: SpillKernel;

  constructor(
    readonly path: string,
    readonly partitions: number,
    bufferBytes: number,
  ) {
    this.fd = openSync(path, 'w');
    this.mask = partitions - 1;
    const buffers = partitions * TABLES.length;
    this.capacity = Math.max(256, Math.floor(bufferBytes / buffers / 8));
    this.wideCapacity = 256;
    this.kernel = SpillKernel.take(buffers, this.capacity);
    this.wide = [];
    this.wideFill = new Int32Array(buffers);
  }

  /** Partition one batch of valid rows into both tables. */
  add(batch: ListenBatch): void {
    const n = batch.length;
    const kernel = this.kernel;
    kernel.load(batch);
    for (let from = 0; ; ) {
      const stop = kernel.partition(from, n, this.mask);
      if (stop === DONE) return;
      const r = kernel.stoppedAt();
      if (stop === FULL) {
        // A buffer row r needs is full: written out, then row r again.
        this.flushNarrow(kernel.fullBuffer());
        from = r;
      } else {
        // WIDE: row r placed here, then on after it.
        this.addWideRow(batch.songs[r]!, batch.users[r]!, batch.countries[r]!);
        from = r + 1;
      }
    }
  }

  /** A row with an id of 2^32 or more: its users pair wide, its countries pair wide if its song is. */
  private addWideRow(song: number, user: number, country: number): void {
    const ub = (hashId(user) & this.mask) << 1;
    const cb = ((hashId(song) & this.mask) << 1) | COUNTRIES;
    if (user < TWO_32 && song < TWO_32) throw new Error('PairSpill: a narrow row taken as wide');
    this.addWide(ub, user, song);
    if (song >= TWO_32) this.addWide(cb, country, song);
    else {
      if (this.kernel.fill(cb) === this.capacity) this.flushNarrow(cb);
      this.kernel.put(cb, song, country);
    }
  }

  /** Write what is buffered, close the file and return where every run is. */
  finish(): SpillIndex {
    for (let b = 0; b < this.wideFill.length; b++) {
      this.flushNarrow(b);
      this.flushWide(b);
    }
    // Its buffers written out: the next day's spill on this thread takes it (no add after finish).
    this.kernel.release();
    closeSync(this.fd);
    return { path: this.path, chunks: this.chunks };
  }

  private addWide(b: number, key: number, song: number): void {
    let buf = this.wide[b];
    if (buf === undefined) {
      buf = new Float64Array(this.wideCapacity * 2);
      this.wide[b] = buf;
    }
    const f = this.wideFill[b]!;
    buf[f * 2] = key;
    buf[f * 2 + 1] = song;
    if ((this.wideFill[b] = f + 1) === this.wideCapacity) this.flushWide(b);
  }

  private flushNarrow(b: number): void {
    const pairs = this.kernel.fill(b);
    if (pairs === 0) return;
    this.write(b, false, this.kernel.pairs(b), pairs);
    this.kernel.empty(b);
  }

  private flushWide(b: number): void {
    const pairs = this.wideFill[b]!;
    if (pairs === 0) return;
    this.write(b, true, new Uint8Array(this.wide[b]!.buffer, 0, pairs * 16), pairs);
    this.wideFill[b] = 0;
  }

  private write(b: number, wide: boolean, bytes: Uint8Array, pairs: number): void {
    let done = 0;
    while (done < bytes.length)
      done += writeSync(this.fd, bytes, done, bytes.length - done, this.offset + done);
    this.chunks.push({ table: b & 1, partition: b >> 1, wide, offset: this.offset, pairs });
    this.offset += bytes.length;
  }
}
