import { COUNTRY_CODES } from '../parse/countries.js';
import { worse } from './topK.js';

/** The top songs of one country among one window partition's songs (a worker's answer). */
export interface CountryChart {
  country: number;
  songs: number[];
  plays: number[];
}

/** One country's chart: its code and the first `n` songs and plays, in rank order. */
export interface CountryChartRow {
  key: string;
  songs: Float64Array;
  plays: Float64Array;
  n: number;
}

/**
 * The country charts of the window, in country-code order, from the charts of each window
 * partition: a (country, song) total lives in exactly one partition, so a country's chart is the
 * best `top` of the union of its partition charts. The arrays of a row are reused for the next
 * row: a caller keeps what it needs before asking for the next.
 */
export function* bestOfPartitions(
  partitionCharts: CountryChart[][],
  top: number,
): Generator<CountryChartRow> {
  const byCountry: CountryChart[][] = COUNTRY_CODES.map(() => []);
  for (const charts of partitionCharts) for (const c of charts) byCountry[c.country]!.push(c);
  const songs = new Float64Array(top);
  const plays = new Float64Array(top);
  for (const [country, charts] of byCountry.entries()) {
    if (charts.length === 0) continue;
    const entries: { song: number; plays: number }[] = [];
    for (const c of charts) {
      for (let i = 0; i < c.songs.length; i++) entries.push({ song: c.songs[i]!, plays: c.plays[i]! });
    }
    entries.sort((a, b) =>
      worse(a.song, a.plays, b.song, b.plays) ? 1 : worse(b.song, b.plays, a.song, a.plays) ? -1 : 0,
    );
    const n = Math.min(top, entries.length);
    for (let i = 0; i < n; i++) {
      songs[i] = entries[i]!.song;
      plays[i] = entries[i]!.plays;
    }
    yield { key: COUNTRY_CODES[country]!, songs, plays, n };
  }
}
