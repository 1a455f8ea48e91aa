import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { type KpiEvent, runKpis } from '../../src/jobs/kpiJob.js';
import { PlaytallyError } from '../../src/ops/errors.js';
import { type Drop, SONGS_HEADER, songs, USERS, writeDrop } from '../support/kpiDrops.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * Contract of `kpis` on small hand-made drops, one rule per test: unique listeners are exact
 * across files, exact duplicates count once, the UTC day of a listen time honours its offset,
 * quoted multi-line fields are read as one field, a file that is not a usable CSV goes to
 * `error/<kind>/` with its reason while the run goes on, and ties are broken as documented.
 */

const temp = new TempDirs();
afterEach(() => temp.cleanup());

const drop = (files: Drop): string => writeDrop(temp, files);

async function run(dir: string, granularity: 'day' | 'hour' = 'day') {
  const out = temp.make('playtally-kpi-out-');
  const summary = await runKpis({ landingDir: dir, outDir: out, granularity });
  const read = (name: string): string[] =>
    readFileSync(join(out, name), 'utf8').trimEnd().split('\n').slice(1);
  return { out, summary, read, files: readdirSync(out).sort() };
}

describe('genre KPIs', () => {
  it('counts a user once per genre across files, and an exact duplicate once across files', async () => {
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000], ['t2', 'pop', 3000], ['t3', 'rock', 500]) },
      users: { 'u.csv': USERS },
      streams: {
        'a.csv': 'user_id,track_id,listen_time\nu1,t1,2024-01-01T10:00:00Z\nu2,t3,2024-01-01T10:00:00Z\n',
        'b.csv': 'user_id,track_id,listen_time\nu1,t2,2024-01-01T11:00:00Z\nu1,t1,2024-01-01T10:00:00Z\n',
        'c.csv': 'user_id,track_id,listen_time\nu1,t1,2024-01-01T10:00:00Z\nu1,t1,2024-01-01T12:00:00Z\n',
      },
    });
    const { read } = await run(dir);
    expect(read('genre_kpis_20240101.csv')).toEqual([
      // t1 at 10:00 is in all three files: one listen. u1 is one listener of pop over two files.
      '2024-01-01,pop,3,1,5000,5000.00,t1:2;t2:1',
      '2024-01-01,rock,1,1,500,500.00,t3:1',
    ]);
    expect(read('top_genres_20240101.csv')).toEqual(['2024-01-01,1,pop,3', '2024-01-01,2,rock,1']);
  });

  it('puts a listen on the UTC day of its time: offsets honoured, no offset is UTC', async () => {
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000]) },
      streams: {
        'a.csv':
          'user_id,track_id,listen_time\n' +
          'u1,t1,2024-01-01T23:30:00-05:00\n' + // 2024-01-02T04:30Z
          'u2,t1,2024-01-02T00:30:00+01:00\n' + // 2024-01-01T23:30Z
          'u1,t1,2024-01-01 23:59:59\n' + // UTC
          'u2,t1,2024-01-02T00:00:00.000001Z\n',
      },
    });
    const { read, files } = await run(dir);
    expect(files.filter((f) => f.startsWith('genre_kpis_'))).toEqual([
      'genre_kpis_20240101.csv',
      'genre_kpis_20240102.csv',
    ]);
    expect(read('genre_kpis_20240101.csv')).toEqual(['2024-01-01,pop,2,2,2000,1000.00,t1:2']);
    expect(read('genre_kpis_20240102.csv')).toEqual(['2024-01-02,pop,2,2,2000,1000.00,t1:2']);
  });

  it('reads quoted fields with commas, doubled quotes and newlines as one field; a track in two genres counts in both', async () => {
    const dir = drop({
      songs: {
        's.csv':
          `${SONGS_HEADER},extra\n` +
          '"t,1","A ""quoted""\nname","x;y","Al, bum",pop,1000,1,True,more\r\n' +
          '"t,1","A ""quoted""\nname","x;y","Al, bum",k-pop,1000,1,True,more\r\n',
      },
      streams: {
        'a.csv': 'track_id,listen_time,user_id\r\n"t,1",2024-01-01T10:00:00Z,"u ""1"""\r\n',
      },
    });
    const { read } = await run(dir);
    expect(read('genre_kpis_20240101.csv')).toEqual([
      '2024-01-01,k-pop,1,1,1000,1000.00,"t,1:1"',
      '2024-01-01,pop,1,1,1000,1000.00,"t,1:1"',
    ]);
  });

  it('moves a file missing a column, or not a CSV, to error/<kind>/ with its reason, and goes on', async () => {
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000]), 'nogenre.csv': 'track_id,duration_ms\nt9,5\n' },
      streams: {
        'good.csv': 'user_id,track_id,listen_time\nu1,t1,2024-01-01T10:00:00Z\n',
        'missing.csv': 'user_id,track_id\nu1,t1\n',
        'binary.csv': Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x13, 0x37]).toString('latin1'),
        'empty.csv': '',
      },
    });
    const { read, summary } = await run(dir);
    expect(read('genre_kpis_20240101.csv')).toEqual(['2024-01-01,pop,1,1,1000,1000.00,t1:1']);
    expect(readdirSync(join(dir, 'streams'))).toEqual(['good.csv']);
    expect(readdirSync(join(dir, 'error', 'streams')).sort()).toEqual([
      'binary.csv',
      'binary.csv.reason.json',
      'empty.csv',
      'empty.csv.reason.json',
      'missing.csv',
      'missing.csv.reason.json',
    ]);
    expect(readdirSync(join(dir, 'error', 'songs')).sort()).toEqual([
      'nogenre.csv',
      'nogenre.csv.reason.json',
    ]);
    const reason = JSON.parse(readFileSync(join(dir, 'error', 'streams', 'missing.csv.reason.json'), 'utf8'));
    expect(reason).toMatchObject({
      file: 'missing.csv',
      kind: 'streams',
      reason: 'missing_columns',
      missing: ['listen_time'],
    });
    expect(
      JSON.parse(readFileSync(join(dir, 'error', 'streams', 'binary.csv.reason.json'), 'utf8')).reason,
    ).toBe('not_csv');
    expect(summary.errorFiles.map((f) => f.file).sort()).toEqual([
      'binary.csv',
      'empty.csv',
      'missing.csv',
      'nogenre.csv',
    ]);
    // The moved files are byte for byte what landed.
    expect(readFileSync(join(dir, 'error', 'streams', 'missing.csv'), 'utf8')).toBe(
      'user_id,track_id\nu1,t1\n',
    );
  });

  it('rejects bad rows by reason and reports them, with unknown tracks and users', async () => {
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000]) },
      users: { 'u.csv': USERS },
      streams: {
        'a.csv':
          'user_id,track_id,listen_time\n' +
          'u1,t1,2024-01-01T10:00:00Z\n' +
          ',t1,2024-01-01T10:00:00Z\n' +
          'u1,,2024-01-01T10:00:00Z\n' +
          'u1,t1,yesterday\n' +
          'u1,t1\n' +
          'u1,nosuch,2024-01-01T10:00:00Z\n' +
          'stranger,t1,2024-01-01T11:00:00Z\n' +
          '\n' +
          'u1,"t1"x,2024-01-01T10:00:00Z\n',
      },
    });
    const { out } = await run(dir);
    const quality = JSON.parse(readFileSync(join(out, 'kpi_quality_20240101.json'), 'utf8'));
    expect(quality.streams).toEqual({ rows: 3, duplicates: 0, unknownTrack: 1, unknownUser: 1, counted: 2 });
    expect(quality.files[0]).toMatchObject({
      file: 'a.csv',
      rows: 8,
      accepted: 3,
      rejects: { empty_id: 2, bad_timestamp: 1, field_count: 1, malformed_csv: 1 },
    });
  });

  it('with --granularity hour, one row per genre and UTC hour', async () => {
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000], ['t2', 'rock', 10]) },
      streams: {
        'a.csv':
          'user_id,track_id,listen_time\nu1,t1,2024-01-01T10:00:00Z\nu1,t2,2024-01-01T10:59:59Z\nu1,t1,2024-01-01T09:30:00-02:00\n',
      },
    });
    const { read } = await run(dir, 'hour');
    expect(read('genre_kpis_20240101.csv')).toEqual([
      '2024-01-01,10,pop,1,1,1000,1000.00,t1:1',
      '2024-01-01,10,rock,1,1,10,10.00,t2:1',
      '2024-01-01,11,pop,1,1,1000,1000.00,t1:1',
    ]);
    expect(read('top_genres_20240101.csv')).toEqual([
      '2024-01-01,10,1,pop,1',
      '2024-01-01,10,2,rock,1',
      '2024-01-01,11,1,pop,1',
    ]);
  });

  it('breaks ties: top tracks by track_id, top genres by genre, in byte order; at most 3 and 5', async () => {
    const genres = ['b', 'a', 'f', 'c', 'e', 'd'];
    const dir = drop({
      songs: {
        's.csv': songs(
          ...genres.map((g): [string, string, number] => [`t${g}`, g, 1]),
          ['tB', 'a', 1],
          ['ta2', 'a', 1],
          ['tZ', 'a', 1],
        ),
      },
      streams: {
        'a.csv': `user_id,track_id,listen_time\n${[...genres.map((g) => `t${g}`), 'tB', 'ta2', 'tZ']
          .map((t) => `u1,${t},2024-01-01T10:00:00Z`)
          .join('\n')}\n`,
      },
    });
    const { read } = await run(dir);
    expect(read('genre_kpis_20240101.csv')[0]).toBe('2024-01-01,a,4,1,4,4.00,tB:1;tZ:1;ta:1');
    expect(read('top_genres_20240101.csv')).toEqual([
      '2024-01-01,1,a,4',
      '2024-01-01,2,b,1',
      '2024-01-01,3,c,1',
      '2024-01-01,4,d,1',
      '2024-01-01,5,e,1',
    ]);
  });

  it('without songs there is nothing to count: an input error, and nothing written', async () => {
    const dir = drop({ streams: { 'a.csv': 'user_id,track_id,listen_time\nu1,t1,2024-01-01T10:00:00Z\n' } });
    const out = join(temp.make(), 'out');
    const failure = await runKpis({ landingDir: dir, outDir: out }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PlaytallyError);
    expect((failure as PlaytallyError).code).toBe('no_songs');
    // Nothing but the state folder.
    expect(existsSync(out) ? readdirSync(out).filter((n) => n !== '.playtally-kpis') : []).toEqual([]);
  });
});

describe('what a run says before it moves files, and how long each file took', () => {
  const landing = (): string => {
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000]) },
      users: { 'u.csv': USERS },
      streams: { 'a.csv': 'user_id,track_id,listen_time\nu1,t1,2024-01-01T10:00:00Z\n' },
    });
    return dir;
  };
  type Note = Extract<KpiEvent, { type: 'archiveNote' }>;

  it('the first archiving run on a landing folder says files will move, and whether it is a git checkout', async () => {
    const dir = landing();
    const notes: Note[] = [];
    const onEvent = (e: KpiEvent): void => {
      if (e.type === 'archiveNote') notes.push(e);
    };
    const out = temp.make('playtally-kpi-out-');
    await runKpis({ landingDir: dir, outDir: out, archive: true, onEvent });
    expect(notes).toEqual([{ type: 'archiveNote', archiveDir: join(dir, 'archive'), gitCheckout: false }]);
    expect(existsSync(join(dir, 'archive', '20240101', 'a.csv'))).toBe(true);
    // Said once: the state knows the landing folder now.
    writeFileSync(
      join(dir, 'streams', 'b.csv'),
      'user_id,track_id,listen_time\nu2,t1,2024-01-01T11:00:00Z\n',
    );
    await runKpis({ landingDir: dir, outDir: out, archive: true, onEvent });
    expect(notes).toHaveLength(1);
    // Nor is anything said without archiving; in a git checkout, the note says so.
    await runKpis({ landingDir: landing(), outDir: temp.make(), archive: false, onEvent });
    expect(notes).toHaveLength(1);
    const repo = temp.make('playtally-kpi-repo-');
    mkdirSync(join(repo, '.git'));
    const inRepo = join(repo, 'data', 'landing');
    mkdirSync(join(repo, 'data'));
    renameSync(landing(), inRepo);
    await runKpis({ landingDir: inRepo, outDir: temp.make(), archive: true, onEvent });
    expect(notes[1]).toMatchObject({ gitCheckout: true });
  });

  it('times each streams file by its own parse, not by its wait for a worker', async () => {
    // Five files of 60,000 rows on one worker: parsed one after another. Timed from the start of
    // the run (as before), the last would count the four before it, and the times would add up
    // to about three times the parsing; each file's own time adds up to at most the run's.
    const dir = temp.make('playtally-kpi-timed-');
    generateKpiDataset({ dir, start: day('2024-02-01'), days: 1, streamsPerDay: 300_000, filesPerDay: 5 });
    const times: number[] = [];
    const summary = await runKpis({
      landingDir: dir,
      outDir: temp.make(),
      threads: 1,
      onEvent: (e) => {
        if (e.type === 'streamsFile') times.push(e.ms);
      },
    });
    expect(times).toHaveLength(5);
    expect(times.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(summary.elapsedMs);
  });
});

describe('parallel parsing', () => {
  it('writes the same files whatever the number of worker threads, days cut by user or not', async () => {
    const dir = temp.make('playtally-kpi-gen-');
    generateKpiDataset({
      dir,
      start: day('2024-02-01'),
      days: 2,
      streamsPerDay: 20_000,
      filesPerDay: 4,
      songs: 500,
      users: 800,
    });
    const outputs = async (
      threads: number,
      parallelDayRows?: number,
      maxPartRows?: number,
    ): Promise<Record<string, string>> => {
      const out = temp.make('playtally-kpi-out-');
      await runKpis({ landingDir: dir, outDir: out, threads, parallelDayRows, maxPartRows });
      const files: Record<string, string> = {};
      for (const name of readdirSync(out).filter((n) => !n.startsWith('.'))) {
        const text = readFileSync(join(out, name), 'utf8');
        // The quality report's generatedAt is the time it was written.
        files[name] = name.endsWith('.json') ? text.replace(/"generatedAt": "[^"]*"/, '') : text;
      }
      return files;
    };
    const one = await outputs(1);
    expect(Object.keys(one).filter((n) => n.startsWith('genre_kpis_')).length).toBeGreaterThanOrEqual(2);
    expect(await outputs(3)).toEqual(one);
    expect(await outputs(2)).toEqual(one);
    // The large days on the workers, asked for ahead while the small days around them (the rows
    // past either midnight) are computed on the main thread.
    expect(await outputs(2, 10_000)).toEqual(one);
    // Every day computed on the workers, cut by user: the same files.
    expect(await outputs(2, 0)).toEqual(one);
    expect(await outputs(3, 0)).toEqual(one);
    // Days larger than a part (here 3,000 rows): cut into more parts than threads, on the workers
    // or one after the other on the main thread.
    expect(await outputs(2, 0, 3_000)).toEqual(one);
    expect(await outputs(1, undefined, 3_000)).toEqual(one);
  });
});

describe('a copy into the KPI archive that a kill cut short (issue 17, point 8)', () => {
  it('the next run removes it; the file archived whole is kept', async () => {
    const dir = drop({
      songs: { 's.csv': songs(['t1', 'pop', 1000]) },
      users: { 'u.csv': USERS },
      streams: { 'a.csv': 'user_id,track_id,listen_time\nu1,t1,2024-01-01T10:00:00Z\n' },
    });
    const out = temp.make('playtally-kpi-out-');
    await runKpis({ landingDir: dir, outDir: out, archive: true });
    const day = join(dir, 'archive', '20240101');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const left = join(day, `.b.csv.tmp-${dead}`);
    writeFileSync(left, 'user_id,track_id,listen_t');
    await runKpis({ landingDir: dir, outDir: out, archive: true });
    expect(existsSync(left)).toBe(false);
    expect(readdirSync(day)).toEqual(['a.csv']);
  });
});
