import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AttributeValue, WriteRequest } from '@aws-sdk/client-dynamodb';
import { type DynamoTable, PK, SK } from '../cloud/dynamoTable.js';
import { writeFileAtomic } from '../ops/atomicFile.js';
import { parseDay } from '../ops/dates.js';
import { type KpiDayFiles, readKpiDay } from '../store/kpiLoader.js';

type Item = Record<string, AttributeValue>;

/** The partition of a day's items. */
export function dayKey(date: string): string {
  return `DATE#${date}`;
}

/** A genre's item of a day (with hour granularity, of an hour of the day). */
export function genreKey(genre: string, hour: number): string {
  return hour < 0 ? `GENRE#${genre}` : `GENRE#${genre}#HOUR#${String(hour).padStart(2, '0')}`;
}

/** The day's (or the hour's) top genres item. */
export function topGenresKey(hour: number): string {
  return hour < 0 ? 'TOP_GENRES' : `TOP_GENRES#HOUR#${String(hour).padStart(2, '0')}`;
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
  const hourOf = (hour: number): Item => (hour < 0 ? {} : { hour: n(hour) });
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
  const hours = [...new Set(files.topGenres.map((t) => t.hour))].sort((a, b) => a - b);
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

/**
 * The genre KPIs of an output folder, kept in a DynamoDB table. Like the results store, it is
 * synced from the files: each day whose KPI files changed (size and mtime) since it was written
 * there is written again, its items put and the items of that day the files no longer have (a
 * genre gone, another granularity) deleted, so a rewrite of a day leaves exactly its items.
 * What was written is recorded in the state folder (`dynamodb-<table>.json`).
 */
export class DynamoKpiSink {
  private readonly statePath: string;

  constructor(
    readonly table: DynamoTable,
    stateDir: string,
  ) {
    this.statePath = join(resolve(stateDir), `dynamodb-${table.name}.json`);
  }

  async syncKpis(outDir: string, onDay?: (result: SinkDayResult) => void): Promise<SinkDayResult[]> {
    const dir = resolve(outDir);
    const written = this.readState();
    const results: SinkDayResult[] = [];
    const days = readdirSync(dir)
      .map((name) => /^genre_kpis_(\d{8})\.csv$/.exec(name)?.[1])
      .filter((d): d is string => d !== undefined)
      .sort();
    for (const compact of days) {
      const files = readKpiDay(dir, parseDay(compact)!);
      if (written[files.date] === files.source) continue;
      const result = await this.writeDay(files);
      written[files.date] = files.source;
      writeFileAtomic(this.statePath, `${JSON.stringify(written, null, 2)}\n`);
      results.push(result);
      onDay?.(result);
    }
    return results;
  }

  /** Put the day's items and delete the ones of that day it no longer has. */
  async writeDay(files: KpiDayFiles): Promise<SinkDayResult> {
    const items = kpiItems(files);
    const keep = new Set(items.map((item) => item[SK]!.S!));
    const pk = dayKey(files.date);
    const stale = (await this.table.sortKeys(pk)).filter((sk) => !keep.has(sk));
    const requests: WriteRequest[] = [
      ...stale.map((sk) => ({ DeleteRequest: { Key: { [PK]: s(pk), [SK]: s(sk) } } })),
      ...items.map((item) => ({ PutRequest: { Item: item } })),
    ];
    await this.table.write(requests);
    return { date: files.date, items: items.length, deleted: stale.length };
  }

  private readState(): Record<string, string> {
    if (!existsSync(this.statePath)) return {};
    try {
      return JSON.parse(readFileSync(this.statePath, 'utf8')) as Record<string, string>;
    } catch {
      // Unreadable: every day is written again (a write replaces the day's items).
      return {};
    }
  }
}
