import { describe, expect, it } from 'vitest';
import { countryIndex } from '../../src/parse/countries.js';
import { listenScan } from '../../src/parse/listenScan.js';

/**
 * The listen rows' WebAssembly kernel (src/parse/listenScan.ts) alone: the rows it takes and
 * their values, and every kind of line it must leave to the parser. (test/unit/listenParser.test.ts
 * holds the parser with and without it together.)
 */

/** The rows the kernel takes from `text` (all its lines), and where it stopped. */
function scanText(text: string, most = 1 << 20): { rows: number[][]; stoppedAt: number } {
  const scan = listenScan();
  const bytes = Buffer.from(text, 'latin1');
  scan.load(bytes, 0, bytes.length);
  const n = scan.scan(0, bytes.length, most);
  const rows = Array.from({ length: n }, (_, i) => [scan.songs[i]!, scan.users[i]!, scan.countries[i]!]);
  return { rows, stoppedAt: scan.stoppedAt };
}

const FR = countryIndex('FR');

describe('listenScan', () => {
  it('reads ids of 1 to 10 digits exactly: each power of ten, either side of it, leading zeros', () => {
    const ids: string[] = ['0', '7', '00', '09', '0000000000', '0000000001', '4294967295', '4294967296'];
    for (let p = 1; p <= 9; p++) ids.push(String(10 ** p - 1), String(10 ** p), String(10 ** p + 1));
    ids.push('9999999999', '1000000000', '1234567890', '100000001', '2000000007', '0123456789');
    const lines = ids.map((id, i) => `${id}|${ids[(i * 7) % ids.length]}|FR\n`);
    const { rows, stoppedAt } = scanText(lines.join(''));
    expect(rows).toEqual(ids.map((id, i) => [Number(id), Number(ids[(i * 7) % ids.length]), FR]));
    expect(stoppedAt).toBe(lines.join('').length);
  });

  it('reads the rows with blanks (spaces, tabs) around their fields, as the public samples are written', () => {
    expect(
      scanText(
        '29569957 | 7788196 | BL\n 1|2|FR\n1|2| FR\n1|2|FR \n\t5\t|\t6\t|\tDE\t\r\n  7  |  8  |  US  \r\n',
      ).rows,
    ).toEqual([
      [29569957, 7788196, countryIndex('BL')],
      [1, 2, FR],
      [1, 2, FR],
      [1, 2, FR],
      [5, 6, countryIndex('DE')],
      [7, 8, countryIndex('US')],
    ]);
  });

  it('reads \\r\\n endings and every country with its index', () => {
    expect(scanText('1|2|US\r\n3|4|ZW\n5|6|AD\r\n').rows).toEqual([
      [1, 2, countryIndex('US')],
      [3, 4, countryIndex('ZW')],
      [5, 6, countryIndex('AD')],
    ]);
  });

  // Each line is one the parser reads itself (a reject, or a row of another form): the kernel
  // takes the row before it and stops at it.
  const leftToTheParser: Record<string, string> = {
    'an id of 11 digits': '12345678901|2|FR\n',
    'a user id of 11 digits': '1|12345678901|FR\n',
    'an empty id': '|2|FR\n',
    'an empty user id': '1||FR\n',
    'a blank inside an id': '1 2|3|FR\n',
    'a blank inside a user id': '1|2\t3|FR\n',
    'a blank between the letters': '1|2|F R\n',
    'blanks only for an id': ' |2|FR\n',
    'a carriage return among the blanks': '1|2|FR\r \n',
    'a carriage return before the blanks of the end': '1|2|FR \r\r\n',
    'a vertical tab around an id': '\x0b1|2|FR\n',
    'a lower-case country': '1|2|fr\n',
    'an unknown country': '1|2|ZZ\n',
    'three letters': '1|2|FRA\n',
    'one letter': '1|2|F\n',
    'a fourth field': '1|2|FR|3\n',
    'two fields': '1|2\n',
    'a letter in an id': '1a|2|FR\n',
    'a non-ASCII byte': '1|2|F\xc9\n',
    'a lone carriage return': '1|2|FR\r\r\n',
    'an empty line': '\n',
    'a header': 'sng_id|user_id|country\n',
    'a line longer than 32 bytes': '0000000000000000001|00000000000002|FR\n',
    'a NUL byte': '1|2\x00|FR\n',
  };
  for (const [what, line] of Object.entries(leftToTheParser)) {
    it(`stops at ${what}`, () => {
      const before = '5|6|FR\n';
      const { rows, stoppedAt } = scanText(`${before}${line}7|8|FR\n`);
      expect(rows).toEqual([[5, 6, FR]]);
      expect(stoppedAt).toBe(before.length);
    });
  }

  it('stops at a line whose newline is past the end it is given, whatever the bytes after it', () => {
    const scan = listenScan();
    const bytes = Buffer.from('1|2|FR\n3|4|FR\n5|6|FR\n', 'latin1');
    scan.load(bytes, 0, bytes.length);
    // The end inside the second line: the bytes beyond it are in the memory, and not to be read.
    expect(scan.scan(0, 10, 100)).toBe(1);
    expect(scan.stoppedAt).toBe(7);
    expect(scan.scan(7, bytes.length, 100)).toBe(2);
    expect(scan.stoppedAt).toBe(bytes.length);
  });

  it('takes at most the rows asked for, and at most a batch of 65,536', () => {
    const line = '1|2|FR\n';
    expect(scanText(line.repeat(10), 3)).toEqual({
      rows: Array(3).fill([1, 2, FR]),
      stoppedAt: 3 * line.length,
    });
    const many = scanText(line.repeat(70_000), 100_000);
    expect(many.rows.length).toBe(65_536);
    expect(many.stoppedAt).toBe(65_536 * line.length);
  });

  it('grows its memory for a chunk larger than the one it starts with', () => {
    const line = '123456789|1234567890|FR\n';
    const text = line.repeat(100_000); // 2.4 MB
    const scan = listenScan();
    const bytes = Buffer.from(text, 'latin1');
    scan.load(bytes, 0, bytes.length);
    let at = 0;
    let rows = 0;
    while (at < bytes.length) {
      rows += scan.scan(at, bytes.length, 65_536);
      at = scan.stoppedAt;
    }
    expect(rows).toBe(100_000);
    expect([scan.songs[0], scan.users[0]]).toEqual([123456789, 1234567890]);
  });
});
