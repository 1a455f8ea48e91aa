import { PassThrough } from 'node:stream';
import type { ClickHouseCluster } from './cluster.js';

/** Text gathered for a shard before it is written to that shard's insert stream. */
const FLUSH_CHARS = 1 << 20;

/**
 * One streamed TabSeparated insert per shard into `table` (a local table: playtally places each
 * row on its shard itself). Rows are gathered per shard and written a megabyte at a time; a
 * shard's stream that is full holds the caller back, so memory stays a buffer per shard whatever
 * the size of the load.
 */
export class ShardInserts {
  private readonly streams: PassThrough[];
  private readonly inserts: Promise<unknown>[];
  private readonly pending: string[];
  /** The first insert that failed: feeding stops, and it is the error reported. */
  private failure: unknown;

  constructor(cluster: ClickHouseCluster, table: string) {
    this.streams = cluster.shards.map(() => new PassThrough());
    this.inserts = cluster.shards.map((shard, i) =>
      shard.insert({ table, values: this.streams[i]!, format: 'TabSeparated' }),
    );
    for (const insert of this.inserts) insert.catch((error) => (this.failure ??= error));
    this.pending = cluster.shards.map(() => '');
  }

  /** Append rows (whole TSV lines) for shard `shard`. */
  add(shard: number, lines: string): void {
    this.pending[shard] += lines;
  }

  /** Write the shards' gathered rows (only those past the threshold unless `force`). */
  async flush(force = false): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    for (let s = 0; s < this.streams.length; s++) {
      const text = this.pending[s]!;
      if (text.length === 0 || (!force && text.length < FLUSH_CHARS)) continue;
      this.pending[s] = '';
      if (!this.streams[s]!.write(text)) await waitForDrain(this.streams[s]!, () => this.failure);
    }
  }

  /** Write what is left, end every stream and wait for every insert to commit. */
  async end(): Promise<void> {
    await this.flush(true);
    for (const stream of this.streams) stream.end();
    await Promise.all(this.inserts);
  }

  /**
   * Stop every insert after a failure; resolves to the insert failure that came first, if any
   * (the cause, when the caller's own error is only its consequence).
   */
  async abort(): Promise<unknown> {
    const first = this.failure;
    for (const stream of this.streams) stream.destroy();
    await Promise.allSettled(this.inserts);
    return first;
  }
}

function waitForDrain(stream: PassThrough, failed: () => unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      const error = failed();
      if (error !== undefined) reject(error);
      else resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

/** A String value in a TabSeparated row: backslash, tab, newline and carriage return escaped. */
export function tsvString(text: string): string {
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) =>
        c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
      )
    : text;
}
