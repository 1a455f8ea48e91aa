import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { CsvError } from 'csv-parse';
import { readFailure } from '../ops/ioErrors.js';
import { CatalogRecords, type CsvFields, StringFields } from './catalogRecords.js';
import { checkHeader, looksBinary, missingColumns } from './csvHeader.js';
import { IdBatch } from './idBatch.js';
import { IdInterner } from './idInterner.js';
import { type TrackGenres, TrackRows } from './trackGenres.js';

/**
 * The songs and users catalogues, read as csv-parse reads them (real CSV: quoted fields, doubled
 * quotes, commas and newlines inside quotes, any column order, extra columns ignored; a stray
 * quote kept as text): csv-parse's reading is their contract. Most files are read with the
 * streams' scanner, which gives the same records when the two agree on a file
 * (parse/catalogRecords.ts); the others with csv-parse itself. The catalogues are read on the main
 * thread beside the streams' parse, so their CPU is the parse's: the benchmark's 70,000 rows took
 * 0.68 s with csv-parse, 0.31 s with the scanner on the machine of the time; on the AMD EPYC
 * machine, 0.43 s with every field decoded, 0.37 s with only the fields used (CsvFields).
 */
export const SONG_COLUMNS = [
  'track_id',
  'track_name',
  'artists',
  'album_name',
  'track_genre',
  'duration_ms',
  'popularity',
  'explicit',
] as const;
export const USER_COLUMNS = ['user_id', 'user_name', 'user_age', 'user_country', 'created_at'] as const;

export type CatalogKind = 'songs' | 'users';

/** A file that cannot be read as its kind: it goes to `error/<kind>/` with this as its reason. */
export interface BadFile {
  kind: CatalogKind | 'streams';
  file: string;
  path: string;
  reason: 'not_csv' | 'missing_columns' | 'unreadable';
  message: string;
  missing?: string[];
  found?: string[];
}

export interface RowExample {
  file: string;
  /** 1-based record number in the file (the header is record 1). */
  record: number;
  reason: string;
  text: string;
}

export interface FileReport {
  kind: CatalogKind | 'streams';
  file: string;
  rows: number;
  accepted: number;
  rejects: Record<string, number>;
}

export interface SongCatalog {
  /** Every track_id and the genres it is listed under (a track may be in several, as in the Spotify dataset). */
  tracks: TrackGenres;
  files: FileReport[];
  /** SHA-256 of each file read (the files in `files`), by name. */
  sha256: Map<string, string>;
  bad: BadFile[];
  examples: RowExample[];
}

export interface UserCatalog {
  /** Every user_id, by its bytes (millions of them: a Set of strings held 150 MB at 2M users). */
  users: IdInterner;
  files: FileReport[];
  /** SHA-256 of each file read (the files in `files`), by name. */
  sha256: Map<string, string>;
  bad: BadFile[];
  examples: RowExample[];
}

export const MAX_ROW_EXAMPLES = 10;
/** The longest record a catalogue file may hold; a song row is a few hundred bytes. */
export const MAX_RECORD_BYTES = 1 << 20;

/** The head of a file read first to tell a CSV from a binary file (see looksBinary). */
export const SNIFF_BYTES = 64 * 1024;

/** A file opened for reading, its first bytes (at least SNIFF_BYTES, fewer if shorter) already read. */
export interface HeadedBytes {
  head: Buffer;
  /** Every byte of the file in order, the head included (see OpenOptions for how long each lives). */
  chunks: AsyncIterable<Buffer>;
  /** Stop reading (a file found unusable from its head, or left part-way). */
  close(): void;
}

/**
 * A CSV input of the parsers: its name and where it is, and how to open it. The caller opens it
 * (sources/locations.ts openWithHead, local or S3), so the parsers do no I/O of their own; a file
 * that cannot be opened is reported as `unreadable` like any other bad file.
 */
export interface CsvInput {
  name: string;
  path: string;
  /** Its size in bytes, when known (listed): the catalogues size their tables from it. */
  size?: number;
  open(options?: OpenOptions): Promise<HeadedBytes>;
}

export interface OpenOptions {
  /**
   * The caller is done with each chunk before it asks for the next (it parses and hashes it, and
   * keeps nothing of it): a local file may then be read into one buffer, reused. Fresh buffers
   * cost more than their allocation: each new page costs a fault, about 11 us a 4 KiB page on
   * these VMs (a 175 MB streams file's parse: median 1.63 s to 1.47 s, 14 interleaved runs).
   * Without it every chunk is a buffer of its own, which the caller may keep.
   */
  transient?: boolean;
}

const DURATION = /^\d{1,12}$/;

/**
 * Songs from every file, in file order. A row is rejected (and counted by reason) when its
 * track_id or track_genre is empty (`empty_id`, `empty_genre`), its duration_ms is not a whole
 * number of milliseconds (`bad_duration`), it has fewer fields than the header (`field_count`) or
 * it is not valid CSV (`malformed_csv`). A track listed twice under the same genre keeps its first
 * row (`duplicate_song`); under another genre it is one more genre of the track.
 */
export async function readSongs(files: CsvInput[]): Promise<SongCatalog> {
  // Every file's accepted rows; `staged`, the file's being read, added to them only once it is
  // read whole.
  let catalog: TrackRows | undefined;
  let staged = new TrackRows();
  const into = {
    files: [] as FileReport[],
    sha256: new Map<string, string>(),
    bad: [] as BadFile[],
    examples: [] as RowExample[],
  };
  for (const file of files) {
    const onRow: RowHandler<(typeof SONG_COLUMNS)[number]> = (row, c, reject) => {
      const genre = row.text(c.track_genre).trim();
      const duration = row.text(c.duration_ms).trim();
      if (row.isEmpty(c.track_id)) return reject('empty_id');
      if (genre === '') return reject('empty_genre');
      if (!DURATION.test(duration)) return reject('bad_duration');
      const g = staged.genre(genre);
      if (catalog !== undefined) {
        // Listed under this genre by an earlier file.
        const id = row.text(c.track_id);
        if (catalog.ids.has(id) && catalog.hasGenre(catalog.ids.id(id), g)) return reject('duplicate_song');
      }
      // Interned from the field's bytes: no string a row.
      const track = row.idIn(c.track_id, staged.ids);
      if (staged.hasGenre(track, g)) return reject('duplicate_song');
      staged.add(track, g, Number(duration));
      return true;
    };
    await readCatalogFile('songs', file, SONG_COLUMNS, into, {
      onRow,
      expect: (records) => staged.ids.reserve(records, true),
      restart: () => {
        staged = new TrackRows(catalog ?? staged);
      },
      commit: () => {
        // The first file's rows are the catalogue's as they are (the usual single file).
        if (catalog === undefined) catalog = staged;
        else catalog.addAll(staged);
      },
    });
  }
  // (A file set aside part-way leaves its rows in `staged`: not the catalogue's.)
  return { tracks: (catalog ?? new TrackRows()).finish(), ...into };
}

/** Users from every file: only the set of user_ids is needed (streams of unknown users are counted). */
export async function readUsers(files: CsvInput[]): Promise<UserCatalog> {
  const catalog: UserCatalog = {
    users: new IdInterner(),
    files: [],
    sha256: new Map(),
    bad: [],
    examples: [],
  };
  for (const file of files) {
    // This file's users, added to the catalogue only once the whole file is read; the rows of
    // the batch waiting to be interned taken as accepted until it is settled (IdBatch).
    let staged = new IdInterner();
    let batch: IdBatch | undefined;
    const onRow: RowHandler<(typeof USER_COLUMNS)[number]> = (row, c, reject, record) => {
      if (row.isEmpty(c.user_id)) return reject('empty_id');
      // Interned from the field's bytes: a string a row, encoded again to be looked up, was most of
      // reading 2M users (1.0 s of 4.5 s, on the main thread while the streams were parsed).
      if (catalog.users.size > 0 && catalog.users.has(row.text(c.user_id))) return reject('duplicate_user');
      if (batch!.add(row, c.user_id, record)) return true;
      batch!.settle();
      const before = staged.size;
      if (row.idIn(c.user_id, staged) < before) return reject('duplicate_user');
      return true;
    };
    await readCatalogFile('users', file, USER_COLUMNS, catalog, {
      onRow,
      expect: (records) => staged.reserve(records, true),
      restart: (unaccept) => {
        staged = new IdInterner();
        batch = new IdBatch(staged, (record, text) => unaccept('duplicate_user', record, text));
      },
      settle: () => batch!.settle(),
      commit: () => {
        // The first file's users are the catalogue's as they are (the usual single file).
        if (catalog.users.size === 0) catalog.users = staged;
        else catalog.users.idsOfList(staged.nameList());
      },
    });
  }
  // Read only from here on, for the whole run: its arena's room to grow given back.
  catalog.users.trim();
  return catalog;
}

/** A row's verdict: accepted (true) or rejected; `record` is its record number. */
type RowHandler<C extends string> = (
  row: CsvFields,
  columns: Record<C, number>,
  reject: (reason: string) => false,
  record: number,
) => boolean;

/** A row accepted earlier, rejected after all (with its record number and text). */
type Unaccept = (reason: string, record: number, text: string) => void;

/** What a catalogue does with one file's rows. */
interface FileRows<C extends string> {
  onRow: RowHandler<C>;
  /** About how many records the file holds (recordsAbout), told once it is opened and before its rows. */
  expect?: (records: number) => void;
  /**
   * Forget the rows staged so far: the file is read (again) from its start. `unaccept` rejects a
   * row accepted earlier (one whose verdict waited: see `settle`).
   */
  restart: (unaccept: Unaccept) => void;
  /**
   * Give the verdicts of the rows accepted ahead (through `unaccept`): called before any row is
   * rejected otherwise, and at the file's end, so that rejects come in the file's order.
   */
  settle?: () => void;
  /** Add the file's accepted rows to the catalogue: called only when the file is read whole. */
  commit: () => void;
}

/** How one reading of a file ended. */
type Reading =
  | { ok: true; sha256: string }
  /** Set aside (bad), or read again with csv-parse (`again`). */
  | { ok: false; bad?: BadFile; again?: true };

/**
 * A file's rows through `sink`, with csv-parse's record numbers (the header is record 1); each
 * record of at least one field, blank lines included. Returns a reason to stop: the header.
 */
type RecordSink = (record: CsvFields, number: number) => 'stop' | undefined;

async function readCatalogFile<C extends string>(
  kind: CatalogKind,
  file: CsvInput,
  required: readonly C[],
  into: { files: FileReport[]; sha256: Map<string, string>; bad: BadFile[]; examples: RowExample[] },
  rows: FileRows<C>,
): Promise<void> {
  const base = { kind, file: file.name, path: file.path };
  // The catalogue told how many records to expect as the file is opened (it sizes its table).
  const { size } = file;
  const { expect } = rows;
  const input: CsvInput =
    size === undefined || expect === undefined
      ? file
      : {
          ...file,
          open: async (options) => {
            const opened = await file.open(options);
            expect(recordsAbout(opened.head, size));
            return opened;
          },
        };
  // Read with the scanner first; with csv-parse when the two would not agree on this file.
  for (const reader of [scannerReading, csvParseReading]) {
    const report: FileReport = { kind, file: file.name, rows: 0, accepted: 0, rejects: {} };
    // Examples too join the catalogue's only when the file is read whole (a file set aside
    // part-way contributes nothing).
    const examples: RowExample[] = [];
    const counted = (reason: string, record: number, text: string): false => {
      report.rejects[reason] = (report.rejects[reason] ?? 0) + 1;
      if (into.examples.length + examples.length < MAX_ROW_EXAMPLES) {
        examples.push({ file: file.name, record, reason, text: text.slice(0, 200) });
      }
      return false;
    };
    rows.restart((reason, record, text) => {
      report.accepted--;
      counted(reason, record, text);
    });
    // Any reject after the verdicts of the rows accepted ahead.
    const reject = (reason: string, record: number, text: string): false => {
      rows.settle?.();
      return counted(reason, record, text);
    };
    let columns: Record<C, number> | undefined;
    let width = 0;
    let missing: BadFile | undefined;
    const sink: RecordSink = (record, number) => {
      if (columns === undefined) {
        const header = checkHeader(
          Array.from({ length: record.count }, (_, k) => record.text(k)),
          required,
        );
        if (!header.ok) {
          missing = { ...base, ...missingColumns(file.name, header) };
          return 'stop';
        }
        columns = header.columns;
        width = header.width;
        return undefined;
      }
      // A blank line is no row at all.
      if (record.count === 1 && record.text(0) === '') return undefined;
      report.rows++;
      if (record.count < width) reject('field_count', number, record.joined());
      else if (rows.onRow(record, columns, (reason) => reject(reason, number, record.joined()), number))
        report.accepted++;
      return undefined;
    };
    const malformed = (record: number, message: string): void => {
      report.rows++;
      reject('malformed_csv', record, message);
    };
    const reading = await reader(input, base, sink, malformed, () => rows.settle?.());
    if (reading.ok) rows.settle?.();
    if (!reading.ok && reading.again) continue;
    if (!reading.ok) {
      if (reading.bad !== undefined) into.bad.push(reading.bad);
      return;
    }
    if (missing !== undefined) {
      into.bad.push(missing);
      return;
    }
    if (columns === undefined) {
      into.bad.push({
        ...base,
        reason: 'missing_columns',
        message: `${file.name} is empty: no header`,
        missing: [...required],
      });
      return;
    }
    rows.commit();
    into.examples.push(...examples);
    into.files.push(report);
    into.sha256.set(file.name, reading.sha256);
    return;
  }
}

/**
 * About how many records a file of `size` bytes holds, from its head (every record if the head is
 * the whole file): the head's lines at their mean length, and no more than a row of 6 bytes each
 * (`a,,,,` and its newline, the least a users row with an id takes).
 */
export function recordsAbout(head: Uint8Array, size: number): number {
  let lines = 0;
  for (let at = head.indexOf(0x0a); at >= 0; at = head.indexOf(0x0a, at + 1)) lines++;
  if (head.length >= size) return lines + (head.length > 0 && head[head.length - 1] !== 0x0a ? 1 : 0);
  return Math.min(Math.ceil((size * lines) / head.length), Math.ceil(size / 6));
}

/**
 * About how many rows catalogue files hold (recordsAbout each, less its header), from their heads
 * and sizes, before they are read: undefined when a size is unknown or a file cannot be opened
 * (what is wrong with it is told when it is read).
 */
export async function catalogRowsAbout(files: CsvInput[]): Promise<number | undefined> {
  let rows = 0;
  for (const file of files) {
    if (file.size === undefined) return undefined;
    let opened: HeadedBytes;
    try {
      opened = await file.open({ transient: true });
    } catch {
      return undefined;
    }
    opened.close();
    rows += Math.max(0, recordsAbout(opened.head, file.size) - 1);
  }
  return rows;
}

type Reader = (
  file: CsvInput,
  base: Pick<BadFile, 'kind' | 'file' | 'path'>,
  sink: RecordSink,
  malformed: (record: number, message: string) => void,
  /** The records of a chunk pushed are all given (the rows waiting in a batch may be settled). */
  chunkDone: () => void,
) => Promise<Reading>;

/** Open a catalogue file, or say why it cannot be read (unreadable, binary). */
async function openCatalogFile(
  file: CsvInput,
  base: Pick<BadFile, 'kind' | 'file' | 'path'>,
  options?: OpenOptions,
): Promise<HeadedBytes | BadFile> {
  let opened: HeadedBytes;
  try {
    opened = await file.open(options);
  } catch (error) {
    return { ...base, reason: 'unreadable', message: (readFailure(error, file.path) as Error).message };
  }
  if (looksBinary(opened.head)) {
    opened.close();
    return { ...base, reason: 'not_csv', message: `${file.name} is not a CSV file (binary content)` };
  }
  return opened;
}

/**
 * The file read with the streams' scanner (parse/catalogRecords.ts): csv-parse's records, or
 * `again` when the two would not agree on this file.
 */
const scannerReading: Reader = async (file, base, sink, _malformed, chunkDone) => {
  // Each chunk is done with before the next is read (hashed, scanned, its ids' batch settled by
  // chunkDone; an unfinished record copied to the scanner's own buffer), so one buffer serves:
  // a fresh MiB a chunk left the 2M users' 100 MB of chunks to the collector.
  const opened = await openCatalogFile(file, base, { transient: true });
  if (!('chunks' in opened)) return { ok: false, bad: opened };
  const hash = createHash('sha256');
  let stopped = false;
  const records = new CatalogRecords((fields, number) => {
    if (!stopped && sink(fields, number) === 'stop') stopped = true;
  }, MAX_RECORD_BYTES);
  try {
    for await (const chunk of opened.chunks) {
      hash.update(chunk);
      records.push(chunk);
      chunkDone();
      if (stopped || !records.agrees) break;
    }
  } finally {
    opened.close();
  }
  if (!records.end()) return { ok: false, again: true };
  if (stopped) return { ok: true, sha256: '' };
  return { ok: true, sha256: hash.digest('hex') };
};

/** The file read with csv-parse, whose reading is the catalogues' contract (docs/KPIS.md). */
const csvParseReading: Reader = async (file, base, sink, malformed) => {
  // Loaded when a file needs it: most are read with the scanner, and every worker thread imports
  // this module (its types and limits) but never reads a catalogue: csv-parse took 25 to 30 ms of
  // each thread's start.
  const { parse } = await import('csv-parse');
  const opened = await openCatalogFile(file, base);
  if (!('chunks' in opened)) return { ok: false, bad: opened };
  // The bytes are hashed as csv-parse reads them: the catalogue's content key costs no second read.
  const hash = createHash('sha256');
  const bytes = Readable.from(
    (async function* () {
      for await (const chunk of opened.chunks) {
        hash.update(chunk);
        yield chunk;
      }
    })(),
  );
  const parser = bytes.pipe(
    // relax_quotes: a stray quote (`ab"c`, `"ab"c`) is kept as text, and the rows after it are read;
    // without it csv-parse loses the rest of the file after the first one.
    parse({
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_records_with_error: true,
      max_record_size: MAX_RECORD_BYTES,
    }),
  );
  // A read failing part-way (a dropped S3 connection) fails the parse; pipe would not pass it on.
  bytes.on('error', (error) => parser.destroy(error));
  // A record over MAX_RECORD_BYTES (an unterminated quote swallowing the rest of the file) makes
  // the file unusable: it is set aside, rather than held in memory whole.
  let tooLarge: number | undefined;
  parser.on('skip', (error: CsvError) => {
    const record = Number((error as CsvError & { records?: number }).records ?? 0) + 1;
    if (error.code === 'CSV_MAX_RECORD_SIZE') {
      tooLarge = record;
      return;
    }
    malformed(record, error.message);
  });
  // The record's number, the header's included, as csv-parse's `info.records` counts it (a record
  // skipped for an error is not counted): counted here, because `info: true` builds an object of
  // a dozen fields per record, which was half the time of reading a catalogue.
  let records = 0;
  for await (const record of parser as AsyncIterable<string[]>) {
    records++;
    if (tooLarge !== undefined) break;
    if (sink(new StringFields(record), records) === 'stop') {
      parser.destroy();
      bytes.destroy();
      return { ok: true, sha256: '' };
    }
  }
  if (tooLarge !== undefined) {
    bytes.destroy();
    return {
      ok: false,
      bad: {
        ...base,
        reason: 'not_csv',
        message:
          `${file.name} is not a usable CSV file: record ${tooLarge} is over ${MAX_RECORD_BYTES / (1 << 20)} MB ` +
          '(a quote that is never closed?)',
      },
    };
  }
  return { ok: true, sha256: hash.digest('hex') };
};
