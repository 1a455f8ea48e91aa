import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { parseDay } from '../../src/ops/dates.js';
import { COUNTRY_CODES } from '../../src/parse/countries.js';
import { REJECT_REASONS } from '../../src/parse/rejects.js';
import { CLI, type CliRun, cli, requireBuiltCli } from '../support/cliRuns.js';
import { referenceCharts, referenceRows } from '../support/reference.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * `top50` through the compiled CLI, run as a user runs it: input errors (exit 3), output errors
 * (exit 4), a normal run whose files keep the chart contract and match an independent reference
 * implementation byte for byte, garbage input that never crashes, and progress on a terminal and off
 * it (a log it may not read is in test/faults/permissions). Needs `npm run build` first.
 */

const temp = new TempDirs();
let tmp: string;
/** A week of generated logs, 2024-01-01 .. 2024-01-07. */
let logs: string;
/** The same week without 2024-01-04. */
let gapLogs: string;

beforeAll(() => {
  requireBuiltCli();
  tmp = temp.make('playtally-cli-');
  logs = join(tmp, 'logs');
  // 2,000 users over 140k rows: heavy users have more than 50 distinct songs, so rows get cut.
  generateLogs({ dir: logs, start: parseDay('2024-01-01')!, days: 7, rows: 20_000, seed: 3 });
  gapLogs = join(tmp, 'gap-logs');
  mkdirSync(gapLogs);
  for (const name of readdirSync(logs)) {
    if (name !== 'listen-20240104.log') copyFileSync(join(logs, name), join(gapLogs, name));
  }
});
afterAll(() => temp.cleanup());

let outCounter = 0;
/** A fresh output folder path (not created). */
function freshOut(): string {
  return join(tmp, `out-${++outCounter}`);
}

function allFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...allFiles(path));
    else found.push(path);
  }
  return found;
}

describe('input errors exit 3', () => {
  it('--logs folder that does not exist', () => {
    const missing = join(tmp, 'no-such-folder');
    const out = freshOut();
    const r = cli(['top50', '--logs', missing, '--out', out]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toMatch(/^playtally: error: .*does not exist/m);
    expect(existsSync(out)).toBe(false);
  });

  it('--logs that is a file, not a folder', () => {
    const r = cli(['top50', '--logs', join(logs, 'listen-20240101.log'), '--out', freshOut()]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/not a folder/);
  });

  it('folder with no logs (only unrelated files)', () => {
    const dir = join(tmp, 'no-logs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'README.txt'), 'not a log\n');
    writeFileSync(join(dir, 'listen-2024.log'), '1|2|FR\n');
    const r = cli(['top50', '--logs', dir, '--out', freshOut()]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(
      /^playtally: error: no logs in .*: playtally reads listen-YYYYMMDD\.log or listen-YYYY-MM-DD\.log .*1 file passed over/m,
    );
    // The log-like name is named, with what is wrong with it; the README is not a log and is not.
    expect(r.stderr).toMatch(/warning: ignoring listen-2024\.log: its day part "2024" is not a date/);
    expect(r.stderr).not.toMatch(/README/);
  });

  it('--date whose window has no logs', () => {
    const out = freshOut();
    const r = cli(['top50', '--logs', logs, '--out', out, '--date', '2023-06-01']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/no logs for the window 2023-05-26\.\.2023-06-01/);
    expect(existsSync(join(out, 'country_top50_20230601.txt'))).toBe(false);
  });

  it('--strict with a missing day fails, naming the day, and writes no charts', () => {
    const out = freshOut();
    const r = cli(['top50', '--logs', gapLogs, '--out', out, '--strict']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^playtally: error: .*2024-01-04/m);
    expect(existsSync(join(out, 'country_top50_20240107.txt'))).toBe(false);
    expect(existsSync(join(out, 'user_top50_20240107.txt'))).toBe(false);
  });

  it('without --strict the same run succeeds, warns about the day and reports it', () => {
    const out = freshOut();
    const r = cli(['top50', '--logs', gapLogs, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^playtally: warning: no log for 2024-01-04: that day is left out of the charts$/m,
    );
    const quality = JSON.parse(readFileSync(join(out, 'quality_20240107.json'), 'utf8'));
    expect(quality.window.missing).toEqual(['2024-01-04']);
    expect(quality.window.present).toHaveLength(6);
    expect(quality.window.present).not.toContain('2024-01-04');
    expect(quality.days.map((d: { date: string }) => d.date)).not.toContain('2024-01-04');
    expect(existsSync(join(out, 'country_top50_20240107.txt'))).toBe(true);
  });
});

describe('output errors exit 4', () => {
  it('--out under a regular file', () => {
    const file = join(tmp, 'file.txt');
    writeFileSync(file, 'x');
    const out = join(file, 'out');
    const r = cli(['top50', '--logs', logs, '--out', out]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/^playtally: error: output folder .*not writable/m);
    expect(r.stderr).toContain(out);
    expect(r.stderr).not.toMatch(/internal error/);
  });

  it('--out that is a regular file', () => {
    const file = join(tmp, 'file2.txt');
    writeFileSync(file, 'x');
    const r = cli(['top50', '--logs', logs, '--out', file]);
    expect(r.status).toBe(4);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('--state under a regular file', () => {
    const file = join(tmp, 'file3.txt');
    writeFileSync(file, 'x');
    const r = cli(['top50', '--logs', logs, '--out', freshOut(), '--state', join(file, 'state')]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/^playtally: error: .*state/m);
  });
});

interface ChartRow {
  key: string;
  songs: [bigint, number][];
}

/**
 * Checks a chart file against the contract of DESIGN.md: one `key|song:plays,...` row per key, keys
 * ascending (countries alphabetically, users numerically), at most `top` songs ordered by plays
 * descending then song id ascending, a final newline. Returns the rows and every problem found.
 */
function chartProblems(
  text: string,
  kind: 'country' | 'user',
  top = 50,
): { rows: ChartRow[]; problems: string[] } {
  const problems: string[] = [];
  if (text === '') return { rows: [], problems };
  if (!text.endsWith('\n')) problems.push('no final newline');
  const rows: ChartRow[] = [];
  for (const line of text.replace(/\n$/, '').split('\n')) {
    if (!/^[0-9A-Z]+\|\d+:\d+(,\d+:\d+)*$/.test(line)) {
      problems.push(`malformed row ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    const [key, list] = line.split('|') as [string, string];
    const songs = list.split(',').map((pair) => {
      const [song, plays] = pair.split(':');
      return [BigInt(song!), Number(plays)] as [bigint, number];
    });
    rows.push({ key, songs });
  }
  const countries = new Set(COUNTRY_CODES);
  for (const [i, row] of rows.entries()) {
    if (kind === 'country' && !countries.has(row.key)) problems.push(`${row.key}: not a country code`);
    if (kind === 'user' && !/^[1-9]\d*$|^0$/.test(row.key)) problems.push(`${row.key}: not a user id`);
    if (i > 0) {
      const prev = rows[i - 1]!.key;
      const ascending = kind === 'country' ? prev < row.key : BigInt(prev) < BigInt(row.key);
      if (!ascending) problems.push(`key ${prev} before ${row.key}`);
    }
    if (row.songs.length > top) problems.push(`${row.key}: ${row.songs.length} songs`);
    for (let j = 0; j < row.songs.length; j++) {
      const [song, plays] = row.songs[j]!;
      if (plays < 1) problems.push(`${row.key}: ${song} has ${plays} plays`);
      if (j === 0) continue;
      const [prevSong, prevPlays] = row.songs[j - 1]!;
      if (!(prevPlays > plays || (prevPlays === plays && prevSong < song))) {
        problems.push(`${row.key}: ${prevSong}:${prevPlays} before ${song}:${plays}`);
      }
    }
  }
  return { rows, problems };
}

function checkChart(text: string, kind: 'country' | 'user', top = 50): ChartRow[] {
  const { rows, problems } = chartProblems(text, kind, top);
  expect(problems.slice(0, 10)).toEqual([]);
  return rows;
}

describe('the chart checker used below', () => {
  it('accepts a well-formed chart', () => {
    expect(chartProblems('FR|5:3,2:1,9:1\nUS|1:1\n', 'country').problems).toEqual([]);
    expect(chartProblems('9|5:3\n10|5:1\n', 'user').problems).toEqual([]);
  });

  it.each([
    ['unsorted countries', 'US|1:1\nFR|1:1\n', 'country'],
    ['users sorted as text', '10|5:1\n9|5:3\n', 'user'],
    ['duplicate key', 'FR|1:1\nFR|2:1\n', 'country'],
    ['plays ascending', 'FR|1:1,2:3\n', 'country'],
    ['tie not by song id', 'FR|9:2,2:2\n', 'country'],
    ['tie compared as text', '7|10:2,9:2\n', 'user'],
    ['unknown country', 'ZZ|1:1\n', 'country'],
    ['no final newline', 'FR|1:1', 'country'],
    ['malformed row', 'FR|1:1,\n', 'country'],
    ['too many songs', `FR|${Array.from({ length: 51 }, (_, i) => `${i + 1}:1`).join(',')}\n`, 'country'],
  ] as const)('rejects %s', (_name, text, kind) => {
    expect(chartProblems(text, kind).problems.length).toBeGreaterThan(0);
  });
});

describe('a normal run', () => {
  let out: string;
  let run: CliRun;
  let summary: {
    date: string;
    window: { from: string; to: string; present: string[]; missing: string[] };
    totals: { rows: number; valid: number; rejected: number };
    outputs: {
      country: { path: string; rows: number };
      user: { path: string; rows: number };
      quality: string;
    };
  };

  beforeAll(() => {
    out = freshOut();
    run = cli(['top50', '--logs', logs, '--out', out, '--json']);
    summary = JSON.parse(run.stdout);
  });

  it('exits 0 and writes the three files of the newest day', () => {
    expect(run.status, run.stderr).toBe(0);
    const names = readdirSync(out).filter((n) => !n.startsWith('.'));
    expect(names.sort()).toEqual([
      'country_top50_20240107.txt',
      'quality_20240107.json',
      'user_top50_20240107.txt',
    ]);
  });

  it('prints a summary line starting with "playtally:" on stderr and nothing but JSON on stdout', () => {
    const lines = run.stderr.trimEnd().split('\n');
    const summaryLine = lines.find((l) => l.startsWith('playtally: 2024-01-07'));
    expect(summaryLine).toBeDefined();
    expect(summaryLine).toMatch(
      /^playtally: 2024-01-07: window 2024-01-01\.\.2024-01-07, 7 days \(7 parsed, 0 reused\)/,
    );
    expect(summaryLine).toContain('140,000 rows');
    expect(run.stderr).not.toMatch(/warning|error/);
  });

  it('--json describes the outputs', () => {
    expect(summary.date).toBe('2024-01-07');
    expect(summary.window).toMatchObject({ from: '2024-01-01', to: '2024-01-07', missing: [] });
    expect(summary.window.present).toHaveLength(7);
    expect(summary.outputs.country.path).toBe(join(out, 'country_top50_20240107.txt'));
    expect(summary.outputs.user.path).toBe(join(out, 'user_top50_20240107.txt'));
    expect(summary.outputs.quality).toBe(join(out, 'quality_20240107.json'));
    const countryLines = readFileSync(summary.outputs.country.path, 'utf8').split('\n').length - 1;
    const userLines = readFileSync(summary.outputs.user.path, 'utf8').split('\n').length - 1;
    expect(summary.outputs.country.rows).toBe(countryLines);
    expect(summary.outputs.user.rows).toBe(userLines);
    expect(summary.totals.rows).toBe(140_000);
    expect(summary.totals.valid + summary.totals.rejected).toBe(summary.totals.rows);
    expect(summary.totals.rejected).toBeGreaterThan(0); // the generator's default 0.1% corrupt rows
  });

  it('writes a quality report that agrees with the summary', () => {
    const quality = JSON.parse(readFileSync(summary.outputs.quality, 'utf8'));
    expect(quality.date).toBe('2024-01-07');
    expect(quality.totals.rows).toBe(summary.totals.rows);
    expect(quality.totals.valid).toBe(summary.totals.valid);
    expect(quality.totals.rejected).toBe(summary.totals.rejected);
    const byReason = REJECT_REASONS.reduce((sum, r) => sum + quality.totals.rejectedByReason[r], 0);
    expect(byReason).toBe(quality.totals.rejected);
    expect(quality.days).toHaveLength(7);
    expect(quality.day.date).toBe('2024-01-07');
    expect(quality.day.rows).toBe(20_000);
  });

  it('leaves no temporary files and ends every file with a newline', () => {
    const files = allFiles(out);
    expect(files.filter((f) => /\.tmp-/.test(f))).toEqual([]);
    for (const name of ['country_top50_20240107.txt', 'user_top50_20240107.txt', 'quality_20240107.json']) {
      const text = readFileSync(join(out, name), 'utf8');
      expect(text.length).toBeGreaterThan(0);
      expect(text.endsWith('\n'), name).toBe(true);
    }
  });

  it('orders rows as DESIGN.md says, with at most 50 songs per row', () => {
    const countries = checkChart(readFileSync(summary.outputs.country.path, 'utf8'), 'country');
    const users = checkChart(readFileSync(summary.outputs.user.path, 'utf8'), 'user');
    expect(countries.length).toBeGreaterThan(100);
    expect(users.length).toBeGreaterThan(1_000);
    // The cap is exercised: some rows are full, and some have fewer songs.
    expect(countries.some((r) => r.songs.length === 50)).toBe(true);
    expect(users.some((r) => r.songs.length === 50)).toBe(true);
    expect(users.some((r) => r.songs.length < 50)).toBe(true);
    // Repeats exist, so the ordering by plays is really tested.
    expect(users.some((r) => r.songs[0]![1] > 1)).toBe(true);
  });

  it('matches an independent reference implementation byte for byte', () => {
    const rows = readdirSync(logs)
      .sort()
      .flatMap((name) => referenceRows(readFileSync(join(logs, name))));
    expect(rows.length).toBe(summary.totals.valid);
    const expected = referenceCharts(rows);
    expect(readFileSync(summary.outputs.country.path, 'utf8')).toBe(expected.country);
    expect(readFileSync(summary.outputs.user.path, 'utf8')).toBe(expected.user);
  });

  it('gives the same bytes with 1 thread and the minimum memory budget', () => {
    const other = freshOut();
    const r = cli([
      'top50',
      '--logs',
      logs,
      '--out',
      other,
      '--threads',
      '1',
      '--memory',
      '256MB',
      '--quiet',
    ]);
    expect(r.status, r.stderr).toBe(0);
    for (const name of ['country_top50_20240107.txt', 'user_top50_20240107.txt']) {
      expect(readFileSync(join(other, name)).equals(readFileSync(join(out, name))), name).toBe(true);
    }
  });

  it('a second run into the same folder reuses every day and rewrites the same bytes', () => {
    const before = readFileSync(summary.outputs.user.path);
    const r = cli(['top50', '--logs', logs, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const again = JSON.parse(r.stdout) as { days: { reused: boolean }[] };
    expect(again.days).toHaveLength(7);
    expect(again.days.every((d) => d.reused)).toBe(true);
    expect(r.stderr).toMatch(/\(0 parsed, 7 reused\)/);
    expect(readFileSync(summary.outputs.user.path).equals(before)).toBe(true);
  });

  it('--top limits the songs per row', () => {
    const other = freshOut();
    const r = cli(['top50', '--logs', logs, '--out', other, '--top', '3', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const users = checkChart(readFileSync(join(other, 'user_top50_20240107.txt'), 'utf8'), 'user', 3);
    expect(users.some((row) => row.songs.length === 3)).toBe(true);
  });

  it('accepts --date as YYYYMMDD and as YYYY-MM-DD, with the same result', () => {
    const a = freshOut();
    const b = freshOut();
    const ra = cli(['top50', '--logs', logs, '--out', a, '--date', '20240105', '--quiet']);
    const rb = cli(['top50', '--logs', logs, '--out', b, '--date', '2024-01-05', '--quiet']);
    expect(ra.status, ra.stderr).toBe(0);
    expect(rb.status, rb.stderr).toBe(0);
    // The window 2023-12-30..2024-01-05 has two days before the first log: not missing, not
    // warned about (-q); the summary says so (below, without -q).
    expect(ra.stderr).toBe('');
    const said = cli(['top50', '--logs', logs, '--out', freshOut(), '--date', '20240105']);
    expect(said.stderr).toContain(
      '  the window of 2024-01-05 starts 2 days before the first log (2024-01-01): the data starts there\n',
    );
    expect(said.stderr).toMatch(/window 2023-12-30\.\.2024-01-05, 5 days, 2 before the first log \(/);
    for (const name of ['country_top50_20240105.txt', 'user_top50_20240105.txt']) {
      const bytesA = readFileSync(join(a, name));
      expect(bytesA.length).toBeGreaterThan(0);
      expect(bytesA.equals(readFileSync(join(b, name))), name).toBe(true);
    }
    expect(existsSync(join(a, 'country_top50_20240107.txt'))).toBe(false);
    // And it differs from the 7-day chart of 2024-01-07.
    expect(
      readFileSync(join(a, 'user_top50_20240105.txt')).equals(
        readFileSync(join(out, 'user_top50_20240107.txt')),
      ),
    ).toBe(false);
  });
});

describe('user ranges and country partitions the WebAssembly kernel leaves to mergeSpans', () => {
  it('charts a heavy user, ids past 2^32 and plays past a histogram as the reference does', () => {
    // A user of 80,000 day entries over the week (past the kernel's 65,536), one of 2^40 + 5
    // and a song of 2^40 + 7 (blocks of the varint layout), one playing a song 3,000 times, and
    // 3,000 ordinary users.
    const dir = join(tmp, 'kernel-leaves');
    mkdirSync(dir);
    let x = 7;
    const next = (n: number): number => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % n;
    };
    for (let d = 1; d <= 2; d++) {
      const lines: string[] = [];
      for (let i = 0; i < 40_000; i++) lines.push(`${d * 1_000_000 + i}|424242|FR`);
      for (let i = 0; i < 3_000; i++) lines.push(`77|5150|DE`);
      for (let i = 0; i < 20; i++) lines.push(`${100 + next(30)}|${2 ** 40 + 5}|GB`);
      // A song id past 2^32: its countries block is of the varint layout too.
      for (let i = 0; i < 5; i++) lines.push(`${2 ** 40 + 7}|${10 + next(3000)}|GB`);
      for (let i = 0; i < 30_000; i++)
        lines.push(`${1 + next(5000)}|${10 + next(3000)}|${d === 1 ? 'FR' : 'US'}`);
      writeFileSync(join(dir, `listen-2024010${d}.log`), `${lines.join('\n')}\n`);
    }
    const other = freshOut();
    const r = cli(['top50', '--logs', dir, '--out', other, '--date', '20240102', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const rows = readdirSync(dir)
      .sort()
      .flatMap((name) => referenceRows(readFileSync(join(dir, name))));
    const expected = referenceCharts(rows);
    const user = readFileSync(join(other, 'user_top50_20240102.txt'), 'utf8');
    expect(user).toContain('424242|');
    expect(user).toContain(`${2 ** 40 + 5}|`);
    expect(user).toContain('5150|77:6000\n');
    expect(user).toBe(expected.user);
    const country = readFileSync(join(other, 'country_top50_20240102.txt'), 'utf8');
    expect(country).toContain(`GB|${2 ** 40 + 7}:10`);
    expect(country).toBe(expected.country);
  });
});

/** Deterministic pseudo-random bytes (xorshift32). */
function randomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

describe('garbage input never crashes', () => {
  it('random bytes, NULs, 0xff, huge lines and no final newline give exit 0 and consistent totals', () => {
    const dir = join(tmp, 'garbage');
    mkdirSync(dir);
    const files: Record<string, Buffer> = {
      // Pure noise: mostly non-ASCII, some newlines, NULs and pipes by chance.
      'listen-20240301.log': randomBytes(300_000, 7),
      // One line of 3 MB and no newline at all.
      'listen-20240302.log': Buffer.concat([Buffer.from('1|2|FR'), Buffer.alloc(3_000_000, 0x39)]),
      // A few valid rows among NULs, 0xff, a CRLF row, a \r\r row, a line of 2,000 bytes, no final newline.
      'listen-20240303.log': Buffer.concat([
        Buffer.alloc(1000, 0),
        Buffer.from('\n'),
        Buffer.alloc(3000, 0xff),
        Buffer.from('\n10|20|FR\n11|21|DE\r\n12|22|US\r\r\n\x00|1|FR\n13|23|fr\n'),
        Buffer.alloc(2000, 0x37),
        Buffer.from('\n|||\n\n\n14|24|NL\n15|25|JP\n'),
        randomBytes(5000, 99),
        Buffer.from('\n16|26|BR'),
      ]),
      // Nothing at all.
      'listen-20240304.log': Buffer.alloc(0),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const out = freshOut();
    const r = cli(['top50', '--logs', dir, '--out', out, '--json', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/internal error/);
    const summary = JSON.parse(r.stdout);
    const quality = JSON.parse(readFileSync(join(out, 'quality_20240304.json'), 'utf8'));
    expect(quality.days).toHaveLength(4);
    for (const day of [...quality.days, quality.totals]) {
      expect(day.valid + day.rejected).toBe(day.rows);
      expect(REJECT_REASONS.reduce((sum, reason) => sum + day.rejectedByReason[reason], 0)).toBe(
        day.rejected,
      );
    }
    expect(summary.totals).toMatchObject({
      rows: quality.totals.rows,
      valid: quality.totals.valid,
      rejected: quality.totals.rejected,
    });
    const byDate = Object.fromEntries(quality.days.map((d: { date: string }) => [d.date, d]));
    expect(byDate['2024-03-02']).toMatchObject({ rows: 1, valid: 0, rejected: 1 });
    expect(byDate['2024-03-02'].rejectedByReason.line_too_long).toBe(1);
    expect(byDate['2024-03-04']).toMatchObject({ rows: 0, valid: 0, rejected: 0 });
    // 10|20|FR, 11|21|DE (CRLF), 14|24|NL, 15|25|JP, 16|26|BR (no newline) and whatever the noise holds.
    const expectedRows = Object.keys(files)
      .sort()
      .flatMap((name) => referenceRows(files[name]!));
    expect(expectedRows.length).toBeGreaterThanOrEqual(5);
    expect(quality.totals.valid).toBe(expectedRows.length);
    const expected = referenceCharts(expectedRows);
    const country = readFileSync(join(out, 'country_top50_20240304.txt'), 'utf8');
    const user = readFileSync(join(out, 'user_top50_20240304.txt'), 'utf8');
    expect(country).toBe(expected.country);
    expect(user).toBe(expected.user);
    expect(user).toContain('26|16:1\n');
    checkChart(country, 'country');
    checkChart(user, 'user');
  });

  it('a log of noise only is an input error (exit 3) that says what the lines are, and writes no chart', () => {
    const dir = join(tmp, 'noise-only');
    mkdirSync(dir);
    // High bytes only (0x80..0xff) with NULs and newlines: no row can be valid.
    const noise = randomBytes(200_000, 5);
    for (let i = 0; i < noise.length; i++)
      noise[i] = i % 997 === 0 ? 10 : i % 101 === 0 ? 0 : noise[i]! | 0x80;
    writeFileSync(join(dir, 'listen-20240110.log'), noise);
    const out = freshOut();
    const r = cli(['top50', '--logs', dir, '--out', out, '--quiet']);
    expect(r.status, r.stderr).toBe(3);
    const lines = noise.filter((b) => b === 10).length + (noise[noise.length - 1] === 10 ? 0 : 1);
    expect(r.stderr).toContain(
      `no valid row in the window 2024-01-04..2024-01-10 (1 log, ${lines.toLocaleString('en-US')} rows)`,
    );
    expect(r.stderr).toMatch(
      /listen-20240110\.log: 100\.00% of [\d,]+ rows rejected, mostly (non_ascii|line_too_long) \(/,
    );
    expect(r.stderr).toMatch(/e\.g\. line \d+: `\\x/);
    for (const name of ['country_top50_20240110.txt', 'user_top50_20240110.txt', 'quality_20240110.json'])
      expect(existsSync(join(out, name)), name).toBe(false);
  });
});

/**
 * Progress is drawn on a terminal only: a live line per log file (percent, MB, rows/s) redrawn
 * with \r, and plain lines when stderr is a file or a pipe. The terminal is a pseudo-terminal
 * made by util-linux `script`.
 */
describe('progress', () => {
  const hasScript = spawnSync('script', ['--version']).status === 0;
  let progressLogs = '';
  beforeAll(() => {
    progressLogs = join(tmp, 'progress-logs');
    generateLogs({ dir: progressLogs, start: parseDay('2024-03-01')!, days: 2, rows: 50_000 });
  });

  it.skipIf(!hasScript)('is a live line per file on a terminal', () => {
    const command = `${process.execPath} ${CLI} top50 --logs ${progressLogs} --out ${join(tmp, 'tty')}`;
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toContain('\r\x1b[K');
    expect(r.stdout).toMatch(/listen-20240301\.log {2}\d+% {2}\d+\/\d+ MB {2}[\d.]+[kM]? rows\/s/);
    expect(r.stdout).toMatch(/playtally: 2024-03-02: window/);
  });

  it('is plain lines when stderr is not a terminal', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'top50', '--logs', progressLogs, '--out', join(tmp, 'pipe')],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('\r');
    // A line per log, naming its own log although the second day starts before the first is done.
    const parsed = r.stderr.split('\n').filter((l) => / parsed 50,000 rows in [\d.]+ s$/.test(l));
    expect(parsed.map((l) => l.trim().split(':')[0])).toEqual(['listen-20240301.log', 'listen-20240302.log']);
  });
});
