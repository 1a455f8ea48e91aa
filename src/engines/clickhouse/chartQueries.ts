import type { ClickHouseClient } from '@clickhouse/client';
import { writeChartLine } from '../../formats/chartFiles.js';
import { writeFileAtomic, writeThroughTemp } from '../../ops/atomicFile.js';
import { writeAllSync } from '../../ops/fileIo.js';
import { ByteWriter } from '../../partials/varint.js';
import { type ClickHouseCluster, sqlDay } from './cluster.js';

/** Spill GROUP BY and ORDER BY to disk past these, so a month of a busy shard still runs. */
const QUERY_SETTINGS = {
  max_bytes_before_external_group_by: '2000000000',
  max_bytes_before_external_sort: '2000000000',
};

/**
 * The country chart file of a window's log days, computed in ClickHouse: plays per (country,
 * song) over all shards through the Distributed table, ranked by plays descending then song
 * ascending, `LIMIT top BY country`. Written with the embedded engine's line writer, so the bytes
 * are the same. Returns the number of rows (countries).
 */
export async function writeCountryChartFromCluster(
  cluster: ClickHouseCluster,
  path: string,
  days: number[],
  top: number,
): Promise<number> {
  const result = await cluster.shards[0]!.query({
    query: `SELECT country, sng_id, count() AS plays FROM ${cluster.database}.listens
            WHERE day IN (${dayList(days)})
            GROUP BY country, sng_id
            ORDER BY country, plays DESC, sng_id
            LIMIT ${positive(top)} BY country`,
    format: 'TabSeparated',
    clickhouse_settings: QUERY_SETTINGS,
  });
  const out = new ByteWriter(1 << 16);
  const chart = new ChartRow(top);
  let rows = 0;
  for (const line of (await result.text()).split('\n')) {
    if (line === '') continue;
    const [country, song, plays] = line.split('\t');
    if (country !== chart.key) {
      if (chart.write(out)) rows++;
      chart.start(country!);
    }
    chart.add(Number(song), Number(plays));
  }
  if (chart.write(out)) rows++;
  writeFileAtomic(path, out.result());
  return rows;
}

/**
 * The user chart file of a window's days: each shard ranks its own users (a user's rows all
 * live on one shard) in user order, and the shards' streams are merged by user id as they arrive,
 * so neither ClickHouse's initiator nor this process holds the whole chart. Returns the number of
 * rows (users).
 */
export async function writeUserChartFromCluster(
  cluster: ClickHouseCluster,
  path: string,
  days: number[],
  top: number,
): Promise<number> {
  const sql = `SELECT user_id, sng_id, count() AS plays FROM ${cluster.database}.listens_local
               WHERE day IN (${dayList(days)})
               GROUP BY user_id, sng_id
               ORDER BY user_id, plays DESC, sng_id
               LIMIT ${positive(top)} BY user_id`;
  const readers = await Promise.all(cluster.shards.map((shard) => TripleReader.open(shard, sql)));
  return writeThroughTemp(path, async (fd) => {
    const out = new ByteWriter(1 << 20);
    const chart = new ChartRow(top);
    let rows = 0;
    for (;;) {
      // The shard whose next user comes first (users are disjoint across shards).
      let next: TripleReader | undefined;
      for (const reader of readers) {
        if (!(await reader.ready())) continue;
        if (next === undefined || reader.user < next.user) next = reader;
      }
      if (next === undefined) break;
      const user = next.user;
      chart.start(user);
      do {
        chart.add(next.song, next.plays);
        next.advance();
      } while ((await next.ready()) && next.user === user);
      if (chart.write(out)) rows++;
      if (out.length > 1 << 20) {
        writeAllSync(fd, out.bytes.subarray(0, out.length));
        out.length = 0;
      }
    }
    writeAllSync(fd, out.bytes.subarray(0, out.length));
    return rows;
  });
}

/** One chart row being gathered: the key and its songs in rank order. */
class ChartRow {
  key: string | number | undefined;
  private readonly songs: Float64Array;
  private readonly plays: Float64Array;
  private n = 0;

  constructor(top: number) {
    this.songs = new Float64Array(top);
    this.plays = new Float64Array(top);
  }

  start(key: string | number): void {
    this.key = key;
    this.n = 0;
  }

  add(song: number, plays: number): void {
    this.songs[this.n] = song;
    this.plays[this.n] = plays;
    this.n++;
  }

  /** Append the row (if it has songs); returns whether it did. */
  write(out: ByteWriter): boolean {
    if (this.key === undefined || this.n === 0) return false;
    writeChartLine(out, this.key, this.songs, this.plays, this.n);
    this.n = 0;
    return true;
  }
}

const TAB = 9;
const NEWLINE = 10;
const DIGIT_0 = 48;

/**
 * One shard's answer of `user_id \t sng_id \t plays` lines, read from the raw HTTP stream: the
 * three numbers of the current line in `user`, `song`, `plays`. Measured on 7 days x 5M rows, the
 * client's row objects (a string per line, then split) cost playtally 27 s of CPU for the user
 * charts; the bytes are all digits, tabs and newlines, so they are read as such.
 */
export class TripleReader {
  user = 0;
  song = 0;
  plays = 0;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** The current line is parsed into the fields and not yet consumed. */
  private current = false;
  private done = false;
  /** An unfinished line carried from the previous chunk. */
  private carry: number[] = [];

  private constructor(private readonly chunks: AsyncIterator<Uint8Array>) {}

  static async open(shard: ClickHouseClient, sql: string): Promise<TripleReader> {
    const result = await shard.exec({
      query: `${sql} FORMAT TabSeparated`,
      clickhouse_settings: QUERY_SETTINGS,
    });
    return TripleReader.fromChunks(result.stream as AsyncIterable<Uint8Array>);
  }

  /** A reader over any byte chunks (the tests split answers at every byte). */
  static fromChunks(chunks: AsyncIterable<Uint8Array>): TripleReader {
    return new TripleReader(chunks[Symbol.asyncIterator]());
  }

  /** Parse the next line into the fields, if there is one; false at the end of the answer. */
  async ready(): Promise<boolean> {
    if (this.current) return true;
    for (;;) {
      const end = this.chunk.indexOf(NEWLINE, this.at);
      if (end >= 0) {
        if (this.carry.length > 0) {
          for (let i = this.at; i < end; i++) this.carry.push(this.chunk[i]!);
          this.parse(Uint8Array.from(this.carry), 0, this.carry.length);
          this.carry = [];
        } else this.parse(this.chunk, this.at, end);
        this.at = end + 1;
        this.current = true;
        return true;
      }
      for (let i = this.at; i < this.chunk.length; i++) this.carry.push(this.chunk[i]!);
      if (this.done) {
        if (this.carry.length > 0) throw new Error('ClickHouse answer ends inside a line');
        return false;
      }
      const next = await this.chunks.next();
      if (next.done) {
        this.done = true;
        this.chunk = new Uint8Array(0);
      } else this.chunk = next.value;
      this.at = 0;
    }
  }

  /** Consume the current line. */
  advance(): void {
    this.current = false;
  }

  private parse(bytes: Uint8Array, start: number, end: number): void {
    let field = 0;
    let value = 0;
    for (let i = start; i <= end; i++) {
      const b = i < end ? bytes[i]! : TAB;
      if (b === TAB) {
        if (field === 0) this.user = value;
        else if (field === 1) this.song = value;
        else this.plays = value;
        field++;
        value = 0;
      } else {
        const digit = b - DIGIT_0;
        if (digit < 0 || digit > 9) throw new Error(`unexpected byte ${b} in a ClickHouse answer line`);
        value = value * 10 + digit;
      }
    }
    if (field !== 3) throw new Error('a ClickHouse answer line without three fields');
  }
}

function positive(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`not a positive integer: ${n}`);
  return n;
}

/**
 * The days of a window as an SQL list: exactly the days whose logs go into the chart, so a day
 * the cluster still holds but the chart must not count (its log gone, or quarantined) stays out.
 */
function dayList(days: number[]): string {
  if (days.length === 0) throw new Error('a chart needs at least one day');
  return days.map(sqlDay).join(', ');
}
