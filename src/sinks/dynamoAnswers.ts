import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoTable } from '../cloud/dynamoTable.js';
import { byteOrder } from '../kpis/genreKpis.js';
import { dayKey, genreKey, topGenresKey } from './dynamoSink.js';

type Item = Record<string, AttributeValue>;

/** The usual questions of a day, answered from the KPI items of a DynamoDB table. */
export interface KpiAnswer {
  date: string;
  granularity: 'day' | 'hour';
  /** The 5 genres with most listens, per hour with hour granularity (`hour` null otherwise). */
  topGenres: { hour: number | null; rank: number; genre: string; listenCount: number }[];
  /** The 3 most played tracks of each genre asked for (all of them without --genre). */
  genres: {
    hour: number | null;
    genre: string;
    listenCount: number;
    uniqueListeners: number;
    avgListeningMsPerListener: string;
    top3: { track: string; plays: number }[];
  }[];
}

/**
 * Read a day's answer: its `DAY` item (the granularity; absent: the day was never written), its
 * top-genres items and its genre items (of one genre, or all). Undefined when the table has no
 * such day.
 */
export async function readKpiAnswer(
  table: DynamoTable,
  date: string,
  genre?: string,
): Promise<KpiAnswer | undefined> {
  const pk = dayKey(date);
  const day = await table.get(pk, 'DAY');
  if (day === undefined) return undefined;
  const granularity = day.granularity?.S === 'hour' ? 'hour' : 'day';
  const hourly = granularity === 'hour';
  const topItems = hourly
    ? await table.query(pk, 'TOP_GENRES#HOUR#')
    : [await table.get(pk, topGenresKey(null))];
  let genreItems: Item[];
  if (genre === undefined) genreItems = await table.query(pk, 'GENRE#');
  else if (hourly) genreItems = await table.query(pk, `${genreKey(genre, null)}#HOUR#`);
  else genreItems = [await table.get(pk, genreKey(genre, null))].filter((i): i is Item => i !== undefined);
  const hourOf = (item: Item): number | null => (item.hour?.N === undefined ? null : Number(item.hour.N));
  return {
    date,
    granularity,
    topGenres: topItems
      .filter((i): i is Item => i !== undefined)
      .flatMap((item) =>
        (item.genres?.L ?? []).map((g) => ({
          hour: hourOf(item),
          rank: Number(g.M!.rank!.N),
          genre: g.M!.genre!.S!,
          listenCount: Number(g.M!.listen_count!.N),
        })),
      ),
    genres: genreItems
      .map((item) => ({
        hour: hourOf(item),
        genre: item.genre!.S!,
        listenCount: Number(item.listen_count!.N),
        uniqueListeners: Number(item.unique_listeners!.N),
        avgListeningMsPerListener: twoDecimals(item.avg_listening_ms_per_listener!.N!),
        top3: (item.top3_tracks?.L ?? []).map((t) => ({
          track: t.M!.track_id!.S!,
          plays: Number(t.M!.plays!.N),
        })),
      }))
      // By hour, then genre in byte order, as in the files.
      .sort((a, b) => (a.hour ?? -1) - (b.hour ?? -1) || byteOrder(a.genre, b.genre)),
  };
}

/** DynamoDB gives numbers back without trailing zeros (`1000.5`): the files' two decimals again. */
function twoDecimals(text: string): string {
  const [whole, fraction = ''] = text.split('.');
  return `${whole}.${fraction.padEnd(2, '0')}`;
}
