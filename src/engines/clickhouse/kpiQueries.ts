import { type DayKpis, type GenreKpi, type Granularity, roundedRatio } from '../../kpis/genreKpis.js';
import { type ClickHouseCluster, sqlDay } from './cluster.js';

/** The 3 most played tracks of a genre, and the 5 genres with most listens, per hour or day. */
const TOP_TRACKS = 3;
const TOP_GENRES = 5;

/** The UTC hour of a listen time in microseconds, computed as utcHourOf computes it (doubles). */
const HOUR_OF_LISTEN =
  'toUInt8(floor((listened_at_us - floor(listened_at_us / 86400000000) * 86400000000) / 3600000000))';

/**
 * Rebuild a day's `kpi_rows_local` partition on every shard from its `stream_rows_local`: one row
 * per distinct (user, track, listen time), with its hour and whether its track and user are in
 * the catalogue. Every exact duplicate of a row is on the row's shard, so the shards' distinct
 * rows together are the day's.
 */
export async function buildKpiRows(cluster: ClickHouseCluster, day: number): Promise<void> {
  const db = cluster.database;
  const date = sqlDay(day);
  await cluster.onEach(`ALTER TABLE ${db}.kpi_rows_local DROP PARTITION ${date}`);
  await cluster.onEach(
    `INSERT INTO ${db}.kpi_rows_local
     SELECT day, ${HOUR_OF_LISTEN} AS hour, user_id, track_id,
            track_id IN (SELECT track_id FROM ${db}.songs) AS known_track,
            user_id IN (SELECT user_id FROM ${db}.users_local) AS known_user
     FROM ${db}.stream_rows_local
     WHERE day = ${date}
     GROUP BY day, user_id, track_id, listened_at_us`,
  );
}

/**
 * The genre KPIs of a day, in ClickHouse SQL over the Distributed tables (each shard joins its
 * part of `kpi_rows` with its copy of `songs`; the initiator merges): the same figures, order and
 * ties as the embedded engine's. Strings are ordered by their bytes in ClickHouse, as byteOrder
 * orders them; the average is the exact half-up rounding of the two whole numbers it divides.
 */
export async function queryDayKpis(
  cluster: ClickHouseCluster,
  day: number,
  granularity: Granularity,
): Promise<DayKpis> {
  const db = cluster.database;
  const date = sqlDay(day);
  const bucket = granularity === 'hour' ? 'hour' : 'toUInt8(0)';
  const counted = `FROM ${db}.kpi_rows ALL INNER JOIN ${db}.songs USING track_id
     WHERE day = ${date} AND known_track = 1`;

  const [streamRows] = await cluster.rows<{ n: string }>(
    `SELECT count() AS n FROM ${db}.stream_rows WHERE day = ${date}`,
  );
  const [distinct] = await cluster.rows<{ n: string; counted: string; unknown_user: string }>(
    `SELECT count() AS n, countIf(known_track = 1) AS counted,
            countIf(known_track = 1 AND known_user = 0) AS unknown_user
     FROM ${db}.kpi_rows WHERE day = ${date}`,
  );
  const genres = await cluster.rows<{
    bucket: number;
    genre: string;
    listens: string;
    total: string;
    listeners: string;
  }>(
    `SELECT ${bucket} AS bucket, genre, count() AS listens, sum(duration_ms) AS total,
            uniqExact(user_id) AS listeners
     ${counted}
     GROUP BY bucket, genre ORDER BY bucket, genre`,
  );
  const tracks = await cluster.rows<{ bucket: number; genre: string; track_id: string; plays: string }>(
    `SELECT ${bucket} AS bucket, genre, track_id, count() AS plays
     ${counted}
     GROUP BY bucket, genre, track_id
     ORDER BY bucket, genre, plays DESC, track_id
     LIMIT ${TOP_TRACKS} BY bucket, genre`,
  );
  const topGenres = await cluster.rows<{ bucket: number; genre: string; listens: string }>(
    `SELECT ${bucket} AS bucket, genre, count() AS listens
     ${counted}
     GROUP BY bucket, genre
     ORDER BY bucket, listens DESC, genre
     LIMIT ${TOP_GENRES} BY bucket`,
  );

  const top3 = new Map<string, GenreKpi['top3']>();
  for (const t of tracks) {
    const key = `${t.bucket}\u0000${t.genre}`;
    const list = top3.get(key) ?? [];
    list.push({ track: t.track_id, plays: Number(t.plays) });
    top3.set(key, list);
  }
  const total = Number(streamRows?.n ?? 0);
  const distinctRows = Number(distinct?.n ?? 0);
  const countedRows = Number(distinct?.counted ?? 0);
  let rank = 0;
  let lastBucket = -1;
  const hourOf = (bucket: number): number | null => (granularity === 'hour' ? bucket : null);
  return {
    day,
    granularity,
    genres: genres.map((g) => ({
      hour: hourOf(g.bucket),
      genre: g.genre,
      listenCount: Number(g.listens),
      uniqueListeners: Number(g.listeners),
      totalListeningMs: Number(g.total),
      avgListeningMsPerListener: roundedRatio(Number(g.total), Number(g.listeners)),
      top3: top3.get(`${g.bucket}\u0000${g.genre}`) ?? [],
    })),
    topGenres: topGenres.map((g) => {
      rank = g.bucket === lastBucket ? rank + 1 : 1;
      lastBucket = g.bucket;
      return { hour: hourOf(g.bucket), rank, genre: g.genre, listenCount: Number(g.listens) };
    }),
    streams: {
      rows: total,
      duplicates: total - distinctRows,
      unknownTrack: distinctRows - countedRows,
      unknownUser: Number(distinct?.unknown_user ?? 0),
      counted: countedRows,
    },
  };
}
