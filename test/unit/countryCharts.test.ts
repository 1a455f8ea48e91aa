import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COUNTRY_CODES } from '../../src/parse/countries.js';
import { CountryBest, type CountryChart } from '../../src/window/countryCharts.js';

/**
 * The window's country charts folded from the partitions' charts as they arrive
 * (src/window/countryCharts.ts CountryBest): each country's best `top` of the union of its
 * partition charts (a song in one partition only), in the chart order (more plays first, then the
 * smaller song id), whatever the order the partitions come in.
 */

/** A country's chart in rank order: what a worker answers for one partition. */
function ranked(country: number, entries: [number, number][], top: number): CountryChart {
  const sorted = [...entries].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, top);
  return { country, songs: sorted.map((e) => e[0]), plays: sorted.map((e) => e[1]) };
}

/** The rows, copied as they come (a row's arrays are reused for the next). */
function rowsOf(best: CountryBest): [string, number[], number[]][] {
  const rows: [string, number[], number[]][] = [];
  for (const r of best.rows())
    rows.push([r.key, Array.from(r.songs.subarray(0, r.n)), Array.from(r.plays.subarray(0, r.n))]);
  return rows;
}

describe('CountryBest', () => {
  it('property: the best top of every partition chart of a country, in chart order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        // (country, song, plays): a song in one partition, the song id modulo the partitions.
        fc.uniqueArray(
          fc.tuple(
            fc.integer({ min: 0, max: 3 }),
            fc.integer({ min: 0, max: 60 }),
            fc.integer({ min: 1, max: 6 }),
          ),
          { selector: (e) => `${e[0]} ${e[1]}`, maxLength: 200 },
        ),
        fc.boolean(),
        (top, partitions, entries, reversed) => {
          const best = new CountryBest(top);
          const order = Array.from({ length: partitions }, (_, q) => q);
          if (reversed) order.reverse();
          for (const q of order) {
            const charts: CountryChart[] = [];
            for (let country = 0; country < 4; country++) {
              const mine = entries.filter((e) => e[0] === country && e[1] % partitions === q);
              if (mine.length > 0)
                charts.push(
                  ranked(
                    country,
                    mine.map((e) => [e[1], e[2]]),
                    top,
                  ),
                );
            }
            best.add(charts);
          }
          const expected: [string, number[], number[]][] = [];
          for (let country = 0; country < 4; country++) {
            const mine = entries.filter((e) => e[0] === country);
            if (mine.length === 0) continue;
            const chart = ranked(
              country,
              mine.map((e) => [e[1], e[2]]),
              top,
            );
            expected.push([COUNTRY_CODES[country]!, Array.from(chart.songs), Array.from(chart.plays)]);
          }
          expect(rowsOf(best)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('equal plays: the smaller song id ranks first, across partitions', () => {
    const best = new CountryBest(3);
    best.add([{ country: 5, songs: [4, 9], plays: [7, 7] }]);
    best.add([{ country: 5, songs: [2, 8, 1], plays: [7, 7, 3] }]);
    expect(rowsOf(best)).toEqual([[COUNTRY_CODES[5]!, [2, 4, 8], [7, 7, 7]]]);
  });
});
