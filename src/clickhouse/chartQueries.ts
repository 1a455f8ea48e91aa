import type { ClickHouseClient } from '@clickhouse/client';
import { writeFileAtomic, writeThroughTemp } from '../ops/atomicFile.js';
import { writeAllSync } from '../ops/fileIo.js';
import { ByteWriter } from '../partials/varint.js';
import { writeChartLine } from '../window/chartLines.js';
import { type ClickHouseCluster, sqlDate } from './cluster.js';

/** Spill GROUP BY and ORDER BY to disk past these, so a month of a busy shard still runs. */
const QUERY_SETTINGS = {
  max_bytes_before_external_group_by: '2000000000',
  max_bytes_before_external_sort: '2000000000',
};

/**
 * The country chart file of the window [from, to] computed in ClickHouse: plays per (country,
 * song) over all shards through the Distributed table, ranked by plays descending then song
 * ascending, `LIMIT top BY country`. Written with the embedded engine's line writer, so the bytes
 * are the same. Returns the number of rows (countries).
 */
export async function writeCountryChartFromCluster(
  cluster: ClickHouseCluster,
  path: string,
  from: string,
  to: string,
  top: number,
): Promise<number> {
  const result = await cluster.shards[0]!.query({
    query: `SELECT country, sng_id, count() AS plays FROM ${cluster.database}.listens
            WHERE day BETWEEN ${sqlDate(from)} AND ${sqlDate(to)}
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
 * The user chart file of the window [from, to]: each shard ranks its own users (a user's rows all
 * live on one shard) in user order, and the shards' streams are merged by user id as they arrive,
 * so neither ClickHouse's initiator nor this process holds the whole chart. Returns the number of
 * rows (users).
 */
export async function writeUserChartFromCluster(
  cluster: ClickHouseCluster,
  path: string,
  from: string,
  to: string,
  top: number,
): Promise<number> {
  const sql = `SELECT user_id, sng_id, count() AS plays FROM ${cluster.database}.listens_local
               WHERE day BETWEEN ${sqlDate(from)} AND ${sqlDate(to)}
               GROUP BY user_id, sng_id
               ORDER BY user_id, plays DESC, sng_id
               LIMIT ${positive(top)} BY user_id`;
  const cursors = await Promise.all(cluster.shards.map((shard) => LineCursor.open(shard, sql)));
  return writeThroughTemp(path, async (fd) => {
    const out = new ByteWriter(1 << 20);
    const chart = new ChartRow(top);
    let rows = 0;
    for (;;) {
      // The shard whose next user comes first (users are disjoint across shards).
      let next: LineCursor | undefined;
      for (const cursor of cursors) {
        const user = await cursor.peekKey();
        if (user === undefined) continue;
        if (next === undefined || user < (await next.peekKey())!) next = cursor;
      }
      if (next === undefined) break;
      const user = (await next.peekKey())!;
      chart.start(user);
      while ((await next.peekKey()) === user) {
        const [, song, plays] = (await next.take())!.split('\t');
        chart.add(Number(song), Number(plays));
      }
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

/** The lines of one shard's TabSeparated answer, read as they stream in, with a look at the next. */
class LineCursor {
  private lines: string[] = [];
  private at = 0;
  private done = false;

  private constructor(private readonly rows: AsyncIterator<{ text: string }[]>) {}

  static async open(shard: ClickHouseClient, sql: string): Promise<LineCursor> {
    const result = await shard.query({
      query: sql,
      format: 'TabSeparated',
      clickhouse_settings: QUERY_SETTINGS,
    });
    return new LineCursor(result.stream()[Symbol.asyncIterator]() as AsyncIterator<{ text: string }[]>);
  }

  /** The user id of the next line, or undefined at the end. */
  async peekKey(): Promise<number | undefined> {
    const line = await this.peek();
    return line === undefined ? undefined : Number(line.slice(0, line.indexOf('\t')));
  }

  async take(): Promise<string | undefined> {
    const line = await this.peek();
    this.at++;
    return line;
  }

  private async peek(): Promise<string | undefined> {
    while (this.at >= this.lines.length) {
      if (this.done) return undefined;
      const next = await this.rows.next();
      if (next.done) {
        this.done = true;
        return undefined;
      }
      this.lines = next.value.map((row) => row.text);
      this.at = 0;
    }
    return this.lines[this.at];
  }
}

function positive(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`not a positive integer: ${n}`);
  return n;
}
