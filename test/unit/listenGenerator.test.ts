import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CORRUPTIONS,
  generateLogs,
  ListenGenerator,
  type ListenGeneratorOptions,
} from '../../src/generate/listenGenerator.js';
import { compactDay, parseDay } from '../../src/ops/dates.js';
import { COUNTRY_CODES } from '../../src/parse/countries.js';
import { ListenParser } from '../../src/parse/listenParser.js';
import { REJECT_REASONS, type RejectReason } from '../../src/parse/rejects.js';
import { referenceRows } from '../support/reference.js';

const DAY = parseDay('2024-01-01')!;

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'playtally-gen-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** The whole day as one buffer (chunks are copied: the generator reuses its buffer). */
function dayBytes(generator: ListenGenerator, day: number): Buffer {
  const chunks: Buffer[] = [];
  generator.generate(day, (chunk) => chunks.push(Buffer.from(chunk)));
  return Buffer.concat(chunks);
}

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface Parsed {
  songs: number[];
  users: number[];
  countries: number[];
  lines: number;
  valid: number;
  rejected: number;
  byReason: Record<RejectReason, number>;
  rejectedLines: { reason: RejectReason; text: string }[];
}

/** Parse with the product's parser, keeping every valid row and every rejected line. */
function parse(bytes: Uint8Array, keepRejected = false): Parsed {
  const out: Parsed = {
    songs: [],
    users: [],
    countries: [],
    lines: 0,
    valid: 0,
    rejected: 0,
    byReason: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
    rejectedLines: [],
  };
  const parser = new ListenParser({
    onBatch: (batch) => {
      for (let i = 0; i < batch.length; i++) {
        out.songs.push(batch.songs[i]!);
        out.users.push(batch.users[i]!);
        out.countries.push(batch.countries[i]!);
      }
    },
    onReject: keepRejected
      ? (reason, _line, line) =>
          out.rejectedLines.push({
            reason: REJECT_REASONS[reason]!,
            text: Buffer.from(line).toString('latin1'),
          })
      : undefined,
  });
  parser.push(bytes);
  parser.end();
  out.lines = parser.lines;
  out.valid = parser.valid;
  out.rejected = parser.rejected;
  REJECT_REASONS.forEach((r, i) => {
    out.byReason[r] = parser.rejects[i]!;
  });
  return out;
}

function newlineCount(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) if (b === 10) n++;
  return n;
}

describe('ListenGenerator: determinism', () => {
  const options: ListenGeneratorOptions = { rows: 50_000, corruptRate: 0.01, crlfRate: 0.05, seed: 42 };

  it('gives identical bytes for the same options, seed and day', () => {
    const a = dayBytes(new ListenGenerator(options), DAY);
    const b = dayBytes(new ListenGenerator({ ...options }), DAY);
    expect(a.length).toBeGreaterThan(0);
    expect(sha(a)).toBe(sha(b));
    // The same instance generating twice is not affected by its own earlier calls.
    const generator = new ListenGenerator(options);
    dayBytes(generator, DAY + 3);
    expect(sha(dayBytes(generator, DAY))).toBe(sha(a));
  });

  it('gives different bytes for a different seed or a different day', () => {
    const base = sha(dayBytes(new ListenGenerator(options), DAY));
    expect(sha(dayBytes(new ListenGenerator({ ...options, seed: 43 }), DAY))).not.toBe(base);
    expect(sha(dayBytes(new ListenGenerator(options), DAY + 1))).not.toBe(base);
  });

  it('keeps a user in the same home country across days', () => {
    const generator = new ListenGenerator({ rows: 100_000, corruptRate: 0, seed: 3 });
    const perUser = new Map<number, Map<number, number>>();
    const modalByDay: Map<number, number>[] = [];
    for (let d = 0; d < 3; d++) {
      const rows = parse(dayBytes(generator, DAY + d));
      const dayCounts = new Map<number, Map<number, number>>();
      for (let i = 0; i < rows.users.length; i++) {
        for (const target of [perUser, dayCounts]) {
          let counts = target.get(rows.users[i]!);
          if (!counts) target.set(rows.users[i]!, (counts = new Map()));
          counts.set(rows.countries[i]!, (counts.get(rows.countries[i]!) ?? 0) + 1);
        }
      }
      const modal = new Map<number, number>();
      for (const [user, counts] of dayCounts) {
        const total = [...counts.values()].reduce((a, b) => a + b, 0);
        if (total < 5) continue;
        modal.set(user, [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0]);
      }
      modalByDay.push(modal);
    }
    // Over the three days, the modal country holds almost all of a user's rows (3% travel).
    let rows = 0;
    let inModal = 0;
    let users = 0;
    for (const counts of perUser.values()) {
      const values = [...counts.values()];
      const total = values.reduce((a, b) => a + b, 0);
      if (total < 10) continue;
      users++;
      rows += total;
      inModal += Math.max(...values);
    }
    expect(users).toBeGreaterThan(1000);
    expect(inModal / rows).toBeGreaterThan(0.9);
    // And the modal country of day 1 is the modal country of day 3.
    let compared = 0;
    let same = 0;
    for (const [user, country] of modalByDay[0]!) {
      const later = modalByDay[2]!.get(user);
      if (later === undefined) continue;
      compared++;
      if (later === country) same++;
    }
    expect(compared).toBeGreaterThan(500);
    expect(same / compared).toBeGreaterThan(0.95);
  });
});

describe('ListenGenerator: shape of the rows', () => {
  it('writes exactly `rows` lines, all valid, when corruptRate is 0', () => {
    const bytes = dayBytes(new ListenGenerator({ rows: 100_000, corruptRate: 0, seed: 5 }), DAY);
    expect(newlineCount(bytes)).toBe(100_000);
    expect(bytes[bytes.length - 1]).toBe(10);
    const parsed = parse(bytes);
    expect(parsed.lines).toBe(100_000);
    expect(parsed.rejected).toBe(0);
    expect(parsed.valid).toBe(100_000);
    // The independent reference parser agrees.
    expect(referenceRows(bytes).length).toBe(100_000);
  });

  it('keeps ids in range: users in 1..2^32, songs in 1..2^27, users within the configured count', () => {
    const generator = new ListenGenerator({ rows: 100_000, users: 5_000, corruptRate: 0, seed: 8 });
    expect(generator.users).toBe(5_000);
    const parsed = parse(dayBytes(generator, DAY));
    let minSong = Infinity;
    let maxSong = 0;
    let minUser = Infinity;
    let maxUser = 0;
    for (let i = 0; i < parsed.songs.length; i++) {
      minSong = Math.min(minSong, parsed.songs[i]!);
      maxSong = Math.max(maxSong, parsed.songs[i]!);
      minUser = Math.min(minUser, parsed.users[i]!);
      maxUser = Math.max(maxUser, parsed.users[i]!);
    }
    expect(minSong).toBeGreaterThanOrEqual(1);
    expect(maxSong).toBeLessThanOrEqual(2 ** 27);
    expect(minUser).toBeGreaterThanOrEqual(1);
    expect(maxUser).toBeLessThanOrEqual(2 ** 32);
    expect(new Set(parsed.users).size).toBeLessThanOrEqual(5_000);
    // Users are spread over 32 bits, not numbered 1..5000.
    expect(maxUser).toBeGreaterThan(2 ** 24);
  });

  it('defaults to rows / 10 users (at least 1,000) and 80M songs, and refuses more than 2^27 songs', () => {
    expect(new ListenGenerator({ rows: 50_000 }).users).toBe(5_000);
    expect(new ListenGenerator({ rows: 500 }).users).toBe(1_000);
    expect(new ListenGenerator({ rows: 10 }).songs).toBe(80_000_000);
    expect(() => new ListenGenerator({ rows: 10, songs: 2 ** 27 + 1 })).toThrow(RangeError);
    expect(() => new ListenGenerator({ rows: 10, songs: 2 ** 27 })).not.toThrow();
  });

  it('hands out chunks of at most 1 MB', () => {
    const sizes: number[] = [];
    new ListenGenerator({ rows: 200_000, seed: 2 }).generate(DAY, (chunk) => sizes.push(chunk.length));
    expect(sizes.length).toBeGreaterThan(2);
    for (const size of sizes) {
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThanOrEqual(1 << 20);
    }
  });

  it('writes nothing for rows = 0', () => {
    expect(dayBytes(new ListenGenerator({ rows: 0 }), DAY).length).toBe(0);
  });

  it('makes every row corrupt with corruptRate 1', () => {
    const bytes = dayBytes(new ListenGenerator({ rows: 5_000, corruptRate: 1, seed: 4 }), DAY);
    const parsed = parse(bytes);
    expect(parsed.lines).toBe(5_000);
    expect(parsed.valid).toBe(0);
    expect(parsed.rejected).toBe(5_000);
  });
});

/**
 * What each kind of corruption looks like (as the parser hands the line over, without its `\n`)
 * and the reject reason it must get. Every CORRUPTIONS entry must be listed here.
 */
const CORRUPTION_SHAPES: Record<(typeof CORRUPTIONS)[number], { pattern: RegExp; reason: RejectReason }> = {
  empty: { pattern: /^$/, reason: 'empty' },
  missing_field: { pattern: /^\d+\|\d+$/, reason: 'field_count' },
  extra_field: { pattern: /^\d+\|\d+\|US\|\d+$/, reason: 'field_count' },
  non_numeric: { pattern: /^\d+x\|\d+\|FR$/, reason: 'bad_id' },
  negative_id: { pattern: /^-\d+\|\d+\|DE$/, reason: 'bad_id' },
  huge_id: { pattern: /^\d+\|9007199254740992\d\|GB$/, reason: 'id_too_large' },
  lowercase_country: { pattern: /^\d+\|\d+\|us$/, reason: 'malformed_country' },
  unknown_country: { pattern: /^\d+\|\d+\|(UK|ZZ)$/, reason: 'unknown_country' },
  wrong_length_country: { pattern: /^\d+\|\d+\|(USA|F)$/, reason: 'malformed_country' },
  whitespace: { pattern: /^(\d+ 1\|\d+|\d+\|\d+\t0)\|BR$/, reason: 'bad_id' },
  non_ascii: { pattern: /^\d+\|\d+\|[\x80-\xff]{4}$/, reason: 'non_ascii' },
  long_line: { pattern: /^\d{1025,}$/, reason: 'line_too_long' },
  double_cr: { pattern: /^\d+\|\d+\|JP\r\r$/, reason: 'malformed_country' },
};

describe('ListenGenerator: blanks around fields and a header line', () => {
  const plain = dayBytes(new ListenGenerator({ rows: 50_000, seed: 5 }), DAY);

  it('leaves the default output as it was (nothing drawn for blanks unless asked)', () => {
    expect(
      sha(dayBytes(new ListenGenerator({ rows: 50_000, seed: 5, blankRate: 0, header: false }), DAY)),
    ).toBe(sha(plain));
  });

  it('writes the same rows with blanks and a header: all valid, the same ids', () => {
    const bytes = dayBytes(new ListenGenerator({ rows: 50_000, seed: 5, blankRate: 0.3, header: true }), DAY);
    const text = bytes.toString('latin1');
    expect(text.startsWith('sng_id|user_id|country\n')).toBe(true);
    const padded = text.split('\n').filter((l) => / \| /.test(l)).length;
    expect(padded).toBeGreaterThan(0.25 * 50_000);
    expect(padded).toBeLessThan(0.35 * 50_000);
    // The blank draws shift the random stream, so the rows differ from the plain day's; what
    // matters is that the padded ones are valid, as the reference reads them too: only the
    // generator's corrupt rows (0.1%) are rejected.
    const b = parse(bytes);
    expect(b.lines).toBe(50_000);
    expect(b.valid).toBe(referenceRows(bytes).length);
    expect(b.rejected / b.lines).toBeLessThan(0.005);
  });
});

describe('ListenGenerator: corrupt rows', () => {
  const rows = 200_000;
  const bytes = dayBytes(new ListenGenerator({ rows, corruptRate: 0.05, crlfRate: 0.02, seed: 11 }), DAY);
  const parsed = parse(bytes, true);

  it('still writes exactly one line per row', () => {
    expect(newlineCount(bytes)).toBe(rows);
    expect(parsed.lines).toBe(rows);
    expect(parsed.valid + parsed.rejected).toBe(rows);
  });

  it('rejects about corruptRate of the rows', () => {
    const share = parsed.rejected / rows;
    console.log(`corruptRate 0.05: rejected share ${(share * 100).toFixed(2)}%`);
    expect(share).toBeGreaterThan(0.045);
    expect(share).toBeLessThan(0.055);
    // The reference parser finds the same number of valid rows.
    expect(referenceRows(bytes).length).toBe(parsed.valid);
  });

  it('produces every kind of corruption, each rejected for its documented reason', () => {
    expect(Object.keys(CORRUPTION_SHAPES).sort()).toEqual([...CORRUPTIONS].sort());
    const seen = new Map<string, number>();
    const unrecognised: string[] = [];
    const wrongReason: string[] = [];
    for (const { reason, text } of parsed.rejectedLines) {
      const kinds = Object.entries(CORRUPTION_SHAPES).filter(([, shape]) => shape.pattern.test(text));
      if (kinds.length !== 1) {
        unrecognised.push(JSON.stringify(text.slice(0, 60)));
        continue;
      }
      const [kind, shape] = kinds[0]!;
      if (reason !== shape.reason) wrongReason.push(`${kind}: ${reason} instead of ${shape.reason}`);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
    }
    expect(unrecognised).toEqual([]);
    expect(wrongReason).toEqual([]);
    // Each of the 13 kinds is drawn about 1/13 of the time (~770 of 10,000 corrupt rows).
    for (const kind of CORRUPTIONS) expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(300);
  });

  it('covers every reject reason the parser knows', () => {
    const reachable = new Set(Object.values(CORRUPTION_SHAPES).map((s) => s.reason));
    expect([...reachable].sort()).toEqual([...REJECT_REASONS].sort());
    for (const reason of REJECT_REASONS) expect(parsed.byReason[reason], reason).toBeGreaterThan(0);
  });

  it('writes CRLF rows at about crlfRate of the valid rows, and they are valid', () => {
    const lines = bytes.toString('latin1').split('\n');
    const crlf = lines.filter((l) => /^\d+\|\d+\|[A-Z]{2}\r$/.test(l));
    const share = crlf.length / parsed.valid;
    expect(share).toBeGreaterThan(0.015);
    expect(share).toBeLessThan(0.025);
    const onlyCrlf = parse(Buffer.from(`${crlf.join('\n')}\n`, 'latin1'));
    expect(onlyCrlf.rejected).toBe(0);
    expect(onlyCrlf.valid).toBe(crlf.length);
  });
});

describe('ListenGenerator: realism', () => {
  it('uses all 249 country codes in 2M rows', () => {
    expect(COUNTRY_CODES.length).toBe(249);
    const seen = new Uint32Array(COUNTRY_CODES.length);
    const parser = new ListenParser({
      onBatch: (batch) => {
        for (let i = 0; i < batch.length; i++) seen[batch.countries[i]!]!++;
      },
    });
    new ListenGenerator({ rows: 2_000_000, corruptRate: 0, seed: 1 }).generate(DAY, (chunk) =>
      parser.push(chunk),
    );
    parser.end();
    expect(parser.valid).toBe(2_000_000);
    const missing = COUNTRY_CODES.filter((_, i) => seen[i] === 0);
    expect(missing).toEqual([]);
    // Skewed towards big markets: US alone takes far more than a uniform 1/249.
    const us = seen[COUNTRY_CODES.indexOf('US')]! / parser.valid;
    expect(us).toBeGreaterThan(0.1);
  });

  it('skews song popularity: the top 1% of songs played take a large share of the plays', () => {
    const parsed = parse(dayBytes(new ListenGenerator({ rows: 1_000_000, corruptRate: 0, seed: 6 }), DAY));
    const plays = new Map<number, number>();
    for (const song of parsed.songs) plays.set(song, (plays.get(song) ?? 0) + 1);
    const counts = [...plays.values()].sort((a, b) => b - a);
    const top = counts.slice(0, Math.ceil(counts.length / 100)).reduce((a, b) => a + b, 0);
    const share = top / parsed.songs.length;
    console.log(
      `1M rows: ${plays.size.toLocaleString('en-US')} distinct songs, top 1% take ${(share * 100).toFixed(1)}%`,
    );
    // Uniform popularity over 80M songs would give the top 1% about 1% of the plays.
    expect(share).toBeGreaterThan(0.15);
    expect(counts[0]!).toBeGreaterThan(100);
  });

  it('spreads song ids sparsely over 1..2^27 even for a small catalogue', () => {
    const parsed = parse(
      dayBytes(new ListenGenerator({ rows: 200_000, songs: 1_000, corruptRate: 0, seed: 9 }), DAY),
    );
    const distinct = new Set(parsed.songs);
    let max = 0;
    for (const song of distinct) max = Math.max(max, song);
    expect(distinct.size).toBeLessThanOrEqual(1_000);
    expect(distinct.size).toBeGreaterThan(500);
    // Not 1..1000: the ids are a permutation of the rank over 27 bits.
    expect(max).toBeGreaterThan(1_000_000);
    expect(max).toBeGreaterThan(100 * distinct.size);
  });

  it('gives users repeats over a week (favourite songs), so per-user charts have counts > 1', () => {
    const generator = new ListenGenerator({ rows: 100_000, corruptRate: 0, seed: 12 });
    const perUser = new Map<number, Map<number, number>>();
    for (let d = 0; d < 7; d++) {
      const parsed = parse(dayBytes(generator, DAY + d));
      for (let i = 0; i < parsed.users.length; i++) {
        let songs = perUser.get(parsed.users[i]!);
        if (!songs) perUser.set(parsed.users[i]!, (songs = new Map()));
        songs.set(parsed.songs[i]!, (songs.get(parsed.songs[i]!) ?? 0) + 1);
      }
    }
    let active = 0;
    let withRepeats = 0;
    for (const songs of perUser.values()) {
      const counts = [...songs.values()];
      if (counts.reduce((a, b) => a + b, 0) < 2) continue;
      active++;
      if (counts.some((n) => n >= 2)) withRepeats++;
    }
    console.log(`7 days x 100k rows: ${withRepeats}/${active} active users repeat a song`);
    expect(active).toBeGreaterThan(1000);
    expect(withRepeats / active).toBeGreaterThan(0.5);
  });
});

describe('ListenGenerator: speed', () => {
  it('generates 3M rows at >= 1.5M rows/s (target 3M rows/s)', () => {
    const generator = new ListenGenerator({ rows: 3_000_000, seed: 1 });
    new ListenGenerator({ rows: 300_000 }).generate(DAY, () => {}); // warm-up
    // Best of up to three runs. The machine is shared: the wall-clock rate is printed, and the
    // rate per second of CPU time (which other processes do not inflate) is the one asserted.
    let best = 0;
    let bytes = 0;
    for (let attempt = 0; attempt < 3 && best < 3_000_000; attempt++) {
      bytes = 0;
      const cpu = process.cpuUsage();
      const started = performance.now();
      generator.generate(DAY, (chunk) => {
        bytes += chunk.length;
      });
      const wallMs = performance.now() - started;
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000;
      const rate = 3_000_000 / (Math.max(cpuMs, 1) / 1000);
      best = Math.max(best, rate);
      console.log(
        `generated 3M rows (${(bytes / 1e6).toFixed(0)} MB) in ${wallMs.toFixed(0)} ms wall, ` +
          `${cpuMs.toFixed(0)} ms CPU: ${(3_000_000 / wallMs / 1e3).toFixed(2)}M rows/s wall, ` +
          `${(rate / 1e6).toFixed(2)}M rows/s CPU`,
      );
    }
    expect(bytes).toBeGreaterThan(3_000_000 * 10);
    expect(best).toBeGreaterThanOrEqual(1_500_000);
  });
});

describe('writeDay and generateLogs', () => {
  it('writeDay writes listen-YYYYMMDD.log with the bytes of generate(), and no temporary file', () => {
    const dir = tempDir();
    const generator = new ListenGenerator({ rows: 30_000, seed: 21 });
    const path = generator.writeDay(dir, DAY + 4);
    expect(path).toBe(join(dir, 'listen-20240105.log'));
    expect(readdirSync(dir)).toEqual(['listen-20240105.log']);
    expect(sha(readFileSync(path))).toBe(
      sha(dayBytes(new ListenGenerator({ rows: 30_000, seed: 21 }), DAY + 4)),
    );
  });

  it('generateLogs writes `days` consecutive files with `rows` lines each and reports them', () => {
    const dir = join(tempDir(), 'nested', 'logs');
    const start = parseDay('2024-02-27')!;
    const seenFiles: string[] = [];
    const summary = generateLogs({
      dir,
      start,
      days: 4,
      rows: 7_777,
      seed: 5,
      corruptRate: 0.01,
      onFile: (p) => seenFiles.push(p),
    });
    const expectedNames = [
      'listen-20240227.log',
      'listen-20240228.log',
      'listen-20240229.log',
      'listen-20240301.log',
    ];
    expect(readdirSync(dir).sort()).toEqual(expectedNames);
    expect(summary.files).toEqual(expectedNames.map((n) => join(dir, n)));
    expect(seenFiles).toEqual(summary.files);
    expect(summary).toMatchObject({
      dir,
      days: 4,
      rowsPerDay: 7_777,
      users: 1_000,
      songs: 80_000_000,
      seed: 5,
    });
    expect(summary.rowsPerSecond).toBeGreaterThan(0);
    for (const [i, file] of summary.files.entries()) {
      const bytes = readFileSync(file);
      expect(newlineCount(bytes), file).toBe(7_777);
      // Same bytes as the generator on its own for that day.
      const generator = new ListenGenerator({ rows: 7_777, seed: 5, corruptRate: 0.01 });
      expect(sha(bytes)).toBe(sha(dayBytes(generator, start + i)));
      expect(file.endsWith(`listen-${compactDay(start + i)}.log`)).toBe(true);
    }
  });

  it('generateLogs is deterministic across runs and sensitive to the seed', () => {
    const a = tempDir();
    const b = tempDir();
    const c = tempDir();
    generateLogs({ dir: a, start: DAY, days: 2, rows: 5_000 });
    generateLogs({ dir: b, start: DAY, days: 2, rows: 5_000, seed: 1 });
    generateLogs({ dir: c, start: DAY, days: 2, rows: 5_000, seed: 2 });
    for (const name of readdirSync(a)) {
      const bytesA = readFileSync(join(a, name));
      expect(sha(readFileSync(join(b, name)))).toBe(sha(bytesA));
      expect(sha(readFileSync(join(c, name)))).not.toBe(sha(bytesA));
    }
  });
});
