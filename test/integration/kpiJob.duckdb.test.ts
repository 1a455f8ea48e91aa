import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckdbKpis } from '../../bench/kpiSql.js';
import { runKpis } from '../../src/jobs/kpiJob.js';
import { kpiOracle } from '../support/duckdb.js';
import { kpiLanding } from '../support/kpiLanding.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * Differential test against an independent oracle: DuckDB computes the genre KPIs and the top
 * genres in SQL, straight from the landing CSVs (its own CSV reader and timestamp parser), and
 * every output file of `runKpis` must hold exactly the same rows. The data has what the KPIs must
 * get right: several stream files a day with exact duplicates within and across files, listen
 * times with offsets that cross midnight UTC, tracks listed under two genres, tracks not in the
 * songs, users not in the users, bad rows, quoted names with commas, quotes and newlines.
 */

const temp = new TempDirs();
let conn: DuckDBConnection;

beforeAll(async () => {
  conn = await kpiOracle();
});
afterAll(() => {
  conn?.closeSync();
  temp.cleanup();
});

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
    [1, 'day', 400, false],
    [2, 'day', 1500, false],
    [3, 'hour', 800, false],
    [4, 'day', 1000, true],
  ] as const)(
    'seed %i, %s granularity, %i rows per file, songs and users in two files each: %s: every file holds the oracle rows',
    async (seed, granularity, rows, splitCatalogues) => {
      const dir = kpiLanding(temp, seed, rows, splitCatalogues);
      const out = temp.make('playtally-kpi-out-');
      // Seed 2: every day computed on two workers, cut by user (the path of large days).
      await runKpis({
        landingDir: dir,
        outDir: out,
        granularity,
        threads: 2,
        parallelDayRows: seed === 2 ? 0 : undefined,
        // Seed 3: days cut into parts of at most 500 rows (more parts than threads).
        maxPartRows: seed === 3 ? 500 : undefined,
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
      if (splitCatalogues) {
        // The second files' repeats of the first's rows, rejected as the duplicates they are.
        expect(quality.songs.files).toHaveLength(2);
        expect(quality.songs.files[1].rejects.duplicate_song).toBeGreaterThan(0);
        expect(quality.users.files[1].rejects.duplicate_user).toBeGreaterThan(0);
      }
    },
  );
});
