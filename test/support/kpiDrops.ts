import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TempDirs } from './tempDirs.js';

/** Small hand-made KPI drops: a landing folder of songs/, users/ and streams/ files given as text. */

export const SONGS_HEADER =
  'track_id,track_name,artists,album_name,track_genre,duration_ms,popularity,explicit';

/** The files of each folder of a drop, by name. */
export interface Drop {
  songs?: Record<string, string>;
  users?: Record<string, string>;
  streams?: Record<string, string>;
}

/** A new landing folder of `temp` holding `files` (every kind folder made, empty or not). */
export function writeDrop(temp: TempDirs, files: Drop): string {
  const dir = temp.make('playtally-kpi-');
  for (const kind of ['songs', 'users', 'streams'] as const) {
    mkdirSync(join(dir, kind));
    for (const [name, text] of Object.entries(files[kind] ?? {})) writeFileSync(join(dir, kind, name), text);
  }
  return dir;
}

/** Songs: [id, genre, duration] rows under the standard header. */
export function songs(...rows: [string, string, number][]): string {
  return `${SONGS_HEADER}\n${rows.map(([id, genre, ms]) => `${id},Name,Artist,Album,${genre},${ms},50,False`).join('\n')}\n`;
}

/** Two users, u1 and u2. */
export const USERS =
  'user_id,user_name,user_age,user_country,created_at\nu1,a,20,US,2020-01-01\nu2,b,30,FR,2020-01-01\n';
