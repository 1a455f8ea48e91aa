import { join, resolve } from 'node:path';
import type { AttributeValue, WriteRequest } from '@aws-sdk/client-dynamodb';
import { type DynamoTable, PK, SK } from '../cloud/dynamoTable.js';
import { chartDatesIn, countryChartName, forEachCountryChart } from '../formats/chartFiles.js';
import { type KpiDayFiles, kpiDatesIn, kpiPaths, readKpiDay } from '../formats/kpiFiles.js';
import { openSinkRecord } from '../formats/sinkRecord.js';
import { isoDay } from '../ops/dates.js';
import { fileSignature } from '../ops/fileIo.js';

type Item = Record<string, AttributeValue>;

/** The partition of a day's items. */
export function dayKey(date: string): string {
  return `DATE#${date}`;
}

/** A genre's item of a day (with hour granularity, of an hour of the day). */
export function genreKey(genre: string, hour: number | null): string {
  return hour === null ? `GENRE#${genre}` : `GENRE#${genre}#HOUR#${String(hour).padStart(2, '0')}`;
}

/** The day's (or the hour's) top genres item. */
export function topGenresKey(hour: number | null): string {
  return hour === null ? 'TOP_GENRES' : `TOP_GENRES#HOUR#${String(hour).padStart(2, '0')}`;
}

const n = (value: number | string): AttributeValue => ({ N: String(value) });
const s = (value: string): AttributeValue => ({ S: value });

/**
 * The items of one day, from its KPI files: one per genre (partition `DATE#YYYY-MM-DD`, sort key
 * `GENRE#<genre>`, or `GENRE#<genre>#HOUR#HH` with hour granularity) with the figures and the
 * top 3 tracks, one `TOP_GENRES` item (per hour: `TOP_GENRES#HOUR#HH`) with the 5 genres in
 * rank order, and a `DAY` item with the granularity and the day's stream counts. Numbers are
 * DynamoDB numbers written from the files' text, so the average keeps its two decimals exactly.
 */
export function kpiItems(files: KpiDayFiles): Item[] {
  const pk = dayKey(files.date);
  const hourOf = (hour: number | null): Item => (hour === null ? {} : { hour: n(hour) });
  const items: Item[] = files.genres.map((g) => ({
    [PK]: s(pk),
    [SK]: s(genreKey(g.genre, g.hour)),
    date: s(files.date),
    genre: s(g.genre),
    ...hourOf(g.hour),
    listen_count: n(g.listenCount),
    unique_listeners: n(g.uniqueListeners),
    total_listening_ms: n(g.totalListeningMs),
    avg_listening_ms_per_listener: n(g.avgListeningMsPerListener),
    top3_tracks: { L: g.top3.map((t) => ({ M: { track_id: s(t.track), plays: n(t.plays) } })) },
  }));
  const hours = [...new Set(files.topGenres.map((t) => t.hour))].sort((a, b) => (a ?? -1) - (b ?? -1));
  for (const hour of hours) {
    const ranked = files.topGenres.filter((t) => t.hour === hour).sort((a, b) => a.rank - b.rank);
    items.push({
      [PK]: s(pk),
      [SK]: s(topGenresKey(hour)),
      date: s(files.date),
      ...hourOf(hour),
      genres: {
        L: ranked.map((t) => ({ M: { rank: n(t.rank), genre: s(t.genre), listen_count: n(t.listenCount) } })),
      },
    });
  }
  const streams = (files.quality as { streams?: Record<string, unknown> }).streams ?? {};
  const counts: Item = {};
  for (const [name, value] of Object.entries(streams)) if (typeof value === 'number') counts[name] = n(value);
  items.push({
    [PK]: s(pk),
    [SK]: s('DAY'),
    date: s(files.date),
    granularity: s(files.granularity),
    streams: { M: counts },
    written_at: s(new Date().toISOString()),
  });
  return items;
}

export interface SinkDayResult {
  date: string;
  items: number;
  deleted: number;
}

/** One date's items in the table: its partition and every item of it. */
interface DateItems {
  date: string;
  pk: string;
  items: Item[];
}

/**
 * Output files kept in a DynamoDB table, synced from the output folder like the results store:
 * each date whose files changed (size and mtime) since they were written there is written again,
 * its items put and the items of its partition the files no longer have (a genre gone, another
 * granularity, a country gone) deleted, so a rewrite leaves exactly its items. What was written
 * is recorded in the state folder (`dynamodb-<table>.json` for the KPIs,
 * `dynamodb-<table>-charts.json` for the country charts).
 */
export class DynamoSink {
  constructor(
    readonly table: DynamoTable,
    readonly stateDir: string,
  ) {}

  /** The genre KPIs of every day of `outDir` whose files changed since (kpiItems). */
  syncKpis(outDir: string, onDay?: (result: SinkDayResult) => void): Promise<SinkDayResult[]> {
    const dir = resolve(outDir);
    return this.sync(kpiDatesIn(dir), `dynamodb-${this.table.name}.json`, onDay, {
      signature: (day) => fileSignature(Object.values(kpiPaths(dir, day))),
      read: (day) => {
        const files = readKpiDay(dir, day);
        return { date: files.date, pk: dayKey(files.date), items: kpiItems(files) };
      },
    });
  }

  /** The country charts of every chart date of `outDir` whose file changed since (chartItems). */
  syncCharts(outDir: string, onDay?: (result: SinkDayResult) => void): Promise<SinkDayResult[]> {
    const dir = resolve(outDir);
    return this.sync(chartDatesIn(dir), `dynamodb-${this.table.name}-charts.json`, onDay, {
      signature: (day) => fileSignature([join(dir, countryChartName(day))]),
      read: (day) => {
        const date = isoDay(day);
        return { date, pk: chartKey(date), items: chartItems(date, join(dir, countryChartName(day))) };
      },
    });
  }

  private async sync(
    dates: number[],
    stateName: string,
    onDay: ((result: SinkDayResult) => void) | undefined,
    files: { signature: (day: number) => string; read: (day: number) => DateItems },
  ): Promise<SinkDayResult[]> {
    const statePath = join(resolve(this.stateDir), stateName);
    const record = openSinkRecord(statePath);
    const written = record.value;
    const results: SinkDayResult[] = [];
    for (const day of [...dates].sort((a, b) => a - b)) {
      // Most dates are unchanged: their files' signature says so without reading them.
      const signature = files.signature(day);
      if (written[isoDay(day)] === signature) continue;
      const date = files.read(day);
      const result = await this.writeDate(date);
      written[date.date] = signature;
      record.save();
      results.push(result);
      onDay?.(result);
    }
    return results;
  }

  /** Put the date's items and delete the ones of its partition it no longer has. */
  private async writeDate({ date, pk, items }: DateItems): Promise<SinkDayResult> {
    const keep = new Set(items.map((item) => item[SK]!.S!));
    const stale = (await this.table.sortKeys(pk)).filter((sk) => !keep.has(sk));
    const requests: WriteRequest[] = [
      ...stale.map((sk) => ({ DeleteRequest: { Key: { [PK]: s(pk), [SK]: s(sk) } } })),
      ...items.map((item) => ({ PutRequest: { Item: item } })),
    ];
    await this.table.write(requests);
    return { date, items: items.length, deleted: stale.length };
  }
}

/** The partition of a chart date's country charts. */
export function chartKey(date: string): string {
  return `CHART#${date}`;
}

/**
 * The items of a chart date's country chart file: one per country (partition `CHART#YYYY-MM-DD`,
 * sort key `COUNTRY#<CC>`) with its songs in rank order.
 */
export function chartItems(date: string, path: string): Item[] {
  const items: Item[] = [];
  forEachCountryChart(path, (country, songs) => {
    items.push({
      [PK]: s(chartKey(date)),
      [SK]: s(`COUNTRY#${country}`),
      date: s(date),
      country: s(country),
      songs: {
        L: songs.map((song, i) => ({ M: { rank: n(i + 1), sng_id: n(song.song), plays: n(song.plays) } })),
      },
    });
  });
  return items;
}
