import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { QualityReport } from '../../src/formats/qualityReport.js';
import { runTop50, type Top50Summary } from '../../src/jobs/chartJob.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { PlaytallyError } from '../../src/ops/errors.js';
import { COUNTRY_CODES } from '../../src/parse/countries.js';
import { type ReferenceRow, referenceCharts, referenceRows } from '../support/reference.js';
import { day, firstDifference, leftovers, TempDirs, writeLog } from '../support/tempDirs.js';

/**
 * Property: for random small logs full of repeats, ties, huge ids and every kind of corrupt row,
 * the chart files are byte-identical to the plain reference over the valid rows of exactly the
 * days in the window, and the quality report counts and window are right.
 */

const MAX_ID = 2n ** 53n - 1n;
/**
 * More runs for a deeper search:
 * PLAYTALLY_PROPERTY_RUNS=500 npx vitest run test/integration/chartJob.property.test.ts
 */
const RUNS = Number(process.env.PLAYTALLY_PROPERTY_RUNS ?? 25);

// ---- rows -------------------------------------------------------------------------------------

/** Ids from a tiny range (many repeats and ties), around 2^32, and up to 2^53 - 1. */
const rawId = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 12 }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 2n ** 32n - 2n, max: 2n ** 32n + 2n }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom(MAX_ID, MAX_ID - 1n, 2n ** 52n).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 2n ** 32n, max: MAX_ID }).map(String) },
);
/** Sometimes with leading zeros (same id, different bytes). */
const id = fc
  .tuple(
    rawId,
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) },
    ),
  )
  .map(([digits, zeros]) => '0'.repeat(zeros) + digits);

const country = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('US', 'FR', 'DE', 'AD', 'ZW') },
  { weight: 1, arbitrary: fc.constantFrom(...COUNTRY_CODES) },
);

const validRow = fc.tuple(id, id, country).map(([s, u, c]) => `${s}|${u}|${c}`);

/** A well-formed row padded with leading zeros to 1023..1026 bytes: valid up to 1024 only. */
const borderLengthRow = fc
  .tuple(validRow, fc.integer({ min: 1023, max: 1026 }))
  .map(([row, length]) => '0'.repeat(Math.max(0, length - row.length)) + row);

const junk = fc.constantFrom('x', '-', '+', ' ', '\t', '.', 'a', 'e', '0x', '\u0000');
const tooLarge = fc.constantFrom(
  '9007199254740992',
  '9007199254740993',
  '09007199254740992',
  '18446744073709551616',
  '99999999999999999999999999',
);
const badCountry = fc.constantFrom(
  'fr',
  'us',
  'Fr',
  'fR',
  'ZZ',
  'UK',
  'XX',
  'AA',
  'F',
  'USA',
  '',
  'F1',
  ' FR',
  'FR ',
  'F\tR',
);
const highBytes = fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 4 });

const corruptRow = fc.oneof(
  // empty
  fc.constantFrom('', '\r'),
  // field count
  fc.tuple(id, id).map(([s, u]) => `${s}|${u}`),
  fc.tuple(id, id, country).map(([s, u, c]) => `${s}|${u}|${c}|1`),
  fc.tuple(id, id, country).map(([s, u, c]) => `${s}|${u}|${c}|`),
  fc.constantFrom('|', '||', '|||', '7', 'FR', '1|2|FR|3|4'),
  // non-digits or empty ids
  fc
    .tuple(id, id, country, junk, fc.integer({ min: 0, max: 3 }))
    .map(([s, u, c, j, where]) =>
      where === 0
        ? `${j}${s}|${u}|${c}`
        : where === 1
          ? `${s}${j}|${u}|${c}`
          : where === 2
            ? `${s}|${j}${u}|${c}`
            : `${s}|${u}${j}|${c}`,
    ),
  fc.tuple(id, country).map(([u, c]) => `|${u}|${c}`),
  fc.tuple(id, country).map(([s, c]) => `${s}||${c}`),
  // ids above 2^53 - 1
  fc
    .tuple(tooLarge, id, country, fc.boolean())
    .map(([big, other, c, first]) => (first ? `${big}|${other}|${c}` : `${other}|${big}|${c}`)),
  // lower-case, unknown, wrong-length countries
  fc.tuple(id, id, badCountry).map(([s, u, c]) => `${s}|${u}|${c}`),
  // non-ASCII bytes anywhere in an otherwise valid row
  fc.tuple(validRow, highBytes, fc.nat()).map(([row, bytes, at]) => {
    const k = at % (row.length + 1);
    return row.slice(0, k) + String.fromCharCode(...bytes) + row.slice(k);
  }),
  fc.tuple(id, id).map(([s, u]) => `${s}|${u}|\u00c9S`),
  // lines over 1024 bytes
  fc.integer({ min: 1025, max: 2600 }).map((n) => '7'.repeat(n)),
  fc.tuple(validRow, fc.integer({ min: 1025, max: 1400 })).map(([row, n]) => row + '9'.repeat(n)),
  // a second \r, a \r inside the row
  validRow.map((row) => `${row}\r`),
  validRow.map((row) => `\r${row}`),
);

const line = fc.record({
  text: fc.oneof(
    { weight: 12, arbitrary: validRow },
    { weight: 1, arbitrary: borderLengthRow },
    { weight: 4, arbitrary: corruptRow },
  ),
  crlf: fc.boolean(),
});

/** One day's bytes (latin1 text): lines with LF or CRLF, the last one maybe unterminated. */
const dayContent = fc
  .tuple(fc.array(line, { maxLength: 40 }), fc.boolean())
  .map(([lines, unterminated]) =>
    lines
      .map((l, i) => l.text + (unterminated && i === lines.length - 1 ? '' : l.crlf ? '\r\n' : '\n'))
      .join(''),
  );

// ---- days and options -------------------------------------------------------------------------

/**
 * A chart date: a log day (by index, modulo the number of days), moved 0..3 days later, so that
 * it falls on a log, in a gap, or after the newest log (and sometimes leaves the window empty).
 */
const dayPick = fc.record({
  index: fc.nat(),
  later: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) },
  ),
});

const scenario = fc
  .record({
    firstDay: fc.integer({ min: day('2001-01-01'), max: day('2030-12-31') }),
    offsets: fc.uniqueArray(fc.integer({ min: 0, max: 13 }), { minLength: 1, maxLength: 9 }),
    contents: fc.array(dayContent, { minLength: 9, maxLength: 9 }),
    top: fc.integer({ min: 1, max: 60 }),
    window: fc.integer({ min: 1, max: 8 }),
    /** undefined: the default (newest log day). */
    pick: fc.option(dayPick, { nil: undefined }),
    /** A second run on the same state with another chart date and top. */
    rerun: fc.option(fc.record({ pick: dayPick, top: fc.integer({ min: 1, max: 60 }) }), { nil: undefined }),
  })
  .map((s) => {
    const days = [...s.offsets].sort((a, b) => a - b).map((o) => s.firstDay + o);
    const at = (p: { index: number; later: number }): number => days[p.index % days.length]! + p.later;
    return {
      ...s,
      days,
      chartDay: s.pick === undefined ? undefined : at(s.pick),
      rerunDay: s.rerun === undefined ? undefined : at(s.rerun.pick),
    };
  });

/** Lines in a log: every \n ends one, and a last unterminated line counts too. */
function lineCount(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) if (b === 10) n++;
  return bytes.length > 0 && bytes[bytes.length - 1] !== 10 ? n + 1 : n;
}

interface Expected {
  day: number;
  charts: { country: string; user: string } | undefined;
  rows: number;
  valid: number;
  present: string[];
  missing: string[];
  perDay: { date: string; valid: number; rejected: number }[];
}

function expected(logs: Map<number, Buffer>, chartDay: number, window: number, top: number): Expected {
  const windowDays = Array.from({ length: window }, (_, i) => chartDay - window + 1 + i);
  const rows: ReferenceRow[] = [];
  let lines = 0;
  const perDay: Expected['perDay'] = [];
  for (const d of windowDays) {
    const bytes = logs.get(d);
    if (!bytes) continue;
    const valid = referenceRows(bytes);
    rows.push(...valid);
    const n = lineCount(bytes);
    lines += n;
    perDay.push({ date: isoDay(d), valid: valid.length, rejected: n - valid.length });
  }
  const present = windowDays.filter((d) => logs.has(d));
  return {
    day: chartDay,
    charts: present.length > 0 ? referenceCharts(rows, top) : undefined,
    rows: lines,
    valid: rows.length,
    present: present.map(isoDay),
    missing: windowDays.filter((d) => !logs.has(d)).map(isoDay),
    perDay,
  };
}

/** Run once and check every output against `want`; returns the summary (undefined on the expected error). */
async function runAndCheck(
  logsDir: string,
  outDir: string,
  stateDir: string,
  options: { day: number | undefined; window: number; top: number },
  want: Expected,
): Promise<Top50Summary | undefined> {
  const run = runTop50({ logsDir, outDir, stateDir, threads: 2, ...options });
  if (!want.charts) {
    await expect(run).rejects.toSatisfy(
      (e: unknown) => e instanceof PlaytallyError && e.code === 'no_logs_in_window',
    );
    return undefined;
  }
  if (want.valid === 0) {
    // Logs, but not one valid row in the window: an input error, not two empty files.
    await expect(run).rejects.toSatisfy(
      (e: unknown) => e instanceof PlaytallyError && e.code === 'no_valid_rows',
    );
    return undefined;
  }
  const summary = await run;
  const country = readFileSync(join(outDir, `country_top50_${compactDay(want.day)}.txt`), 'latin1');
  const user = readFileSync(join(outDir, `user_top50_${compactDay(want.day)}.txt`), 'latin1');
  expect(firstDifference(country, want.charts.country), 'country chart').toBeUndefined();
  expect(firstDifference(user, want.charts.user), 'user chart').toBeUndefined();
  expect(summary.date).toBe(isoDay(want.day));
  expect(summary.outputs.country.rows).toBe(want.charts.country.split('\n').length - 1);
  expect(summary.outputs.user.rows).toBe(want.charts.user.split('\n').length - 1);

  const qualityPath = join(outDir, `quality_${compactDay(want.day)}.json`);
  expect(summary.outputs.quality).toBe(qualityPath);
  const report = JSON.parse(readFileSync(qualityPath, 'utf8')) as QualityReport;
  expect(report.totals.rows).toBe(want.rows);
  expect(report.totals.valid).toBe(want.valid);
  expect(report.totals.rejected).toBe(want.rows - want.valid);
  const byReason = Object.values(report.totals.rejectedByReason).reduce((a, b) => a + b, 0);
  expect(byReason).toBe(want.rows - want.valid);
  expect(report.window.missing).toEqual(want.missing);
  expect(report.window.present).toEqual(want.present);
  expect(report.days.map((d) => ({ date: d.date, valid: d.valid, rejected: d.rejected }))).toEqual(
    want.perDay,
  );
  expect(summary.days.map((d) => ({ date: d.date, valid: d.valid, rejected: d.rejected }))).toEqual(
    want.perDay,
  );
  expect(leftovers(outDir)).toEqual([]);
  expect(leftovers(stateDir)).toEqual([]);
  return summary;
}

describe('runTop50 on random small logs', () => {
  const temp = new TempDirs();
  afterAll(() => temp.cleanup());

  it(
    'writes exactly the reference charts and quality totals for the window',
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const logsDir = temp.make('playtally-prop-logs-');
          const outDir = temp.make('playtally-prop-out-');
          const stateDir = join(outDir, 'state');
          try {
            const logs = new Map<number, Buffer>();
            s.days.forEach((d, i) => {
              const bytes = Buffer.from(s.contents[i]!, 'latin1');
              logs.set(d, bytes);
              writeLog(logsDir, d, bytes);
            });
            const chartDay = s.chartDay ?? s.days[s.days.length - 1]!;
            const firstWant = expected(logs, chartDay, s.window, s.top);
            const first = await runAndCheck(
              logsDir,
              outDir,
              stateDir,
              { day: s.chartDay, window: s.window, top: s.top },
              firstWant,
            );
            if (first) expect(first.days.every((d) => !d.reused)).toBe(true);

            if (s.rerun && s.rerunDay !== undefined) {
              const secondDay = s.rerunDay;
              // A window without a valid row fails after its days are built: they are kept too.
              const built = new Set(
                first?.days.map((d) => d.date) ?? (firstWant.charts ? firstWant.present : []),
              );
              const second = await runAndCheck(
                logsDir,
                outDir,
                stateDir,
                { day: secondDay, window: s.window, top: s.rerun.top },
                expected(logs, secondDay, s.window, s.rerun.top),
              );
              // Days built by the first run come from their partials.
              for (const d of second?.days ?? []) expect(d.reused).toBe(built.has(d.date));
            }
            // The default state folder is not used when a state folder is given.
            expect(existsSync(join(outDir, '.playtally'))).toBe(false);
          } finally {
            temp.cleanup();
          }
        }),
        { numRuns: RUNS },
      );
    },
    Math.max(120_000, RUNS * 1000),
  );
});

// ---- blanks and a header ------------------------------------------------------------------------

/** Any mix of spaces and tabs, often none. */
const blanks = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc.array(fc.constantFrom(' ', '\t'), { minLength: 1, maxLength: 3 }).map((b) => b.join('')),
  },
);

/**
 * A line with blanks put around each of its pipe-separated fields (kept within 1,024 bytes). A
 * last `\r` is the line's ending, not part of its last field: the blanks go before it.
 */
function padded(line: string, pads: string[]): string {
  const cr = line.endsWith('\r') ? '\r' : '';
  const out =
    line
      .slice(0, line.length - cr.length)
      .split('|')
      .map((field, i) => `${pads[(2 * i) % pads.length]}${field}${pads[(2 * i + 1) % pads.length]}`)
      .join('|') + cr;
  return out.length <= 1024 + cr.length ? out : line;
}

describe('blanks around fields and a header line', () => {
  const temp = new TempDirs();
  afterAll(() => temp.cleanup());

  async function charts(text: string, at: number): Promise<{ country: string; user: string; valid: number }> {
    const logsDir = temp.make('playtally-blank-logs-');
    const outDir = temp.make('playtally-blank-out-');
    writeLog(logsDir, at, Buffer.from(text, 'latin1'));
    const summary = await runTop50({ logsDir, outDir, threads: 2 });
    return {
      country: readFileSync(summary.outputs.country.path, 'latin1'),
      user: readFileSync(summary.outputs.user.path, 'latin1'),
      valid: summary.totals.valid,
    };
  }

  it(
    'never change the charts or the valid rows (property)',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.tuple(
              fc.oneof({ weight: 5, arbitrary: validRow }, { weight: 1, arbitrary: corruptRow }),
              fc.boolean(),
            ),
            {
              minLength: 1,
              maxLength: 40,
            },
          ),
          fc.array(blanks, { minLength: 6, maxLength: 6 }),
          fc.option(
            fc.tuple(blanks, fc.constantFrom('sng_id|user_id|country', 'SNG_ID | User_Id | Country')),
            {
              nil: undefined,
            },
          ),
          async (lines, pads, header) => {
            const eol = (crlf: boolean): string => (crlf ? '\r\n' : '\n');
            // At least one valid row as the lines are written (a row ending in `\r` and then
            // `\r\n` is not valid: its country ends in a CR; seed 1212732481 found it).
            fc.pre(lines.some(([l, crlf]) => referenceRows(Buffer.from(l + eol(crlf), 'latin1')).length > 0));
            const plain = lines.map(([l, crlf]) => l + eol(crlf)).join('');
            const changed =
              (header ? `${header[0]}${header[1]}${header[0]}\r\n` : '') +
              lines.map(([l, crlf]) => padded(l, pads) + eol(crlf)).join('');
            try {
              const at = day('2024-05-05');
              const [a, b] = [await charts(plain, at), await charts(changed, at)];
              expect(b.country).toBe(a.country);
              expect(b.user).toBe(a.user);
              expect(b.valid).toBe(a.valid);
            } finally {
              temp.cleanup();
            }
          },
        ),
        { numRuns: Math.max(10, Math.round(RUNS / 2)) },
      );
    },
    Math.max(120_000, RUNS * 2000),
  );
});
