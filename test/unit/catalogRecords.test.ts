import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CatalogRecords } from '../../src/parse/catalogRecords.js';
import { IdInterner } from '../../src/parse/idInterner.js';

/**
 * The songs and users files are read with the streams' scanner when it reads them as csv-parse
 * does (src/parse/catalogRecords.ts), and with csv-parse otherwise. Held here to csv-parse itself,
 * with the catalogues' options: whenever CatalogRecords says it agrees, its records and their
 * numbers are csv-parse's, for any bytes and any chunking; and it does agree on the files most
 * catalogues are (one kind of line ending, no malformed record), so the fast reading is used.
 */
const CATALOG_OPTIONS = {
  bom: true,
  relax_column_count: true,
  relax_quotes: true,
  skip_records_with_error: true,
  info: true,
} as const;

function csvParse(bytes: Uint8Array): { records: string[][]; numbers: number[] } {
  const out = parse(Buffer.from(bytes), CATALOG_OPTIONS) as unknown as {
    record: string[];
    info: { records: number };
  }[];
  return { records: out.map((r) => r.record), numbers: out.map((r) => r.info.records) };
}

function scanned(
  bytes: Uint8Array,
  cuts: number[],
): { agrees: boolean; records: string[][]; numbers: number[] } {
  const records: string[][] = [];
  const numbers: number[] = [];
  // Each field interned from its bytes gets the id its text gets (a users file's ids are read so).
  const byBytes = new IdInterner();
  const byText = new IdInterner();
  const reader = new CatalogRecords((fields, number) => {
    const texts = Array.from({ length: fields.count }, (_, k) => fields.text(k));
    texts.forEach((text, k) => {
      expect(fields.isEmpty(k)).toBe(text === '');
      expect(fields.idIn(k, byBytes)).toBe(byText.id(text));
    });
    records.push(texts);
    numbers.push(number);
  }, 1 << 20);
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    reader.push(bytes.subarray(at, cut));
    at = cut;
  }
  reader.push(bytes.subarray(at));
  return { agrees: reader.end(), records, numbers };
}

/** Fields as a catalogue might hold them: plain, quoted with commas, quotes and line breaks, stray quotes. */
const field = fc.constantFrom(
  'u1',
  'Hello',
  '',
  ' padded ',
  'Jürgen',
  '"Hello, Goodbye"',
  '"a ""quoted"" word"',
  '"two\nlines"',
  '"two\r\nlines"',
  'stray"quote',
  '"closed"then', // text after a closing quote: malformed to the scanner
  '"never closed',
  'cr\rinside',
);
const record = fc.array(field, { minLength: 1, maxLength: 5 });
const ending = fc.constantFrom('\n', '\r\n', '\r');

describe('CatalogRecords against csv-parse', () => {
  it('property: when it agrees, the records and record numbers are csv-parse’s, for any chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(record, ending), { maxLength: 25 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 6 }),
        (lines, mostly, oneKind, bom, rawCuts) => {
          const text = lines.map(([fields, end]) => fields.join(',') + (oneKind ? mostly : end)).join('');
          const bytes = Buffer.concat([
            Buffer.from(bom ? [0xef, 0xbb, 0xbf] : []),
            Buffer.from(text, 'utf8'),
          ]);
          const cuts = rawCuts.map((c) => c % (bytes.length + 1));
          const got = scanned(bytes, cuts);
          if (got.agrees) expect({ records: got.records, numbers: got.numbers }).toEqual(csvParse(bytes));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('property: agrees on files of one kind of line ending and no malformed record', () => {
    const clean = fc.constantFrom(
      'u1',
      'Hello',
      '',
      'Jürgen',
      '"Hello, Goodbye"',
      '"a ""q"" w"',
      'stray"quote',
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(clean, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 25 }),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.nat(), { maxLength: 6 }),
        (lines, end, rawCuts) => {
          const bytes = Buffer.from(lines.map((fields) => fields.join(',') + end).join(''), 'utf8');
          const cuts = rawCuts.map((c) => c % (bytes.length + 1));
          const got = scanned(bytes, cuts);
          expect(got.agrees).toBe(true);
          expect({ records: got.records, numbers: got.numbers }).toEqual(csvParse(bytes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('leaves to csv-parse what it reads otherwise: mixed endings, old Mac endings, malformed records', () => {
    // A CRLF file with one bare \n: csv-parse reads the \n as data of a field.
    expect(scanned(Buffer.from('id,name\r\nu1,a\nu2,b\r\n'), []).agrees).toBe(false);
    // An LF file with one CRLF: csv-parse keeps the \r.
    expect(scanned(Buffer.from('id,name\nu1,a\r\nu2,b\n'), []).agrees).toBe(false);
    // Old Mac line endings: csv-parse splits on \r.
    expect(scanned(Buffer.from('id,name\ru1,a\ru2,b\r'), []).agrees).toBe(false);
    // Text after a closing quote, and a quote never closed.
    expect(scanned(Buffer.from('id,name\n"u1"x,a\n'), []).agrees).toBe(false);
    expect(scanned(Buffer.from('id,name\n"u1,a\n'), []).agrees).toBe(false);
    // Line breaks of the other kind inside quotes are data to both.
    const quoted = Buffer.from('id,name\r\nu1,"a\nb"\r\nu2,c\r\n');
    expect(scanned(quoted, [12]).agrees).toBe(true);
    expect(scanned(quoted, [12]).records).toEqual(csvParse(quoted).records);
  });
});
