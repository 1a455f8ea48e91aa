import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { ParseStreamsResult, ParseStreamsTask } from '../engines/embedded/tasks.js';
import { WorkerPool } from '../engines/embedded/workerPool.js';
import type { KpiDayEngine } from '../engines/kpiEngine.js';
import { type EngineChoice, openKpiEngine } from '../engines/pickEngine.js';
import { writeKpiFiles } from '../formats/kpiFiles.js';
import { type KpiFileRecord, KpiState } from '../formats/kpiManifest.js';
import { firstUnknownTrack } from '../formats/kpiPartials.js';
import type { DayKpis, Granularity } from '../kpis/genreKpis.js';
import {
  fileRejectWarning,
  type KpiRejectWarning,
  unknownTrackWarning,
  warningKey,
} from '../kpis/kpiWarnings.js';
import { removeStaleTempFiles } from '../ops/atomicFile.js';
import { compactDay, isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { ensureWritable } from '../ops/folders.js';
import { cpuMs, peakRssBytes } from '../ops/processUsage.js';
import {
  type BadFile,
  type FileReport,
  readSongs,
  readUsers,
  SNIFF_BYTES,
  SONG_COLUMNS,
  type SongCatalog,
  type UserCatalog,
} from '../parse/catalogs.js';
import { DEFAULT_MAX_REJECT_RATE, mainReason } from '../parse/rejectDiagnosis.js';
import { describeLanding, LANDING_KINDS, type LandingFile, scanLanding } from '../sources/landingFiles.js';
import {
  csvInput,
  folderLocation,
  inFolder,
  isS3,
  moveFileInto,
  moveFileWithReason,
  requireInputFolder,
  statFile,
  subfolder,
} from '../sources/locations.js';

export interface KpiOptions extends EngineChoice {
  landingDir: string;
  outDir: string;
  granularity?: Granularity;
  /** Default: `<outDir>/.playtally-kpis`. */
  stateDir?: string;
  /** Move each streams file to `<landing>/archive/YYYYMMDD/` once its days are written. */
  archive?: boolean;
  /** The embedded engine computes days with at least this many rows on the workers (default 200,000). */
  parallelDayRows?: number;
  /**
   * A streams file, or a day's streams joined with the songs, with a larger share of rejected rows
   * than this is a warning (default 0.05).
   */
  maxRejectRate?: number;
  /** Worker threads parsing streams files (default: number of cores). */
  threads?: number;
  /**
   * Bring an outside copy of the KPIs up to date with the output folder (the DynamoDB sink), after
   * the days are written and before any streams file is archived: a file leaves only once what
   * depends on it is committed there too.
   */
  syncSink?: (outDir: string) => Promise<void>;
  onEvent?: (event: KpiEvent) => void;
}

export type KpiEvent =
  | { type: 'catalog'; kind: 'songs' | 'users'; files: number; accepted: number }
  | { type: 'streamsFile'; file: string; rows: number; accepted: number; ms: number }
  | { type: 'errorFile'; file: BadFile; movedTo: string }
  | { type: 'dayDone'; date: string; genres: number; counted: number }
  | { type: 'stateRecovered'; problem: string }
  | { type: 'rejectRate'; warning: KpiRejectWarning }
  | { type: 'archiveNote'; archiveDir: string; gitCheckout: boolean }
  | { type: 'archived'; file: string; to: string };

export interface KpiSummary {
  /** The days written in this run. */
  days: { date: string; genres: number; streams: DayKpis['streams']; files: string[] }[];
  /** Days whose files were already written from the same inputs. */
  daysCurrent: number;
  filesParsed: number;
  filesReused: number;
  /** Streams files moved to the archive in this run (their new paths). */
  archived: string[];
  errorFiles: (BadFile & { movedTo: string })[];
  /** Streams files and days with more rejected rows than --max-reject-rate (also in the quality reports). */
  warnings: KpiRejectWarning[];
  elapsedMs: number;
  /** CPU time of the whole process, user + system. */
  cpuMs: number;
  peakRssBytes: number;
}

/**
 * The genre KPI job, incremental and exact. Each streams file is parsed once, on a worker, into a
 * partial in the state folder: its valid rows by UTC day of listen time. A day's KPI files are
 * (re)written when the set of files with rows on it, or their contents, or the catalogues, changed:
 * the day is recomputed from its files' partials (no raw CSV read again), dropping exact
 * duplicates across files and rejecting unknown tracks, with only that day's rows in memory.
 * A file that is not a usable CSV of its kind goes to `<landing>/error/<kind>/` with a
 * `.reason.json`, and the run goes on with the others.
 */
export async function runKpis(options: KpiOptions): Promise<KpiSummary> {
  const started = Date.now();
  const threads = options.threads ?? availableParallelism();
  // Opened first: a cluster that is down fails the run before it moves any file.
  const engine = await openKpiEngine(options, {
    threads,
    parallelDayRows: options.parallelDayRows,
    stateDir: kpiStateDir(options),
  });
  try {
    return await runKpisOn(engine, options, { started, threads });
  } finally {
    await engine.close();
  }
}

/** The default state folder of the KPI job. */
function kpiStateDir(options: Pick<KpiOptions, 'outDir' | 'stateDir'>): string {
  return resolve(options.stateDir ?? join(resolve(options.outDir), '.playtally-kpis'));
}

async function runKpisOn(
  engine: KpiDayEngine,
  options: KpiOptions,
  { started, threads }: { started: number; threads: number },
): Promise<KpiSummary> {
  const emit = options.onEvent ?? (() => {});
  const landingDir = folderLocation(options.landingDir);
  const outDir = resolve(options.outDir);
  const granularity = options.granularity ?? 'day';
  const maxRejectRate = options.maxRejectRate ?? DEFAULT_MAX_REJECT_RATE;
  // Each warning is printed once a run, whatever the number of days it concerns.
  const warnings = new Map<string, KpiRejectWarning>();
  const warn = (warning: KpiRejectWarning | undefined): KpiRejectWarning[] => {
    if (warning === undefined) return [];
    if (!warnings.has(warningKey(warning))) {
      warnings.set(warningKey(warning), warning);
      emit({ type: 'rejectRate', warning });
    }
    return [warning];
  };
  await requireInputFolder(landingDir, 'landing folder');
  ensureWritable(outDir, 'output_not_writable', 'output folder');
  const landing = await scanLanding(landingDir);
  const errorFiles: KpiSummary['errorFiles'] = [];
  const setAside = async (bad: BadFile): Promise<void> => {
    const { movedTo } = await moveFileWithReason(bad.path, landingSub(landingDir, 'error', bad.kind), {
      file: bad.file,
      kind: bad.kind,
      reason: bad.reason,
      message: bad.message,
      missing: bad.missing,
      found: bad.found,
      at: new Date().toISOString(),
    });
    errorFiles.push({ ...bad, movedTo });
    emit({ type: 'errorFile', file: bad, movedTo });
  };

  const state = new KpiState(kpiStateDir(options));
  if (state.recovered) emit({ type: 'stateRecovered', problem: state.recovered });
  removeStaleTempFiles(state.partialsDir);
  removeStaleTempFiles(state.dir);
  removeStaleTempFiles(outDir);
  // A run killed while writing a `.reason.json` leaves its temporary file beside the bad file.
  // (A local one: an S3 object is written whole or not at all.)
  if (!isS3(landingDir))
    for (const kind of LANDING_KINDS) removeStaleTempFiles(landingSub(landingDir, 'error', kind));

  // New and changed streams files are parsed on the workers, in parallel, each into its partial;
  // the catalogues are read meanwhile on the main thread.
  const pool = new WorkerPool(threads);
  let songs: SongCatalog;
  let users: UserCatalog;
  let parsedFiles = 0;
  try {
    const known = state.files();
    if (options.archive && Object.keys(known).length === 0 && landing.streams.length > 0) {
      // The first run on a landing folder: say that files will move before any does.
      emit({
        type: 'archiveNote',
        archiveDir: landingSub(landingDir, 'archive'),
        gitCheckout: !isS3(landingDir) && insideGitCheckout(landingDir),
      });
    }
    const changed = landing.streams.filter((f) => {
      const k = known[f.name];
      return !(k && k.size === f.size && k.mtimeMs === f.mtimeMs && partialIsWhole(state.partialPath(k), k));
    });
    for (const f of landing.streams) {
      // The same file landed again after it was archived: it lives in the landing folder now.
      if (known[f.name]?.archived !== undefined && !changed.includes(f))
        state.patchFile(f.name, { archived: undefined });
    }
    for (const k of Object.values(known)) {
      // An archived file whose partial is damaged is parsed again from the archive.
      if (k.archived === undefined || landing.streams.some((f) => f.name === k.file)) continue;
      const stat = partialIsWhole(state.partialPath(k), k) ? undefined : await statFile(k.archived);
      if (stat !== undefined) {
        changed.push({
          kind: 'streams',
          name: k.file,
          path: k.archived,
          size: stat.size,
          mtimeMs: stat.mtimeMs,
        });
      }
    }
    const parsing = changed.map((file) => {
      const task: ParseStreamsTask = {
        kind: 'parseStreams',
        name: file.name,
        path: file.path,
        size: file.size,
        mtimeMs: file.mtimeMs,
        partialDir: state.partialsDir,
      };
      const pending = pool.run<ParseStreamsResult>(task).then((parsed) => ({ parsed, ms: parsed.ms }));
      pending.catch(() => {}); // awaited in order below
      return pending;
    });
    songs = await readSongs(landing.songs.map((f) => csvInput(f, SNIFF_BYTES)));
    for (const bad of songs.bad) await setAside(bad);
    emit({ type: 'catalog', kind: 'songs', files: songs.files.length, accepted: accepted(songs.files) });
    users = await readUsers(landing.users.map((f) => csvInput(f, SNIFF_BYTES)));
    for (const bad of users.bad) await setAside(bad);
    emit({ type: 'catalog', kind: 'users', files: users.files.length, accepted: accepted(users.files) });
    if (songs.tracks.size === 0) throw await noSongs(landingDir, songs);
    for (let i = 0; i < changed.length; i++) {
      const file = changed[i]!;
      const { parsed, ms } = await parsing[i]!;
      if (parsed.result.bad) {
        await setAside(parsed.result.bad);
        state.dropFile(file.name);
        continue;
      }
      const wasArchived = file.path !== inFolder(landingSub(landingDir, 'streams'), file.name);
      state.putFile(file.name, {
        ...(wasArchived ? { archived: file.path } : {}),
        file: file.name,
        size: file.size,
        mtimeMs: file.mtimeMs,
        sha256: parsed.result.sha256,
        partial: parsed.partial!,
        partialBytes: parsed.partialBytes!,
        days: parsed.days,
        report: parsed.result.report,
        examples: parsed.result.examples,
        parsedAt: new Date().toISOString(),
      });
      parsedFiles++;
      warn(fileRejectWarning({ ...parsed.result, file: file.name, days: parsed.days }, maxRejectRate));
      emit({
        type: 'streamsFile',
        file: file.name,
        rows: parsed.result.report.rows,
        accepted: parsed.result.report.accepted,
        ms,
      });
    }
  } finally {
    await pool.close();
  }
  // A streams file gone from the landing folder (not by our archiving) takes its rows with it. One
  // that a killed run moved to the archive before recording it there is recorded there now.
  const present = new Set(landing.streams.map((f) => f.name));
  for (const [name, record] of Object.entries(state.files())) {
    if (present.has(name) || record.archived !== undefined) continue;
    const archivedTo = inFolder(landingSub(landingDir, 'archive', archiveFolder(record.days)), name);
    if ((await statFile(archivedTo))?.size === record.size) state.patchFile(name, { archived: archivedTo });
    else state.dropFile(name);
  }

  // The days to write: every day some file has rows on, unless its files were written from these
  // very inputs, catalogues, granularity and output folder, and are still there.
  const catalogKey = catalogHash(songs, users);
  const inputs = new Map<number, Record<string, string>>();
  for (const record of Object.values(state.files())) {
    for (const { day } of record.days) {
      const map = inputs.get(day) ?? {};
      map[record.file] = record.sha256;
      inputs.set(day, map);
    }
  }
  const catalog = { tracks: songs.tracks, users: users.users };
  const summary: KpiSummary['days'] = [];
  let current = 0;
  for (const day of [...inputs.keys()].sort((a, b) => a - b)) {
    const key = compactDay(day);
    const dayInputs = inputs.get(day)!;
    const written = state.day(key);
    if (
      written &&
      written.granularity === granularity &&
      written.catalog === catalogKey &&
      written.outDir === outDir &&
      sameInputs(written.inputs, dayInputs) &&
      Object.values(written.files).every((name) => existsSync(join(outDir, name)))
    ) {
      current++;
      continue;
    }
    const contributing = Object.keys(dayInputs)
      .sort()
      .map((name) => state.files()[name]!);
    const kpis = await engine.computeDay({
      day,
      granularity,
      sources: contributing.map((f) => ({
        file: f.file,
        sha256: f.sha256,
        partial: state.partialPath(f),
        rows: f.days.find((d) => d.day === day)?.rows ?? 0,
      })),
      catalog,
      catalogKey,
    });
    const dayWarnings = [
      ...contributing.flatMap((f) => warn(fileRejectWarning(f, maxRejectRate))),
      ...warn(
        unknownTrackWarning(day, kpis.streams, maxRejectRate, () =>
          firstUnknownTrack(
            contributing.map((f) => ({ file: f.file, partial: state.partialPath(f) })),
            day,
            songs.tracks,
          ),
        ),
      ),
    ];
    const paths = writeKpiFiles(outDir, kpis, {
      date: isoDay(day),
      granularity,
      streams: kpis.streams,
      // The day's rejects named as the other reasons are (the per-file ones are under `files`).
      rejectedByReason: { duplicate: kpis.streams.duplicates, unknown_track: kpis.streams.unknownTrack },
      files: contributing.map((f) => ({ ...f.report, sha256: f.sha256, examples: f.examples })),
      songs: { files: songs.files, examples: songs.examples },
      users: { files: users.files, examples: users.examples },
      errorFiles: errorFiles.map(({ path: _path, ...rest }) => rest),
      warnings: dayWarnings,
      generatedAt: new Date().toISOString(),
    });
    state.putDay(key, {
      date: isoDay(day),
      granularity,
      inputs: dayInputs,
      catalog: catalogKey,
      outDir,
      files: {
        genres: basename(paths.genres),
        topGenres: basename(paths.topGenres),
        quality: basename(paths.quality),
      },
      writtenAt: new Date().toISOString(),
    });
    summary.push({
      date: isoDay(day),
      genres: new Set(kpis.genres.map((g) => g.genre)).size,
      streams: kpis.streams,
      files: contributing.map((f) => f.file),
    });
    emit({ type: 'dayDone', date: isoDay(day), genres: kpis.genres.length, counted: kpis.streams.counted });
  }
  if (options.syncSink) await options.syncSink(outDir);
  const archived = options.archive ? await archiveDone(state, landing.streams, landingDir, emit) : [];
  return {
    days: summary,
    archived,
    daysCurrent: current,
    filesParsed: parsedFiles,
    filesReused: landing.streams.length - parsedFiles - errorFiles.filter((f) => f.kind === 'streams').length,
    errorFiles,
    warnings: [...warnings.values()],
    elapsedMs: Date.now() - started,
    cpuMs: cpuMs(),
    peakRssBytes: peakRssBytes(),
  };
}

/**
 * Move each streams file whose every day was written from it (this very content) to
 * `<landing>/archive/YYYYMMDD/`, the day it has most rows on (the earliest of a tie; a file with no
 * valid row: the day it was archived). Its partial and record stay: the days can be recomputed
 * without it in the landing folder. A file of the same name there already is kept, renamed.
 */
async function archiveDone(
  state: KpiState,
  landed: LandingFile[],
  landingDir: string,
  emit: (event: KpiEvent) => void,
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
      ({ day }) => state.day(compactDay(day))?.inputs[file.name] === record.sha256,
    );
    if (!done || (await statFile(file.path)) === undefined) continue;
    const to = await moveFileInto(file.path, landingSub(landingDir, 'archive', archiveFolder(record.days)));
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

/** A partial that is missing or has another size than written (truncated, replaced) is rebuilt. */
function partialIsWhole(path: string, record: KpiFileRecord): boolean {
  try {
    return statSync(path).size === record.partialBytes;
  } catch {
    return false;
  }
}

function sameInputs(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/**
 * Content hash of the catalogue files read (those set aside as unusable are not), songs then
 * users, each in name order: a changed songs file makes every day due.
 */
function catalogHash(songs: SongCatalog, users: UserCatalog): string {
  const h = createHash('sha256');
  for (const [kind, catalog] of [['songs', songs] as const, ['users', users] as const]) {
    for (const file of catalog.files) h.update(`${kind}/${file.file}:${catalog.sha256.get(file.file)}\n`);
  }
  return h.digest('hex');
}

/**
 * The error for a run without a single song: every stream would be an unknown track. Says what the
 * landing folder holds and what is expected where, and why songs files that were there gave none.
 */
async function noSongs(landingDir: string, songs: SongCatalog): Promise<PlaytallyError> {
  const why: string[] = [];
  for (const bad of songs.bad) why.push(`songs/${bad.file} was set aside (${bad.message})`);
  for (const file of songs.files) {
    const reason = mainReason(file.rejects);
    why.push(
      `songs/${file.file} has ${file.rows.toLocaleString('en-US')} row(s), none usable` +
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
function insideGitCheckout(dir: string): boolean {
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return true;
    if (dirname(at) === at) return false;
  }
}

/** A folder under the landing folder (`error/songs`, `archive/20240101`), local or on S3. */
function landingSub(landingDir: string, ...parts: string[]): string {
  return parts.reduce(subfolder, landingDir);
}

function accepted(files: FileReport[]): number {
  return files.reduce((n, f) => n + f.accepted, 0);
}
