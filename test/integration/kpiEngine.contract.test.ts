import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckdbKpis } from '../../bench/kpiSql.js';
import { ClickHouseCluster } from '../../src/engines/clickhouse/cluster.js';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { type KpiOptions, type KpiSummary, runKpis } from '../../src/jobs/kpiJob.js';
import { CLICKHOUSE_URLS, haveClickHouse, requireClickHouse, TestDatabases } from '../support/clickhouse.js';
import { kpiOracle } from '../support/duckdb.js';
import { kpiLanding, kpiOutputs } from '../support/kpiLanding.js';
import { mulberry32 } from '../support/prng.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * One suite, every engine of the genre KPIs (STYLE.md 7): the embedded engine and the ClickHouse
 * engine must write the rows DuckDB computes in SQL from the same landing folder (bench/kpiSql.ts,
 * an independent CSV reader and timestamp parser) on generated folders; on ids and genres made of
 * what CSV, TSV and UTF-16 get wrong, the rows of a plain reference and the embedded engine's
 * bytes; and along a landing folder that changes between runs, what a fresh run writes. Then what
 * only the ClickHouse engine has: the rows it loaded are reused while they are whole, and loaded
 * again when a shard lost them. Without a cluster the ClickHouse half is skipped with a message
 * (a failure under CI=true).
 */
requireClickHouse('integration/kpiEngine.contract.test');

const temp = new TempDirs();
const databases = new TestDatabases('playtally_kpish');
let conn: DuckDBConnection;

beforeAll(async () => {
  conn = await kpiOracle();
});
afterAll(async () => {
  conn?.closeSync();
  await databases.dropAll();
  temp.cleanup();
});

/** A database of our own per use: the cases do not see each other's days. */
function newDatabase(): string {
  return databases.next();
}

type Job = (options: KpiOptions) => Promise<KpiSummary>;
const ENGINES: [string, () => Job][] = [['embedded', () => runKpis]];
if (haveClickHouse) {
  ENGINES.push([
    'clickhouse',
    () => {
      const database = newDatabase();
      return (options) => runKpis({ ...options, clickhouse: { urls: CLICKHOUSE_URLS, database } });
    },
  ]);
}

/** What a fresh embedded run (new output and state folders) writes for a copy of `landing`. */
async function embeddedFromScratch(
  landing: string,
  granularity: 'day' | 'hour' = 'day',
): Promise<Record<string, string>> {
  const copy = temp.make('playtally-kpish-copy-');
  cpSync(landing, copy, { recursive: true });
  const out = temp.make('playtally-kpish-ref-');
  await runKpis({ landingDir: copy, outDir: out, granularity, threads: 2 });
  return kpiOutputs(out);
}

/**
 * Every CSV of `out` holds exactly DuckDB's rows, in its order. The header line is cut off by its
 * first `\n` (it has none inside); the rest is compared whole, since rows may hold quoted newlines.
 */
function expectOracleRows(out: string, oracle: Map<string, string[]>): void {
  const csvs = readdirSync(out)
    .filter((n) => n.endsWith('.csv'))
    .sort();
  expect(csvs).toEqual([...oracle.keys()].sort());
  for (const name of csvs) {
    const text = readFileSync(join(out, name), 'utf8');
    expect(text.slice(text.indexOf('\n') + 1), name).toBe(
      oracle
        .get(name)!
        .map((row) => `${row}\n`)
        .join(''),
    );
  }
}

interface StreamCounts {
  rows: number;
  duplicates: number;
  unknownTrack: number;
  unknownUser: number;
  counted: number;
}

function quality(out: string, date: string): { streams: StreamCounts; files: { file: string }[] } {
  return JSON.parse(readFileSync(join(out, `kpi_quality_${date}.json`), 'utf8'));
}

/** The body (after the header line) of an output CSV. */
function body(out: string, name: string): string {
  const text = readFileSync(join(out, name), 'utf8');
  return text.slice(text.indexOf('\n') + 1);
}

/** RFC 4180 quoting when needed, as a CSV writer would; `always` quotes anyway. */
function cell(value: string, always = false): string {
  return always || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

// Ids and genres that a CSV reader, a TSV escape or a UTF-16 sort can get wrong. In UTF-16,
// U+1F3B5 (a surrogate pair from 0xD83C) sorts before U+FF21; in UTF-8 bytes (F0.. vs EF..) after.
const HARD_USERS = [
  'u\tTab',
  'u\\tTab', // a backslash and a t, not the tab of the user above
  'u\\',
  'u"q"',
  'u,c',
  'u\nLF',
  'u\r\nCRLF',
  'ü',
  '\u{1F600}u',
  '\uFF5Eu',
  'plain',
];
/** Users in no users file, each the near twin of a known one. */
const GHOSTS = ['u\r\nLF', 'u\nCRLF', 'u\\\\', 'u\t', '\u{1F47B}'];
const T = {
  tab: 't\tA',
  backslashT: 't\\tA',
  quote: 't"B"',
  comma: 't,C',
  lf: 't\nD',
  crlf: 't\r\nE',
  backslash: 'tF\\',
  fullwidthA: '\uFF21',
  note: '\u{1F3B5}',
  eAcute: 'é',
  plain: 'plainT',
};
const UNKNOWN_TRACKS = ['nosuch\t', '\u{1F4A9}', 't\r\nD', 't\\\\tA'];
const G = {
  tab: 'g\tTab',
  backslash: 'g\\Back',
  quote: 'g"Q"',
  comma: 'g,Comma',
  lf: 'g\nLF',
  crlf: 'g\r\nCRLF',
  cent: '\uFFE0g',
  guitar: '\u{1F3B8}g',
  plain: 'plain',
};
/** track -> [genre, duration_ms]; `t"B"` is listed under two genres, with two durations. */
const SONGS: [string, string, number][] = [
  [T.tab, G.tab, 180_000],
  [T.comma, G.tab, 200_001],
  [T.fullwidthA, G.tab, 150_000],
  [T.note, G.tab, 99_999],
  [T.lf, G.lf, 240_000],
  [T.quote, G.quote, 210_000],
  [T.quote, G.backslash, 123_457],
  [T.eAcute, G.cent, 300_000],
  [T.backslash, G.guitar, 310_000],
  [T.crlf, G.comma, 100_000],
  [T.backslashT, G.crlf, 50_000],
  [T.plain, G.plain, 1_000],
];

/**
 * A landing folder of hard strings. 2024-04-01 is built by hand, every row in hour 10, so that
 * its rankings are ties decided by byte order: in genre `g\tTab`, `t\tA` has 3 plays and `t,C`,
 * U+FF21 and U+1F3B5 have 2 (the third place goes to U+FF21); the genres with most listens are
 * `g\tTab` (9), three with 4 and two with 3 (U+FFE0 and U+1F3B8 `g`: the fifth place goes to
 * U+FFE0). Its rows come in two files (one with CRLF line ends and a BOM, one with its columns in
 * another order) with exact duplicates across them, written differently. 2024-04-02 is random.
 * Returns the landing folder, the distinct rows of known tracks of 2024-04-01 ([user, track, second
 * after 10:00]) and its stream counts as written.
 */
function hardLanding(): { dir: string; day1: StreamCounts; day1Rows: [string, string, number][] } {
  const dir = temp.make('playtally-kpish-hard-');
  for (const sub of ['streams', 'songs', 'users']) mkdirSync(join(dir, sub));
  const songLines = [
    'track_id,track_name,artists,album_name,track_genre,duration_ms,popularity,explicit',
    ...SONGS.map(([t, g, ms]) =>
      [cell(t), '"Name, with ""comma"""', 'A', 'B', cell(g), ms, 50, 'False'].join(','),
    ),
    // The same track and genre again: a duplicate_song, its duration ignored.
    [cell(T.tab), 'again', 'A', 'B', cell(G.tab), 1, 50, 'False'].join(','),
  ];
  writeFileSync(join(dir, 'songs', 'tracks.csv'), `${songLines.join('\n')}\n`);
  writeFileSync(
    join(dir, 'users', 'users.csv'),
    `user_id,user_name,user_age,user_country,created_at\n${HARD_USERS.map((u) => `${cell(u)},n,30,FR,2020-01-01`).join('\n')}\n`,
  );

  const everyone = [...HARD_USERS, ...GHOSTS];
  const ghost = new Set(GHOSTS);
  // [user, track, second of 10:00] of 2024-04-01, each row distinct.
  const rows: [string, string, number][] = [];
  let second = 0;
  const plays = (track: string, n: number): void => {
    for (let i = 0; i < n; i++, second += 7)
      rows.push([everyone[rows.length % everyone.length]!, track, second]);
  };
  plays(T.tab, 3);
  plays(T.comma, 2);
  plays(T.fullwidthA, 2);
  plays(T.note, 2);
  // Twins at one instant: were `u\tTab` and `u\\tTab` (or `u\nLF` and `u\r\nLF`) read as one user,
  // two of these rows would be one, and `g\nLF` would fall out of the tie of 4.
  rows.push(['u\tTab', T.lf, 1000], ['u\\tTab', T.lf, 1000], ['u\nLF', T.lf, 1001], ['u\r\nLF', T.lf, 1001]);
  plays(T.quote, 4);
  plays(T.eAcute, 3);
  plays(T.backslash, 3);
  plays(T.crlf, 2);
  plays(T.backslashT, 1);
  plays(T.plain, 2);
  const counted = rows.length;
  const unknownUser = rows.filter(([u]) => ghost.has(u)).length;
  const day1Rows = [...rows];
  UNKNOWN_TRACKS.forEach((t, i) => {
    rows.push([everyone[i]!, t, 2000 + i]);
  });
  const time = (s: number, form: number): string => {
    const mm = String(Math.floor(s / 60)).padStart(2, '0');
    const ss = String(s % 60).padStart(2, '0');
    return [
      `2024-04-01T10:${mm}:${ss}Z`,
      `2024-04-01 10:${mm}:${ss}`,
      `2024-04-01T12:${mm}:${ss}+02:00`,
      `2024-04-01T10:${mm}:${ss}.000Z`,
    ][form]!;
  };
  // File a: CRLF, a BOM, every other row; file b: the others with columns moved, then duplicates.
  const a: string[] = [];
  const b: string[] = [];
  rows.forEach(([u, t, s], i) => {
    if (i % 2 === 0) a.push([cell(u), cell(t), time(s, 0)].join(','));
    else b.push([time(s, 1), cell(t), cell(u, i % 3 === 0), 'extra'].join(','));
  });
  let duplicates = 0;
  for (let i = 0; i < rows.length; i += 3) {
    const [u, t, s] = rows[i]!;
    b.push([time(s, 2 + (i % 2)), cell(t, true), cell(u), ''].join(','));
    duplicates++;
  }
  a.push(',t\tA,2024-04-01T10:00:00Z', 'u\tTab,t\tA,2024-13-01T10:00:00Z', 'u\tTab,t\tA'); // rejected
  writeFileSync(
    join(dir, 'streams', 'a.csv'),
    `\uFEFFuser_id,track_id,listen_time\r\n${a.map((l) => `${l}\r\n`).join('')}`,
  );
  writeFileSync(
    join(dir, 'streams', 'b.csv'),
    `listen_time,track_id,user_id,note\n${b.map((l) => `${l}\n`).join('')}`,
  );

  // 2024-04-02: random rows over the day, with duplicates.
  const random = mulberry32(77);
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(random() * xs.length)]!;
  const tracks = [...Object.values(T), ...UNKNOWN_TRACKS];
  const lines: string[] = [];
  for (let i = 0; i < 700; i++) {
    if (i > 0 && random() < 0.1) {
      lines.push(pick(lines));
      continue;
    }
    const hh = String(Math.floor(random() * 24)).padStart(2, '0');
    const mm = String(Math.floor(random() * 60)).padStart(2, '0');
    const user = pick(everyone);
    lines.push([cell(user, random() < 0.2), cell(pick(tracks)), `2024-04-02T${hh}:${mm}:00Z`].join(','));
  }
  writeFileSync(join(dir, 'streams', 'c.csv'), `user_id,track_id,listen_time\n${lines.join('\n')}\n`);
  return {
    dir,
    day1Rows,
    day1: {
      rows: rows.length + duplicates,
      duplicates,
      unknownTrack: UNKNOWN_TRACKS.length,
      unknownUser,
      counted,
    },
  };
}

/**
 * The KPI rows of 2024-04-01 of `hardLanding`, from its distinct rows of known tracks, computed
 * plainly: a reference for the day (every row in hour 10). Strings in UTF-8 byte order.
 */
function hardDayOne(rows: [string, string, number][], hourly: boolean): { genres: string; top: string } {
  const perGenre = new Map<
    string,
    { listens: number; users: Set<string>; total: number; plays: Map<string, number> }
  >();
  for (const [user, track] of rows) {
    for (const [t, genre, ms] of SONGS) {
      if (t !== track) continue;
      const g = perGenre.get(genre) ?? { listens: 0, users: new Set(), total: 0, plays: new Map() };
      g.listens++;
      g.users.add(user);
      g.total += ms;
      g.plays.set(track, (g.plays.get(track) ?? 0) + 1);
      perGenre.set(genre, g);
    }
  }
  const bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const lead = `2024-04-01${hourly ? ',10' : ''}`;
  const names = [...perGenre.keys()].sort(bytes);
  const genres = names.map((genre) => {
    const g = perGenre.get(genre)!;
    const hundredths = (BigInt(g.total) * 200n + BigInt(g.users.size)) / (2n * BigInt(g.users.size));
    const avg = `${hundredths / 100n}.${String(hundredths % 100n).padStart(2, '0')}`;
    const top3 = [...g.plays]
      .sort((x, y) => y[1] - x[1] || bytes(x[0], y[0]))
      .slice(0, 3)
      .map(([t, n]) => `${t}:${n}`)
      .join(';');
    return `${lead},${cell(genre)},${g.listens},${g.users.size},${g.total},${avg},${cell(top3)}\n`;
  });
  const top = [...names]
    .sort((x, y) => perGenre.get(y)!.listens - perGenre.get(x)!.listens || bytes(x, y))
    .slice(0, 5)
    .map((genre, i) => `${lead},${i + 1},${cell(genre)},${perGenre.get(genre)!.listens}\n`);
  return { genres: genres.join(''), top: top.join('') };
}

describe.each(ENGINES)('engine %s', (_name, makeJob) => {
  it.each([
    ['kpiLanding seed 1', 'day'],
    ['kpiLanding seed 3', 'hour'],
    ['generateKpiDataset', 'hour'],
  ] as const)('%s, %s granularity: every file holds the rows of DuckDB', async (source, granularity) => {
    const run = makeJob();
    let dir: string;
    if (source === 'generateKpiDataset') {
      dir = temp.make('playtally-kpish-gen-');
      generateKpiDataset({
        dir,
        start: day('2024-07-01'),
        days: 2,
        streamsPerDay: 6_000,
        filesPerDay: 2,
        songs: 300,
        users: 500,
        dirtRate: 0.05,
        seed: 11,
      });
    } else dir = kpiLanding(temp, source.endsWith('1') ? 1 : 3, 1_200);
    const out = temp.make('playtally-kpish-out-');
    // Embedded with parallelDayRows 0: the days are cut by user over the workers.
    const summary = await run({ landingDir: dir, outDir: out, granularity, threads: 2, parallelDayRows: 0 });
    const oracle = await duckdbKpis(conn, dir, granularity);
    expectOracleRows(out, oracle);
    // The quality reports too: the engines differ in nothing but generatedAt.
    expect(kpiOutputs(out)).toEqual(await embeddedFromScratch(dir, granularity));
    // Not vacuous: every day was written, and the main ones hit what the KPIs must get right.
    const main = source === 'generateKpiDataset' ? ['20240701', '20240702'] : ['20240301', '20240302'];
    expect(summary.days.map((d) => d.date.replaceAll('-', ''))).toEqual(expect.arrayContaining(main));
    expect(summary.days.length * 2).toBe(oracle.size);
    for (const date of main) {
      const streams = quality(out, date).streams;
      expect(streams.duplicates, date).toBeGreaterThan(0);
      expect(streams.unknownTrack, date).toBeGreaterThan(0);
      expect(streams.unknownUser, date).toBeGreaterThan(0);
      expect(streams.counted, date).toBeGreaterThan(1_000);
    }
  });

  it.each(['day', 'hour'] as const)(
    'ids and genres with tabs, backslashes, quotes, line ends and astral characters; ties in byte order (%s)',
    async (granularity) => {
      // Expected: the embedded engine's files byte for byte, and for 2024-04-01 the rows computed
      // plainly from the rows as designed (hardDayOne), not DuckDB's: bench/kpiSql.ts lets DuckDB
      // sniff the CSV dialect, and on a streams file whose ids hold tabs it guesses wrong (one
      // column per line), so the oracle would count other rows.
      const run = makeJob();
      const { dir, day1, day1Rows } = hardLanding();
      const out = temp.make('playtally-kpish-hard-out-');
      await run({ landingDir: dir, outDir: out, granularity, threads: 2 });
      expect(kpiOutputs(out)).toEqual(await embeddedFromScratch(dir, granularity));
      const reference = hardDayOne(day1Rows, granularity === 'hour');
      expect(body(out, 'genre_kpis_20240401.csv')).toBe(reference.genres);
      expect(body(out, 'top_genres_20240401.csv')).toBe(reference.top);

      const hour = granularity === 'hour' ? ',10' : '';
      expect(body(out, 'top_genres_20240401.csv')).toBe(
        [
          `2024-04-01${hour},1,${cell(G.tab)},9`,
          `2024-04-01${hour},2,${cell(G.lf)},4`,
          `2024-04-01${hour},3,${cell(G.quote)},4`,
          `2024-04-01${hour},4,${cell(G.backslash)},4`,
          `2024-04-01${hour},5,${G.cent},3`,
        ]
          .map((l) => `${l}\n`)
          .join(''),
      );
      const kpis = body(out, 'genre_kpis_20240401.csv');
      expect(kpis).toContain(`${cell(G.tab)},9,`);
      expect(kpis).toContain(`,${cell(`${T.tab}:3;${T.comma}:2;${T.fullwidthA}:2`)}\n`);
      expect(kpis).toContain(`,${G.guitar},3,3,930000,310000.00,${T.backslash}:3\n`);
      expect(quality(out, '20240401').streams).toEqual(day1);
      expect(day1.unknownUser).toBeGreaterThan(0);
      const day2 = quality(out, '20240402').streams;
      expect(day2.duplicates).toBeGreaterThan(0);
      expect(day2.unknownTrack).toBeGreaterThan(0);
      expect(day2.unknownUser).toBeGreaterThan(0);
    },
  );

  it.each(['day', 'hour'] as const)(
    'listen times outside 1970..2105 stay on their own days (%s)',
    async (granularity) => {
      // ClickHouse 18.16's Date maps every day outside 1970-01-01..2105-12-31 to one value; an
      // epoch-0 time with an offset is a listen on 1969-12-31 UTC, the kind of thing dirty data has.
      const run = makeJob();
      const dir = temp.make('playtally-kpish-epoch-');
      for (const sub of ['streams', 'songs', 'users']) mkdirSync(join(dir, sub));
      writeFileSync(
        join(dir, 'songs', 'songs.csv'),
        'track_id,track_name,artists,album_name,track_genre,duration_ms,popularity,explicit\n' +
          't1,a,b,c,pop,1000,1,False\nt2,a,b,c,rock,2000,1,False\n',
      );
      writeFileSync(
        join(dir, 'users', 'users.csv'),
        'user_id,user_name,user_age,user_country,created_at\nu1,a,1,FR,x\n',
      );
      const streams = [
        'u1,t1,1970-01-01T00:00:00+01:00', // 1969-12-31 23:00 UTC
        'u2,t2,1969-12-31T22:00:00Z',
        'u1,t2,1970-01-01T01:00:00Z',
        'u3,t2,1970-01-01T02:00:00Z',
        'u1,t1,2150-03-01T05:00:00Z',
        'u1,t1,2200-03-01T06:00:00Z',
        'u2,t2,2200-03-01T07:00:00Z',
      ];
      writeFileSync(join(dir, 'streams', 's.csv'), `user_id,track_id,listen_time\n${streams.join('\n')}\n`);
      const out = temp.make('playtally-kpish-epoch-out-');
      const first = await run({ landingDir: dir, outDir: out, granularity, threads: 1 });
      expect(first.days.map((d) => [d.date, d.streams.counted])).toEqual([
        ['1969-12-31', 2],
        ['1970-01-01', 2],
        ['2150-03-01', 1],
        ['2200-03-01', 2],
      ]);
      expect(kpiOutputs(out)).toEqual(await embeddedFromScratch(dir, granularity));
      expect(body(out, 'top_genres_19691231.csv')).toBe(
        granularity === 'day'
          ? '1969-12-31,1,pop,1\n1969-12-31,2,rock,1\n'
          : '1969-12-31,22,1,rock,1\n1969-12-31,23,1,pop,1\n',
      );
      // The other granularity reuses the loaded rows, which must still be each day's own.
      const other = await run({
        landingDir: dir,
        outDir: out,
        granularity: granularity === 'day' ? 'hour' : 'day',
        threads: 1,
      });
      expect(other.days).toHaveLength(4);
      expect(kpiOutputs(out)).toEqual(await embeddedFromScratch(dir, granularity === 'day' ? 'hour' : 'day'));
    },
  );

  it('incremental and idempotent: added, replaced, changed and removed inputs, each run equal to a fresh one', async () => {
    const run = makeJob();
    const dir = kpiLanding(temp, 5, 500);
    const out = temp.make('playtally-kpish-inc-out-');
    const step = async (): Promise<KpiSummary> => {
      const summary = await run({ landingDir: dir, outDir: out, threads: 2, archive: false });
      expect(kpiOutputs(out)).toEqual(await embeddedFromScratch(dir));
      return summary;
    };
    const dates = (s: KpiSummary): string[] => s.days.map((d) => d.date);

    const every = dates(await step());
    expect(every).toEqual(expect.arrayContaining(['2024-03-01', '2024-03-02']));
    expect(dates(await step())).toEqual([]);

    // More rows on 2024-03-01: 10 copies of valid rows already there, and 2 new rows.
    const before = quality(out, '20240301').streams;
    const earlier = readFileSync(join(dir, 'streams', 'streams-0.csv'), 'utf8')
      .split('\n')
      .filter((l) => /^u\d+,trk\w+,2024-03-01T1\d:\d\d:\d\dZ$/.test(l));
    expect(earlier.length).toBeGreaterThan(10);
    const track = earlier[0]!.split(',')[1]!;
    writeFileSync(
      join(dir, 'streams', 'streams-9.csv'),
      `user_id,track_id,listen_time\n${earlier.slice(0, 10).join('\n')}\nu1,${track},2024-03-01T12:00:00.000001Z\nu2,${track},2024-03-01T12:00:00.000002Z\n`,
    );
    expect(dates(await step())).toEqual(['2024-03-01']);
    const added = quality(out, '20240301').streams;
    expect(added.rows - before.rows).toBe(12);
    expect(added.duplicates - before.duplicates).toBe(10);
    expect(added.counted - before.counted).toBe(2);

    // streams-0.csv replaced by other content (of seed 6).
    const other = kpiLanding(temp, 6, 300);
    cpSync(join(other, 'streams', 'streams-0.csv'), join(dir, 'streams', 'streams-0.csv'));
    expect(dates(await step())).toEqual(expect.arrayContaining(['2024-03-01', '2024-03-02']));

    // The songs change: other genres and durations for the same ids, and a track that was unknown.
    const songs = readFileSync(join(dir, 'songs', 'tracks.csv'), 'utf8')
      .replaceAll(',pop\n', ',rock\n')
      .replace(/,(\d{5,6}),False,/, ',1,False,');
    writeFileSync(join(dir, 'songs', 'tracks.csv'), `${songs}999,nosuch1,A,B,C,1,1234,False,pop\n`);
    const unknownBefore = quality(out, '20240302').streams.unknownTrack;
    expect(dates(await step())).toEqual(every);
    expect(quality(out, '20240302').streams.unknownTrack).toBeLessThan(unknownBefore);

    // A streams file gone: its rows go with it.
    const rowsBefore = quality(out, '20240302').streams.rows;
    rmSync(join(dir, 'streams', 'streams-1.csv'));
    expect(dates(await step())).toEqual(expect.arrayContaining(['2024-03-01', '2024-03-02']));
    expect(quality(out, '20240302').streams.rows).toBeLessThan(rowsBefore);
    expect(quality(out, '20240302').files.map((f) => f.file)).not.toContain('streams-1.csv');

    expect(dates(await step())).toEqual([]);
  });
});

describe.runIf(haveClickHouse)('clickhouse engine: the rows it loaded', () => {
  /** The active parts of `stream_rows_local` on each shard, by YYYY-MM-DD: a reload makes new ones. */
  async function parts(cluster: ClickHouseCluster): Promise<Record<string, string[]>[]> {
    return Promise.all(
      cluster.shards.map(async (shard) => {
        const result = await shard.query({
          query: `SELECT toString(partition) AS day, name FROM system.parts
                  WHERE database = '${cluster.database}' AND table = 'stream_rows_local' AND active
                  ORDER BY name`,
          format: 'JSONEachRow',
        });
        const byDay: Record<string, string[]> = {};
        for (const { day: d, name } of (await result.json()) as { day: string; name: string }[])
          (byDay[d] ??= []).push(name);
        return byDay;
      }),
    );
  }

  async function count(cluster: ClickHouseCluster, where = '1'): Promise<number> {
    const result = await cluster.shards[0]!.query({
      query: `SELECT count() AS n FROM ${cluster.database}.stream_rows WHERE ${where}`,
      format: 'JSONEachRow',
    });
    return Number(((await result.json()) as { n: string }[])[0]!.n);
  }

  interface LoadedState {
    target: string;
    catalog?: { key: string };
    days: Record<string, { inputs: string[]; rows: number }>;
  }

  it('reuses them for the other granularity; notices a partition a shard lost, and loads the day again', async () => {
    const database = newDatabase();
    const cluster = new ClickHouseCluster(CLICKHOUSE_URLS, database);
    try {
      const dir = kpiLanding(temp, 8, 800);
      const out = temp.make('playtally-kpish-reuse-out-');
      const state = join(out, '.playtally-kpis', 'clickhouse-kpis.json');
      const run = (granularity: 'day' | 'hour'): Promise<KpiSummary> =>
        runKpis({
          landingDir: dir,
          outDir: out,
          granularity,
          threads: 2,
          clickhouse: { urls: CLICKHOUSE_URLS, database },
        });
      const loaded = (): LoadedState => JSON.parse(readFileSync(state, 'utf8')) as LoadedState;

      const first = await run('day');
      expect(kpiOutputs(out)).toEqual(await embeddedFromScratch(dir, 'day'));
      const days = loaded().days;
      const keys = first.days.map((d) => d.date.replaceAll('-', '')).sort();
      expect(Object.keys(days).sort()).toEqual(keys);
      const total = Object.values(days).reduce((n, d) => n + d.rows, 0);
      expect(total).toBe(first.days.reduce((n, d) => n + d.streams.rows, 0));
      expect(await count(cluster)).toBe(total);
      const before = await parts(cluster);
      // Both shards hold rows of both main days.
      for (const shard of before)
        expect(Object.keys(shard)).toEqual(
          expect.arrayContaining([`${day('2024-03-01')}`, `${day('2024-03-02')}`]),
        );

      // Another granularity: every day is written again, from the rows already on the cluster.
      const hourly = await run('hour');
      expect(hourly.days.map((d) => d.date)).toEqual(first.days.map((d) => d.date));
      expect(loaded().days).toEqual(days);
      expect(await parts(cluster)).toEqual(before);
      expect(await count(cluster)).toBe(total);
      const reference = await embeddedFromScratch(dir, 'hour');
      expect(kpiOutputs(out)).toEqual(reference);

      // Shard 2 loses 2024-03-02 behind playtally's back; the day's files are deleted, so it is due.
      await cluster.shards[1]!.command({
        query: `ALTER TABLE ${database}.stream_rows_local DROP PARTITION ${day('2024-03-02')}`,
      });
      expect(await count(cluster, `day = ${day('2024-03-02')}`)).toBeLessThan(days['20240302']!.rows);
      rmSync(join(out, 'genre_kpis_20240302.csv'));
      const repaired = await run('hour');
      expect(repaired.days.map((d) => d.date)).toEqual(['2024-03-02']);
      expect(kpiOutputs(out)).toEqual(reference);
      expect(loaded().days).toEqual(days);
      expect(await count(cluster, `day = ${day('2024-03-02')}`)).toBe(days['20240302']!.rows);
      expect(await count(cluster)).toBe(total);
      const after = await parts(cluster);
      for (let s = 0; s < after.length; s++) {
        // The day was loaded again on every shard (new parts); the other days were left alone.
        expect(after[s]![day('2024-03-02')], `shard ${s + 1}`).not.toEqual(before[s]![day('2024-03-02')]);
        expect({ ...after[s]!, [day('2024-03-02')]: [] }).toEqual({ ...before[s]!, [day('2024-03-02')]: [] });
      }
    } finally {
      await cluster.close();
    }
  });

  it('two state folders on one database: a day another loaded since, with as many rows, is loaded again', async () => {
    // Two landing folders, each one row on the same day (other tracks, other genres), and a
    // songs file of their own: same row counts, other data.
    const landing = (track: string, genre: string): string => {
      const dir = temp.make('playtally-kpish-two-');
      for (const sub of ['streams', 'songs', 'users']) mkdirSync(join(dir, sub));
      writeFileSync(
        join(dir, 'songs', 'songs.csv'),
        `track_id,track_name,artists,album_name,track_genre,duration_ms,popularity,explicit\n${track},a,b,c,${genre},1000,1,False\n`,
      );
      writeFileSync(
        join(dir, 'users', 'users.csv'),
        'user_id,user_name,user_age,user_country,created_at\nu1,a,1,FR,x\n',
      );
      writeFileSync(
        join(dir, 'streams', 's.csv'),
        `user_id,track_id,listen_time\nu1,${track},2024-05-01T10:00:00Z\n`,
      );
      return dir;
    };
    const database = newDatabase();
    const one = landing('t1', 'pop');
    const two = landing('t2', 'rock');
    const outOne = temp.make('playtally-kpish-two-out1-');
    const outTwo = temp.make('playtally-kpish-two-out2-');
    const run = (landingDir: string, outDir: string, granularity: 'day' | 'hour') =>
      runKpis({
        landingDir,
        outDir,
        granularity,
        archive: false,
        threads: 1,
        clickhouse: { urls: CLICKHOUSE_URLS, database },
      });
    await run(one, outOne, 'day');
    await run(two, outTwo, 'day');
    expect(body(outTwo, 'genre_kpis_20240501.csv')).toContain(',rock,');
    // The first folder again, with the other granularity (so its day is due): its own rows.
    await run(one, outOne, 'hour');
    expect(kpiOutputs(outOne)).toEqual(await embeddedFromScratch(one, 'hour'));
    expect(body(outOne, 'genre_kpis_20240501.csv')).toBe('2024-05-01,10,pop,1,1,1000,1000.00,t1:1\n');
  });
});
