import { COUNTRY_CODES } from '../parse/countries.js';
import { worse } from './topK.js';

/** The top songs of one country among one window partition's songs (a worker's answer), in rank order. */
export interface CountryChart {
  country: number;
  songs: ArrayLike<number>;
  plays: ArrayLike<number>;
}

/** One country's chart: its code and the first `n` songs and plays, in rank order. */
export interface CountryChartRow {
  key: string;
  songs: Float64Array;
  plays: Float64Array;
  n: number;
}

/**
 * The country charts of the window, from the charts of each window partition, folded in as each
 * partition's arrives: a (country, song) total lives in exactly one partition, so a country's
 * chart is the best `top` of the union of its partition charts, which is the best `top` of the
 * best so far and the next partition's. Holds `top` songs a country; keeping every partition's
 * charts until the last one held them all for the whole merge (256 partitions at --memory 256MB:
 * about 60 MB on the main thread, docs/BENCHMARKS.md).
 */
export class CountryBest {
  private readonly best: (Best | undefined)[] = COUNTRY_CODES.map(() => undefined);
  /** Where the next merge goes; it then trades places with the country's best. */
  private spare: Best;
  private readonly songs: Float64Array;
  private readonly plays: Float64Array;

  constructor(private readonly top: number) {
    this.songs = new Float64Array(top);
    this.plays = new Float64Array(top);
    this.spare = newBest(top);
  }

  /**
   * One partition's charts (each in rank order), folded in. A country's arrays are made once and
   * reused: two new arrays a country a partition were most of this thread's time here.
   */
  add(charts: readonly CountryChart[]): void {
    const top = this.top;
    for (const c of charts) {
      const had = this.best[c.country];
      const into = this.spare;
      const { songs, plays } = into;
      const n = Math.min(top, (had?.n ?? 0) + c.songs.length);
      // Both lists are in rank order: merged, the better first, up to `top`.
      let i = 0;
      let j = 0;
      for (let k = 0; k < n; k++) {
        const takeHad =
          had !== undefined &&
          i < had.n &&
          (j >= c.songs.length || !worse(had.songs[i]!, had.plays[i]!, c.songs[j]!, c.plays[j]!));
        if (takeHad) {
          songs[k] = had.songs[i]!;
          plays[k] = had.plays[i++]!;
        } else {
          songs[k] = c.songs[j]!;
          plays[k] = c.plays[j++]!;
        }
      }
      into.n = n;
      this.best[c.country] = into;
      this.spare = had ?? newBest(top);
    }
  }

  /** The charts in country-code order. The arrays of a row are reused for the next row. */
  *rows(): Generator<CountryChartRow> {
    for (const [country, best] of this.best.entries()) {
      if (best === undefined) continue;
      this.songs.set(best.songs.subarray(0, best.n));
      this.plays.set(best.plays.subarray(0, best.n));
      yield { key: COUNTRY_CODES[country]!, songs: this.songs, plays: this.plays, n: best.n };
    }
  }
}

/** A country's best songs so far: the first `n` of arrays of `top`. */
interface Best {
  songs: Float64Array;
  plays: Float64Array;
  n: number;
}

function newBest(top: number): Best {
  return { songs: new Float64Array(top), plays: new Float64Array(top), n: 0 };
}
