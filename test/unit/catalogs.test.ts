import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseSync } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CsvInput,
  catalogRowsAbout,
  MAX_ROW_EXAMPLES,
  readSongs,
  readUsers,
  recordsAbout,
  SNIFF_BYTES,
  SONG_COLUMNS,
  type SongCatalog,
  USER_COLUMNS,
} from '../../src/parse/catalogs.js';
import { csvInput } from '../../src/sources/locations.js';
import { mulberry32 } from '../support/prng.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * The songs and users catalogues (src/parse/catalogs.ts): real CSV (quotes, doubled quotes, commas
 * and newlines in quotes, a BOM, CRLF), columns found by name in any order and case, extra columns
 * ignored; each row accepted or rejected by reason with examples (record numbers count the header
 * as record 1); a file that is not a usable CSV of its kind is a bad file with its reason, and the
 * other files are still read; each file read has its SHA-256.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());

const SONGS_HEADER = SONG_COLUMNS.join(',');
const USERS_HEADER = USER_COLUMNS.join(',');

/**
 * Write `content` as `name` in a new folder; returns what readSongs/readUsers take, with its size
 * as a listed landing file has it (unless `sized` is false).
 */
function file(
  name: string,
  content: string | Uint8Array,
  dir = temp.make('catalog-'),
  sized = true,
): CsvInput {
  const path = join(dir, name);
  writeFileSync(path, content);
  return csvInput({ name, path, ...(sized ? { size: Buffer.byteLength(content) } : {}) }, SNIFF_BYTES);
}

function sha256(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/** A song row in SONG_COLUMNS order. */
function song(id: string, genre: string, duration: string | number, name = `name of ${id}`): string {
  return [id, name, 'artist', 'album', genre, String(duration), '50', 'False'].join(',');
}

function tracksOf(catalog: SongCatalog): Record<string, [string, number][]> {
  return Object.fromEntries(
    [...catalog.tracks].map(([id, genres]) => [id, genres.map((g) => [g.genre, g.durationMs])]),
  );
}

describe('readSongs', () => {
  it('reads every row, a track listed under several genres keeps each, and reports the file', async () => {
    const content = [
      SONGS_HEADER,
      song('t1', 'pop', 200000),
      song('t2', 'rock', 180500),
      song('t1', 'dance', 200001),
      '',
    ].join('\n');
    const f = file('songs.csv', content);
    const catalog = await readSongs([f]);
    expect(tracksOf(catalog)).toEqual({
      t1: [
        ['pop', 200000],
        ['dance', 200001],
      ],
      t2: [['rock', 180500]],
    });
    expect(catalog.files).toEqual([{ kind: 'songs', file: 'songs.csv', rows: 3, accepted: 3, rejects: {} }]);
    expect(catalog.sha256).toEqual(new Map([['songs.csv', sha256(content)]]));
    expect(catalog.bad).toEqual([]);
    expect(catalog.examples).toEqual([]);
  });

  it('no files: an empty catalogue', async () => {
    const { tracks, ...rest } = await readSongs([]);
    expect(tracks.size).toBe(0);
    expect(rest).toEqual({
      files: [],
      sha256: new Map(),
      bad: [],
      examples: [],
    });
  });

  it('a header only: a file of no rows', async () => {
    const catalog = await readSongs([file('songs.csv', `${SONGS_HEADER}\n`)]);
    expect(catalog.tracks.size).toBe(0);
    expect(catalog.files).toEqual([{ kind: 'songs', file: 'songs.csv', rows: 0, accepted: 0, rejects: {} }]);
    expect(catalog.bad).toEqual([]);
  });

  it('columns by name: any order, any case, blanks around names, extra columns (the Spotify index column)', async () => {
    const header =
      ',Duration_MS , TRACK_GENRE,popularity,explicit,album_name,artists,track_name,Track_ID,danceability';
    const content = [header, '0,1000,jazz,1,True,a,b,c,x1,0.5', '1,2000,blues,2,False,a,b,c,x2,0.7'].join(
      '\n',
    );
    const catalog = await readSongs([file('dataset.csv', content)]);
    expect(tracksOf(catalog)).toEqual({ x1: [['jazz', 1000]], x2: [['blues', 2000]] });
    expect(catalog.files[0]!.accepted).toBe(2);
  });

  it('a UTF-8 BOM and CRLF line endings; the hash is of the bytes as they are', async () => {
    const content = `\ufeff${SONGS_HEADER}\r\n${song('t1', 'pop', 1)}\r\n${song('t2', 'pop', 2)}\r\n`;
    const catalog = await readSongs([file('bom.csv', content)]);
    expect(tracksOf(catalog)).toEqual({ t1: [['pop', 1]], t2: [['pop', 2]] });
    expect(catalog.bad).toEqual([]);
    expect(catalog.sha256.get('bom.csv')).toBe(sha256(Buffer.from(content, 'utf8')));
  });

  it('a BOM before a quoted header (as spreadsheets export it)', async () => {
    const quoted = (fields: readonly string[]): string => fields.map((f) => `"${f}"`).join(',');
    const content = `\ufeff${quoted(SONG_COLUMNS)}\r\n${quoted(['t1', 'n', 'a', 'b', 'pop', '1000', '1', 'False'])}\r\n`;
    const catalog = await readSongs([file('excel.csv', content)]);
    expect(catalog.bad).toEqual([]);
    expect(tracksOf(catalog)).toEqual({ t1: [['pop', 1000]] });
  });

  it('quoted fields: commas, doubled quotes, newlines; ids kept exactly, unicode included', async () => {
    const content = [
      SONGS_HEADER,
      '"t,1","Hello, ""World""",artist,album,pop,1000,1,False',
      '"t2","two\nlines",artist,album,"hip-hop",2000,1,False',
      '日本-😀,x,artist,album,j-pop,3000,1,False',
      ' t1 ,x,artist,album,pop,4000,1,False',
    ].join('\n');
    const catalog = await readSongs([file('quoted.csv', content)]);
    expect(tracksOf(catalog)).toEqual({
      't,1': [['pop', 1000]],
      t2: [['hip-hop', 2000]],
      '日本-😀': [['j-pop', 3000]],
      // An id is not trimmed (as in the streams): ' t1 ' is another track than 't1'.
      ' t1 ': [['pop', 4000]],
    });
    expect(catalog.files[0]).toMatchObject({ rows: 4, accepted: 4 });
  });

  it('a stray quote inside a field is kept as text, and the rows after it are still read', async () => {
    const content = [
      SONGS_HEADER,
      't1,ab"c,artist,album,pop,1000,1,False',
      't2,"ab"c,artist,album,pop,2000,1,False',
      song('t3', 'pop', 3000),
    ].join('\n');
    const catalog = await readSongs([file('stray.csv', content)]);
    expect([...catalog.tracks.keys()]).toEqual(['t1', 't2', 't3']);
    expect(catalog.files[0]).toMatchObject({ rows: 3, accepted: 3, rejects: {} });
  });

  it('rejects rows by reason: empty id or genre, a duration that is not whole milliseconds, too few fields', async () => {
    const content = [
      SONGS_HEADER,
      song('', 'pop', 1000), // record 2
      song('t1', '', 1000), // 3
      song('t1', '   ', 1000), // 4: a blank genre is empty
      song('t1', 'pop', ''), // 5
      song('t1', 'pop', '1.5'), // 6
      song('t1', 'pop', '-3'), // 7
      song('t1', 'pop', '1e3'), // 8
      song('t1', 'pop', 'abc'), // 9
      song('t1', 'pop', '1234567890123'), // 10: 13 digits
      't1,name,artist,album,pop', // 11: 5 of 8 fields
      song('t2', ' rock ', ' 0042 '), // 12: accepted, trimmed: rock, 42
      song('t3', 'pop', '123456789012'), // 13: accepted, 12 digits
      `${song('t4', 'pop', 7)},extra,fields`, // 14: accepted
    ].join('\n');
    const catalog = await readSongs([file('rows.csv', content)]);
    expect(tracksOf(catalog)).toEqual({
      t2: [['rock', 42]],
      t3: [['pop', 123456789012]],
      t4: [['pop', 7]],
    });
    expect(catalog.files).toEqual([
      {
        kind: 'songs',
        file: 'rows.csv',
        rows: 13,
        accepted: 3,
        rejects: { empty_id: 1, empty_genre: 2, bad_duration: 6, field_count: 1 },
      },
    ]);
    expect(catalog.examples.map((e) => [e.record, e.reason])).toEqual([
      [2, 'empty_id'],
      [3, 'empty_genre'],
      [4, 'empty_genre'],
      [5, 'bad_duration'],
      [6, 'bad_duration'],
      [7, 'bad_duration'],
      [8, 'bad_duration'],
      [9, 'bad_duration'],
      [10, 'bad_duration'],
      [11, 'field_count'],
    ]);
    expect(catalog.examples[0]).toEqual({
      file: 'rows.csv',
      record: 2,
      reason: 'empty_id',
      text: song('', 'pop', 1000),
    });
  });

  it('a track listed twice under one genre keeps its first row, also across files', async () => {
    const dir = temp.make('catalog-dup-');
    const a = file(
      'a.csv',
      [SONGS_HEADER, song('t1', 'pop', 100), song('t1', 'pop', 999), song('t1', 'rock', 5)].join('\n'),
      dir,
    );
    const b = file('b.csv', [SONGS_HEADER, song('t1', 'rock', 6), song('t1', 'jazz', 7)].join('\n'), dir);
    const catalog = await readSongs([a, b]);
    expect(tracksOf(catalog)).toEqual({
      t1: [
        ['pop', 100],
        ['rock', 5],
        ['jazz', 7],
      ],
    });
    expect(catalog.files.map((f) => [f.file, f.rows, f.accepted, f.rejects])).toEqual([
      ['a.csv', 3, 2, { duplicate_song: 1 }],
      ['b.csv', 2, 1, { duplicate_song: 1 }],
    ]);
    expect(catalog.examples.map((e) => [e.file, e.record, e.reason])).toEqual([
      ['a.csv', 3, 'duplicate_song'],
      ['b.csv', 2, 'duplicate_song'],
    ]);
  });

  it('blank lines are no rows; record numbers count CSV records, not lines', async () => {
    const content = [
      SONGS_HEADER,
      '',
      '"t1","three\nline\nname",a,b,pop,1,1,False',
      '',
      song('t2', '', 1), // record 5 (the blank lines are records 2 and 4 of csv-parse), lines 7
    ].join('\n');
    const catalog = await readSongs([file('blank.csv', content)]);
    expect(catalog.files[0]).toMatchObject({ rows: 2, accepted: 1, rejects: { empty_genre: 1 } });
    expect(catalog.examples.map((e) => e.record)).toEqual([5]);
  });

  it('an unclosed quote is malformed CSV: it takes the rest of the file with it', async () => {
    const content = [
      SONGS_HEADER,
      song('t1', 'pop', 1),
      't2,"never closed,a,b,pop,2,1,False',
      song('t3', 'pop', 3),
    ].join('\n');
    const catalog = await readSongs([file('open.csv', content)]);
    expect([...catalog.tracks.keys()]).toEqual(['t1']);
    expect(catalog.files[0]).toMatchObject({ rows: 2, accepted: 1, rejects: { malformed_csv: 1 } });
    expect(catalog.examples).toHaveLength(1);
    expect(catalog.examples[0]).toMatchObject({ file: 'open.csv', record: 3, reason: 'malformed_csv' });
    expect(catalog.examples[0]!.text).toMatch(/Quote Not Closed/);
  });

  it(`keeps at most ${MAX_ROW_EXAMPLES} examples over all files, each cut to 200 characters`, async () => {
    const dir = temp.make('catalog-examples-');
    const long = 'x'.repeat(500);
    const rows = (n: number): string[] =>
      Array.from({ length: n }, (_, i) => song(`t${i}`, 'pop', 'bad', long));
    const a = file('a.csv', [SONGS_HEADER, ...rows(7)].join('\n'), dir);
    const b = file('b.csv', [SONGS_HEADER, ...rows(7)].join('\n'), dir);
    const catalog = await readSongs([a, b]);
    expect(catalog.files.map((f) => f.rejects)).toEqual([{ bad_duration: 7 }, { bad_duration: 7 }]);
    expect(catalog.examples).toHaveLength(MAX_ROW_EXAMPLES);
    expect(catalog.examples.map((e) => e.file)).toEqual([
      ...Array(7).fill('a.csv'),
      ...Array(3).fill('b.csv'),
    ]);
    expect(catalog.examples.every((e) => e.text.length === 200)).toBe(true);
    expect(catalog.examples[0]!.text).toBe(song('t0', 'pop', 'bad', long).slice(0, 200));
  });

  it('bad files (missing columns, empty, binary, not UTF-8, unreadable) are reported; the good ones read', async () => {
    const dir = temp.make('catalog-bad-');
    const good = file('good.csv', [SONGS_HEADER, song('t1', 'pop', 1)].join('\n'), dir);
    const missing = file(
      'missing.csv',
      ['track_id,track_name,artists,album_name,popularity,explicit', 'a,b,c,d,1,2'].join('\n'),
      dir,
    );
    const empty = file('empty.csv', '', dir);
    const binary = file('binary.csv', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08]), dir);
    const latin1 = file(
      'latin1.csv',
      Buffer.from(`${SONGS_HEADER}\n${song('caf\xe9', 'pop', 1)}\n`, 'latin1'),
      dir,
    );
    const gone = csvInput({ name: 'gone.csv', path: join(dir, 'gone.csv') }, SNIFF_BYTES);
    const catalog = await readSongs([missing, empty, binary, good, latin1, gone]);

    expect(tracksOf(catalog)).toEqual({ t1: [['pop', 1]] });
    expect(catalog.files.map((f) => f.file)).toEqual(['good.csv']);
    expect([...catalog.sha256.keys()]).toEqual(['good.csv']);
    expect(catalog.bad.map((b) => [b.file, b.reason])).toEqual([
      ['missing.csv', 'missing_columns'],
      ['empty.csv', 'missing_columns'],
      ['binary.csv', 'not_csv'],
      ['latin1.csv', 'not_csv'],
      ['gone.csv', 'unreadable'],
    ]);
    const [m, e, bin, , g] = catalog.bad;
    expect(m).toMatchObject({
      kind: 'songs',
      path: missing.path,
      missing: ['track_genre', 'duration_ms'],
      found: ['track_id', 'track_name', 'artists', 'album_name', 'popularity', 'explicit'],
    });
    expect(m!.message).toBe(
      'missing.csv has no column track_genre, duration_ms (found: track_id, track_name, artists, album_name, popularity, explicit)',
    );
    expect(e).toMatchObject({ message: 'empty.csv is empty: no header', missing: [...SONG_COLUMNS] });
    expect(bin!.message).toBe('binary.csv is not a CSV file (binary content)');
    expect(g!.message).toMatch(/ENOENT/);
  });

  it('a file with the users header is not a songs file', async () => {
    const catalog = await readSongs([file('users.csv', `${USERS_HEADER}\nu1,n,30,FR,2024-01-01\n`)]);
    expect(catalog.bad).toHaveLength(1);
    expect(catalog.bad[0]).toMatchObject({ reason: 'missing_columns', missing: [...SONG_COLUMNS] });
  });

  it('a big catalogue, past the 64 KB sniffed head and csv-parse chunks', async () => {
    const n = 20_000;
    const rows = Array.from({ length: n }, (_, i) =>
      song(`track-${i}`, `genre-${i % 100}`, i, `"name, ${i}"`),
    );
    const content = [SONGS_HEADER, ...rows].join('\n');
    expect(content.length).toBeGreaterThan(10 * 64 * 1024);
    const catalog = await readSongs([file('big.csv', content)]);
    expect(catalog.tracks.size).toBe(n);
    expect(catalog.tracks.get(`track-${n - 1}`)).toEqual([
      { genre: `genre-${(n - 1) % 100}`, durationMs: n - 1 },
    ]);
    expect(catalog.files[0]).toMatchObject({ rows: n, accepted: n, rejects: {} });
    expect(catalog.sha256.get('big.csv')).toBe(sha256(content));
    // Its size unknown (no table sized ahead), the same catalogue.
    const unsized = await readSongs([file('big.csv', content, undefined, false)]);
    expect(tracksOf(unsized)).toEqual(tracksOf(catalog));
  });

  it("the catalogue's genres are those of its accepted rows, and a track's genres come in row order over the files", async () => {
    const dir = temp.make('genres-');
    const first = [
      SONGS_HEADER,
      song('t1', 'rock', 1),
      song('t2', 'only-rejected', 'x'),
      song('t1', 'pop', 2),
    ];
    const second = [SONGS_HEADER, song('t3', 'jazz', 3), song('t1', 'jazz', 4), song('t1', 'rock', 5)];
    const catalog = await readSongs([
      file('a.csv', first.join('\n'), dir),
      file('b.csv', second.join('\n'), dir),
    ]);
    expect([...catalog.tracks.genres].sort()).toEqual(['jazz', 'pop', 'rock']);
    expect(tracksOf(catalog)).toEqual({
      t1: [
        ['rock', 1],
        ['pop', 2],
        ['jazz', 4],
      ],
      t3: [['jazz', 3]],
    });
    expect(catalog.files[1]!.rejects).toEqual({ duplicate_song: 1 });
    expect([catalog.tracks.has('t2'), catalog.tracks.get('t2')]).toEqual([false, undefined]);
    expect([...catalog.tracks.keys()]).toEqual(['t1', 't3']);
  });
});

describe('recordsAbout: how many records a catalogue file holds, from its head', () => {
  it('every record when the head is the whole file; its lines at their mean length otherwise; at most a record a 6 bytes', () => {
    const head = Buffer.from('h\nabcdefghi\nabcdefghi\n');
    expect(recordsAbout(head, head.length)).toBe(3);
    expect(recordsAbout(Buffer.from('h\nab'), 4)).toBe(2);
    expect(recordsAbout(Buffer.alloc(0), 0)).toBe(0);
    expect(recordsAbout(head, head.length * 10)).toBe(30);
    expect(recordsAbout(Buffer.from('\n\n\n\n'), 600)).toBe(100);
  });

  it('catalogRowsAbout: the rows of every file but their headers, about; undefined without a size or a file', async () => {
    const users = (n: number, from = 0): string =>
      [
        USERS_HEADER,
        ...Array.from({ length: n }, (_, i) => `u${String(from + i).padStart(7, '0')},name,1,FR,x`),
      ].join('\n');
    expect(await catalogRowsAbout([])).toBe(0);
    expect(await catalogRowsAbout([file('a.csv', users(3)), file('b.csv', users(5, 3))])).toBe(8);
    // Past the head: its rows at their mean length (all of one length here, but the header's).
    const big = await catalogRowsAbout([file('big.csv', users(100_000))]);
    expect(big).toBeGreaterThan(99_000);
    expect(big).toBeLessThan(101_000);
    expect(await catalogRowsAbout([file('a.csv', users(3), undefined, false)])).toBeUndefined();
    const gone = csvInput({ name: 'gone.csv', path: join(temp.make(), 'gone.csv'), size: 10 }, SNIFF_BYTES);
    expect(await catalogRowsAbout([gone])).toBeUndefined();
  });
});

describe('readUsers', () => {
  it('the set of user ids; other columns are not checked', async () => {
    const content = [
      USERS_HEADER,
      'u1,Ann,31,FR,2024-01-01',
      'u2,Bob,not a number,??,whenever',
      '😀 ü,Zoë,,,',
    ].join('\n');
    const catalog = await readUsers([file('users.csv', content)]);
    expect(catalog.users.names).toEqual(['u1', 'u2', '😀 ü']);
    expect(catalog.files).toEqual([{ kind: 'users', file: 'users.csv', rows: 3, accepted: 3, rejects: {} }]);
    expect(catalog.sha256.get('users.csv')).toBe(sha256(content));
  });

  it('header variants and a BOM; ids kept exactly', async () => {
    const content = `\ufeffCreated_At, user_country ,USER_AGE,user_name,User_Id,extra\r\n2024,FR,1,a, u1,x\r\n2024,FR,1,a,u1,x\r\n`;
    const catalog = await readUsers([file('users.csv', content)]);
    expect(catalog.users.names).toEqual([' u1', 'u1']);
  });

  it('rejects an empty id, too few fields and a user listed twice (in one file or another)', async () => {
    const dir = temp.make('users-dup-');
    const a = file(
      'a.csv',
      [USERS_HEADER, 'u1,a,1,FR,x', ',b,1,FR,x', 'u2,c', 'u1,again,2,DE,y'].join('\n'),
      dir,
    );
    const b = file('b.csv', [USERS_HEADER, 'u2,b,1,FR,x', 'u3,b,1,FR,x'].join('\n'), dir);
    const catalog = await readUsers([a, b]);
    expect(catalog.users.names).toEqual(['u1', 'u2', 'u3']);
    expect(catalog.files.map((f) => [f.file, f.rows, f.accepted, f.rejects])).toEqual([
      ['a.csv', 4, 1, { empty_id: 1, field_count: 1, duplicate_user: 1 }],
      ['b.csv', 2, 2, {}],
    ]);
    expect(catalog.examples.map((e) => [e.file, e.record, e.reason, e.text])).toEqual([
      ['a.csv', 3, 'empty_id', ',b,1,FR,x'],
      ['a.csv', 4, 'field_count', 'u2,c'],
      ['a.csv', 5, 'duplicate_user', 'u1,again,2,DE,y'],
    ]);
  });

  it("record numbers are csv-parse's own (info.records), on messy files, for any seed", async () => {
    // The oracle: csv-parse run with `info: true` on the same bytes and options, and the users'
    // row rule applied to its records. The reader counts the records itself instead.
    const pieces = [
      () => `u${pick(40)},n,1,FR,x`, // a row (often a duplicate)
      () => `,n,1,FR,x`, // an empty id
      () => `u${pick(40)},short`, // too few fields
      () => '', // a blank line: a record, not a row
      () => `"u${pick(40)}","a ""quoted""\nname, on two lines",1,FR,x`,
      () => `u${pick(40)},stray"quote,1,FR,x`,
      () => `"u${pick(40)}"x,n,1,FR,x`, // text after a closing quote (relax_quotes)
    ];
    let random = mulberry32(0);
    const pick = (n: number): number => Math.floor(random() * n);
    for (let seed = 1; seed <= 30; seed++) {
      random = mulberry32(seed);
      const lines = [USERS_HEADER];
      for (let i = 0; i < 60; i++) lines.push(pieces[pick(pieces.length)]!());
      const content = lines.join(random() < 0.5 ? '\n' : '\r\n');
      const oracle: number[] = [];
      const seen = new Set<string>();
      const records = parseSync(content, {
        bom: true,
        relax_column_count: true,
        relax_quotes: true,
        skip_records_with_error: true,
        info: true,
      }) as unknown as { record: string[]; info: { records: number } }[];
      for (const { record, info } of records.slice(1)) {
        if (record.length === 1 && record[0] === '') continue;
        const id = record[0]!;
        if (record.length < USER_COLUMNS.length || id === '' || seen.has(id)) oracle.push(info.records);
        else seen.add(id);
      }
      const catalog = await readUsers([file('messy.csv', content)]);
      expect(
        catalog.examples.map((e) => e.record),
        `seed ${seed}`,
      ).toEqual(oracle.slice(0, MAX_ROW_EXAMPLES));
      expect(catalog.users.names, `seed ${seed}`).toEqual([...seen]);
    }
  });

  it('property: ids interned a batch at a time give the verdicts, rejects and examples of a row-by-row reading, in order', async () => {
    // Thousands of rows (batches of 1,024) drawing ids from a small pool: most rows after the
    // first thousand are duplicates; quoted ids (read one by one) and other rejects among them.
    // The last seed's file is of several MiB: read in chunks of one reused buffer, its batches
    // and records meet the chunks' ends.
    for (let seed = 1; seed <= 6; seed++) {
      const random = mulberry32(seed);
      const pick = (n: number): number => Math.floor(random() * n);
      const lines = [USERS_HEADER];
      const count = seed === 6 ? 150_000 : 3000;
      for (let i = 0; i < count; i++) {
        const id = `u${pick(count / 2)}`;
        const r = random();
        lines.push(
          r < 0.03
            ? `,n${i},1,FR,x`
            : r < 0.05
              ? `${id},short`
              : r < 0.07
                ? ''
                : r < 0.12
                  ? `"${id}",quoted ${i},1,FR,x`
                  : `${id},plain ${i},1,FR,x`,
        );
      }
      const content = lines.join(random() < 0.5 ? '\n' : '\r\n');
      // The oracle: each row in turn.
      const seen = new Set<string>();
      const rejects: Record<string, number> = {};
      const examples: [number, string, string][] = [];
      let accepted = 0;
      let rows = 0;
      lines.slice(1).forEach((line, i) => {
        if (line === '') return;
        rows++;
        const fields = line.split(',').map((f) => f.replaceAll('"', ''));
        const id = fields[0]!;
        const reason =
          fields.length < USER_COLUMNS.length
            ? 'field_count'
            : id === ''
              ? 'empty_id'
              : seen.has(id)
                ? 'duplicate_user'
                : undefined;
        if (reason === undefined) {
          seen.add(id);
          accepted++;
          return;
        }
        rejects[reason] = (rejects[reason] ?? 0) + 1;
        if (examples.length < MAX_ROW_EXAMPLES) examples.push([i + 2, reason, fields.join(',')]);
      });
      if (seed === 6) expect(content.length).toBeGreaterThan(3 * 1024 * 1024);
      const catalog = await readUsers([file('users.csv', content)]);
      expect(catalog.users.names, `seed ${seed}`).toEqual([...seen]);
      expect(catalog.files[0], `seed ${seed}`).toEqual({
        kind: 'users',
        file: 'users.csv',
        rows,
        accepted,
        rejects,
      });
      expect(Object.keys(catalog.files[0]!.rejects), `seed ${seed}`).toEqual(Object.keys(rejects));
      expect(
        catalog.examples.map((e) => [e.record, e.reason, e.text]),
        `seed ${seed}`,
      ).toEqual(examples);
    }
  });

  it('a songs file is not a users file', async () => {
    const catalog = await readUsers([file('songs.csv', `${SONGS_HEADER}\n${song('t1', 'pop', 1)}\n`)]);
    expect(catalog.users.size).toBe(0);
    expect(catalog.files).toEqual([]);
    expect(catalog.bad[0]).toMatchObject({
      kind: 'users',
      reason: 'missing_columns',
      missing: [...USER_COLUMNS],
    });
  });
});

describe('a record too large to be a row (issue 17, point 12)', () => {
  it('sets the file aside with its reason, and nothing of it joins the catalogue', async () => {
    const dir = temp.make('catalog-');
    // A good row, then a quote that is never closed: the rest of the file would be one field.
    const broken = file(
      'broken.csv',
      `${SONGS_HEADER}\n${song('t1', 'pop', 1)}\n${song('t2', '', 2)}\n"${'x'.repeat(3 << 20)}\n${song('t3', 'rock', 3)}\n`,
      dir,
    );
    const good = file('good.csv', `${SONGS_HEADER}\n${song('t4', 'jazz', 4)}\n`, dir);
    const catalog = await readSongs([broken, good]);
    expect(catalog.bad).toHaveLength(1);
    expect(catalog.bad[0]).toMatchObject({ file: 'broken.csv', reason: 'not_csv' });
    expect(catalog.bad[0]!.message).toMatch(/record \d+ is over 1 MB/);
    expect(tracksOf(catalog)).toEqual({ t4: [['jazz', 4]] });
    expect(catalog.files.map((f) => f.file)).toEqual(['good.csv']);
    expect(catalog.examples).toEqual([]);
  });

  it('a users file the same way', async () => {
    const dir = temp.make('catalog-');
    const broken = file(
      'broken.csv',
      `${USERS_HEADER}\nu1,a,20,FR,2020-01-01\n"${'y'.repeat(2 << 20)}\n`,
      dir,
    );
    const catalog = await readUsers([broken]);
    expect(catalog.bad.map((b) => b.reason)).toEqual(['not_csv']);
    expect(catalog.users.names).toEqual([]);
  });
});
