import { type Options as CsvParseOptions, parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamDays } from '../../src/kpis/streamDays.js';
import { MAX_ROW_EXAMPLES } from '../../src/parse/catalogs.js';
import { DEFAULT_MAX_RECORD_BYTES } from '../../src/parse/csvRecords.js';
import { type StreamRangeResult, StreamRowReader } from '../../src/parse/streamRows.js';
import { parseListenTime } from '../../src/parse/timestamps.js';

/**
 * StreamRowReader reads most lines itself (plain rows, one pass over their bytes) and hands the
 * others to the RFC 4180 scanner. Held here to an independent reading of the same bytes: csv-parse
 * for the records, and the row rules written out plainly (a blank line is no row; too few fields,
 * an empty id, a bad time are rejects, named with the record's number and text). Any mix of plain,
 * quoted, blank, short, long and bad lines, cut into chunks anywhere, must read the same.
 */
const ORACLE: CsvParseOptions = {
  relax_column_count: true,
  relax_quotes: true,
  bom: true,
  record_delimiter: ['\r\n', '\n'],
};

interface Reading {
  report: { rows: number; accepted: number; rejects: Record<string, number> };
  examples: { record: number; reason: string; text: string }[];
  records: number;
  rows: [string, string, number][];
  users: string[];
  tracks: string[];
}

function read(bytes: Uint8Array, cuts: number[]): Reading {
  const days = new StreamDays();
  const reader = new StreamRowReader({ name: 'streams.csv', path: 'streams.csv' }, days, { midFile: false });
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    reader.push(bytes.subarray(at, cut));
    at = cut;
  }
  reader.push(bytes.subarray(at));
  const result: StreamRangeResult = reader.finish(true);
  expect(result.bad).toBeUndefined();
  const rows: [string, string, number][] = [];
  for (const day of [...days.days.keys()].sort((a, b) => a - b)) {
    days.days.get(day)!.forEach((u, t, time) => {
      rows.push([days.users.name(u), days.tracks.name(t), time]);
    });
  }
  return {
    report: {
      rows: result.report.rows,
      accepted: result.report.accepted,
      rejects: result.report.rejects,
    },
    examples: result.examples.map(({ record, reason, text }) => ({ record, reason, text })),
    records: result.records,
    rows,
    users: days.users.names,
    tracks: days.tracks.names,
  };
}

/** The same bytes read by csv-parse and the row rules. */
function oracle(bytes: Uint8Array): Reading {
  const records = parse(Buffer.from(bytes), ORACLE) as string[][];
  const header = records[0]!;
  const user = header.indexOf('user_id');
  const track = header.indexOf('track_id');
  const time = header.indexOf('listen_time');
  const out: Reading = {
    report: { rows: 0, accepted: 0, rejects: {} },
    examples: [],
    records: records.length,
    rows: [],
    users: [],
    tracks: [],
  };
  const byDay = new Map<number, [string, string, number][]>();
  const reject = (reason: string, record: number, fields: string[]): void => {
    out.report.rejects[reason] = (out.report.rejects[reason] ?? 0) + 1;
    if (out.examples.length < MAX_ROW_EXAMPLES)
      out.examples.push({ record, reason, text: fields.join(',').slice(0, 200) });
  };
  for (const [i, fields] of records.slice(1).entries()) {
    const record = i + 2;
    if (fields.length === 1 && fields[0] === '') continue;
    out.report.rows++;
    if (fields.length < header.length) reject('field_count', record, fields);
    else if (fields[user] === '' || fields[track] === '') reject('empty_id', record, fields);
    else {
      const at = parseListenTime(fields[time]!);
      if (Number.isNaN(at)) {
        reject('bad_timestamp', record, fields);
        continue;
      }
      out.report.accepted++;
      if (!out.users.includes(fields[user]!)) out.users.push(fields[user]!);
      if (!out.tracks.includes(fields[track]!)) out.tracks.push(fields[track]!);
      const day = Math.floor(at / 86_400_000_000);
      byDay.set(day, [...(byDay.get(day) ?? []), [fields[user]!, fields[track]!, at]]);
    }
  }
  for (const day of [...byDay.keys()].sort((a, b) => a - b)) out.rows.push(...byDay.get(day)!);
  return out;
}

/** A field as a CSV writer might write it: plain, or quoted (with any quote inside doubled). */
function written(value: string, quoted: boolean): string {
  return quoted ? `"${value.replaceAll('"', '""')}"` : value;
}

// '123Z' after a time of 19 bytes: unquoted, the two read as that time's 24-byte form with a comma.
const ids = fc.constantFrom(
  'u1',
  'u2',
  'u10',
  'ü3',
  'u 4',
  'a,b',
  'x"y',
  'line\nbreak',
  'tr\rack',
  '',
  '123Z',
);
const times = fc.constantFrom(
  '2024-03-09T23:59:59Z',
  '2024-03-10T00:00:00Z',
  '2024-03-10 01:02:03',
  '2024-03-10T01:00:00+02:00',
  '2024-03-10T12:00:00.123456Z',
  // Times of other lengths than the last row's (the plain pass tries the last length first), one
  // whose decimal comma (quoted) would be a field's end unquoted, a carriage return inside a field.
  '2024-03-10T12:00:00.123Z',
  '2024-03-10T12:00:00',
  '2024-03-10T12:00:00,5Z',
  '2024-03-10T01:02:03Z\rx',
  '2024-13-01T00:00:00Z',
  'yesterday',
  '',
);
interface Line {
  user: string;
  track: string;
  time: string;
  extra: string | undefined;
  quote: boolean[];
  short: number;
  blank: number;
}

const line: fc.Arbitrary<Line> = fc.record({
  user: ids,
  track: ids,
  time: times,
  extra: fc.constantFrom(undefined, '', 'x', 'y,z', '123Z'),
  quote: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  short: fc.integer({ min: 0, max: 12 }),
  blank: fc.integer({ min: 0, max: 15 }),
});
const COLUMNS = ['user_id', 'track_id', 'listen_time'] as const;

/** A streams file from its parts: the columns' order, the lines, the line endings, a BOM. */
function file(
  order: readonly number[],
  extraColumn: boolean,
  lines: Line[],
  crlf: boolean[],
  bom: boolean,
  endsWithNewline: boolean,
): Uint8Array {
  const header: string[] = order.map((k) => COLUMNS[k]!);
  if (extraColumn) header.push('source');
  const text: string[] = [header.join(',')];
  for (const l of lines) {
    if (l.blank === 0) {
      text.push('');
      continue;
    }
    const values: Record<string, string> = { user_id: l.user, track_id: l.track, listen_time: l.time };
    // A value with a comma, a quote or a line break must be quoted to be that value.
    const fields = order.map((k, j) => {
      const value = values[COLUMNS[k]!]!;
      return written(value, l.quote[j]! || /[,"\n]/.test(value));
    });
    // A field past the header's now and then (a row may have more fields than the header).
    if (l.extra !== undefined) fields.push(written(l.extra, l.extra.includes(',')));
    // A row a field or two short now and then.
    const kept = l.short === 0 ? fields.slice(0, 1) : l.short === 1 ? fields.slice(0, 2) : fields;
    text.push(kept.join(','));
  }
  let body = '';
  text.forEach((t, i) => {
    body += t;
    if (i < text.length - 1 || endsWithNewline) body += crlf[i % crlf.length] ? '\r\n' : '\n';
  });
  const bytes = Buffer.from(body, 'utf8');
  return bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]) : bytes;
}

describe('StreamRowReader: the plain lines read fast, the others by the scanner', () => {
  it('property: the rows, rejects, examples, ids and record count csv-parse and the row rules give, for any chunks', () => {
    fc.assert(
      fc.property(
        fc.constantFrom([0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]),
        fc.boolean(),
        fc.array(line, { maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 8 }),
        (order, extraColumn, lines, crlf, bom, endsWithNewline, rawCuts) => {
          const bytes = file(order, extraColumn, lines, crlf, bom, endsWithNewline);
          const cuts = rawCuts.map((c) => c % (bytes.length + 1));
          expect(read(bytes, cuts)).toEqual(oracle(bytes));
        },
      ),
      { numRuns: 600 },
    );
  });

  it('a file with every field quoted reads as the same rows unquoted (handed to the scanner by the chunk)', () => {
    const rows = Array.from({ length: 500 }, (_, i) => [`u${i % 37}`, `t${i % 11}`, '2024-03-10T01:02:03Z']);
    const plain = ['user_id,track_id,listen_time', ...rows.map((r) => r.join(','))].join('\n');
    const quoted = [
      '"user_id","track_id","listen_time"',
      ...rows.map((r) => r.map((v) => `"${v}"`).join(',')),
    ].join('\n');
    const a = read(Buffer.from(plain), [100, 5000]);
    const b = read(Buffer.from(quoted), [77, 4000, 9000]);
    expect(b).toEqual(a);
    expect(a.report.accepted).toBe(500);
    expect(a.users).toHaveLength(37);
  });

  it('a time is cut where its commas cut it, whatever the length of the last row’s time', () => {
    // The plain pass tries the last row's time length first (24 bytes here): `…:00,123Z` is that
    // long and a valid time with a decimal comma, but unquoted it is a time and the next field.
    const lines = [
      'listen_time,user_id,track_id',
      '2024-03-10T12:00:00.123Z,u1,t1',
      '2024-03-10T12:00:00,123Z,u2,t2',
      '2024-03-10T12:00:00.5Z\r,u3,t3',
      '2024-03-10T12:00:00.123Z,u4,t4',
      '2024-03-10T12:00:00.5Z,u5,t5',
      '',
    ];
    const bytes = Buffer.from(lines.join('\n'));
    const r = read(bytes, []);
    expect(r).toEqual(oracle(bytes));
    expect(r.rows.map(([u, t]) => `${u} ${t}`)).toEqual(['u1 t1', '123Z u2', 'u4 t4', 'u5 t5']);
    expect(r.report.rejects).toEqual({ bad_timestamp: 1 });
  });

  it('runs of rejects longer than a batch of them, after a batch of rows, read as csv-parse reads them', () => {
    // The kernel holds 1,024 rows and 256 rejects a batch: the first rejects come in a call's
    // second batch (their record numbers count the first's lines), 1,000 in a row cross four
    // batches; quoted rows (the kernel's too) and a doubled quote (the scanner's) come after.
    const lines = ['user_id,track_id,listen_time'];
    for (let i = 0; i < 3_500; i++) {
      const kind = i % 7;
      if (i < 1_500) lines.push(`u${i % 13},t${i % 5},2024-03-10T0${kind}:02:03Z`);
      else if (i < 2_500) lines.push(i % 2 === 0 ? `u${i},,2024-03-10T01:02:03Z` : `u${i},t1,noon`);
      else if (kind === 0) lines.push(`"u${i % 13}","t${i % 5}","2024-03-10 01:02:03"`);
      else if (kind === 1) lines.push(`u${i % 13}`);
      else if (kind === 2) lines.push(`"u""${i % 3}",t1,2024-03-10T01:02:03Z`);
      else lines.push(`u${i % 13},t${i % 5},2024-03-10T0${kind}:02:03Z`);
    }
    const bytes = Buffer.from(`${lines.join('\r\n')}\n`);
    const got = read(bytes, [17, 80_000]);
    expect(got).toEqual(oracle(bytes));
    expect(got.examples[0]).toMatchObject({ record: 1_502, reason: 'empty_id' });
    expect(got.report.rejects.empty_id).toBe(500);
    expect(got.report.rejects.bad_timestamp).toBe(500);
  });

  it('a line longer than the longest record is the scanner’s to refuse; the rows around it are read', () => {
    const long = `u1,${'t'.repeat(DEFAULT_MAX_RECORD_BYTES)},2024-03-10T01:02:03Z`;
    const bytes = Buffer.from(
      [
        'user_id,track_id,listen_time',
        'u1,t1,2024-03-10T01:02:03Z',
        long,
        'u2,t2,2024-03-10T01:02:04Z',
        '',
      ].join('\n'),
    );
    const r = read(bytes, [40, 70_000]);
    expect(r.report).toEqual({ rows: 3, accepted: 2, rejects: { malformed_csv: 1 } });
    expect(r.examples[0]).toMatchObject({ record: 3, reason: 'malformed_csv' });
    expect(r.rows.map(([u, t]) => `${u} ${t}`)).toEqual(['u1 t1', 'u2 t2']);
    expect(r.records).toBe(4);
  });
});
