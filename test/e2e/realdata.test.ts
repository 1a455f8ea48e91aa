import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckdbKpis } from '../../bench/kpiSql.js';
import { REJECT_REASONS } from '../../src/parse/rejects.js';
import { cli, requireBuiltCli } from '../support/cliRuns.js';
import { kpiOracle } from '../support/duckdb.js';
import { haveRealdata, linkAs, realBytes, realdata, realdataGuard } from '../support/realdata.js';
import { referenceCharts, referenceQuality, referenceRows } from '../support/reference.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * The real files people who do this job have (../shared/realdata/), through the CLI as a new user
 * runs it. Expected charts come from the plain reference of the contract (support/reference.ts),
 * expected KPIs from DuckDB's own SQL over the same CSVs: never from playtally itself.
 */

realdataGuard('e2e/realdata.test');

const temp = new TempDirs();
beforeAll(requireBuiltCli);
afterAll(() => temp.cleanup());

interface Quality {
  day: {
    rows: number;
    header: number;
    valid: number;
    rejected: number;
    rejectedByReason: Record<string, number>;
  };
  totals: { rows: number; valid: number; rejected: number };
  warnings: {
    kind: string;
    date: string;
    file: string;
    rate: number;
    reason: string;
    example: { line: number; text: string } | null;
    hint: string | null;
    message: string;
  }[];
}

/** A logs folder holding links to real files under the names given. */
function logsWith(links: Record<string, string>): string {
  const dir = temp.make('playtally-real-logs-');
  for (const [name, target] of Object.entries(links)) linkAs(dir, name, target);
  return dir;
}

/** `top50 --json` on a folder: the run, its summary (if any) and the output folder. */
function top50(logs: string, ...more: string[]) {
  const out = temp.make('playtally-real-out-');
  const r = cli(['top50', '--logs', logs, '--out', out, '--json', ...more]);
  const summary = r.status === 0 ? (JSON.parse(r.stdout) as { warnings: Quality['warnings'] }) : undefined;
  return { ...r, out, summary };
}

function chartsOf(out: string, compact: string): { country: string; user: string } {
  return {
    country: readFileSync(join(out, `country_top50_${compact}.txt`), 'utf8'),
    user: readFileSync(join(out, `user_top50_${compact}.txt`), 'utf8'),
  };
}

function qualityOf(out: string, compact: string): Quality {
  return JSON.parse(readFileSync(join(out, `quality_${compact}.json`), 'utf8')) as Quality;
}

/** The reference's counts by reason, with every reason present (zero when none). */
function allReasons(byReason: Partial<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(REJECT_REASONS.map((r) => [r, byReason[r] ?? 0]));
}

const SAMPLE = ['deezer-samples', 'sample_listen-2021-12-01.txt'] as const;
const DIRTY = ['deezer-samples', 'sample_listen-2021-12-01_dirty.txt'] as const;

describe.runIf(haveRealdata)('the public sample of the listen-log exercise (29569957 | 7788196 | BL)', () => {
  it('under its own name: named in a warning with the name to give it, and no log is an input error', () => {
    const r = top50(logsWith({ 'sample_listen-2021-12-01.txt': realdata(...SAMPLE) }));
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain(
      'warning: ignoring sample_listen-2021-12-01.txt: not a log name: playtally reads listen-YYYYMMDD.log or ' +
        'listen-YYYY-MM-DD.log (or the same with .gz); rename it listen-20211201.log',
    );
    expect(r.stderr).toMatch(/error: no logs in .*1 file passed over/);
  });

  it('as listen-2021-12-01.log: every row read, the charts of the contract, no warning', () => {
    const bytes = realBytes(...SAMPLE);
    expect(bytes.toString('latin1')).toContain(' | '); // not vacuous: the blanks are there
    const r = top50(logsWith({ 'listen-2021-12-01.log': realdata(...SAMPLE) }));
    expect(r.status, r.stderr).toBe(0);
    const expected = referenceCharts(referenceRows(bytes));
    expect(chartsOf(r.out, '20211201')).toEqual(expected);
    expect(expected.user.split('\n').length - 1).toBe(100);
    const quality = qualityOf(r.out, '20211201');
    expect(quality.day).toMatchObject({ rows: 100, header: 0, valid: 100, rejected: 0 });
    expect(quality.warnings).toEqual([]);
    expect(r.summary!.warnings).toEqual([]);
    expect(r.stderr).not.toMatch(/warning: 2021-12-01/);
    // The same bytes gzipped, with a header line: the stream path reads them alike.
    const gz = temp.make('playtally-real-gz-');
    writeFileSync(
      join(gz, 'listen-20211201.log.gz'),
      gzipSync(Buffer.concat([Buffer.from('sng_id | user_id | country\r\n'), bytes])),
    );
    const zipped = top50(gz);
    expect(zipped.status, zipped.stderr).toBe(0);
    expect(chartsOf(zipped.out, '20211201')).toEqual(expected);
    expect(qualityOf(zipped.out, '20211201').day).toMatchObject({
      rows: 100,
      header: 1,
      valid: 100,
      rejected: 0,
    });
  });

  it('the dirty copy: charts and rejects by reason as the contract says, and a loud warning', () => {
    const bytes = realBytes(...DIRTY);
    const ref = referenceQuality(bytes);
    const r = top50(logsWith({ 'listen-20211201.log': realdata(...DIRTY) }));
    expect(r.status, r.stderr).toBe(0);
    expect(chartsOf(r.out, '20211201')).toEqual(referenceCharts(referenceRows(bytes)));
    const quality = qualityOf(r.out, '20211201');
    expect(quality.day).toMatchObject({ rows: ref.rows, valid: ref.valid, rejected: ref.rejected });
    expect(quality.day.rejectedByReason).toEqual(allReasons(ref.byReason));
    // The day is well above 5% rejected: a warning in the text, the --json summary and the report.
    const rate = ref.rejected / ref.rows;
    expect(rate).toBeGreaterThan(0.05);
    const main = Object.entries(ref.byReason).sort((a, b) => b[1]! - a[1]!)[0]![0];
    const [warning] = quality.warnings;
    expect(quality.warnings).toHaveLength(1);
    expect(warning).toMatchObject({
      kind: 'reject_rate',
      date: '2021-12-01',
      file: 'listen-20211201.log',
      reason: main,
    });
    expect(warning!.rate).toBeCloseTo(rate, 10);
    expect(warning!.example!.text).toBe(exampleLine(bytes, warning!.example!.line));
    expect(r.summary!.warnings).toEqual(quality.warnings);
    expect(r.stderr).toContain(
      `playtally: warning: 2021-12-01 (listen-20211201.log): ${(rate * 100).toFixed(2)}% of ${ref.rows} rows rejected (above --max-reject-rate 5.00%), mostly ${main}`,
    );
    expect(r.stderr).toMatch(/e\.g\. line \d+: `[^`]*`/);
    // Above the threshold given, no warning.
    const lenient = top50(
      logsWith({ 'listen-20211201.log': realdata(...DIRTY) }),
      '--max-reject-rate',
      '0.9',
    );
    expect(lenient.status).toBe(0);
    expect(lenient.summary!.warnings).toEqual([]);
    expect(lenient.stderr).not.toContain('rows rejected');
  });

  // The sample rewritten in the layouts people send by mistake: no row is valid, so it is exit 3
  // with what the lines look like, and no chart file.
  const layouts: [string, (fields: string[]) => string, string][] = [
    [
      'semicolons',
      (f) => f.join(';'),
      "the lines use ';' between fields; playtally expects '|' (sng_id|user_id|country)",
    ],
    [
      'commas',
      (f) => f.join(','),
      "the lines use ',' between fields; playtally expects '|' (sng_id|user_id|country)",
    ],
    [
      'tabs',
      (f) => f.join('\t'),
      "the lines use a tab between fields; playtally expects '|' (sng_id|user_id|country)",
    ],
    [
      'quoted fields',
      (f) => f.map((x) => `"${x}"`).join('|'),
      'the fields are quoted ("..."); playtally expects bare values',
    ],
    ['a header in other words', (f) => f.join('|'), 'the first line looks like a header'],
  ];
  it.each(layouts)('%s: exit 3, the reason, an example line and the layout in words', (name, join_, hint) => {
    const lines = realBytes(...SAMPLE)
      .toString('latin1')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => join_(l.split('|').map((f) => f.trim())));
    let text = `${lines.join('\n')}\n`;
    // A header in other words: the only lines are the header and rows with a country name.
    if (name === 'a header in other words') text = 'song|user|pays\n';
    const dir = temp.make('playtally-real-layout-');
    writeFileSync(join(dir, 'listen-20211201.log'), text);
    const r = top50(dir);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain('playtally: error: no valid row in the window 2021-11-25..2021-12-01');
    expect(r.stderr).toMatch(
      /listen-20211201\.log: 100\.00% of [\d,]+ rows? rejected, mostly \w+ \(\d+\), e\.g\. line 1: `/,
    );
    expect(r.stderr).toContain(hint);
    expect(readdirSync(r.out).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});

describe.runIf(haveRealdata)(
  'topper: plain logs with leading zeros, and a fixture with codes that are not ISO',
  () => {
    it('two days in one window: the charts of the contract; 5, 05 and 005 are one user', () => {
      const [a, b] = ['listen-20200211.log', 'listen-20200212.log'];
      const bytes = [realBytes('topper', a), realBytes('topper', b)];
      // Not vacuous: the same user is written with leading zeros.
      expect(bytes[1]!.toString('latin1')).toMatch(/\|0\d+\|/);
      const r = top50(logsWith({ [a]: realdata('topper', a), [b]: realdata('topper', b) }));
      expect(r.status, r.stderr).toBe(0);
      const charts = chartsOf(r.out, '20200212');
      expect(charts).toEqual(referenceCharts(bytes.flatMap((x) => referenceRows(x))));
      expect(charts.user).not.toMatch(/^0\d/m);
      const quality = qualityOf(r.out, '20200212');
      const refs = bytes.map(referenceQuality);
      expect(quality.totals.rows).toBe(refs[0]!.rows + refs[1]!.rows);
      expect(quality.totals.valid).toBe(refs[0]!.valid + refs[1]!.valid);
    });

    it('the fixture under its placeholder name is named as such; as a dated log, VJ, UR, SP and QV are unknown countries', () => {
      const placeholder = top50(
        logsWith({ 'listen-YYYYMMDD.log': realdata('topper', 'listen-YYYYMMDD.log') }),
      );
      expect(placeholder.status).toBe(3);
      expect(placeholder.stderr).toContain(
        'warning: ignoring listen-YYYYMMDD.log: its day part "YYYYMMDD" is not a date: name each log for its day',
      );

      const bytes = realBytes('topper', 'listen-YYYYMMDD.log');
      const r = top50(logsWith({ 'listen-20200101.log': realdata('topper', 'listen-YYYYMMDD.log') }));
      expect(r.status, r.stderr).toBe(0);
      expect(chartsOf(r.out, '20200101')).toEqual(referenceCharts(referenceRows(bytes)));
      const quality = qualityOf(r.out, '20200101');
      expect(quality.day.rejectedByReason).toEqual(allReasons(referenceQuality(bytes).byReason));
      expect(quality.day.rejectedByReason.unknown_country).toBe(4);
      expect(quality.day.rejectedByReason.empty).toBe(1);
      expect(quality.warnings[0]).toMatchObject({ reason: 'unknown_country' });
      for (const code of ['VJ', 'UR', 'SP']) expect(r.stderr + JSON.stringify(quality)).toContain(`|${code}`);
    });
  },
);

describe.runIf(haveRealdata)(
  'the Airflow/Glue lab drops: real streams and users, a songs file made here',
  () => {
    let conn: DuckDBConnection;
    beforeAll(async () => {
      conn = await kpiOracle();
    });
    afterAll(() => conn?.closeSync());

    /** A landing folder whose streams/ and users/ are the real folders, linked, not copied. */
    function landing(withSongs: boolean): { dir: string; missing: Set<string> } {
      const dir = temp.make('playtally-real-landing-');
      linkAs(dir, 'streams', realdata('airflow-glue-lab', 'streams'));
      linkAs(dir, 'users', realdata('airflow-glue-lab', 'users'));
      const missing = new Set<string>();
      if (withSongs) {
        mkdirSync(join(dir, 'songs'));
        writeFileSync(join(dir, 'songs', 'songs.csv'), labSongs(missing));
      }
      return { dir, missing };
    }

    it('without songs: exit 3, saying what was found where and what is expected', () => {
      const { dir } = landing(false);
      const r = cli(['kpis', '--landing', dir, '--out', temp.make('playtally-real-out-'), '--no-archive']);
      expect(r.status).toBe(3);
      expect(r.stderr).toContain(`no songs in ${join(dir, 'songs')}: every stream would be an unknown track`);
      expect(r.stderr).toContain(
        `found in ${dir}: streams/ 3 CSV files, songs/ missing or empty, users/ 1 CSV file`,
      );
      expect(r.stderr).toMatch(
        /reads the song catalogue from songs\/\*\.csv, with a header naming at least track_id/,
      );
    });

    it('with a songs file of the lab 21 columns: the KPIs DuckDB computes, and a warning for unknown tracks', async () => {
      const { dir, missing } = landing(true);
      const out = temp.make('playtally-real-out-');
      const r = cli(['kpis', '--landing', dir, '--out', out, '--no-archive', '--json']);
      expect(r.status, r.stderr).toBe(0);
      const expected = await duckdbKpis(conn, dir, 'day');
      expect([...expected.keys()].sort()).toEqual(['genre_kpis_20240625.csv', 'top_genres_20240625.csv']);
      for (const [name, lines] of expected) {
        const ours = readFileSync(join(out, name), 'utf8').split('\n').slice(1, -1);
        expect(ours, name).toEqual(lines);
      }
      expect(existsSync(join(dir, 'archive'))).toBe(false);
      // About a tenth of the tracks are not in the songs: loud, with an example that is one of them.
      const quality = JSON.parse(readFileSync(join(out, 'kpi_quality_20240625.json'), 'utf8'));
      const unique = quality.streams.rows - quality.streams.duplicates;
      expect(quality.streams.unknownTrack / unique).toBeGreaterThan(0.05);
      expect(quality.warnings).toHaveLength(1);
      const [warning] = quality.warnings;
      expect(warning).toMatchObject({
        kind: 'reject_rate',
        scope: 'day',
        date: '2024-06-25',
        reason: 'unknown_track',
      });
      expect(missing.has(warning.example.text)).toBe(true);
      expect(readFileSync(join(dir, 'streams', warning.file), 'utf8')).toContain(`,${warning.example.text},`);
      expect(JSON.parse(r.stdout).warnings).toEqual(quality.warnings);
      expect(r.stderr).toContain(`playtally: warning: 2024-06-25: ${(warning.rate * 100).toFixed(2)}% of`);
      expect(r.stderr).toContain(
        `unique streams have a track in no songs file (unknown_track, above --max-reject-rate 5.00%), e.g. track ${warning.example.text}`,
      );
    });
  },
);

/** Line `n` (1-based) of a file, as reports print it. */
function exampleLine(bytes: Buffer, n: number): string {
  return bytes.toString('latin1').split('\n')[n - 1]!.replace(/\r$/, '\\r');
}

/**
 * A songs file for the lab's streams, with the header of the lab's songs.csv (the Spotify tracks
 * dataset: an unnamed index column named `id`, track fields, audio features, track_genre): every
 * track but one in ten (those go into `missing`), a genre and a duration drawn from its id, some
 * tracks under two genres, names holding commas and quotes.
 */
function labSongs(missing: Set<string>): string {
  const tracks = new Set<string>();
  for (const name of ['streams1.csv', 'streams2.csv', 'streams3.csv']) {
    for (const line of realBytes('airflow-glue-lab', 'streams', name).toString('utf8').split('\n').slice(1)) {
      const track = line.split(',')[1];
      if (track) tracks.add(track);
    }
  }
  const header =
    'id,track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,energy,key,' +
    'loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,time_signature,track_genre';
  const genres = ['acoustic', 'hip-hop', 'j-pop', 'pop', 'r-n-b', 'rock', 'world-music'];
  const rows = [header];
  [...tracks].sort().forEach((track, i) => {
    if (i % 10 === 3) {
      missing.add(track);
      return;
    }
    let h = 0;
    for (const c of track) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    const own = [genres[h % genres.length]!];
    if (i % 7 === 0) own.push(genres[(h >>> 8) % genres.length]!);
    for (const genre of new Set(own)) {
      rows.push(
        `${rows.length - 1},${track},"Artist ${i}; Other","Album, ${i}","Song ""${i}""",${h % 100},` +
          `${90_000 + (h % 240_000)},False,0.5,0.6,5,-6.5,1,0.05,0.2,0.0,0.1,0.4,118.0,4,${genre}`,
      );
    }
  });
  return `${rows.join('\n')}\n`;
}
