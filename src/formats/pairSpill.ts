import { closeSync, openSync, writeSync } from 'node:fs';
import type { ListenBatch } from '../parse/listenParser.js';
import { hashId } from '../partials/hash.js';

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
 * Ids below 2^32 (nearly all of them) take 8 bytes a pair; larger ids take 16.
 */
export class PairSpill {
  private readonly fd: number;
  private offset = 0;
  private readonly chunks: SpillChunk[] = [];
  private readonly mask: number;
  private readonly capacity: number;
  private readonly wideCapacity: number;
  private readonly narrow: Uint32Array[];
  private readonly narrowFill: Int32Array;
  private readonly wide: Float64Array[];
  private readonly wideFill: Int32Array;

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
    this.narrow = [];
    for (let b = 0; b < buffers; b++) this.narrow.push(new Uint32Array(this.capacity * 2));
    this.narrowFill = new Int32Array(buffers);
    this.wide = [];
    this.wideFill = new Int32Array(buffers);
  }

  /** Partition one batch of valid rows into both tables. */
  add(batch: ListenBatch): void {
    const { songs, users, countries } = batch;
    const n = batch.length;
    const mask = this.mask;
    const capacity = this.capacity;
    const narrow = this.narrow;
    const fill = this.narrowFill;
    for (let r = 0; r < n; r++) {
      const song = songs[r]!;
      const user = users[r]!;
      // Buffer index = partition * 2 + table.
      const ub = (hashId(user) & mask) << 1;
      const cb = ((hashId(song) & mask) << 1) | COUNTRIES;
      if (song < TWO_32 && user < TWO_32) {
        let f = fill[ub]!;
        let buf = narrow[ub]!;
        buf[f * 2] = song;
        buf[f * 2 + 1] = user;
        if ((fill[ub] = f + 1) === capacity) this.flushNarrow(ub);
        f = fill[cb]!;
        buf = narrow[cb]!;
        buf[f * 2] = song;
        buf[f * 2 + 1] = countries[r]!;
        if ((fill[cb] = f + 1) === capacity) this.flushNarrow(cb);
      } else {
        this.addWide(ub, user, song);
        if (song < TWO_32) {
          const f = fill[cb]!;
          const buf = narrow[cb]!;
          buf[f * 2] = song;
          buf[f * 2 + 1] = countries[r]!;
          if ((fill[cb] = f + 1) === capacity) this.flushNarrow(cb);
        } else this.addWide(cb, countries[r]!, song);
      }
    }
  }

  /** Write what is buffered, close the file and return where every run is. */
  finish(): SpillIndex {
    for (let b = 0; b < this.narrowFill.length; b++) {
      this.flushNarrow(b);
      this.flushWide(b);
    }
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
    const pairs = this.narrowFill[b]!;
    if (pairs === 0) return;
    this.write(b, false, new Uint8Array(this.narrow[b]!.buffer, 0, pairs * 8), pairs);
    this.narrowFill[b] = 0;
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
