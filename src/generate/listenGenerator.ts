import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compactDay } from '../ops/dates.js';
import { writeAllSync } from '../ops/fileIo.js';
import { COUNTRY_CODES } from '../parse/countries.js';
import { COUNTRY_TABLE_BITS, countryTable } from './countryMix.js';
import { writeThroughTempSync } from './fileOutput.js';
import { mix32, permute, Random } from './random.js';

export interface ListenGeneratorOptions {
  /** Valid-looking rows per day (corrupt rows are part of this count). */
  rows: number;
  /** Number of distinct users (default: rows / 10, at least 1,000). */
  users?: number;
  /** Songs in the catalogue (default 80 million), spread over ids 1..2^27. */
  songs?: number;
  /** Fraction of rows that are corrupt, 0..1 (default 0.001). */
  corruptRate?: number;
  /** Fraction of valid rows ending in \r\n (default 0.01). */
  crlfRate?: number;
  /**
   * Fraction of valid rows written with blanks around their fields, as the public sample of the
   * exercise is (`29569957 | 7788196 | BL`); valid rows all the same (default 0).
   */
  blankRate?: number;
  /** Start each day with the header line `sng_id|user_id|country` (default false). */
  header?: boolean;
  /** Kinds of corrupt rows to write (default: all of CORRUPTIONS). */
  corruptKinds?: readonly Corruption[];
  seed?: number;
}

/** The kinds of corrupt rows the generator writes, in the order of `--corrupt-kinds`. */
export const CORRUPTIONS = [
  'empty',
  'missing_field',
  'extra_field',
  'non_numeric',
  'negative_id',
  'huge_id',
  'lowercase_country',
  'unknown_country',
  'wrong_length_country',
  'whitespace',
  'non_ascii',
  'long_line',
  'double_cr',
] as const;

export type Corruption = (typeof CORRUPTIONS)[number];

/**
 * Song popularity is Zipf-like with exponent 0.9: rank = (u * ((N + 1)^0.1 - 1) + 1)^10 - 1 is
 * the inverse of its continuous CDF. The power 10 is done by multiplications (Math.pow was a
 * third of the generator's time).
 */
const SONG_EXPONENT = 0.9;
/** Share of a user's plays that go to their personal favourites. */
const FAVOURITE_SHARE = 0.35;
/** Share of plays away from the user's home country. */
const TRAVEL_SHARE = 0.03;

/** The users of a generated data set that names none: a tenth of a day's rows, at least 1,000. */
export function defaultUsers(rowsPerDay: number): number {
  return Math.max(1000, Math.floor(rowsPerDay / 10));
}

/**
 * Deterministic synthetic listen logs: for a seed and a day the bytes are always the same, and a
 * user's home country and favourites are the same on every day. Writes straight into a byte
 * buffer (no strings per row), which is what makes millions of rows a second possible.
 */
const HEADER_LINE = Buffer.from('sng_id|user_id|country\n');

export class ListenGenerator {
  readonly users: number;
  readonly songs: number;
  private readonly corruptRate: number;
  private readonly crlfRate: number;
  private readonly blankRate: number;
  private readonly seed: number;
  private readonly corruptKinds: readonly Corruption[];
  private readonly countryTable: Uint8Array;
  private readonly songScale: number;

  constructor(readonly options: ListenGeneratorOptions) {
    this.users = options.users ?? defaultUsers(options.rows);
    this.songs = options.songs ?? 80_000_000;
    if (this.songs > 2 ** 27) throw new RangeError('songs must be at most 2^27');
    this.corruptRate = options.corruptRate ?? 0.001;
    this.crlfRate = options.crlfRate ?? 0.01;
    this.blankRate = options.blankRate ?? 0;
    this.seed = options.seed ?? 1;
    this.corruptKinds = options.corruptKinds ?? CORRUPTIONS;
    if (this.corruptKinds.length === 0) throw new RangeError('corruptKinds must not be empty');
    this.countryTable = countryTable();
    this.songScale = (this.songs + 1) ** (1 - SONG_EXPONENT) - 1;
  }

  /** Write the log of `day` into `dir` (through a temporary name); returns its path. */
  writeDay(dir: string, day: number): string {
    const path = join(dir, `listen-${compactDay(day)}.log`);
    writeThroughTempSync(path, (fd) => this.generate(day, (bytes) => writeAllSync(fd, bytes)));
    return path;
  }

  /** Generate the day's rows, handing them out in chunks of about 1 MB. */
  generate(day: number, onChunk: (bytes: Uint8Array) => void): void {
    const random = new Random(this.seed, day, 0x11571);
    const out = new Uint8Array(1 << 20);
    const limit = out.length - 4096;
    let pos = 0;
    if (this.options.header) for (const c of HEADER_LINE) out[pos++] = c;
    for (let row = 0; row < this.options.rows; row++) {
      if (pos > limit) {
        onChunk(out.subarray(0, pos));
        pos = 0;
      }
      if (this.corruptRate > 0 && random.next() < this.corruptRate) {
        pos = this.writeCorrupt(out, pos, random);
        continue;
      }
      // Users' activity: rank = users * u^1.5, a heavy tail of very active users.
      const a = random.next();
      const userRank = Math.floor(this.users * a * Math.sqrt(a));
      const user = this.userId(userRank);
      const userHash = mix32(userRank ^ mix32(this.seed));
      let song: number;
      if (random.next() < FAVOURITE_SHARE) {
        const favourites = 5 + (userHash % 20);
        const pick = random.below(favourites);
        song = this.songId(this.songRankFromUniform(mix32(userHash + pick * 0x9e3779b9) / 4294967296));
      } else song = this.songId(this.songRankFromUniform(random.next()));
      const country =
        random.next() < TRAVEL_SHARE
          ? this.countryTable[random.uint32() >>> (32 - COUNTRY_TABLE_BITS)]!
          : this.countryTable[userHash >>> (32 - COUNTRY_TABLE_BITS)]!;
      // Drawn only when asked for, so that the default output stays what it always was.
      const blanks = this.blankRate > 0 && random.next() < this.blankRate;
      pos = writeNumber(out, pos, song);
      if (blanks) out[pos++] = 32;
      out[pos++] = 124;
      if (blanks) out[pos++] = 32;
      pos = writeNumber(out, pos, user);
      if (blanks) out[pos++] = 9;
      out[pos++] = 124;
      if (blanks) out[pos++] = 32;
      const code = COUNTRY_CODES[country]!;
      out[pos++] = code.charCodeAt(0);
      out[pos++] = code.charCodeAt(1);
      if (blanks) out[pos++] = 32;
      if (this.crlfRate > 0 && random.next() < this.crlfRate) out[pos++] = 13;
      out[pos++] = 10;
    }
    if (pos > 0) onChunk(out.subarray(0, pos));
  }

  /** User ids: a fixed permutation of the rank over 32 bits, plus one (a few land above 2^32 - 1). */
  userId(rank: number): number {
    return permute(rank, 32, this.seed) + 1;
  }

  /** Song ids: a permutation of the popularity rank over 27 bits, so 80M songs are sparse in 134M ids. */
  songId(rank: number): number {
    return permute(rank, 27, mix32(this.seed + 7)) + 1;
  }

  private songRankFromUniform(u: number): number {
    const x = u * this.songScale + 1;
    const x2 = x * x;
    const x5 = x2 * x2 * x;
    const rank = Math.floor(x5 * x5) - 1;
    return rank < this.songs ? rank : this.songs - 1;
  }

  private writeCorrupt(out: Uint8Array, pos: number, random: Random): number {
    const song = this.songId(this.songRankFromUniform(random.next()));
    const user = this.userId(random.below(this.users));
    const kind = this.corruptKinds[random.below(this.corruptKinds.length)]!;
    const text = (s: string): number => {
      for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i) & 0xff;
      return pos;
    };
    switch (kind) {
      case 'empty':
        break;
      case 'missing_field':
        text(`${song}|${user}`);
        break;
      case 'extra_field':
        text(`${song}|${user}|US|${random.below(100)}`);
        break;
      case 'non_numeric':
        text(`${song}x|${user}|FR`);
        break;
      case 'negative_id':
        text(`-${song}|${user}|DE`);
        break;
      case 'huge_id':
        text(`${song}|9007199254740992${random.below(10)}|GB`);
        break;
      case 'lowercase_country':
        text(`${song}|${user}|us`);
        break;
      case 'unknown_country':
        text(`${song}|${user}|${random.next() < 0.5 ? 'UK' : 'ZZ'}`);
        break;
      case 'wrong_length_country':
        text(`${song}|${user}|${random.next() < 0.5 ? 'USA' : 'F'}`);
        break;
      case 'whitespace':
        // A blank inside an id: blanks around a field are allowed, inside one they are not.
        text(random.next() < 0.5 ? `${song} 1|${user}|BR` : `${song}|${user}\t0|BR`);
        break;
      case 'non_ascii':
        text(`${song}|${user}|`);
        for (let i = 0; i < 4; i++) out[pos++] = 0x80 + random.below(0x80);
        break;
      case 'long_line':
        for (let i = 0, n = 1100 + random.below(1000); i < n; i++) out[pos++] = 48 + (i % 10);
        break;
      case 'double_cr':
        text(`${song}|${user}|JP\r\r`);
        break;
    }
    out[pos++] = 10;
    return pos;
  }
}

function writeNumber(out: Uint8Array, pos: number, value: number): number {
  // Ids here are below 2^33; split so that the digit loop works on small integers.
  if (value >= 1e9) {
    const high = Math.floor(value / 1e9);
    pos = writeSmall(out, pos, high);
    let low = value - high * 1e9;
    for (let i = pos + 8; i >= pos; i--) {
      const q = (low / 10) | 0;
      out[i] = 48 + low - q * 10;
      low = q;
    }
    return pos + 9;
  }
  return writeSmall(out, pos, value);
}

/** Decimal digits of 0 <= value < 1e9. */
function writeSmall(out: Uint8Array, pos: number, value: number): number {
  const digits =
    value < 1e4
      ? value < 10
        ? 1
        : value < 100
          ? 2
          : value < 1000
            ? 3
            : 4
      : value < 1e6
        ? value < 1e5
          ? 5
          : 6
        : value < 1e7
          ? 7
          : value < 1e8
            ? 8
            : 9;
  let v = value;
  for (let i = pos + digits - 1; i > pos; i--) {
    const q = (v / 10) | 0;
    out[i] = 48 + v - q * 10;
    v = q;
  }
  out[pos] = 48 + v;
  return pos + digits;
}

export interface GenerateSummary {
  dir: string;
  files: string[];
  days: number;
  rowsPerDay: number;
  users: number;
  songs: number;
  seed: number;
  elapsedMs: number;
  rowsPerSecond: number;
}

/** Generate `days` daily logs into `dir`; the same options always give the same bytes. */
export function generateLogs(
  options: ListenGeneratorOptions & {
    dir: string;
    /** First day (UTC day number). */
    start: number;
    days: number;
    onFile?: (path: string) => void;
  },
): GenerateSummary {
  const started = Date.now();
  mkdirSync(options.dir, { recursive: true });
  const generator = new ListenGenerator(options);
  const files: string[] = [];
  for (let i = 0; i < options.days; i++) {
    const path = generator.writeDay(options.dir, options.start + i);
    files.push(path);
    options.onFile?.(path);
  }
  const elapsedMs = Date.now() - started;
  return {
    dir: options.dir,
    files,
    days: options.days,
    rowsPerDay: options.rows,
    users: generator.users,
    songs: generator.songs,
    seed: options.seed ?? 1,
    elapsedMs,
    rowsPerSecond: Math.round((options.days * options.rows) / Math.max(0.001, elapsedMs / 1000)),
  };
}
