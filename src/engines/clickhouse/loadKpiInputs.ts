import { type DaySection, readDayColumns, readFilePartialHeader } from '../../formats/kpiPartials.js';
import type { Catalog } from '../../kpis/genreKpis.js';
import { namesOf } from '../../parse/idInterner.js';
import { type ClickHouseCluster, sqlDay } from './cluster.js';
import { kpiShardOf } from './kpiTables.js';
import { ShardInserts, tsvString } from './shardInserts.js';

/** A segment of a streams file's partial as the loader needs it: its names escaped once, and each user's shard. */
interface LoadableSegment {
  dataStart: number;
  days: DaySection[];
  /** Names escaped for TabSeparated, as UTF-8. */
  users: Buffer[];
  tracks: Buffer[];
  shards: Uint16Array;
}

/**
 * Loads the valid stream rows of a day into `stream_rows_local`, replacing the day: its partition
 * is dropped on every shard, then the day's section of each file's partial (the rows playtally's
 * own parser accepted, so rejects are those of the embedded engine) is streamed to the shards,
 * each row to its user's shard. Partials read once in a run are kept, names escaped.
 */
export class StreamDayLoader {
  private readonly partials = new Map<string, LoadableSegment[]>();

  constructor(private readonly cluster: ClickHouseCluster) {}

  /** Load `day` from the partials at `paths`; resolves to the number of rows loaded. */
  async load(day: number, paths: string[]): Promise<number> {
    const table = `${this.cluster.database}.stream_rows_local`;
    await this.cluster.onEach(`ALTER TABLE ${table} DROP PARTITION ${sqlDay(day)}`);
    const inserts = new ShardInserts(this.cluster, table);
    const prefix = Buffer.from(`${day}\t`);
    let rows = 0;
    try {
      for (const path of paths) {
        for (const segment of this.segments(path)) {
          const section = segment.days.find((d) => d.day === day);
          if (section === undefined) continue;
          const columns = readDayColumns(path, segment.dataStart, section);
          for (let i = 0; i < columns.users.length; i++) {
            const user = columns.users[i]!;
            inserts
              .shard(segment.shards[user]!)
              .bytes(prefix)
              .bytes(segment.users[user]!)
              .tab()
              .bytes(segment.tracks[columns.tracks[i]!]!)
              .tab()
              .number(columns.times[i]!)
              .newline();
            if ((i & 0xffff) === 0xffff) await inserts.flush();
          }
          rows += columns.users.length;
          await inserts.flush();
        }
      }
      await inserts.end();
    } catch (error) {
      throw (await inserts.abort()) ?? error;
    }
    return rows;
  }

  private segments(path: string): LoadableSegment[] {
    let segments = this.partials.get(path);
    if (segments === undefined) {
      const shards = this.cluster.shards.length;
      segments = readFilePartialHeader(path).segments.map((segment) => {
        const users = namesOf(segment.users);
        return {
          dataStart: segment.dataStart,
          days: segment.days,
          users: users.map((name) => Buffer.from(tsvString(name))),
          tracks: namesOf(segment.tracks).map((name) => Buffer.from(tsvString(name))),
          shards: Uint16Array.from(users, (user) => kpiShardOf(user, shards)),
        };
      });
      this.partials.set(path, segments);
    }
    return segments;
  }
}

/**
 * Replace the catalogue on the cluster: every song (track, genre, duration) on every shard, each
 * user on their shard. Resolves to the row counts written, to be checked later.
 */
export async function loadCatalog(
  cluster: ClickHouseCluster,
  catalog: Catalog,
): Promise<{ songs: number; users: number }> {
  const db = cluster.database;
  await cluster.onEach(`TRUNCATE TABLE ${db}.songs`);
  await cluster.onEach(`TRUNCATE TABLE ${db}.users_local`);
  const shards = cluster.shards.length;
  let songs = 0;
  const songInserts = new ShardInserts(cluster, `${db}.songs`);
  try {
    for (const [track, genres] of catalog.tracks) {
      const id = tsvString(track);
      songs += genres.length;
      for (let s = 0; s < shards; s++) {
        for (const g of genres)
          songInserts.shard(s).text(id).tab().text(tsvString(g.genre)).tab().number(g.durationMs).newline();
      }
      await songInserts.flush();
    }
    await songInserts.end();
  } catch (error) {
    throw (await songInserts.abort()) ?? error;
  }
  const userInserts = new ShardInserts(cluster, `${db}.users_local`);
  try {
    for (const user of catalog.users.names) {
      userInserts.shard(kpiShardOf(user, shards)).text(tsvString(user)).newline();
      await userInserts.flush();
    }
    await userInserts.end();
  } catch (error) {
    throw (await userInserts.abort()) ?? error;
  }
  return { songs, users: catalog.users.size };
}
