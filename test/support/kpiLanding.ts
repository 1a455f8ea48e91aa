import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { runKpis } from '../../src/jobs/kpiJob.js';
import { mulberry32 } from './prng.js';
import { day, type TempDirs } from './tempDirs.js';

const GENRES = ['acoustic', 'hip-hop', 'j-pop', 'pop', 'r-n-b', 'rock', 'world-music'];

/** The days the streams of `kpiLanding` fall on (UTC, offsets move some rows across midnight). */
export const KPI_LANDING_DAYS = ['2024-03-01', '2024-03-02'] as const;

/**
 * A KPI landing folder drawn from `seed` (streams/, songs/, users/), in a new temporary folder of
 * `temp` or in the existing folder `into`. It has what the genre KPIs must get right: four stream
 * files over two days with exact duplicates within and across files, listen times with offsets
 * that cross midnight UTC, tracks listed under two genres, tracks not in the songs, users not in
 * the users, bad rows (empty ids, bad timestamps), quoted names with commas, quotes and newlines.
 * `splitCatalogues`: the songs and the users each in two files whose rows overlap by a third (the
 * second file's repeats rejected as duplicates), a catalogue of several files.
 */
export function kpiLanding(
  into: TempDirs | string,
  seed: number,
  streamsPerFile: number,
  splitCatalogues = false,
): string {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const dir = typeof into === 'string' ? into : into.make('playtally-kpi-oracle-');
  for (const sub of ['streams', 'songs', 'users']) mkdirSync(join(dir, sub), { recursive: true });

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
  const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
  const userRows = users.slice(0, 35).map((u) => `n,${u},30,US,2020-01-01`);
  const catalogue = (sub: string, name: string, header: string, rows: string[], eol: string): void => {
    const parts = splitCatalogues
      ? [rows.slice(0, Math.ceil((rows.length * 2) / 3)), rows.slice(Math.floor(rows.length / 3))]
      : [rows];
    parts.forEach((part, i) => {
      writeFileSync(
        join(dir, sub, parts.length === 1 ? name : `${i}-${name}`),
        `${[header, ...part].join(eol)}${eol}`,
      );
    });
  };
  catalogue('songs', 'tracks.csv', songRows[0]!, songRows.slice(1), '\n');
  catalogue('users', 'users.csv', 'user_name,user_id,user_age,user_country,created_at', userRows, '\r\n');

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
      const day = pick(KPI_LANDING_DAYS);
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

/**
 * The files of a KPI output folder by name (its state folder left out), read as UTF-8: CSVs as
 * they are, quality reports without `generatedAt` and the `movedTo` paths (which name the landing
 * folder). Equal maps mean byte-identical CSVs.
 */
export function kpiOutputs(out: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(out)
    .filter((n) => !n.startsWith('.'))
    .sort()) {
    const text = readFileSync(join(out, name), 'utf8');
    files[name] = name.endsWith('.json')
      ? text.replace(/"generatedAt": "[^"]*"/, '').replace(/"movedTo": "[^"]*"/g, '')
      : text;
  }
  return files;
}

const KPI_FILE = /^(genre_kpis|top_genres|kpi_quality)_\d{8}\.(csv|json)$/;

/** The KPI files of an output folder by name, the quality reports without the time they were written. */
export function kpiFiles(dir: string): Map<string, string> {
  const files = readdirSync(dir)
    .filter((name) => KPI_FILE.test(name))
    .sort();
  return new Map(
    files.map((name) => [
      name,
      readFileSync(join(dir, name), 'utf8').replace(/"generatedAt": "[^"]+"/, '"generatedAt": "-"'),
    ]),
  );
}

/** Two days of generated logs, a KPI landing folder (`kpiLanding` of seed 11) and an output folder. */
export function logsAndKpiLanding(temp: TempDirs): { logs: string; landing: string; out: string } {
  const logs = temp.make();
  generateLogs({ dir: logs, start: day('2024-03-01'), days: 2, rows: 2_000, users: 50, songs: 200, seed: 3 });
  const landing = kpiLanding(temp, 11, 400);
  return { logs, landing, out: temp.make() };
}

/** A landing folder of generated streams (2 days), and its KPI files at `granularity`. */
export async function kpiFolder(temp: TempDirs, granularity: 'day' | 'hour' = 'day', seed = 3) {
  const landing = temp.make('playtally-dyn-landing-');
  generateKpiDataset({
    dir: landing,
    start: day('2024-02-01'),
    days: 2,
    streamsPerDay: 4_000,
    filesPerDay: 2,
    songs: 400,
    users: 600,
    seed,
  });
  const out = temp.make('playtally-dyn-out-');
  await runKpis({ landingDir: landing, outDir: out, granularity, archive: false, threads: 1 });
  return { landing, out, state: join(out, '.playtally-kpis') };
}
