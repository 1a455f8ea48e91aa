import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { ThreadsCut } from '../engines/chartEngine.js';
import {
  DEFAULT_MEMORY_BYTES,
  heldBeyondFresh,
  threadsHeld,
  workerLimits,
} from '../engines/embedded/memoryPlan.js';
import { parseStreamsFiles } from '../engines/embedded/streamsParse.js';
import { WorkerPool } from '../engines/embedded/workerPool.js';
import type { KpiDayEngine } from '../engines/kpiEngine.js';
import { type EngineChoice, openKpiEngine } from '../engines/pickEngine.js';
import { writeKpiFiles } from '../formats/kpiFiles.js';
import { type KpiFileRecord, KpiState } from '../formats/kpiManifest.js';
import { firstUnknownTrack } from '../formats/kpiPartials.js';
import type { Catalog, DayKpis, Granularity } from '../kpis/genreKpis.js';
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
  catalogRowsAbout,
  type FileReport,
  readSongs,
  readUsers,
  SNIFF_BYTES,
  type SongCatalog,
  type UserCatalog,
} from '../parse/catalogs.js';
import { DEFAULT_MAX_REJECT_RATE } from '../parse/rejectDiagnosis.js';
import { MIN_STREAM_ROW_BYTES } from '../parse/streamRows.js';
import { type LandingScan, scanLanding } from '../sources/landingFiles.js';
import {
  csvInput,
  folderLocation,
  inFolder,
  isS3,
  requireInputFolder,
  statFile,
} from '../sources/locations.js';
import {
  archiveDone,
  forgetGoneFiles,
  insideGitCheckout,
  landingSub,
  noSongs,
  removeInterruptedMoves,
  setAsideFile,
  unknownArchived,
} from './kpiLanding.js';

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
  /** The most rows of a day the embedded engine holds in one part (default 8,000,000). */
  maxPartRows?: number;
  /**
   * A streams file, or a day's streams joined with the songs, with a larger share of rejected rows
   * than this is a warning (default 0.05).
   */
  maxRejectRate?: number;
  /** Worker threads parsing streams files and computing large days (default: number of cores). */
  threads?: number;
  /**
   * The process's memory budget (default 1GB): it holds one worker thread at 256MB and one more
   * each 64MB above, as the charts' does (fewer threads than asked for is a `threadsCut` event),
   * and sets how many rows of a large day a thread holds at once, from what it leaves besides what
   * the process holds when the job starts (in a run, what the charts' step left).
   */
  memoryBytes?: number;
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
  /** --memory holds fewer worker threads than --threads asked for: `threads` run. */
  | ThreadsCut
  /** `files` streams files to parse on the workers (new, changed, or their partial damaged). */
  | { type: 'parseStart'; files: number }
  /** `days` days that have rows, each written unless current (a `dayDone` each one written). */
  | { type: 'daysStart'; days: number }
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
  /** The worker threads the job ran (--threads, cut to what --memory holds) and its budget. */
  threads: number;
  memoryBytes: number;
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
  const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  const threads = threadsHeld(memoryBytes, options.threads ?? availableParallelism(), (cut) =>
    options.onEvent?.(cut),
  );
  // Opened first: a cluster that is down fails the run before it moves any file.
  const engine = await openKpiEngine(options, {
    threads,
    memoryBytes,
    // Measured here, before the job allocates: in a run, what its charts' step left.
    heldBytes: heldBeyondFresh(process.memoryUsage.rss()),
    parallelDayRows: options.parallelDayRows,
    maxPartRows: options.maxPartRows,
    stateDir: kpiStateDir(options),
  });
  try {
    return await runKpisOn(engine, options, { started, threads, memoryBytes });
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
  { started, threads, memoryBytes }: { started: number; threads: number; memoryBytes: number },
): Promise<KpiSummary> {
  const run = await openKpiRun(options);
  const { emit, landingDir, outDir, landing, state, errorFiles, warnings } = run;
  let parsedFiles = 0;
  let parsedLanded = 0;
  let written: Awaited<ReturnType<typeof writeDueDays>>;
  const reparsed = new Set<string>();
  // A partial found damaged when a day reads it (its checksum) is parsed again from its streams
  // file, in the landing folder or the archive, and the due days written again: once per file.
  for (;;) {
    const parsed = await parseLanding(run, { threads, memoryBytes }, engine);
    parsedFiles += parsed.parsedFiles;
    parsedLanded += parsed.parsedLanded;
    await forgetGoneFiles(state, landing, landingDir);
    try {
      written = await writeDueDays(run, engine, parsed.songs, parsed.users);
      break;
    } catch (error) {
      const file = await damagedPartial(error, state, landing);
      if (file === undefined || reparsed.has(file)) throw error;
      reparsed.add(file);
      emit({ type: 'stateRecovered', problem: `${(error as Error).message}; parsing ${file} again` });
      state.patchFile(file, { partialBytes: -1 });
    }
  }
  const { days: summary, current } = written;
  if (options.syncSink) await options.syncSink(outDir);
  const archived = options.archive ? await archiveDone(state, landing.streams, landingDir, emit) : [];
  return {
    days: summary,
    archived,
    daysCurrent: current,
    filesParsed: parsedFiles,
    // The landing folder's streams files neither parsed nor set aside in this run.
    filesReused:
      landing.streams.length -
      parsedLanded -
      errorFiles.filter((f) => f.kind === 'streams' && landing.streams.some((l) => l.path === f.path)).length,
    errorFiles,
    warnings: [...warnings.values()],
    elapsedMs: Date.now() - started,
    cpuMs: cpuMs(),
    peakRssBytes: peakRssBytes(),
    threads,
    memoryBytes,
  };
}

/** What every step of a KPI run shares: its options, folders, state, the landing scan, and what it set aside and warned. */
interface KpiRun {
  options: KpiOptions;
  emit: (event: KpiEvent) => void;
  landingDir: string;
  outDir: string;
  granularity: Granularity;
  maxRejectRate: number;
  landing: LandingScan;
  state: KpiState;
  errorFiles: KpiSummary['errorFiles'];
  warnings: Map<string, KpiRejectWarning>;
  /** Note a warning (emitted once a run, whatever the number of days it concerns); returns it as a list. */
  warn: (warning: KpiRejectWarning | undefined) => KpiRejectWarning[];
  /** Move a file that is not a usable CSV of its kind to `<landing>/error/<kind>/`, with its reason. */
  setAside: (bad: BadFile) => Promise<void>;
}

/** Check the folders, scan the landing folder, open the state folder (temporary files of killed runs removed). */
async function openKpiRun(options: KpiOptions): Promise<KpiRun> {
  const emit = options.onEvent ?? ((): void => {});
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
    const movedTo = await setAsideFile(landingDir, bad);
    errorFiles.push({ ...bad, movedTo });
    emit({ type: 'errorFile', file: bad, movedTo });
  };

  const state = new KpiState(kpiStateDir(options));
  if (state.recovered) emit({ type: 'stateRecovered', problem: state.recovered });
  removeStaleTempFiles(state.partialsDir);
  removeStaleTempFiles(state.dir);
  removeStaleTempFiles(outDir);
  removeInterruptedMoves(landingDir);

  return {
    options,
    emit,
    landingDir,
    outDir,
    granularity,
    maxRejectRate,
    landing,
    state,
    errorFiles,
    warnings,
    warn,
    setAside,
  };
}

/**
 * New and changed streams files parsed on the workers, in parallel, each into its partial; the
 * catalogues read meanwhile on the main thread. Unusable files are set aside.
 */
async function parseLanding(
  run: KpiRun,
  { threads, memoryBytes }: { threads: number; memoryBytes: number },
  engine: KpiDayEngine,
): Promise<{ songs: SongCatalog; users: UserCatalog; parsedFiles: number; parsedLanded: number }> {
  const { options, emit, landingDir, landing, state, maxRejectRate, warn, setAside } = run;
  let songs: SongCatalog;
  let users: UserCatalog;
  let parsedFiles = 0;
  /** Those of the landing folder's streams/ (not parsed again from the archive). */
  let parsedLanded = 0;
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
  // The state folder lost or its manifest set aside: the archive's files are taken in again.
  changed.push(...(await unknownArchived(state, landing, landingDir)));
  if (changed.length > 0) emit({ type: 'parseStart', files: changed.length });
  // The parse's own threads, ended before the days are computed: the days' threads start without
  // the parse's garbage (one pool for both saved a thread start, but raised the peak RSS of 10M
  // rows from about 450 MB to 480-570 MB).
  const pool = changed.length > 0 ? new WorkerPool(threads, undefined, workerLimits(memoryBytes)) : undefined;
  try {
    const started =
      pool === undefined
        ? []
        : parseStreamsFiles(pool, changed, state.partialsDir, { users: await usersAbout(landing) });
    const parsing = started.map((parse) => {
      const pending = parse.then((parsed) => ({ parsed, ms: parsed.ms }));
      pending.catch(() => {}); // awaited in order below
      return pending;
    });
    // Nothing more is queued (but a file whose ranges failed, read again whole): a worker done
    // with its last file ends rather than hold that file's garbage while the other parses on.
    pool?.retireIdle();
    // The days' threads start when the parse's tail does (its last files' work handed out, a
    // worker waiting): about 0.35 s of thread start, overlapped with the tail instead of after it.
    void pool?.whenIdle().then(() => engine.startThreads?.(rowsAtMost(changed, known)));
    songs = await readSongs(landing.songs.map((f) => csvInput(f, SNIFF_BYTES)));
    for (const bad of songs.bad) await setAside(bad);
    emit({ type: 'catalog', kind: 'songs', files: songs.files.length, accepted: accepted(songs.files) });
    users = await readUsers(landing.users.map((f) => csvInput(f, SNIFF_BYTES)));
    for (const bad of users.bad) await setAside(bad);
    emit({ type: 'catalog', kind: 'users', files: users.files.length, accepted: accepted(users.files) });
    if (songs.tracks.size === 0) throw await noSongs(landingDir, songs);
    const { catalog, catalogKey } = kpiCatalog(songs, users);
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
        hash: parsed.result.hash,
        partial: parsed.partial!,
        partialBytes: parsed.partialBytes!,
        days: parsed.days,
        report: parsed.result.report,
        examples: parsed.result.examples,
        parsedAt: new Date().toISOString(),
      });
      engine.readAhead?.(state.partialPath(state.files()[file.name]!), catalog, catalogKey);
      parsedFiles++;
      if (!wasArchived) parsedLanded++;
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
    await pool?.close();
  }
  return { songs, users, parsedFiles, parsedLanded };
}

/**
 * About how many users a streams file holds at most (but users the users files lack): the users
 * files' rows, from their heads and sizes, so that each parse worker sizes its table of a file's
 * users once. Local files only; an S3 file is not opened twice for it.
 */
async function usersAbout(landing: LandingScan): Promise<number | undefined> {
  if (landing.users.some((f) => isS3(f.path))) return undefined;
  return catalogRowsAbout(landing.users.map((f) => csvInput(f, SNIFF_BYTES)));
}

/**
 * An upper bound on the rows of any day: every row of the files already parsed, and as many rows
 * as the files being parsed could hold (a valid row is at least MIN_STREAM_ROW_BYTES).
 */
function rowsAtMost(parsing: readonly { size: number }[], known: Record<string, KpiFileRecord>): number {
  let rows = 0;
  for (const f of parsing) rows += Math.ceil(f.size / MIN_STREAM_ROW_BYTES);
  for (const record of Object.values(known)) for (const d of record.days) rows += d.rows;
  return rows;
}

/**
 * Write the due days: every day some file has rows on, unless its files were written from these
 * very inputs, catalogues, granularity and output folder, and are still there.
 */
async function writeDueDays(
  run: KpiRun,
  engine: KpiDayEngine,
  songs: SongCatalog,
  users: UserCatalog,
): Promise<{ days: KpiSummary['days']; current: number }> {
  const { emit, outDir, granularity, maxRejectRate, state, errorFiles, warn } = run;
  const { catalog, catalogKey } = kpiCatalog(songs, users);
  const inputs = new Map<number, Record<string, string>>();
  for (const record of Object.values(state.files())) {
    for (const { day } of record.days) {
      const map = inputs.get(day) ?? {};
      map[record.file] = record.hash;
      inputs.set(day, map);
    }
  }
  const summary: KpiSummary['days'] = [];
  let current = 0;
  if (inputs.size > 0) emit({ type: 'daysStart', days: inputs.size });
  const due: { day: number; dayInputs: Record<string, string>; contributing: KpiFileRecord[] }[] = [];
  for (const day of [...inputs.keys()].sort((a, b) => a - b)) {
    const dayInputs = inputs.get(day)!;
    const written = state.day(compactDay(day));
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
    due.push({ day, dayInputs, contributing });
  }
  // Up to engine.daysAhead days are asked for before the first is answered; they are written in
  // order, each as soon as it and those before it are computed.
  const computing: Promise<DayKpis>[] = [];
  const ask = (i: number): void => {
    if (i >= due.length || computing[i] !== undefined) return;
    const { day, contributing } = due[i]!;
    const kpis = engine.computeDay({
      day,
      granularity,
      sources: contributing.map((f) => ({
        file: f.file,
        hash: f.hash,
        partial: state.partialPath(f),
        rows: f.days.find((d) => d.day === day)?.rows ?? 0,
      })),
      catalog,
      catalogKey,
    });
    kpis.catch(() => {}); // awaited in order below
    computing[i] = kpis;
  };
  const ahead = Math.max(1, engine.daysAhead ?? 1);
  try {
    for (let i = 0; i < due.length; i++) {
      for (let j = i; j < i + ahead; j++) ask(j);
      const { day, dayInputs, contributing } = due[i]!;
      const key = compactDay(day);
      const kpis = await computing[i]!;
      // The last day computed: the engine may let go of its threads while the files are written.
      if (i === due.length - 1) await engine.idle?.();
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
        files: contributing.map((f) => ({ ...f.report, hash: f.hash, examples: f.examples })),
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
  } finally {
    // A failed day ends the run: the days asked for after it settle first, so that none is still
    // running when the engine closes.
    await Promise.allSettled(computing);
  }
  return { days: summary, current };
}

/**
 * The streams file whose partial `error` found damaged, when it can be parsed again (it is in the
 * landing folder or the archive); undefined for any other error. A damaged partial whose file is gone is the state's loss, said as such (exit 4).
 */
async function damagedPartial(
  error: unknown,
  state: KpiState,
  landing: LandingScan,
): Promise<string | undefined> {
  const e = error as { code?: unknown; path?: unknown };
  if (e?.code !== 'PARTIAL_CORRUPT' || typeof e.path !== 'string') return undefined;
  const record = Object.values(state.files()).find((r) => state.partialPath(r) === e.path);
  if (record === undefined) return undefined;
  const inLanding = landing.streams.some((f) => f.name === record.file);
  if (!inLanding && (record.archived === undefined || (await statFile(record.archived)) === undefined)) {
    throw new PlaytallyError(
      'corrupt_state',
      `${(error as Error).message}, and its streams file ${record.file} is in neither the landing folder nor ` +
        'the archive: put the file back into streams/ to rebuild it',
      { path: e.path, file: record.file },
    );
  }
  return record.file;
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

/** The catalogue the days are computed with, and its key (catalogHash). */
function kpiCatalog(songs: SongCatalog, users: UserCatalog): { catalog: Catalog; catalogKey: string } {
  return { catalog: { tracks: songs.tracks, users: users.users }, catalogKey: catalogHash(songs, users) };
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

function accepted(files: FileReport[]): number {
  return files.reduce((n, f) => n + f.accepted, 0);
}
