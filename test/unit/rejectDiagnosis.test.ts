import { describe, expect, it } from 'vitest';
import { describeRejects, layoutHint, mainReason } from '../../src/parse/rejectDiagnosis.js';
import { exampleText } from '../../src/parse/rejects.js';

/** Examples as a parse keeps them: 1-based lines, the text escaped as in reports. */
const examples = (...lines: string[]) =>
  lines.map((text, i) => ({ line: i + 1, reason: 'x', text: exampleText(Buffer.from(text, 'latin1')) }));

describe('layout hints', () => {
  const cases: [string, string[], RegExp][] = [
    ['semicolons', ['1;2;FR', '3;4;DE', '5;6;US'], /use ';' between fields; playtally expects '\|'/],
    ['commas, with a header', ['sng_id,user_id,country', '3,4,DE'], /use ',' between fields/],
    ['tabs', ['1\t2\tFR', '3\t4\tDE'], /use a tab between fields/],
    ['blanks', ['1 2 FR', '3  4 DE'], /use blanks between fields/],
    ['quotes', ['"1"|"2"|"FR"', '"3"|"4"|"DE"'], /the fields are quoted/],
    [
      'a header in other words',
      ['song|user|pays'],
      /the first line looks like a header \(`song\|user\|pays`\)/,
    ],
    [
      'another number of fields',
      ['2024-01-01|1|2|FR', '2024-01-01|3|4|DE'],
      /the lines have 4 fields; playtally expects 3/,
    ],
    ['lower-case countries', ['1|2|fr', '3|4|de'], /country codes are lower case/],
    ['the country first', ['FR|1|2', 'DE|3|4'], /the country comes first/],
    ['country names', ['1|2|France', '3|4|United States'], /the countries are names/],
    ['UTF-16 text', ['1\u00002\u0000|\u00003\u0000', '4\u0000|\u00005\u0000'], /looks like UTF-16 text/],
  ];
  it.each(cases)('%s', (_name, lines, hint) => {
    expect(layoutHint(examples(...lines))).toMatch(hint);
  });

  it('say nothing about ordinary dirt, or when the lines do not agree', () => {
    expect(layoutHint(examples('27818575 | 9642856 | ', '4471643 | | PA', '| 5794321 |'))).toBeUndefined();
    expect(layoutHint(examples('1;2;FR', '3|4|ZZ', 'x|y|DE'))).toBeUndefined();
    expect(layoutHint([])).toBeUndefined();
  });
});

describe('describing the rejects', () => {
  it('names the share, the main reason with its count, an example of it, and the hint', () => {
    const text = describeRejects(
      {
        rows: 1000,
        rejected: 1000,
        byReason: { field_count: 990, empty: 10 },
        examples: [
          { line: 1, reason: 'empty', text: '' },
          { line: 2, reason: 'field_count', text: '1;2;FR' },
          { line: 3, reason: 'field_count', text: '3;4;DE' },
        ],
      },
      { maxRate: 0.05, layout: undefined },
    );
    expect(text).toBe(
      '100.00% of 1,000 rows rejected (above --max-reject-rate 5.00%), mostly field_count (990), e.g. line 2: `1;2;FR`',
    );
  });

  it('the main reason is the most frequent one, the first listed of a tie, none without rejects', () => {
    expect(mainReason({ a: 1, b: 3, c: 3 })).toBe('b');
    expect(mainReason({ a: 0 })).toBeUndefined();
  });
});
