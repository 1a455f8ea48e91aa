import { isoDay } from '../../ops/dates.js';
import { writeAllSync } from '../../ops/fileIo.js';
import { writeThroughTempSync } from '../fileOutput.js';
import { mix32, type Random } from '../random.js';
import { type Catalogue, TRACK_ID_LENGTH } from './catalogue.js';
import {
  DAY_MS,
  FORMAT_MILLIS,
  FORMAT_NO_OFFSET,
  FORMAT_OFFSET,
  FORMAT_UTC,
  LATE_SHARE,
  ListenTimeWriter,
  MILLIS_SHARE,
  MINUTE_TABLE_BITS,
  minuteOfDayTable,
  NO_OFFSET_SHARE,
  UTC_SHARE,
} from './listenTimes.js';
import { RowStore } from './rowStore.js';
import { TakenKeys } from './takenKeys.js';
import type { Users } from './users.js';

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

/** Share of a user's plays that go to their favourite tracks. */
const FAVOURITE_SHARE = 0.3;
/** Clean rows remembered per file (for duplicates within it) and per day (across its files). */
const RING = 256;
const POOL = 4096;
/** Draws of a row before one whose (user, track, second) is taken is written anyway. */
const MAX_DRAWS = 16;

/** One streams file to write: its rows, its day, its quirks and its own random sequence. */
export interface StreamFile {
  path: string;
  day: number;
  rows: number;
  reordered: boolean;
  crlf: boolean;
  random: Random;
}

/**
 * Writes the streams files. Rows go straight into a byte buffer flushed in 1 MB writes. Every row
 * that is not a planned duplicate takes its (user, track, UTC second) in TakenKeys, and is drawn
 * again when that key is taken, so that the only repeats are the dirt counted. The row being
 * written lives in fields of this class rather than in an object per row, so the row loop
 * allocates nothing; that is why drawing, dirt and writing share one class.
 */
export class StreamsWriter {
  readonly dirt: Record<StreamDirt, number> = Object.fromEntries(STREAM_DIRT.map((k) => [k, 0])) as Record<
    StreamDirt,
    number
  >;
  readonly badTimestamps = { yesterday: 0, invalidDate: 0, empty: 0 };
  /** Rows per listen_time format (FORMAT_*). */
  private readonly formats = new Float64Array(4);
  rows = 0;
  clean = 0;
  utcDayBefore = 0;
  utcDayAfter = 0;
  forcedRepeats = 0;

  private readonly out = new Uint8Array(1 << 20);
  private readonly limit = this.out.length - 1024;
  private pos = 0;
  private fd = -1;
  private readonly minutes = minuteOfDayTable();
  private readonly times = new ListenTimeWriter();
  private readonly seedHash: number;
  private readonly ring = new RowStore(RING);
  private readonly pool = new RowStore(POOL);
  private readonly taken: TakenKeys;

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
    /**
     * With it, every valid listen_time is on a UTC day of first..last: a late row of the first day
     * or an offset row past the last day's midnight is written at the same time of its file's day,
     * in UTC. Without it (the default), some fall on the day before and the day after, as in real drops.
     */
    private readonly within?: { first: number; last: number },
  ) {
    this.seedHash = mix32(seed ^ 0x2545f491);
    this.taken = new TakenKeys(rowsPerDay);
  }

  /** Start a day: forget rows of other days' files and keys of UTC days no later row can have. */
  startDay(day: number): void {
    this.pool.clear();
    this.taken.forgetBefore(day - 1);
  }

  /** Write one streams file through a temporary name, then keep its tail for the day's later files. */
  writeFile(file: StreamFile): void {
    this.fileDay = file.day;
    this.reordered = file.reordered;
    this.crlf = file.crlf;
    this.ring.clear();
    writeThroughTempSync(file.path, (fd) => {
      this.fd = fd;
      this.writeRows(file);
    });
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

  private writeRows(file: StreamFile): void {
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
  }

  /** Rows with a valid listen_time, by format. */
  get timestamps(): { utc: number; millis: number; noOffset: number; offset: number } {
    return {
      utc: this.formats[FORMAT_UTC]!,
      millis: this.formats[FORMAT_MILLIS]!,
      noOffset: this.formats[FORMAT_NO_OFFSET]!,
      offset: this.formats[FORMAT_OFFSET]!,
    };
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
          const minute = this.minutes[random.uint32() >>> (32 - MINUTE_TABLE_BITS)]!;
          this.ms = this.fileDay * DAY_MS + (minute * 60 + random.below(60)) * 1000;
          if (this.format === FORMAT_MILLIS) this.ms += random.below(1000);
        }
        let utcMs = this.ms - this.offset * 60_000;
        utcDay = Math.floor(utcMs / DAY_MS);
        if (this.within && (utcDay < this.within.first || utcDay > this.within.last)) {
          this.ms = this.fileDay * DAY_MS + (((this.ms % DAY_MS) + DAY_MS) % DAY_MS);
          this.format = FORMAT_UTC;
          this.offset = 0;
          utcMs = this.ms;
          utcDay = this.fileDay;
        }
        second = Math.floor((utcMs - utcDay * DAY_MS) / 1000);
      }
      if (
        this.taken.claim(utcDay, second, userKey >= 0 ? userKey : user, trackKey >= 0 ? trackKey : this.track)
      )
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
      this.pos = this.times.write(this.out, this.pos, this.ms, this.format, this.offset);
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
