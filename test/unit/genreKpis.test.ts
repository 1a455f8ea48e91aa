import { describe, expect, it } from 'vitest';
import { byteOrder, roundedRatio } from '../../src/kpis/genreKpis.js';

/** The arithmetic of the genre KPIs (src/kpis/genreKpis.ts): exact half-up ratios, UTF-8 byte order. */

describe('rounding and ordering helpers', () => {
  it.each([
    [5, 2, '2.50'],
    [1, 3, '0.33'],
    [2, 3, '0.67'],
    [1, 8, '0.13'],
    [3, 8, '0.38'],
    [0, 1, '0.00'],
    [9_007_199_254_740, 7, '1286742750677.14'],
  ])('%i / %i = %s (half up, exact)', (a, b, text) => {
    expect(roundedRatio(a, b)).toBe(text);
  });

  it('orders by UTF-8 bytes', () => {
    expect(['b', 'B', 'a', 'é', 'z', '\u{1F600}', '\uFF5E'].sort(byteOrder)).toEqual([
      'B',
      'a',
      'b',
      'z',
      'é',
      '\uFF5E',
      '\u{1F600}',
    ]);
  });
});
