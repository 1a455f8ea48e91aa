import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COUNTRY_CODES, COUNTRY_COUNT, countryIndex } from '../../src/parse/countries.js';
import { ListenParser, MAX_ID } from '../../src/parse/listenParser.js';
import { MAX_LINE_BYTES, REJECT_REASONS, type RejectReason } from '../../src/parse/rejects.js';
import { referenceReason } from '../support/reference.js';

/** Bytes of a string whose chars are all < 256 (each char is one byte, like latin1). */
function bytesOf(text: string): Uint8Array {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) throw new Error('not a byte string');
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

const textOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

type Row = [song: number, user: number, country: number];

interface Outcome {
  rows: Row[];
  /** Count per reason, indexed like REJECT_REASONS. */
  counts: number[];
  /** [reason name, 1-based line] per rejected line, in order. */
  rejects: Array<[RejectReason, number]>;
  /** Bytes handed to onReject, as latin1 text. */
  rejectBytes: string[];
  lines: number;
  valid: number;
  rejected: number;
  /** Length of every batch received, in order. */
  batches: number[];
}

function run(chunks: Iterable<Uint8Array>, batchSize?: number, kernel?: boolean): Outcome {
  const out: Outcome = {
    rows: [],
    counts: [],
    rejects: [],
    rejectBytes: [],
    lines: 0,
    valid: 0,
    rejected: 0,
    batches: [],
  };
  const parser = new ListenParser({
    batchSize,
    kernel,
    onBatch: (b) => {
      out.batches.push(b.length);
      // The arrays are reused after the call: copy now.
      for (let i = 0; i < b.length; i++) out.rows.push([b.songs[i]!, b.users[i]!, b.countries[i]!]);
    },
    onReject: (reason, line, bytes) => {
      out.rejects.push([REJECT_REASONS[reason]!, line]);
      out.rejectBytes.push(textOf(bytes));
    },
  });
  for (const c of chunks) parser.push(c);
  parser.end();
  out.counts = Array.from(parser.rejects);
  out.lines = parser.lines;
  out.valid = parser.valid;
  out.rejected = parser.rejected;
  return out;
}

const parseText = (text: string, batchSize?: number): Outcome => run([bytesOf(text)], batchSize);

function countsOf(reasons: RejectReason[]): number[] {
  const counts = REJECT_REASONS.map(() => 0);
  for (const r of reasons) counts[REJECT_REASONS.indexOf(r)]!++;
  return counts;
}

/** A line's bytes without at most one trailing CR (the parser may or may not keep it). */
const withoutOneCr = (s: string): string => (s.endsWith('\r') ? s.slice(0, -1) : s);

const US = countryIndex('US');
const zeros = (n: number): string => '0'.repeat(n);
/** A valid row of exactly MAX_LINE_BYTES bytes: song id 1 padded with leading zeros. */
const LONGEST_VALID = zeros(MAX_LINE_BYTES - 6) + '1|2|US';
const E_ACUTE = '\xc3\xa9'; // UTF-8 bytes of 'é'

/** Lines (without their '\n') and the one reason each must be rejected for. */
const CASES: Record<RejectReason, string[]> = {
  line_too_long: [
    zeros(MAX_LINE_BYTES - 5) + '1|2|US', // 1025 bytes, otherwise valid
    LONGEST_VALID + '\r\r', // 1024 + CR + CR: only one CR is a line ending
    zeros(MAX_LINE_BYTES - 5) + '1|2|US\r', // 1025 bytes + CRLF ending
    '1|2|US' + ' '.repeat(MAX_LINE_BYTES - 5),
    'x'.repeat(MAX_LINE_BYTES + 1), // would also be field_count
    E_ACUTE.repeat(600), // would also be non_ascii
    '9'.repeat(1100) + '|1|US', // would also be id_too_large
    ' '.repeat(3000),
    'a|b|c'.repeat(1000),
  ],
  non_ascii: [
    `1|2|${E_ACUTE}`,
    `${E_ACUTE}|2|US`,
    '1|2|US\xff',
    '\xff',
    '\x80',
    '1\xa0|2|US',
    `1|2|U${E_ACUTE}\r`,
    E_ACUTE, // would also be field_count
    `1|${E_ACUTE}|ZZ`, // would also be bad_id
  ],
  empty: ['', '\r', ' ', '\t', '   \t  ', ' \r'],
  field_count: [
    'a',
    '1|2',
    '1|2|US|x',
    '1|2|US|',
    '|',
    '||||',
    '12',
    ' 12 ',
    'US',
    '1,2,US',
    '1;2;US',
    '\r\r', // one CR is the line ending, the other is content
    'a|b', // would also be bad_id
  ],
  bad_id: [
    '|2|US',
    '1||US',
    '||US',
    '||',
    'a|2|US',
    '1|b|US',
    '-5|2|US',
    '+5|2|US',
    '5 6|2|US', // a blank inside a field is not around it
    '1|2\t3|US',
    ' |2|US',
    '1| \t |US',
    '1.5|2|US',
    '1e3|2|US',
    '0x10|2|US',
    '1|-0|US',
    '9007199254740992|x|US', // the bad id wins over the too-large one
    'x|9007199254740992|US',
    'x|1|us', // would also be malformed_country
  ],
  id_too_large: [
    '9007199254740992|1|US',
    '1|9007199254740992|US',
    '9007199254740993|1|US',
    '9007199254740999|1|US',
    '18014398509481984|1|US',
    '99999999999999999999|1|US',
    '1|' + '9'.repeat(400) + '|US', // overflows a double to Infinity
    '0009007199254740992|1|US',
    '10000000000000000|1|US',
    '9007199254740992|1|us', // would also be malformed_country
    '9007199254740992|1|ZZ', // would also be unknown_country
  ],
  malformed_country: [
    '1|2|us',
    '1|2|Us',
    '1|2|uS',
    '1|2|USA',
    '1|2|U',
    '1|2|',
    '1|2|U1',
    '1|2|12',
    '1|2|US\r\r',
    '1|2|U S',
    '1|2|  ',
    '1|2|US\r ',
    '1|2|U\r',
    '1|2|\r',
    '1|2|@@',
    '1|2|[[',
    '1|2|U\x00',
  ],
  unknown_country: ['1|2|UK', '1|2|ZZ', '1|2|XX', '1|2|XK', '1|2|EU', '1|2|AA', '1|2|UK\r', '0|0|QQ'],
};

describe('reject reasons', () => {
  it('are indexed as documented', () => {
    expect(REJECT_REASONS).toEqual([
      'line_too_long',
      'non_ascii',
      'empty',
      'field_count',
      'bad_id',
      'id_too_large',
      'malformed_country',
      'unknown_country',
    ]);
    expect(MAX_LINE_BYTES).toBe(1024);
  });

  for (const reason of REJECT_REASONS) {
    describe(reason, () => {
      it('has test lines of its own', () => {
        expect(CASES[reason].length).toBeGreaterThan(1);
      });

      it.each(CASES[reason].map((line) => [JSON.stringify(line).slice(0, 60), line]))(
        'rejects %s alone',
        (_name, line) => {
          const out = parseText(line + '\n');
          expect(out.rejects).toEqual([[reason, 1]]);
          expect(out.counts).toEqual(countsOf([reason]));
          expect(out.rows).toEqual([]);
          expect(out.lines).toBe(1);
          expect(out.valid).toBe(0);
          expect(out.rejected).toBe(1);
          expect(out.batches).toEqual([]);
          if (line.length <= MAX_LINE_BYTES)
            expect(withoutOneCr(out.rejectBytes[0]!)).toBe(withoutOneCr(line));
          else expect(out.rejectBytes[0]!.slice(0, 200)).toBe(line.slice(0, 200));
        },
      );

      it.each(CASES[reason].map((line) => [JSON.stringify(line).slice(0, 60), line]))(
        'rejects %s between valid rows, as line 2',
        (_name, line) => {
          const out = parseText('11|12|FR\n' + line + '\n21|22|DE\r\n');
          expect(out.rejects).toEqual([[reason, 2]]);
          expect(out.counts).toEqual(countsOf([reason]));
          expect(out.rows).toEqual([
            [11, 12, countryIndex('FR')],
            [21, 22, countryIndex('DE')],
          ]);
          expect(out.lines).toBe(3);
          expect(out.valid).toBe(2);
        },
      );

      it.each(
        CASES[reason].filter((line) => line !== '').map((line) => [JSON.stringify(line).slice(0, 60), line]),
      )('rejects %s as a last line without newline', (_name, line) => {
        const out = parseText('11|12|FR\n' + line);
        expect(out.rejects).toEqual([[reason, 2]]);
        expect(out.counts).toEqual(countsOf([reason]));
        expect(out.rows).toEqual([[11, 12, countryIndex('FR')]]);
        expect(out.lines).toBe(2);
      });
    });
  }

  it('count every line of a file with one of each, in order', () => {
    const all = REJECT_REASONS.flatMap((reason) => CASES[reason].map((line) => ({ reason, line })));
    const out = parseText(all.map((c) => c.line + '\n').join(''));
    expect(out.rejects).toEqual(all.map((c, i) => [c.reason, i + 1]));
    expect(out.counts).toEqual(countsOf(all.map((c) => c.reason)));
    expect(out.rows).toEqual([]);
    expect(out.lines).toBe(all.length);
    expect(out.rejected).toBe(all.length);
  });
});

describe('line length limit', () => {
  it('accepts a line of exactly MAX_LINE_BYTES bytes, with LF or CRLF', () => {
    expect(LONGEST_VALID.length).toBe(1024);
    for (const eol of ['\n', '\r\n', '\r', '']) {
      const out = parseText(LONGEST_VALID + eol);
      expect(out.rows, JSON.stringify(eol)).toEqual([[1, 2, US]]);
      expect(out.rejects).toEqual([]);
    }
  });

  it('rejects MAX_LINE_BYTES + 1 bytes with any ending', () => {
    const line = zeros(MAX_LINE_BYTES - 5) + '1|2|US';
    expect(line.length).toBe(1025);
    for (const eol of ['\n', '\r\n', '\r', '']) {
      const out = parseText(line + eol);
      expect(out.rejects, JSON.stringify(eol)).toEqual([['line_too_long', 1]]);
      expect(out.rows).toEqual([]);
    }
  });

  it('accepts ids with many leading zeros up to the limit', () => {
    const song = zeros(500) + '7';
    const user = zeros(500) + '9007199254740991';
    const line = `${song}|${user}|SE`;
    expect(line.length).toBeLessThanOrEqual(1024);
    expect(parseText(line + '\n').rows).toEqual([[7, MAX_ID, countryIndex('SE')]]);
  });
});

describe('valid rows', () => {
  it('parse ids and country index', () => {
    const out = parseText('42|7|FR\n');
    expect(out.rows).toEqual([[42, 7, countryIndex('FR')]]);
    expect(out.lines).toBe(1);
    expect(out.valid).toBe(1);
    expect(out.counts).toEqual(countsOf([]));
    expect(out.batches).toEqual([1]);
  });

  it('accept LF, CRLF and a last line without newline (with or without CR)', () => {
    expect(parseText('1|2|US\n3|4|GB\r\n5|6|DE').rows).toEqual([
      [1, 2, US],
      [3, 4, countryIndex('GB')],
      [5, 6, countryIndex('DE')],
    ]);
    expect(parseText('1|2|US\r\n5|6|DE\r').rows).toEqual([
      [1, 2, US],
      [5, 6, countryIndex('DE')],
    ]);
  });

  it('accept id 0, the maximum id, and leading zeros', () => {
    expect(MAX_ID).toBe(2 ** 53 - 1);
    const out = parseText(
      [
        '0|0|AD',
        '9007199254740991|9007199254740991|ZW',
        '0000000000000000000001|0000000000000000000002|US',
        '0000000000000000000000009007199254740991|00|US',
        '00|9007199254740990|US',
      ].join('\n'),
    );
    expect(out.rows).toEqual([
      [0, 0, countryIndex('AD')],
      [MAX_ID, MAX_ID, countryIndex('ZW')],
      [1, 2, US],
      [MAX_ID, 0, US],
      [0, MAX_ID - 1, US],
    ]);
    expect(out.rejected).toBe(0);
  });

  it('parse random ids exactly', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: MAX_ID }),
            fc.integer({ min: 0, max: MAX_ID }),
            fc.integer({ min: 0, max: COUNTRY_CODES.length - 1 }),
            fc.constantFrom('\n', '\r\n'),
          ),
          { maxLength: 30 },
        ),
        (rows) => {
          const text = rows.map(([s, u, c, eol]) => `${s}|${u}|${COUNTRY_CODES[c]}${eol}`).join('');
          const out = parseText(text);
          expect(out.rows).toEqual(rows.map(([s, u, c]) => [s, u, c]));
          expect(out.rejected).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gather batches in the caller's arrays, one parser after another, each batch as long as they are", () => {
    const arrays = { songs: new Float64Array(3), users: new Float64Array(3), countries: new Uint8Array(3) };
    const parse = (text: string): { rows: Row[]; batches: number[] } => {
      const rows: Row[] = [];
      const batches: number[] = [];
      const parser = new ListenParser({
        arrays,
        batchSize: 1000, // the arrays' length wins
        onBatch: (batch) => {
          expect(batch.songs).toBe(arrays.songs);
          batches.push(batch.length);
          for (let i = 0; i < batch.length; i++)
            rows.push([batch.songs[i]!, batch.users[i]!, batch.countries[i]!]);
        },
      });
      parser.push(bytesOf(text));
      parser.end();
      return { rows, batches };
    };
    const rowsOf = (n: number, from: number): Row[] =>
      Array.from({ length: n }, (_, i): Row => [from + i, 2 * (from + i), countryIndex('FR')]);
    const text = (rows: Row[]): string => rows.map(([s, u]) => `${s}|${u}|FR\n`).join('');
    const first = rowsOf(7, 100);
    expect(parse(text(first))).toEqual({ rows: first, batches: [3, 3, 1] });
    // The second parser's rows, not the first's left in the arrays.
    const second = rowsOf(2, 900);
    expect(parse(text(second))).toEqual({ rows: second, batches: [2] });
  });

  it('produce nothing for empty input', () => {
    const out = run([]);
    expect(out).toMatchObject({ rows: [], rejects: [], lines: 0, valid: 0, batches: [] });
    const out2 = run([new Uint8Array(0), new Uint8Array(0)]);
    expect(out2).toMatchObject({ rows: [], rejects: [], lines: 0, valid: 0, batches: [] });
  });
});

describe('countries', () => {
  it('are 249 unique, sorted, upper-case two-letter codes', () => {
    expect(COUNTRY_CODES.length).toBe(249);
    expect(COUNTRY_COUNT).toBe(249);
    expect(new Set(COUNTRY_CODES).size).toBe(249);
    expect([...COUNTRY_CODES].sort()).toEqual([...COUNTRY_CODES]);
    for (const code of COUNTRY_CODES) expect(code).toMatch(/^[A-Z]{2}$/);
  });

  it('include current codes and exclude reserved, withdrawn and user-assigned ones', () => {
    for (const code of ['GB', 'US', 'FR', 'DE', 'SS', 'CW', 'SX', 'BQ', 'AX', 'AQ', 'UM', 'ZW', 'AD'])
      expect(COUNTRY_CODES, code).toContain(code);
    for (const code of ['XK', 'UK', 'EU', 'UN', 'AN', 'YU', 'CS', 'TP', 'ZR', 'SU', 'DD', 'AA', 'ZZ', 'QO'])
      expect(COUNTRY_CODES, code).not.toContain(code);
  });

  it('countryIndex is the position in the list', () => {
    COUNTRY_CODES.forEach((code, i) => {
      expect(countryIndex(code)).toBe(i);
    });
    expect(countryIndex('XK')).toBe(-1);
    expect(countryIndex('us')).toBe(-1);
  });

  it('every one of the 249 codes is accepted with its index', () => {
    const text = COUNTRY_CODES.map((code, i) => `${i}|${1000 + i}|${code}\n`).join('');
    const out = parseText(text);
    expect(out.rows).toEqual(COUNTRY_CODES.map((_code, i) => [i, 1000 + i, i]));
    expect(out.rejected).toBe(0);
  });

  it('every other pair of upper-case letters is an unknown country', () => {
    const pairs: string[] = [];
    for (let a = 65; a <= 90; a++)
      for (let b = 65; b <= 90; b++) pairs.push(String.fromCharCode(a) + String.fromCharCode(b));
    expect(pairs.length).toBe(676);
    const known = new Set(COUNTRY_CODES);
    const out = parseText(pairs.map((p, i) => `${i}|1|${p}\n`).join(''));
    const expectedRows = pairs.flatMap((p, i) => (known.has(p) ? [[i, 1, countryIndex(p)]] : []));
    const expectedRejects = pairs.flatMap((p, i) => (known.has(p) ? [] : [['unknown_country', i + 1]]));
    expect(out.rows).toEqual(expectedRows);
    expect(out.rejects).toEqual(expectedRejects);
    expect(out.rejects.length).toBe(676 - 249);
  });
});

describe('line numbers', () => {
  it('are 1-based positions in the stream, counting every line', () => {
    const text = ['1|1|US', 'bad', '', '2|2|US\r', 'UK', '\r', '3|3|GB', '3|3|UK', 'é'].join('\n') + '\n';
    const out = parseText(text);
    expect(out.rejects).toEqual([
      ['field_count', 2],
      ['empty', 3],
      ['field_count', 5],
      ['empty', 6],
      ['unknown_country', 8],
      ['non_ascii', 9],
    ]);
    expect(out.lines).toBe(9);
    expect(out.valid).toBe(3);
    expect(out.rejected).toBe(6);
  });

  it('keep counting across pushes', () => {
    const seen: number[] = [];
    const p = new ListenParser({ onBatch: () => {}, onReject: (_r, line) => seen.push(line) });
    for (const chunk of ['1|1|US\nx\n', '2|2|US\n', 'y\n\n', '3|3|US\nz']) p.push(bytesOf(chunk));
    p.end();
    expect(seen).toEqual([2, 4, 5, 7]);
    expect(p.lines).toBe(7);
  });
});

// ---------------------------------------------------------------------------------------------
// Chunk boundaries: a mixed input must parse the same however it is cut.

type Expect = { row: Row } | { reject: RejectReason };
const row = (song: number, user: number, code: string): Expect => ({ row: [song, user, countryIndex(code)] });
const rej = (reason: RejectReason): Expect => ({ reject: reason });

/** [line text, line ending, expected outcome]: 60+ lines of every kind. */
const MIXED: Array<[string, string, Expect]> = [
  ['1|100|US', '\n', row(1, 100, 'US')],
  ['2|100|US', '\r\n', row(2, 100, 'US')],
  ['', '\n', rej('empty')],
  ['3|101|FR', '\n', row(3, 101, 'FR')],
  ['\r', '\n', rej('empty')],
  ['a', '\n', rej('field_count')],
  ['9007199254740991|9007199254740991|ZW', '\r\n', row(MAX_ID, MAX_ID, 'ZW')],
  ['1|2', '\n', rej('field_count')],
  ['1|2|US|x', '\r\n', rej('field_count')],
  ['0|0|AD', '\n', row(0, 0, 'AD')],
  ['-5|2|US', '\n', rej('bad_id')],
  ['1.5|2|US', '\r\n', rej('bad_id')],
  ['1e3|2|US', '\n', rej('bad_id')],
  ['12345|67890|DE', '\n', row(12345, 67890, 'DE')],
  ['9007199254740992|1|US', '\n', rej('id_too_large')],
  ['1|' + '9'.repeat(40) + '|US', '\r\n', rej('id_too_large')],
  ['0000000000000000000001|5|GB', '\n', row(1, 5, 'GB')],
  ['1|2|us', '\n', rej('malformed_country')],
  ['1|2|USA', '\r\n', rej('malformed_country')],
  ['1|2|US\r\r', '\n', rej('malformed_country')],
  ['1|2|US ', '\n', row(1, 2, 'US')],
  ['1|2|U S', '\n', rej('malformed_country')],
  ['1|2|', '\n', rej('malformed_country')],
  ['77|88|SS', '\r\n', row(77, 88, 'SS')],
  ['1|2|UK', '\n', rej('unknown_country')],
  ['1|2|XK', '\r\n', rej('unknown_country')],
  ['1|2|ZZ', '\n', rej('unknown_country')],
  [`1|2|${E_ACUTE}`, '\n', rej('non_ascii')],
  ['\xff\xfe|1|US', '\r\n', rej('non_ascii')],
  ['5|6|JP', '\n', row(5, 6, 'JP')],
  ['z'.repeat(3000), '\n', rej('line_too_long')], // much longer than the carry buffer
  ['6|7|BR', '\n', row(6, 7, 'BR')],
  [LONGEST_VALID, '\n', row(1, 2, 'US')],
  [LONGEST_VALID, '\r\n', row(1, 2, 'US')],
  [zeros(MAX_LINE_BYTES - 5) + '1|2|US', '\n', rej('line_too_long')], // 1025
  [zeros(MAX_LINE_BYTES - 5) + '1|2|US', '\r\n', rej('line_too_long')], // 1025 + CR fills the carry exactly
  [zeros(MAX_LINE_BYTES - 4) + '1|2|US', '\n', rej('line_too_long')], // 1026
  [zeros(MAX_LINE_BYTES - 4) + '1|2|US', '\r\n', rej('line_too_long')], // 1026 + CR
  [zeros(MAX_LINE_BYTES - 3) + '1|2|US', '\n', rej('line_too_long')], // 1027
  [LONGEST_VALID + '\r', '\r\n', rej('line_too_long')], // 1024 + CR CR LF
  [E_ACUTE.repeat(700), '\r\n', rej('line_too_long')],
  ['8|9|CA', '\n', row(8, 9, 'CA')],
  [' ', '\n', rej('empty')],
  ['\t', '\r\n', rej('empty')],
  ['|2|US', '\n', rej('bad_id')],
  ['1||US', '\n', rej('bad_id')],
  ['+5|2|US', '\n', rej('bad_id')],
  [' 5|2|US', '\n', row(5, 2, 'US')],
  ['5 |2|US', '\r\n', row(5, 2, 'US')],
  ['5 6|2|US', '\n', rej('bad_id')],
  ['29569957 | 7788196 | BL', '\n', row(29569957, 7788196, 'BL')],
  ['\t5|6\t|FR  ', '\r\n', row(5, 6, 'FR')],
  ['10|11|IN', '\n', row(10, 11, 'IN')],
  ['10|11|IN', '\n', row(10, 11, 'IN')],
  ['1|2|U', '\n', rej('malformed_country')],
  ['1|2|U1', '\r\n', rej('malformed_country')],
  ['1|2|Us', '\n', rej('malformed_country')],
  ['', '\r\n', rej('empty')],
  ['123456789012345|987654321098765|NZ', '\n', row(123456789012345, 987654321098765, 'NZ')],
  ['4294967296|4294967297|AU', '\r\n', row(4294967296, 4294967297, 'AU')],
  ['1|2|XX', '\n', rej('unknown_country')],
  ['99999999999999999999|1|US', '\n', rej('id_too_large')],
  ['\x80', '\n', rej('non_ascii')],
  ['13|14|MX', '\r\n', row(13, 14, 'MX')],
  ['15|16|ZA', '', row(15, 16, 'ZA')], // last line without newline
];

const MIXED_BYTES = bytesOf(MIXED.map(([text, eol]) => text + eol).join(''));

/** What a parse must report, short of too-long lines' bytes. */
function normalize(out: Outcome) {
  return {
    rows: out.rows,
    counts: out.counts,
    rejects: out.rejects,
    // A too-long line may be truncated when it is carried across chunks.
    rejectBytes: out.rejectBytes.map((b, i) =>
      out.rejects[i]![0] === 'line_too_long' ? b.slice(0, 100) : b,
    ),
    lines: out.lines,
    valid: out.valid,
  };
}

const WHOLE = normalize(run([MIXED_BYTES]));

describe('chunk boundaries', () => {
  it('the mixed input is what it claims to be', () => {
    expect(MIXED.length).toBeGreaterThanOrEqual(60);
    expect(new Set(MIXED.flatMap(([, , e]) => ('reject' in e ? [e.reject] : []))).size).toBe(
      REJECT_REASONS.length,
    );
    const rows = MIXED.flatMap(([, , e]) => ('row' in e ? [e.row] : []));
    const rejects = MIXED.flatMap(([, , e], i) => ('reject' in e ? [[e.reject, i + 1]] : []));
    expect(WHOLE.rows).toEqual(rows);
    expect(WHOLE.rejects).toEqual(rejects);
    expect(WHOLE.counts).toEqual(countsOf(rejects.map(([r]) => r as RejectReason)));
    expect(WHOLE.lines).toBe(MIXED.length);
    expect(WHOLE.valid).toBe(rows.length);
    MIXED.forEach(([text, eol, e], i) => {
      if ('row' in e) return;
      const k = rejects.findIndex(([, line]) => line === i + 1);
      const got = WHOLE.rejectBytes[k]!;
      if (e.reject === 'line_too_long') expect(got.slice(0, 100)).toBe(text.slice(0, 100));
      else expect(withoutOneCr(got)).toBe(withoutOneCr(text + (eol === '\r\n' ? '\r' : '')));
    });
  });

  it('gives the same result split at every single point', () => {
    const whole = JSON.stringify(WHOLE);
    for (let p = 0; p <= MIXED_BYTES.length; p++) {
      // A small batch size keeps the parser cheap to build ~14,000 times.
      const out = normalize(run([MIXED_BYTES.subarray(0, p), MIXED_BYTES.subarray(p)], 16));
      if (JSON.stringify(out) !== whole) expect(out, `split at ${p}`).toEqual(WHOLE);
    }
    expect(MIXED_BYTES.length).toBeGreaterThan(10_000);
  });

  it('gives the same result fed one byte at a time', () => {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < MIXED_BYTES.length; i++) chunks.push(MIXED_BYTES.slice(i, i + 1));
    expect(normalize(run(chunks))).toEqual(WHOLE);
  });

  it('gives the same result in random chunks (including empty ones)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: MIXED_BYTES.length }), { maxLength: 120 }), (cuts) => {
        cuts.sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let from = 0;
        for (const c of [...cuts, MIXED_BYTES.length]) {
          chunks.push(Buffer.from(MIXED_BYTES.subarray(from, c)));
          from = c;
        }
        expect(normalize(run(chunks, 5))).toEqual(WHOLE);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same result in small random chunk sizes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }), (sizes) => {
        const chunks: Uint8Array[] = [];
        let from = 0;
        for (let k = 0; from < MIXED_BYTES.length; k++) {
          const to = Math.min(
            MIXED_BYTES.length,
            from + sizes[k % sizes.length]! + (k % sizes.length === 0 ? 1 : 0),
          );
          chunks.push(MIXED_BYTES.slice(from, to));
          from = to;
        }
        expect(normalize(run(chunks, 4))).toEqual(WHOLE);
      }),
      { numRuns: 100 },
    );
  });

  it('gives the same result with any batch size', () => {
    for (const batchSize of [1, 2, 3, 7, 64]) {
      const out = run([MIXED_BYTES], batchSize);
      expect(normalize(out)).toEqual(WHOLE);
      expect(out.batches.reduce((a, b) => a + b, 0)).toBe(WHOLE.valid);
    }
  });
});

describe('batches', () => {
  it('arrive full and in order, the partial last one only at end()', () => {
    const received: number[][] = [];
    const parser = new ListenParser({
      batchSize: 3,
      onBatch: (b) => received.push(Array.from(b.songs.subarray(0, b.length))),
    });
    // 4 valid rows in the first push (one batch full), rejects in between, one via the slow path.
    parser.push(
      bytesOf('1|1|US\nx\n2|1|US\r\n' + LONGEST_VALID.replace(/1\|2\|US$/, '3|2|US') + '\n4|1|US\n'),
    );
    expect(received).toEqual([[1, 2, 3]]);
    parser.push(bytesOf('5|1|US\n\n6|1|U'));
    expect(received).toEqual([[1, 2, 3]]);
    parser.push(bytesOf('S\n7|1|ZZ\n7|1|GB\n8|1|GB'));
    expect(received).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    parser.end();
    expect(received).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
    expect(parser.valid).toBe(8);
    expect(parser.lines).toBe(11);
  });

  it('carry users and countries along with songs', () => {
    const rows: Row[] = [];
    const parser = new ListenParser({
      batchSize: 2,
      onBatch: (b) => {
        expect(b.songs.length).toBe(2);
        for (let i = 0; i < b.length; i++) rows.push([b.songs[i]!, b.users[i]!, b.countries[i]!]);
      },
    });
    parser.push(bytesOf('1|10|AD\n2|20|ZW\n3|30|US\n'));
    parser.end();
    expect(rows).toEqual([
      [1, 10, 0],
      [2, 20, 248],
      [3, 30, US],
    ]);
  });

  it('end() emits no empty batch when the rows fill whole batches', () => {
    const out = parseText('1|1|US\n2|1|US\n3|1|US\n4|1|US\n5|1|US\n6|1|US\nbad\n', 3);
    expect(out.batches).toEqual([3, 3]);
    expect(out.rows.map((r) => r[0])).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('batch size 1 emits each row on its own', () => {
    const out = parseText('1|1|US\n2|1|US\r\nbad\n3|1|US', 1);
    expect(out.batches).toEqual([1, 1, 1]);
    expect(out.rows.map((r) => r[0])).toEqual([1, 2, 3]);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing against an independent, string-based classifier written from the contract.

/** The contract, spelled out plainly (support/reference.ts): a row's reason, or its parsed fields. */
function referenceClassify(raw: string): RejectReason | Row {
  const reason = referenceReason(raw);
  if (reason !== undefined) return reason;
  const [song, user, country] = raw
    .replace(/\r$/, '')
    .split('|')
    .map((f) => f.trim()) as [string, string, string];
  return [Number(song), Number(user), countryIndex(country)];
}

function referenceParse(text: string): { rows: Row[]; rejects: Array<[RejectReason, number]> } {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const rows: Row[] = [];
  const rejects: Array<[RejectReason, number]> = [];
  lines.forEach((line, i) => {
    const r = referenceClassify(line);
    if (typeof r === 'string') rejects.push([r, i + 1]);
    else rows.push(r);
  });
  return { rows, rejects };
}

const idText = fc.oneof(
  fc.integer({ min: 0, max: MAX_ID }).map(String),
  fc.constantFrom(
    '0',
    '00',
    '9007199254740991',
    '9007199254740992',
    '18446744073709551616',
    '',
    '-1',
    '1 ',
    ' \t42\t ',
    '4 2',
    'x',
  ),
  fc.tuple(fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 0, max: 99 })).map(([z, v]) => zeros(z) + v),
);
const countryText = fc.oneof(
  fc.constantFrom(...COUNTRY_CODES),
  fc.constantFrom(
    'UK',
    'XK',
    'ZZ',
    'us',
    'U',
    'USA',
    '',
    'U1',
    `U${E_ACUTE}`,
    '\xffS',
    'US ',
    '\tFR',
    ' D E',
    'US\r',
  ),
);
const token = fc.constantFrom(
  '0',
  '7',
  '42',
  '|',
  '||',
  'US',
  'UK',
  'us',
  '\r',
  ' ',
  '\t',
  E_ACUTE,
  '\xff',
  'a',
);
const lineText = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(idText, idText, countryText).map(([s, u, c]) => `${s}|${u}|${c}`) },
  { weight: 2, arbitrary: fc.array(token, { maxLength: 10 }).map((t) => t.join('')) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1000, max: 1030 }), token).map(([n, t]) => t.repeat(n)),
  },
);
const fileText = fc
  .tuple(fc.array(fc.tuple(lineText, fc.constantFrom('\n', '\r\n')), { maxLength: 25 }), lineText)
  .map(([lines, last]) => lines.map(([l, eol]) => l + eol).join('') + last);

/** `bytes` cut into chunks at the places `seeds` give (each taken modulo its length + 1), some empty. */
function cutAt(bytes: Uint8Array, seeds: number[]): Uint8Array[] {
  const cuts = seeds.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    chunks.push(bytes.slice(from, c));
    from = c;
  }
  return chunks;
}

describe('fuzzing against a reference classifier', () => {
  it('agrees on random files, whole and in random chunks', () => {
    fc.assert(
      fc.property(fileText, fc.array(fc.nat(), { maxLength: 8 }), (text, cutSeeds) => {
        const expected = referenceParse(text);
        const bytes = bytesOf(text);
        const whole = run([bytes], 7);
        expect(whole.rows).toEqual(expected.rows);
        expect(whole.rejects).toEqual(expected.rejects);
        expect(whole.counts).toEqual(countsOf(expected.rejects.map(([r]) => r)));
        const chunked = run(cutAt(bytes, cutSeeds), 3);
        expect(chunked.rows).toEqual(expected.rows);
        expect(chunked.rejects).toEqual(expected.rejects);
      }),
      { numRuns: 1000 },
    );
  });
});

// The kernel (listenScan.ts) reads the common rows many at a time, the parser every other line: a
// file mostly of rows it takes, with lines of every other kind among them, must come out of the
// parser exactly as it does with every line read in JavaScript.
const shortId = fc.oneof(
  fc.integer({ min: 0, max: 9_999_999_999 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 99_999 })).map(([z, v]) => zeros(z) + v),
  fc.constantFrom(
    '0',
    '4294967295',
    '4294967296',
    '99999999',
    '100000000',
    '12345678901',
    '9007199254740991',
  ),
);
/** Blanks around a field, mostly none (the kernel reads the public samples' `1 | 2 | FR` too). */
const pad = fc.constantFrom('', '', '', ' ', '\t', '  ', ' \t');
const commonLine = fc
  .tuple(
    fc.tuple(pad, shortId, pad),
    fc.tuple(pad, shortId, pad),
    fc.tuple(pad, fc.constantFrom(...COUNTRY_CODES), pad),
    fc.constantFrom('\n', '\r\n'),
  )
  .map(([s, u, c, eol]) => `${s.join('')}|${u.join('')}|${c.join('')}${eol}`);
const kernelFile = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 12, arbitrary: commonLine },
        { weight: 2, arbitrary: fc.tuple(lineText, fc.constantFrom('\n', '\r\n')).map(([l, e]) => l + e) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('sng_id|user_id|country\n', '5 | 6 | FR\n', '\n', '1|2|FR\r\r\n'),
        },
      ),
      { maxLength: 60 },
    ),
    fc.oneof(lineText, fc.constant('')),
  )
  .map(([lines, last]) => lines.join('') + last);

describe('the kernel', () => {
  it('gives what the JavaScript alone gives: rows, batches, rejects and their bytes, counts (property)', () => {
    fc.assert(
      fc.property(
        kernelFile,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom(1, 3, 64, 65_536),
        (text, cutSeeds, batchSize) => {
          const chunks = cutAt(bytesOf(text), cutSeeds);
          expect(run(chunks, batchSize, true)).toEqual(run(chunks, batchSize, false));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('gives the same on a log of 200,000 common rows among lines it does not take', () => {
    const lines: string[] = ['sng_id|user_id|country'];
    for (let i = 0; i < 200_000; i++) {
      const kind = i % 97;
      if (kind === 0) lines.push(` ${i} | ${i * 7} | FR `);
      else if (kind === 1) lines.push(`${i}|x|FR`);
      else if (kind === 2) lines.push(`${10_000_000_000 + i}|${i}|DE`);
      else
        lines.push(`${(i * 2654435761) % 4294967296}|${i * 13}|${COUNTRY_CODES[i % COUNTRY_CODES.length]}`);
    }
    const bytes = bytesOf(`${lines.join('\n')}\n`);
    const chunks = Array.from({ length: Math.ceil(bytes.length / 65_536) }, (_, k) =>
      bytes.subarray(k * 65_536, (k + 1) * 65_536),
    );
    const withKernel = run(chunks, undefined, true);
    expect(withKernel).toEqual(run(chunks, undefined, false));
    expect(withKernel.valid).toBe(200_000 - Math.ceil(200_000 / 97));
    // The same bytes as one chunk of 4.5 MB (the kernel takes a window of 1 MB at a time), with a
    // line of 1.5 MB (no window holds it whole) in the middle of it.
    const middle = bytes.indexOf(10, bytes.length >> 1) + 1;
    const huge = bytesOf(`${'7|8|FR'.repeat(250_000)}\n`);
    const one = new Uint8Array(bytes.length + huge.length);
    one.set(bytes.subarray(0, middle));
    one.set(huge, middle);
    one.set(bytes.subarray(middle), middle + huge.length);
    const whole = run([one], undefined, true);
    expect(whole).toEqual(run([one], undefined, false));
    expect(whole.valid).toBe(withKernel.valid);
    expect(whole.counts[REJECT_REASONS.indexOf('line_too_long')]).toBe(1);
  });

  it('gives the same when a batch handler parses another file on the same thread (one kernel a thread)', () => {
    const text = (base: number): Uint8Array =>
      bytesOf(Array.from({ length: 5000 }, (_, i) => `${base + i}|${i}|FR\n`).join(''));
    const outer = text(1_000_000);
    const inner = text(5_000_000);
    const parse = (kernel: boolean): number[][] => {
      const rows: number[][] = [];
      const parser = new ListenParser({
        batchSize: 64,
        kernel,
        onBatch: (b) => {
          for (let i = 0; i < b.length; i++) rows.push([b.songs[i]!, b.users[i]!]);
          // Another parser between two batches of this one's chunk.
          new ListenParser({ kernel, onBatch: () => {} }).push(inner);
        },
      });
      parser.push(outer);
      parser.end();
      return rows;
    };
    const rows = parse(true);
    expect(rows).toEqual(parse(false));
    expect(rows.length).toBe(5000);
  });
});

// ---------------------------------------------------------------------------------------------
// Blanks around fields, and a header line: the public samples are written `29569957 | 7788196 | BL`.

/** Any mix of spaces and tabs, possibly none. */
const blanks = fc.array(fc.constantFrom(' ', '\t'), { maxLength: 4 }).map((b) => b.join(''));

describe('blanks around fields', () => {
  it('are ignored: the examples of the contract are the row 5|6|FR', () => {
    for (const line of ['5|6|FR', '\t5|6\t|FR  ', '  5|6|  FR', ' 5 | 6 | FR ', '05|006|FR', '5|6|FR \r']) {
      const out = parseText(`${line}\n`);
      expect(out.rows, JSON.stringify(line)).toEqual([[5, 6, countryIndex('FR')]]);
      expect(out.rejected).toBe(0);
    }
    expect(parseText('29569957 | 7788196 | BL\n').rows).toEqual([[29569957, 7788196, countryIndex('BL')]]);
  });

  it('inside a field still make it bad', () => {
    expect(parseText('5 6|7|FR\n').rejects).toEqual([['bad_id', 1]]);
    expect(parseText('5|6 7|FR\n').rejects).toEqual([['bad_id', 1]]);
    expect(parseText('5|6|F R\n').rejects).toEqual([['malformed_country', 1]]);
  });

  it('never change the rows of a file, whatever the mix of spaces and tabs (property)', () => {
    const rowArb = fc.tuple(
      fc.integer({ min: 0, max: MAX_ID }),
      fc.integer({ min: 0, max: MAX_ID }),
      fc.constantFrom(...COUNTRY_CODES),
      fc.array(blanks, { minLength: 6, maxLength: 6 }),
      fc.constantFrom('\n', '\r\n'),
    );
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 30 }), fc.nat(), (rows, cut) => {
        const plain = rows.map(([s, u, c, , eol]) => `${s}|${u}|${c}${eol}`).join('');
        const padded = rows
          .map(([s, u, c, b, eol]) => `${b[0]}${s}${b[1]}|${b[2]}${u}${b[3]}|${b[4]}${c}${b[5]}${eol}`)
          .join('');
        const bytes = bytesOf(padded);
        const at = cut % (bytes.length + 1);
        const out = run([bytes.slice(0, at), bytes.slice(at)], 5);
        expect(out.rows).toEqual(parseText(plain).rows);
        expect(out.rejected).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('a header line', () => {
  const FR = countryIndex('FR');

  it('is skipped when it is the first line: any case, blanks, CRLF, a byte order mark', () => {
    for (const header of [
      'sng_id|user_id|country',
      'SNG_ID|USER_ID|COUNTRY',
      'Sng_Id | User_Id | Country',
      '\tsng_id|user_id|country  \r',
      '\xef\xbb\xbfsng_id|user_id|country',
    ]) {
      const out = parseText(`${header}\n5|6|FR\nbad\n`);
      expect(out.rows, JSON.stringify(header)).toEqual([[5, 6, FR]]);
      // Not a row, not a reject; line numbers still count it.
      expect(out.lines).toBe(2);
      expect(out.rejects).toEqual([['field_count', 3]]);
    }
  });

  it('is counted as the header, and the parser reports it', () => {
    const p = new ListenParser({ onBatch: () => {} });
    p.push(bytesOf('sng_id|user_id|country\n1|2|US\n'));
    p.end();
    expect(p.header).toBe(1);
    expect(p.lines).toBe(1);
    expect(p.valid).toBe(1);
    expect(p.rejected).toBe(0);
  });

  it('is found when split across chunks at any byte', () => {
    const text = 'sng_id | user_id | country\r\n1|2|US\n';
    for (let at = 0; at <= text.length; at++) {
      const out = run([bytesOf(text.slice(0, at)), bytesOf(text.slice(at))]);
      expect(out.rows, String(at)).toEqual([[1, 2, US]]);
      expect(out.rejected).toBe(0);
    }
  });

  it('is a rejected row anywhere but on the first line, or in a unit that starts mid-file', () => {
    expect(parseText('1|2|US\nsng_id|user_id|country\n').rejects).toEqual([['bad_id', 2]]);
    expect(parseText('\nsng_id|user_id|country\n').rejects).toEqual([
      ['empty', 1],
      ['bad_id', 2],
    ]);
    const mid = new ListenParser({ atFileStart: false, onBatch: () => {} });
    mid.push(bytesOf('sng_id|user_id|country\n'));
    mid.end();
    expect(mid.header).toBe(0);
    expect(mid.rejected).toBe(1);
  });

  it('must name the three columns in order, with pipes', () => {
    for (const other of [
      'sng_id|user_id',
      'user_id|sng_id|country',
      'sng_id;user_id;country',
      'song|user|country',
    ])
      expect(parseText(`${other}\n`).rejected, other).toBe(1);
  });

  it('never changes the rows of a file (property)', () => {
    fc.assert(
      fc.property(
        fileText,
        fc.tuple(blanks, blanks, blanks, blanks),
        fc.constantFrom('\n', '\r\n'),
        (text, b, eol) => {
          const header = `${b[0]}sng_id${b[1]}|user_id|${b[2]}COUNTRY${b[3]}${eol}`;
          const withHeader = run([bytesOf(header + text)]);
          const without = run([bytesOf(text)]);
          expect(withHeader.rows).toEqual(without.rows);
          expect(withHeader.counts).toEqual(without.counts);
          expect(withHeader.rejects).toEqual(without.rejects.map(([r, line]) => [r, line + 1]));
        },
      ),
      { numRuns: 200 },
    );
  });
});
