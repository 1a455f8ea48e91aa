import { closeSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempPathFor } from '../ops/atomicFile.js';
import { compactDay, isoDay } from '../ops/dates.js';
import { writeAllSync } from '../ops/fileIo.js';
import { writeWholeFileSync } from './fileOutput.js';
import { buildCatalogue, type Catalogue, TRACK_ID_LENGTH } from './kpiDataset/catalogue.js';
import { SPOTIFY_GENRES } from './kpiDataset/spotifyGenres.js';
import { DAY_MS } from './kpiDataset/times.js';
import { buildUsers, type Users } from './kpiDataset/users.js';
import { mix32, Random } from './random.js';
import { slotTable } from './weightedTables.js';

export { SONG_COLUMNS } from './kpiDataset/catalogue.js';
export { SPOTIFY_GENRES } from './kpiDataset/spotifyGenres.js';
export { USER_COLUMNS, USERS_FILE_COLUMNS } from './kpiDataset/users.js';
export { TRICKY_TRACK_NAMES } from './kpiDataset/words.js';

/**
 * Synthetic landing folder for the daily genre KPIs (issue 4): `songs/tracks.csv` in the shape of
 * the public Spotify tracks dataset, `users/users.csv`, and several `streams/` batches a day, with
 * counted dirt. Deterministic: the same options always give the same bytes.
 */

/** The columns of streams/*.csv, in the documented order. */
export const STREAM_COLUMNS: readonly string[] = ['user_id', 'track_id', 'listen_time'];
/** The order of the one streams file written with its columns moved (the last day's `-01`). */
export const REORDERED_STREAM_COLUMNS: readonly string[] = ['listen_time', 'user_id', 'track_id'];

/**
 * The kinds of dirty stream rows, drawn with equal chances at `dirtRate` of the rows:
 * - `duplicate_in_file`: a copy of one of the last 256 clean rows of the same file;
 * - `duplicate_across_files`: a copy of a clean row from the tail of an earlier file of the same
 *   day (a batch re-sent in part);
 * - `bad_timestamp`: listen_time `yesterday`, `YYYY-13-45T00:00:00Z` or empty;
 * - `empty_user_id`, `empty_track_id`: that field empty;
 * - `unknown_track`: a well-formed track_id that songs/ does not list (one of 64);
 * - `unknown_user`: a well-formed user_id that users/ does not list (one of 64);
 * - `quoted_fields`: a valid row with some fields in double quotes (`"u123456"`).
 * A duplicate copies a row that exists (in a file's first row there is none: it falls back to a
 * duplicate within the file, then to quoted fields), so the counts are exactly what was written.
 */
export const STREAM_DIRT = [
  'duplicate_in_file',
  'duplicate_across_files',
  'bad_timestamp',
  'empty_user_id',
  'empty_track_id',
  'unknown_track',
  'unknown_user',
  'quoted_fields',
] as const;
export type StreamDirt = (typeof STREAM_DIRT)[number];

export interface KpiDatasetOptions {
  /** The landing folder: songs/, users/ and streams/ are made in it. */
  dir: string;
  /** First day (UTC day number, see ops/dates.ts). */
  start: number;
  days: number;
  /** Stream rows per day over all its files, dirt included. */
  streamsPerDay: number;
  /** Streams files (batches) per day, 1..99 (default 3). */
  filesPerDay?: number;
  /** Distinct tracks, at least 114 (default 20,000); about 5% more rows list one under a second genre. */
  songs?: number;
  /** Users (default 50,000). */
  users?: number;
  /** Fraction of dirty stream rows, 0..1 (default 0.01). */
  dirtRate?: number;
  seed?: number;
  /** Also write `streams/streams-<start>-bad.csv` (no listen_time column) and `streams/not-a-csv.csv`. */
  bad?: boolean;
  /** Called with each file's path once it is in place. */
  onFile?: (path: string) => void;
}

export interface KpiDatasetSummary {
  dir: string;
  /** First day, YYYY-MM-DD. */
  start: string;
  days: number;
  seed: number;
  files: { songs: string[]; users: string[]; streams: string[]; bad: string[] };
  /** Files written with \r\n line endings: one per dataset. */
  crlfFiles: string[];
  /** Files whose columns are not in the documented order: users.csv and one streams file. */
  reorderedFiles: string[];
  songs: {
    /** Distinct track_ids. */
    tracks: number;
    /** Data rows of tracks.csv: tracks plus second-genre rows. */
    rows: number;
    genres: number;
    /** Tracks listed twice, under two genres (same track_id and values, another track_genre). */
    tracksUnderTwoGenres: number;
    /** Rows with empty artists, album_name and track_name, as the real dataset has one. */
    rowsWithoutNames: number;
  };
  users: {
    rows: number;
    /** user_id is `u` followed by this many digits (users not in users/ have one digit more). */
    idDigits: number;
  };
  streams: {
    /** Data rows over every streams file (the bad files excepted). */
    rows: number;
    rowsPerDay: number;
    filesPerDay: number;
    /** Rows with no dirt at all. */
    clean: number;
    /**
     * listen_time formats of the rows with a valid one: `utc` 2024-01-01T13:45:12Z, `millis`
     * 2024-01-01T13:45:12.345Z, `noOffset` 2024-01-01 13:45:12 (UTC), `offset` 2024-01-01T23:30:00-05:00.
     */
    timestamps: { utc: number; millis: number; noOffset: number; offset: number };
    /** Rows with a valid listen_time on the UTC day before, or after, the day of their file. */
    utcDayBefore: number;
    utcDayAfter: number;
    /**
     * Rows written after MAX_DRAWS draws all found their (user, track, UTC second) taken, which
     * happens only when songs and users are far too few for the rows asked (0 otherwise): they
     * may repeat a key beyond the duplicates counted in `dirt`.
     */
    forcedRepeats: number;
  };
  /** Rows written per kind of dirt. */
  dirt: Record<StreamDirt, number>;
  /** The bad_timestamp rows by text: `yesterday`, `YYYY-13-45T00:00:00Z`, empty. */
  badTimestamps: { yesterday: number; invalidDate: number; empty: number };
  elapsedMs: number;
  /** Stream rows per second of wall time, everything included. */
  rowsPerSecond: number;
}

// ---------------------------------------------------------------------------------------------
// Streams (streams/streams-YYYYMMDD-NN.csv)

/** Share of a user's plays that go to their favourite tracks. */
const FAVOURITE_SHARE = 0.3;
/** Listen time formats, by cumulative share (the rest is written with the user's UTC offset). */
const LATE_SHARE = 0.003; // Z, in the last hour of the day before: a late arrival
const UTC_SHARE = 0.8;
const NO_OFFSET_SHARE = 0.87;
const MILLIS_SHARE = 0.92;
const FORMAT_UTC = 0;
const FORMAT_NO_OFFSET = 1;
const FORMAT_MILLIS = 2;
const FORMAT_OFFSET = 3;
/** Clean rows remembered per file (for duplicates within it) and per day (across its files). */
const RING = 256;
const POOL = 4096;
/**
 * Bits per row of a day in the sets of keys taken (see StreamsWriter.taken): a small set stays in
 * cache, and the rows drawn again for a false positive (about 1 in 5) cost less than cache misses.
 */
const BITS_PER_ROW = 4;
/** Draws of a row before one whose (user, track, second) is taken is written anyway. */
const MAX_DRAWS = 16;

/** 2^12 slots (small enough to stay in cache) mapping a uniform draw to a minute of the day: quiet at 4-5 am, busiest in the evening. */
let minuteTable: Uint16Array | undefined;
function minutes(): Uint16Array {
  if (!minuteTable) {
    const weights: number[] = [];
    for (let m = 0; m < 1440; m++) {
      const h = m / 60;
      weights.push(
        0.1 +
          0.45 * (0.5 - 0.5 * Math.cos((2 * Math.PI * (h - 4.5)) / 24)) +
          Math.exp(-(((h - 20) / 3) ** 2)),
      );
    }
    minuteTable = slotTable(weights, 12, Uint16Array);
  }
  return minuteTable;
}

interface KeyBits {
  bits: Int32Array;
  used: number;
}

interface StreamFile {
  path: string;
  day: number;
  rows: number;
  reordered: boolean;
  crlf: boolean;
  random: Random;
}

/** Rows remembered for duplicates: the fields of clean rows, in typed arrays. */
class RowStore {
  readonly user: Int32Array;
  readonly track: Int32Array;
  readonly ms: Float64Array;
  readonly format: Uint8Array;
  readonly offset: Int16Array;
  size = 0;
  private next = 0;

  constructor(readonly capacity: number) {
    this.user = new Int32Array(capacity);
    this.track = new Int32Array(capacity);
    this.ms = new Float64Array(capacity);
    this.format = new Uint8Array(capacity);
    this.offset = new Int16Array(capacity);
  }

  /** Keep a row, over the oldest (ring) or over slot `at` when full (pool). */
  add(user: number, track: number, ms: number, format: number, offset: number, at = this.next): void {
    const i = this.size < this.capacity ? this.size++ : at % this.capacity;
    this.user[i] = user;
    this.track[i] = track;
    this.ms[i] = ms;
    this.format[i] = format;
    this.offset[i] = offset;
    this.next = (i + 1) % this.capacity;
  }

  clear(): void {
    this.size = 0;
    this.next = 0;
  }
}

/**
 * Writes the streams files. Rows go straight into a byte buffer flushed in 1 MB writes. Every row
 * that is not a planned duplicate takes its (user, track, UTC second) in a hash set per UTC day,
 * and is drawn again when that key is taken, so that the only repeats are the dirt counted.
 */
class StreamsWriter {
  readonly dirt: Record<StreamDirt, number> = Object.fromEntries(STREAM_DIRT.map((k) => [k, 0])) as Record<
    StreamDirt,
    number
  >;
  readonly badTimestamps = { yesterday: 0, invalidDate: 0, empty: 0 };
  /** Rows per listen_time format (FORMAT_*). */
  readonly formats = new Float64Array(4);
  rows = 0;
  clean = 0;
  utcDayBefore = 0;
  utcDayAfter = 0;
  forcedRepeats = 0;

  private readonly out = new Uint8Array(1 << 20);
  private readonly limit = this.out.length - 1024;
  private pos = 0;
  private fd = -1;
  private readonly minutes = minutes();
  private readonly seedHash: number;
  private readonly ring = new RowStore(RING);
  private readonly pool = new RowStore(POOL);
  /**
   * Keys taken, per UTC day: one bit per hash of a key (a bitset of 4 to 8 bits per row). A key
   * equal to a taken one always finds its bit set; a different key finds it set up to a fifth of
   * the time, and is only drawn again.
   */
  private readonly taken = new Map<number, KeyBits>();
  private readonly keyBits: number;
  private readonly keyLimit: number;
  private takenDay = Number.NaN;
  private takenBits: KeyBits = { bits: new Int32Array(1), used: 0 };
  private dateDay = Number.NaN;
  private dateBytes: Uint8Array = new Uint8Array(10);
  /** `YYYY-MM-DD` per day number, as bytes. */
  private readonly dates = new Map<number, Uint8Array>();

  // The row being written: a user index (or -1: `userText`), a track index (or -1: `trackText`).
  private user = 0;
  private track = 0;
  private userText = '';
  private trackText = '';
  private ms = 0;
  private format = 0;
  private offset = 0;
  /** listen_time as text instead of ms/format/offset (bad timestamps), when not undefined. */
  private timeText: string | undefined;
  private quote = 0;
  private fileDay = 0;
  private reordered = false;
  private crlf = false;

  constructor(
    private readonly catalogue: Catalogue,
    private readonly users: Users,
    private readonly dirtRate: number,
    rowsPerDay: number,
    seed: number,
  ) {
    this.seedHash = mix32(seed ^ 0x2545f491);
    this.keyBits = Math.min(30, Math.max(16, Math.ceil(Math.log2(rowsPerDay * BITS_PER_ROW + 1))));
    this.keyLimit = 2 ** (this.keyBits - 1);
  }

  /** Start a day: forget rows of other days' files and keys of UTC days no later row can have. */
  startDay(day: number): void {
    this.pool.clear();
    for (const utcDay of [...this.taken.keys()]) if (utcDay < day - 1) this.taken.delete(utcDay);
    this.takenDay = Number.NaN;
  }

  writeFile(file: StreamFile): void {
    this.fileDay = file.day;
    this.reordered = file.reordered;
    this.crlf = file.crlf;
    this.ring.clear();
    const temp = tempPathFor(file.path);
    this.fd = openSync(temp, 'w');
    try {
      this.pos = 0;
      this.ascii((file.reordered ? REORDERED_STREAM_COLUMNS : STREAM_COLUMNS).join(','));
      this.endLine();
      const random = file.random;
      for (let row = 0; row < file.rows; row++) {
        if (this.pos > this.limit) this.flush();
        if (this.dirtRate > 0 && random.next() < this.dirtRate) this.dirtyRow(random);
        else {
          this.draw(random, -1, -1, -1);
          this.writeRow();
          this.clean++;
          this.ring.add(this.user, this.track, this.ms, this.format, this.offset);
        }
      }
      this.rows += file.rows;
      this.flush();
      closeSync(this.fd);
    } catch (error) {
      closeSync(this.fd);
      rmSync(temp, { force: true });
      throw error;
    }
    renameSync(temp, file.path);
    // The tail of this file may be sent again in the day's later files.
    for (let i = 0; i < this.ring.size; i++) {
      this.pool.add(
        this.ring.user[i]!,
        this.ring.track[i]!,
        this.ring.ms[i]!,
        this.ring.format[i]!,
        this.ring.offset[i]!,
        file.random.below(POOL),
      );
    }
  }

  private dirtyRow(random: Random): void {
    let kind = STREAM_DIRT[random.below(STREAM_DIRT.length)]!;
    if (kind === 'duplicate_across_files' && this.pool.size === 0) kind = 'duplicate_in_file';
    if (kind === 'duplicate_in_file' && this.ring.size === 0) kind = 'quoted_fields';
    this.dirt[kind]++;
    switch (kind) {
      case 'duplicate_in_file':
      case 'duplicate_across_files': {
        const store = kind === 'duplicate_in_file' ? this.ring : this.pool;
        const i = random.below(store.size);
        this.user = store.user[i]!;
        this.track = store.track[i]!;
        this.ms = store.ms[i]!;
        this.format = store.format[i]!;
        this.offset = store.offset[i]!;
        this.timeText = undefined;
        this.quote = 0;
        break;
      }
      case 'bad_timestamp': {
        const variant = random.below(3);
        this.draw(random, -1, -1, variant);
        this.timeText =
          variant === 0
            ? 'yesterday'
            : variant === 1
              ? `${isoDay(this.fileDay).slice(0, 4)}-13-45T00:00:00Z`
              : '';
        if (variant === 0) this.badTimestamps.yesterday++;
        else if (variant === 1) this.badTimestamps.invalidDate++;
        else this.badTimestamps.empty++;
        break;
      }
      case 'empty_user_id':
        this.draw(random, 0x7ffffff0, -1, -1);
        this.user = -1;
        this.userText = '';
        break;
      case 'empty_track_id':
        this.draw(random, -1, 0x7ffffff0, -1);
        this.track = -1;
        this.trackText = '';
        break;
      case 'unknown_user': {
        const j = random.below(this.users.unknownIds.length);
        this.draw(random, this.users.count + j, -1, -1);
        this.user = -1;
        this.userText = this.users.unknownIds[j]!;
        break;
      }
      case 'unknown_track': {
        const j = random.below(this.catalogue.unknownIds.length);
        this.draw(random, -1, this.catalogue.ids.length + j, -1);
        this.track = -1;
        this.trackText = this.catalogue.unknownIds[j]!;
        break;
      }
      case 'quoted_fields':
        this.draw(random, -1, -1, -1);
        this.quote = 1 + random.below(7);
        break;
    }
    this.writeRow();
  }

  /**
   * Draw the row's user, track and listen time, again while its key is taken. `userKey` and
   * `trackKey` fix the key of a user or track not drawn (>= 0); `badTime` (>= 0) stands for the
   * listen time of a bad-timestamp row, whose user and track are drawn again instead.
   */
  private draw(random: Random, userKey: number, trackKey: number, badTime: number): void {
    for (let attempt = 1; ; attempt++) {
      const a = random.next();
      const user = Math.floor(this.users.count * a * Math.sqrt(a));
      const userHash = mix32(user ^ this.seedHash);
      if (random.next() < FAVOURITE_SHARE) {
        // A user's favourites: 3 to 10 tracks drawn from the popularity by a hash of the user.
        const j = random.below(3 + (userHash & 7));
        const h = mix32(userHash + Math.imul(j + 1, 0x9e3779b9));
        this.track = this.sampleTrack(h / 4294967296, mix32(h ^ 0x5bd1e995) / 4294967296);
      } else this.track = this.sampleTrack(random.next(), random.next());
      this.user = user;
      this.timeText = undefined;
      this.quote = 0;
      let utcDay: number;
      let second: number;
      if (badTime >= 0) {
        utcDay = this.fileDay;
        second = 100_000 + badTime;
      } else {
        const f = random.next();
        if (f < LATE_SHARE) {
          this.format = FORMAT_UTC;
          this.offset = 0;
          this.ms = this.fileDay * DAY_MS - (1 + random.below(3600)) * 1000;
        } else {
          this.format =
            f < UTC_SHARE
              ? FORMAT_UTC
              : f < NO_OFFSET_SHARE
                ? FORMAT_NO_OFFSET
                : f < MILLIS_SHARE
                  ? FORMAT_MILLIS
                  : FORMAT_OFFSET;
          this.offset = this.format === FORMAT_OFFSET ? this.users.offsets[user]! : 0;
          // The local time of day; with an offset the UTC instant may be on the day before or after.
          const minute = this.minutes[random.uint32() >>> 20]!;
          this.ms = this.fileDay * DAY_MS + (minute * 60 + random.below(60)) * 1000;
          if (this.format === FORMAT_MILLIS) this.ms += random.below(1000);
        }
        const utcMs = this.ms - this.offset * 60_000;
        utcDay = Math.floor(utcMs / DAY_MS);
        second = Math.floor((utcMs - utcDay * DAY_MS) / 1000);
      }
      if (this.claim(utcDay, second, userKey >= 0 ? userKey : user, trackKey >= 0 ? trackKey : this.track))
        return;
      if (attempt === MAX_DRAWS) {
        this.forcedRepeats++;
        return;
      }
    }
  }

  private sampleTrack(u1: number, u2: number): number {
    const slot = Math.floor(u1 * this.catalogue.prob.length);
    return u2 < this.catalogue.prob[slot]! ? slot : this.catalogue.alias[slot]!;
  }

  /** Take the key (user, track, second of a UTC day); false when it was taken already. */
  private claim(utcDay: number, second: number, user: number, track: number): boolean {
    let table = this.takenBits;
    if (utcDay !== this.takenDay) {
      let found = this.taken.get(utcDay);
      if (!found)
        this.taken.set(utcDay, (found = { bits: new Int32Array(2 ** (this.keyBits - 5)), used: 0 }));
      this.takenDay = utcDay;
      this.takenBits = table = found;
    }
    // Half the bits set (far more rows on one UTC day than planned): keys are no longer taken.
    if (table.used > this.keyLimit) return true;
    const hash = mix32(
      Math.imul(user, 0x9e3779b1) ^
        Math.imul(track + 0x632be5ab, 0x85ebca77) ^
        Math.imul(second + 1, 0xc2b2ae3d),
    );
    const i = hash >>> (32 - this.keyBits);
    const word = table.bits[i >>> 5]!;
    const bit = 1 << (i & 31);
    if ((word & bit) !== 0) return false;
    table.bits[i >>> 5] = word | bit;
    table.used++;
    return true;
  }

  private writeRow(): void {
    if (this.reordered) {
      this.writeTime();
      this.out[this.pos++] = 44;
      this.writeUser();
      this.out[this.pos++] = 44;
      this.writeTrack();
    } else {
      this.writeUser();
      this.out[this.pos++] = 44;
      this.writeTrack();
      this.out[this.pos++] = 44;
      this.writeTime();
    }
    this.endLine();
  }

  private writeUser(): void {
    const quoted = (this.quote & 1) !== 0;
    if (quoted) this.out[this.pos++] = 34;
    if (this.user < 0) this.ascii(this.userText);
    else {
      const width = this.users.digits + 1;
      const ids = this.users.idBytes;
      const from = this.user * width;
      for (let i = 0; i < width; i++) this.out[this.pos + i] = ids[from + i]!;
      this.pos += width;
    }
    if (quoted) this.out[this.pos++] = 34;
  }

  private writeTrack(): void {
    const quoted = (this.quote & 2) !== 0;
    if (quoted) this.out[this.pos++] = 34;
    if (this.track < 0) this.ascii(this.trackText);
    else {
      const ids = this.catalogue.idBytes;
      const from = this.track * TRACK_ID_LENGTH;
      for (let i = 0; i < TRACK_ID_LENGTH; i++) this.out[this.pos + i] = ids[from + i]!;
      this.pos += TRACK_ID_LENGTH;
    }
    if (quoted) this.out[this.pos++] = 34;
  }

  private writeTime(): void {
    const quoted = (this.quote & 4) !== 0;
    if (quoted) this.out[this.pos++] = 34;
    if (this.timeText !== undefined) this.ascii(this.timeText);
    else {
      this.countTime();
      const out = this.out;
      let pos = this.pos;
      const day = Math.floor(this.ms / DAY_MS);
      if (day !== this.dateDay) {
        this.dateDay = day;
        let bytes = this.dates.get(day);
        if (!bytes) this.dates.set(day, (bytes = Buffer.from(isoDay(day), 'latin1')));
        this.dateBytes = bytes;
      }
      for (let i = 0; i < 10; i++) out[pos + i] = this.dateBytes[i]!;
      pos += 10;
      out[pos++] = this.format === FORMAT_NO_OFFSET ? 32 : 84;
      const inDay = this.ms - day * DAY_MS;
      const millis = inDay % 1000;
      let s = (inDay - millis) / 1000;
      const h = (s / 3600) | 0;
      s -= h * 3600;
      const m = (s / 60) | 0;
      s -= m * 60;
      pos = twoDigits(out, pos, h);
      out[pos++] = 58;
      pos = twoDigits(out, pos, m);
      out[pos++] = 58;
      pos = twoDigits(out, pos, s);
      if (this.format === FORMAT_MILLIS) {
        out[pos++] = 46;
        out[pos++] = 48 + Math.floor(millis / 100);
        pos = twoDigits(out, pos, millis % 100);
      }
      if (this.format === FORMAT_OFFSET) {
        const abs = Math.abs(this.offset);
        out[pos++] = this.offset < 0 ? 45 : 43;
        pos = twoDigits(out, pos, Math.floor(abs / 60));
        out[pos++] = 58;
        pos = twoDigits(out, pos, abs % 60);
      } else if (this.format !== FORMAT_NO_OFFSET) out[pos++] = 90;
      this.pos = pos;
    }
    if (quoted) this.out[this.pos++] = 34;
  }

  private countTime(): void {
    this.formats[this.format]!++;
    const utcDay = Math.floor((this.ms - this.offset * 60_000) / DAY_MS);
    if (utcDay < this.fileDay) this.utcDayBefore++;
    else if (utcDay > this.fileDay) this.utcDayAfter++;
  }

  private ascii(text: string): void {
    for (let i = 0; i < text.length; i++) this.out[this.pos++] = text.charCodeAt(i);
  }

  private endLine(): void {
    if (this.crlf) this.out[this.pos++] = 13;
    this.out[this.pos++] = 10;
  }

  private flush(): void {
    writeAllSync(this.fd, this.out.subarray(0, this.pos));
    this.pos = 0;
  }
}

/** The two ASCII digits of 0..99, at 2 * n. */
const DIGIT_PAIRS = Uint8Array.from(
  { length: 200 },
  (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor(i / 20)),
);

function twoDigits(out: Uint8Array, pos: number, value: number): number {
  out[pos] = DIGIT_PAIRS[2 * value]!;
  out[pos + 1] = DIGIT_PAIRS[2 * value + 1]!;
  return pos + 2;
}

// ---------------------------------------------------------------------------------------------

/**
 * Write the landing folder: songs/tracks.csv, users/users.csv and `days` days of
 * streams/streams-YYYYMMDD-NN.csv from `start`; the same options always give the same bytes.
 */
export function generateKpiDataset(options: KpiDatasetOptions): KpiDatasetSummary {
  const started = performance.now();
  const filesPerDay = options.filesPerDay ?? 3;
  const songs = options.songs ?? 20_000;
  const userCount = options.users ?? 50_000;
  const dirtRate = options.dirtRate ?? 0.01;
  const seed = options.seed ?? 1;
  const { dir, start, days, streamsPerDay } = options;
  if (!Number.isInteger(filesPerDay) || filesPerDay < 1 || filesPerDay > 99)
    throw new RangeError('filesPerDay must be an integer in 1..99');
  if (!Number.isInteger(songs) || songs < SPOTIFY_GENRES.length)
    throw new RangeError(`songs must be at least ${SPOTIFY_GENRES.length} (one per genre)`);
  if (!Number.isInteger(userCount) || userCount < 1) throw new RangeError('users must be at least 1');
  if (!Number.isInteger(days) || days < 1) throw new RangeError('days must be at least 1');
  if (!Number.isInteger(streamsPerDay) || streamsPerDay < 0)
    throw new RangeError('streamsPerDay must be a non-negative integer');
  if (!(dirtRate >= 0 && dirtRate <= 1)) throw new RangeError('dirtRate must be in 0..1');

  const folders = { songs: join(dir, 'songs'), users: join(dir, 'users'), streams: join(dir, 'streams') };
  for (const folder of Object.values(folders)) mkdirSync(folder, { recursive: true });
  const files: KpiDatasetSummary['files'] = { songs: [], users: [], streams: [], bad: [] };
  const crlfFiles: string[] = [];
  const reorderedFiles: string[] = [];
  const done = (list: string[], path: string): void => {
    list.push(path);
    options.onFile?.(path);
  };

  const catalogue = buildCatalogue(songs, seed);
  const songsPath = join(folders.songs, 'tracks.csv');
  writeWholeFileSync(songsPath, catalogue.bytes);
  crlfFiles.push(songsPath);
  done(files.songs, songsPath);

  const users = buildUsers(userCount, start, seed);
  const usersPath = join(folders.users, 'users.csv');
  writeWholeFileSync(usersPath, users.bytes);
  crlfFiles.push(usersPath);
  reorderedFiles.push(usersPath);
  done(files.users, usersPath);

  const streams = new StreamsWriter(catalogue, users, dirtRate, streamsPerDay, seed);
  for (let d = 0; d < days; d++) {
    const day = start + d;
    streams.startDay(day);
    for (let f = 0; f < filesPerDay; f++) {
      const path = join(folders.streams, `streams-${compactDay(day)}-${String(f + 1).padStart(2, '0')}.csv`);
      const file: StreamFile = {
        path,
        day,
        rows:
          Math.floor((streamsPerDay * (f + 1)) / filesPerDay) - Math.floor((streamsPerDay * f) / filesPerDay),
        // The first day's last file has \r\n line endings; the last day's first file moved columns.
        crlf: d === 0 && f === filesPerDay - 1,
        reordered: d === days - 1 && f === 0,
        random: new Random(seed, day, 0x57e4000 + f),
      };
      streams.writeFile(file);
      if (file.crlf) crlfFiles.push(path);
      if (file.reordered) reorderedFiles.push(path);
      done(files.streams, path);
    }
  }

  if (options.bad) {
    const random = new Random(seed, start, 0xbad);
    const noTime = join(folders.streams, `streams-${compactDay(start)}-bad.csv`);
    const lines = ['user_id,track_id'];
    for (let i = 0; i < 100; i++) {
      const user = random.below(users.count) * (users.digits + 1);
      const userId = Buffer.from(users.idBytes.subarray(user, user + users.digits + 1)).toString('latin1');
      lines.push(`${userId},${catalogue.ids[random.below(catalogue.ids.length)]!}`);
    }
    writeWholeFileSync(noTime, Buffer.from(`${lines.join('\n')}\n`, 'latin1'));
    done(files.bad, noTime);
    // PNG magic, then random bytes with NULs: not text at all.
    const garbage = new Uint8Array(4096);
    garbage.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]);
    for (let i = 10; i < garbage.length; i++) garbage[i] = random.next() < 0.1 ? 0 : random.below(256);
    const notCsv = join(folders.streams, 'not-a-csv.csv');
    writeWholeFileSync(notCsv, garbage);
    done(files.bad, notCsv);
  }

  const elapsedMs = Math.round(performance.now() - started);
  const streamRows = streams.rows;
  return {
    dir,
    start: isoDay(start),
    days,
    seed,
    files,
    crlfFiles,
    reorderedFiles,
    songs: {
      tracks: songs,
      rows: catalogue.rows,
      genres: SPOTIFY_GENRES.length,
      tracksUnderTwoGenres: catalogue.tracksUnderTwoGenres,
      rowsWithoutNames: catalogue.rowsWithoutNames,
    },
    users: { rows: userCount, idDigits: users.digits },
    streams: {
      rows: streamRows,
      rowsPerDay: streamsPerDay,
      filesPerDay,
      clean: streams.clean,
      timestamps: {
        utc: streams.formats[FORMAT_UTC]!,
        millis: streams.formats[FORMAT_MILLIS]!,
        noOffset: streams.formats[FORMAT_NO_OFFSET]!,
        offset: streams.formats[FORMAT_OFFSET]!,
      },
      utcDayBefore: streams.utcDayBefore,
      utcDayAfter: streams.utcDayAfter,
      forcedRepeats: streams.forcedRepeats,
    },
    dirt: { ...streams.dirt },
    badTimestamps: { ...streams.badTimestamps },
    elapsedMs,
    rowsPerSecond: Math.round(streamRows / Math.max(0.001, (performance.now() - started) / 1000)),
  };
}
