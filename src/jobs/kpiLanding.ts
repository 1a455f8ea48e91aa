import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KpiState } from '../formats/kpiManifest.js';
import { plural } from '../ops/counts.js';
import { compactDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { type BadFile, SONG_COLUMNS, type SongCatalog } from '../parse/catalogs.js';
import { mainReason } from '../parse/rejectDiagnosis.js';
import {
  describeLanding,
  LANDING_KINDS,
  type LandingFile,
  type LandingScan,
} from '../sources/landingFiles.js';
import { isS3, listFolder, statFile, subfolder } from '../sources/locations.js';
import { archive, clearInterruptedMoves, movedBefore, setAside } from './landing.js';

/**
 * The KPI landing folder's lifecycle: a file that is not a usable CSV goes to
 * `<landing>/error/<kind>/` with its reason; a streams file is archived to
 * `<landing>/archive/YYYYMMDD/` once every day it has rows on is written; a move a killed run did
 * not record is recorded (or the file forgotten when it is gone); what a landing folder without a
 * song holds is described.
 */

/** Move a file that is not a usable CSV of its kind to `<landing>/error/<kind>/` with its `.reason.json`. */
export async function setAsideFile(landingDir: string, bad: BadFile): Promise<string> {
  const { movedTo } = await setAside(bad.path, landingSub(landingDir, 'error', bad.kind), {
    file: bad.file,
    kind: bad.kind,
    reason: bad.reason,
    message: bad.message,
    missing: bad.missing,
    found: bad.found,
    at: new Date().toISOString(),
  });
  return movedTo;
}

/**
 * A run killed while writing a `.reason.json` leaves its temporary file beside the bad file, and
 * one killed while copying a file into the archive across filesystems leaves the part copied (local
 * ones: an S3 object is written whole or not at all).
 */
export function removeInterruptedMoves(landingDir: string): void {
  const archive = landingSub(landingDir, 'archive');
  clearInterruptedMoves([
    ...LANDING_KINDS.map((kind) => landingSub(landingDir, 'error', kind)),
    // A copy into the archive (across filesystems) that a kill cut short.
    ...(isS3(landingDir) ? [] : subfoldersOf(archive)),
  ]);
}

/**
 * A streams file gone from the landing folder (not by our archiving) takes its rows with it. One
 * that a killed run moved to the archive before recording it there is recorded there now.
 */
export async function forgetGoneFiles(
  state: KpiState,
  landing: LandingScan,
  landingDir: string,
): Promise<void> {
  const present = new Set(landing.streams.map((f) => f.name));
  for (const [name, record] of Object.entries(state.files())) {
    if (present.has(name) || record.archived !== undefined) continue;
    const archivedTo = await movedBefore(
      landingSub(landingDir, 'archive', archiveFolder(record.days)),
      name,
      record.size,
    );
    if (archivedTo !== undefined) state.patchFile(name, { archived: archivedTo });
    else state.dropFile(name);
  }
}

/**
 * Streams files in `<landing>/archive/YYYYMMDD/` that the state does not know: the state folder
 * was lost or its manifest damaged and set aside. Their days were written from them, so they are
 * taken in again from the archive, or a late file for an archived day would rewrite that day
 * without them. A name that is in the landing folder too is that file's (landed again). Local
 * archives only: an S3 archive is not listed by day folder.
 */
export async function unknownArchived(
  state: KpiState,
  landing: LandingScan,
  landingDir: string,
): Promise<LandingFile[]> {
  if (isS3(landingDir)) return [];
  const known = state.files();
  const landed = new Set(landing.streams.map((f) => f.name));
  const found: LandingFile[] = [];
  for (const folder of subfoldersOf(landingSub(landingDir, 'archive')).sort()) {
    for (const entry of await listFolder(folder)) {
      const name = entry.name;
      if (name.startsWith('.') || !name.toLowerCase().endsWith('.csv') || !entry.isFile) continue;
      if (known[name] !== undefined || landed.has(name) || found.some((f) => f.name === name)) continue;
      found.push({
        kind: 'streams',
        name,
        path: join(folder, name),
        size: entry.size,
        mtimeMs: entry.mtimeMs,
      });
    }
  }
  return found;
}

/**
 * Move each streams file whose every day was written from it (this very content) to
 * `<landing>/archive/YYYYMMDD/`, the day it has most rows on (the earliest of a tie; a file with no
 * valid row: the day it was archived). Its partial and record stay: the days can be recomputed
 * without it in the landing folder. A file of the same name there already is kept, renamed.
 */
export async function archiveDone(
  state: KpiState,
  landed: LandingFile[],
  landingDir: string,
  emit: (event: { type: 'archived'; file: string; to: string }) => void,
): Promise<string[]> {
  const moved: string[] = [];
  for (const file of landed) {
    const record = state.files()[file.name];
    if (
      !record ||
      record.archived !== undefined ||
      record.size !== file.size ||
      record.mtimeMs !== file.mtimeMs
    )
      continue;
    const done = record.days.every(
      ({ day }) => state.day(compactDay(day))?.inputs[file.name] === record.hash,
    );
    if (!done || (await statFile(file.path)) === undefined) continue;
    const to = await archive(file.path, landingSub(landingDir, 'archive', archiveFolder(record.days)));
    state.patchFile(file.name, { archived: to });
    moved.push(to);
    emit({ type: 'archived', file: file.name, to });
  }
  return moved;
}

/** `YYYYMMDD` of the day a file has most rows on (the earliest of a tie); with none, today (UTC). */
function archiveFolder(days: { day: number; rows: number }[]): string {
  const main = [...days].sort((a, b) => b.rows - a.rows || a.day - b.day)[0];
  return compactDay(main ? main.day : Math.floor(Date.now() / 86_400_000));
}

/**
 * The error for a run without a single song: every stream would be an unknown track. Says what the
 * landing folder holds and what is expected where, and why songs files that were there gave none.
 */
export async function noSongs(landingDir: string, songs: SongCatalog): Promise<PlaytallyError> {
  const why: string[] = [];
  for (const bad of songs.bad) why.push(`songs/${bad.file} was set aside (${bad.message})`);
  for (const file of songs.files) {
    const reason = mainReason(file.rejects);
    why.push(
      `songs/${file.file} has ${plural(file.rows, 'row')}, none usable` +
        (reason ? ` (mostly ${reason})` : ''),
    );
  }
  return new PlaytallyError(
    'no_songs',
    `no songs in ${landingSub(landingDir, 'songs')}: every stream would be an unknown track, so no KPI is written.\n` +
      `  ${await describeLanding(landingDir)}.\n` +
      why.map((w) => `  ${w}.\n`).join('') +
      `  playtally reads the song catalogue from songs/*.csv, with a header naming at least ${SONG_COLUMNS.join(', ')} ` +
      '(in any order; more columns, such as the audio features of the Spotify tracks dataset, are ignored).',
  );
}

/** Is `dir` in a git work tree (a `.git` in it or above)? Its files are not to be moved unasked. */
export function insideGitCheckout(dir: string): boolean {
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return true;
    if (dirname(at) === at) return false;
  }
}

/** A folder under the landing folder (`error/songs`, `archive/20240101`), local or on S3. */
export function landingSub(landingDir: string, ...parts: string[]): string {
  return parts.reduce(subfolder, landingDir);
}

/** The folders directly under `dir` (none when it does not exist). */
function subfoldersOf(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(dir, entry.name));
  } catch {
    return [];
  }
}
