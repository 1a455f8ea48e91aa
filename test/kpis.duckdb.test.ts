import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckdbKpis } from '../bench/kpiSql.js';
import { runKpis } from '../src/engine/kpiJob.js';
import { mulberry32 } from './support/prng.js';
import { TempDirs } from './support/tempDirs.js';

/**
 * Differential test against an independent oracle: DuckDB computes the genre KPIs and the top
 * genres in SQL, straight from the landing CSVs (its own CSV reader and timestamp parser), and
 * every output file of `runKpis` must hold exactly the same rows. The data has what the KPIs must
 * get right: several stream files a day with exact duplicates within and across files, listen
 * times with offsets that cross midnight UTC, tracks listed under two genres, tracks not in the
 * songs, users not in the users, bad rows, quoted names with commas, quotes and newlines.
 */

const temp = new TempDirs();
let instance: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  await conn.run("SET threads = 2; SET TimeZone = 'UTC'");
});
afterAll(() => {
  conn?.closeSync();
  temp.cleanup();
});

const GENRES = ['acoustic', 'hip-hop', 'j-pop', 'pop', 'r-n-b', 'rock', 'world-music'];

/** A landing folder drawn from `seed`. */
function landing(seed: number, streamsPerFile: number): string {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const dir = temp.make('playtally-kpi-oracle-');
  for (const sub of ['streams', 'songs', 'users']) mkdirSync(join(dir, sub));

  const tracks: string[] = [];
  const songRows = [',track_id,artists,album_name,track_name,popularity,duration_ms,explicit,track_genre'];
  for (let i = 0; i < 60; i++) {
    const id = `trk${String(i).padStart(4, '0')}${pick(['A', 'b', 'Z', '9'])}`;
    tracks.push(id);
    const name = pick(['Plain', 'With, comma', 'With "quotes"', 'Two\nlines', 'Café ü 日本']);
    const quoted = `"${name.replaceAll('"', '""')}"`;
    const duration = 60_000 + Math.floor(random() * 540_000);
    const genres = random() < 0.15 ? [pick(GENRES), pick(GENRES)] : [pick(GENRES)];
    for (const genre of new Set(genres)) {
      songRows.push(
        `${songRows.length},${id},"A;B",${quoted},${quoted},${Math.floor(random() * 100)},${duration},False,${genre}`,
      );
    }
  }
  writeFileSync(join(dir, 'songs', 'tracks.csv'), `${songRows.join('\n')}\n`);

  const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
  writeFileSync(
    join(dir, 'users', 'users.csv'),
    `user_name,user_id,user_age,user_country,created_at\r\n${users
      .slice(0, 35)
      .map((u) => `n,${u},30,US,2020-01-01`)
      .join('\r\n')}\r\n`,
  );

  const days = ['2024-03-01', '2024-03-02'];
  const previous: string[] = [];
  for (let f = 0; f < 4; f++) {
    const lines: string[] = [];
    for (let r = 0; r < streamsPerFile; r++) {
      const roll = random();
      if (roll < 0.08 && previous.length > 0) {
        lines.push(pick(previous)); // an exact duplicate, maybe from another file
        continue;
      }
      const user = random() < 0.02 ? '' : pick(users);
      // Skewed: a few tracks are played far more often; some tracks are in no songs file.
      const track =
        roll < 0.13
          ? `nosuch${Math.floor(random() * 5)}`
          : tracks[Math.floor(random() ** 2 * tracks.length)]!;
      const day = pick(days);
      const hh = String(Math.floor(random() * 24)).padStart(2, '0');
      const mm = String(Math.floor(random() * 60)).padStart(2, '0');
      const ss = String(Math.floor(random() * 60)).padStart(2, '0');
      const time =
        random() < 0.03
          ? pick(['yesterday', '', '2024-13-45T00:00:00Z', '2024-02-30 10:00:00'])
          : pick([
              `${day}T${hh}:${mm}:${ss}Z`,
              `${day} ${hh}:${mm}:${ss}`,
              `${day}T${hh}:${mm}:${ss}.${Math.floor(random() * 1000)}Z`,
              `${day}T${hh}:${mm}:${ss}-05:00`,
              `${day}T${hh}:${mm}:${ss}+09:30`,
            ]);
      const line = random() < 0.1 ? `"${user}",${track},"${time}"` : `${user},${track},${time}`;
      lines.push(line);
      if (user !== '') previous.push(line);
    }
    writeFileSync(
      join(dir, 'streams', `streams-${f}.csv`),
      `user_id,track_id,listen_time\n${lines.join('\n')}\n`,
    );
  }
  return dir;
}

function ours(out: string): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const name of readdirSync(out)
    .filter((n) => n.endsWith('.csv'))
    .sort()) {
    const lines = readFileSync(join(out, name), 'utf8').split('\n');
    expect(lines.pop(), `${name} ends with a newline`).toBe('');
    files.set(name, lines.slice(1));
  }
  return files;
}

describe('genre KPIs against DuckDB', () => {
  it.each([
    [1, 'day', 400],
    [2, 'day', 1500],
    [3, 'hour', 800],
  ] as const)(
    'seed %i, %s granularity, %i rows per file: every file holds the oracle rows',
    async (seed, granularity, rows) => {
      const dir = landing(seed, rows);
      const out = temp.make('playtally-kpi-out-');
      // Seed 2: every day computed on two workers, cut by user (the path of large days).
      await runKpis({
        landingDir: dir,
        outDir: out,
        granularity,
        threads: 2,
        parallelDayRows: seed === 2 ? 0 : undefined,
      });
      const expected = await duckdbKpis(conn, dir, granularity);
      const actual = ours(out);
      expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [name, lines] of expected) expect(actual.get(name), name).toEqual(lines);
      // Not vacuous: the data hit every case the KPIs must get right.
      const quality = JSON.parse(readFileSync(join(out, 'kpi_quality_20240301.json'), 'utf8'));
      expect(quality.streams.duplicates).toBeGreaterThan(0);
      expect(quality.streams.unknownTrack).toBeGreaterThan(0);
      expect(quality.streams.unknownUser).toBeGreaterThan(0);
      const rejects = quality.files.map((f: { rejects: Record<string, number> }) => f.rejects);
      expect(rejects.some((r: Record<string, number>) => r.empty_id > 0 && r.bad_timestamp > 0)).toBe(true);
    },
  );
});
