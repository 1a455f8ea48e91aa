import { describe, expect, it } from 'vitest';
import { plural, thousands } from '../../src/ops/counts.js';

/** The words of counts in messages (src/ops/counts.ts): thousands separators, nouns in the right number. */
describe('thousands and plural', () => {
  it('writes thousands separators whatever the locale', () => {
    expect(thousands(0)).toBe('0');
    expect(thousands(2733)).toBe('2,733');
    expect(thousands(140_000_000)).toBe('140,000,000');
  });

  it.each([
    [0, 'day', undefined, '0 days'],
    [1, 'day', undefined, '1 day'],
    [7, 'day', undefined, '7 days'],
    [1, 'chart date', undefined, '1 chart date'],
    [2733, 'genre row', undefined, '2,733 genre rows'],
    [1, 'country', 'countries', '1 country'],
    [249, 'country', 'countries', '249 countries'],
  ])('plural(%d, %s)', (n, one, many, expected) => {
    expect(plural(n, one, many)).toBe(expected);
  });
});
