import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { computeDayKpis, type DayKpis, type Granularity } from '../kpis/genreKpis.js';
import { StreamDays } from '../kpis/streamDays.js';
import { isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { moveWithReason } from '../ops/fileMoves.js';
import { ensureWritable } from '../ops/folders.js';
import {
  type BadFile,
  type FileReport,
  type RowExample,
  readSongs,
  readUsers,
  type SongCatalog,
  type UserCatalog,
} from '../parse/catalogs.js';
import { writeKpiFiles } from '../sinks/kpiFiles.js';
import { type LandingFile, scanLanding } from '../sources/landingFiles.js';
import type { ParseStreamsResult } from './tasks.js';
import { WorkerPool } from './workerPool.js';

export interface KpiOptions {
  landingDir: string;
  outDir: string;
  granularity?: Granularity;
  /** Worker threads parsing streams files (default: number of cores). */
  threads?: number;
  onEvent?: (event: KpiEvent) => void;
}

export type KpiEvent =
  | { type: 'catalog'; kind: 'songs' | 'users'; files: number; accepted: number }
  | { type: 'streamsFile'; file: string; rows: number; accepted: number; ms: number }
  | { type: 'errorFile'; file: BadFile; movedTo: string }
  | { type: 'dayDone'; date: string; genres: number; counted: number };

export interface KpiSummary {
  days: { date: string; genres: number; streams: DayKpis['streams']; files: string[] }[];
  errorFiles: (BadFile & { movedTo: string })[];
  elapsedMs: number;
  /** CPU time of the whole process, user + system. */
  cpuMs: number;
  peakRssBytes: number;
}

/**
 * The genre KPI job: read the songs and users catalogues, then every streams file of the landing
 * folder once, grouping valid rows by the UTC day of their listen time; then per day drop exact
 * duplicates (across files), reject unknown tracks, and write the day's KPI files and quality
 * report. A file that is not a usable CSV of its kind goes to `<landing>/error/<kind>/` with a
 * `.reason.json`, and the run goes on with the others.
 */
export async function runKpis(options: KpiOptions): Promise<KpiSummary> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const landingDir = resolve(options.landingDir);
  const outDir = resolve(options.outDir);
  const granularity = options.granularity ?? 'day';
  if (!existsSync(landingDir) || !statSync(landingDir).isDirectory()) {
    throw new PlaytallyError(
      'logs_not_found',
      `landing folder ${landingDir} does not exist or is not a folder`,
    );
  }
  ensureWritable(outDir, 'output_not_writable', 'output folder');
  const landing = scanLanding(landingDir);
  const errorFiles: KpiSummary['errorFiles'] = [];
  const setAside = (bad: BadFile): void => {
    const { movedTo } = moveWithReason(bad.path, join(landingDir, 'error', bad.kind), {
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

  // Streams files are parsed on the workers, in parallel; their rows are merged here in file
  // order, with at most a few parsed files waiting, so memory holds the rows and little more.
  const streams = new StreamDays();
  const streamFiles: { file: LandingFile; report: FileReport; examples: RowExample[]; days: Set<number> }[] =
    [];
  const threads = options.threads ?? availableParallelism();
  const pool = new WorkerPool(threads);
  let songs: SongCatalog;
  let users: UserCatalog;
  try {
    const started = landing.streams.map(() => 0);
    const parse = (i: number): Promise<ParseStreamsResult> => {
      started[i] = Date.now();
      const file = landing.streams[i]!;
      const pending = pool.run<ParseStreamsResult>({
        kind: 'parseStreams',
        name: file.name,
        path: file.path,
      });
      pending.catch(() => {}); // awaited in order below
      return pending;
    };
    const inFlight = new Map<number, Promise<ParseStreamsResult>>();
    let next = 0;
    while (next < landing.streams.length && next <= threads) inFlight.set(next, parse(next++));
    // The catalogues are read here while the workers parse the first streams files.
    songs = await readSongs(landing.songs);
    songs.bad.forEach(setAside);
    emit({ type: 'catalog', kind: 'songs', files: songs.files.length, accepted: accepted(songs.files) });
    users = await readUsers(landing.users);
    users.bad.forEach(setAside);
    emit({ type: 'catalog', kind: 'users', files: users.files.length, accepted: accepted(users.files) });
    if (songs.tracks.size === 0) {
      throw new PlaytallyError(
        'no_songs',
        `no songs in ${join(landingDir, 'songs')}: every stream would be an unknown track`,
      );
    }
    for (let i = 0; i < landing.streams.length; i++) {
      while (next < landing.streams.length && next <= i + threads) inFlight.set(next, parse(next++));
      const parsed = await inFlight.get(i)!;
      inFlight.delete(i);
      const file = landing.streams[i]!;
      if (parsed.result.bad) {
        setAside(parsed.result.bad);
        continue;
      }
      streams.merge(parsed.users, parsed.tracks, parsed.days);
      streamFiles.push({
        file,
        report: parsed.result.report,
        examples: parsed.result.examples,
        days: new Set(parsed.days.map((d) => d.day)),
      });
      emit({
        type: 'streamsFile',
        file: file.name,
        rows: parsed.result.report.rows,
        accepted: parsed.result.report.accepted,
        ms: Date.now() - started[i]!,
      });
    }
  } finally {
    await pool.close();
  }

  const catalog = { tracks: songs.tracks, users: users.users };
  const summary: KpiSummary['days'] = [];
  for (const day of [...streams.days.keys()].sort((a, b) => a - b)) {
    const kpis = computeDayKpis(
      day,
      streams.days.get(day)!,
      streams.users,
      streams.tracks,
      catalog,
      granularity,
    );
    const contributing = streamFiles.filter((f) => f.days.has(day));
    writeKpiFiles(outDir, kpis, {
      date: isoDay(day),
      granularity,
      streams: kpis.streams,
      files: contributing.map((f) => ({ ...f.report, examples: f.examples })),
      songs: { files: songs.files, examples: songs.examples },
      users: { files: users.files, examples: users.examples },
      errorFiles: errorFiles.map(({ path: _path, ...rest }) => rest),
      generatedAt: new Date().toISOString(),
    });
    streams.days.delete(day);
    summary.push({
      date: isoDay(day),
      genres: new Set(kpis.genres.map((g) => g.genre)).size,
      streams: kpis.streams,
      files: contributing.map((f) => f.file.name),
    });
    emit({ type: 'dayDone', date: isoDay(day), genres: kpis.genres.length, counted: kpis.streams.counted });
  }
  return {
    days: summary,
    errorFiles,
    elapsedMs: Date.now() - started,
    cpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

function accepted(files: FileReport[]): number {
  return files.reduce((n, f) => n + f.accepted, 0);
}
