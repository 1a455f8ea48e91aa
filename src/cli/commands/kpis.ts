import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { type KpiEvent, type KpiOptions, type KpiSummary, runKpis } from '../../jobs/kpiJob.js';
import type { Granularity } from '../../kpis/genreKpis.js';
import { plural, thousands } from '../../ops/counts.js';
import { ensureWritable } from '../../ops/folders.js';
import { acquireLock } from '../../ops/runLock.js';
import { folderLocation, requireInputFolder, requireLocalFolders } from '../../sources/locations.js';
import { clickhouseOptions, type EngineCliOptions, withEngineOptions } from '../engineOptions.js';
import { requireOption } from '../optionParsers.js';
import { threadsCutNote, withKpiProgress } from '../progress.js';
import {
  checkMemoryOption,
  jsonOption,
  type LogLevel,
  logLevelOf,
  maxRejectRateOption,
  memoryOption,
  prints,
  threadsOption,
  type VerbosityCliOptions,
  withVerbosityOptions,
} from '../sharedOptions.js';
import { openSink, type SinkCliOptions, withSinkOptions, writeSink } from '../sinkOptions.js';
import { dbOption, loadIntoStore } from '../storeOptions.js';
import { kpisQueryCommand } from './kpisQuery.js';

interface KpisCliOptions extends EngineCliOptions, SinkCliOptions, VerbosityCliOptions {
  landing?: string;
  out?: string;
  state?: string;
  archive: boolean;
  wait?: boolean;
  granularity: Granularity;
  maxRejectRate: number;
  memory: number;
  threads: number;
  json?: boolean;
  db?: string;
}

export function kpisCommand(): Command {
  const command = new Command('kpis')
    .description('daily genre KPIs from the stream, song and user CSV drops of a landing folder')
    .option(
      '--landing <dir>',
      'landing folder (or s3://bucket/prefix) with streams/, songs/ and users/ subfolders of *.csv (required)',
    )
    .option('--out <dir>', 'folder for the KPI files and quality reports, created if missing (required)')
    .option(
      '--state <dir>',
      'state folder: a partial per streams file, the manifest (default: <out>/.playtally-kpis)',
    )
    .addOption(
      new Option('--granularity <unit>', 'one row per genre and day, or per genre and UTC hour')
        .choices(['day', 'hour'])
        .default('day'),
    )
    .option(
      '--no-archive',
      'leave processed streams files in the landing folder (default: move to archive/YYYYMMDD/)',
    )
    .addOption(maxRejectRateOption())
    .addOption(memoryOption())
    .addOption(threadsOption())
    .option('--wait', 'wait for another run using the state folder instead of exiting with code 5');
  withEngineOptions(command, 'the KPIs');
  withSinkOptions(command, 'the KPIs').addOption(dbOption()).addOption(jsonOption('a summary of the run'));
  return (
    withVerbosityOptions(command)
      .addHelpText(
        'after',
        `
Input (in --landing):
  streams/*.csv  user_id,track_id,listen_time (ISO 8601; no offset = UTC), several files a day
  songs/*.csv    track_id,track_name,artists,album_name,track_genre,duration_ms,popularity,explicit
  users/*.csv    user_id,user_name,user_age,user_country,created_at
Columns in any order; more columns are ignored. A file missing a column, or not a CSV, is moved
to <landing>/error/<kind>/ with a .reason.json, and the run goes on.

Output (in --out), per UTC day of listen_time:
  genre_kpis_YYYYMMDD.csv   date,genre,listen_count,unique_listeners,total_listening_ms,
                            avg_listening_ms_per_listener,top3_tracks (track_id:plays;...)
  top_genres_YYYYMMDD.csv   date,rank,genre,listen_count (the 5 genres with most listens)
  kpi_quality_YYYYMMDD.json rows, duplicates, unknown tracks and users, rejects by reason
With --granularity hour, an hour column (00-23) follows date.

Incremental: each streams file is parsed once into a partial in the state folder; a run rewrites
only the days whose files, songs, users or granularity changed, exactly. Once every day a
streams file has rows on is written, the file is moved to <landing>/archive/YYYYMMDD/ (the day
it has most rows on); --no-archive leaves it. Nothing is deleted.

Examples:
  playtally kpis --landing /data/kpi-landing --out /data/kpis
  playtally kpis --landing /data/kpi-landing --out /data/kpis --granularity hour --no-archive --json
  playtally kpis --landing s3://listens/kpi-drops/ --out /data/kpis --sink dynamodb://playtally-kpis`,
      )
      // `kpis query --sink ...`: options after `query` are the subcommand's, not this command's.
      .enablePositionalOptions()
      .addCommand(kpisQueryCommand())
      .action(async (options: KpisCliOptions) => {
        const landing = requireOption(options.landing, '--landing <dir>');
        const out = requireOption(options.out, '--out <dir>');
        const level = logLevelOf(options);
        const quiet = !prints(level, 'info');
        checkMemoryOption(options.memory);
        requireLocalFolders({ '--out': out, '--state': options.state });
        await requireInputFolder(folderLocation(landing), 'landing folder');
        ensureWritable(resolve(out), 'output_not_writable', 'output folder');
        const stateDir = resolve(options.state ?? join(out, '.playtally-kpis'));
        const clickhouse = clickhouseOptions(options);
        const sink = await openSink(options, stateDir, quiet);
        try {
          const lock = await acquireLock(stateDir, 'playtally kpis', { wait: options.wait });
          const job: KpiOptions = {
            landingDir: landing,
            outDir: out,
            stateDir,
            archive: options.archive,
            granularity: options.granularity,
            maxRejectRate: options.maxRejectRate,
            memoryBytes: options.memory,
            threads: options.threads,
            onEvent: withKpiProgress(process.stderr, level, kpiReporter(level)),
            // The sink's record of what it wrote lives in the state folder: written under the lock.
            syncSink: sink && ((outDir) => writeSink(sink, 'kpis', outDir, quiet)),
          };
          let summary: KpiSummary;
          try {
            summary = await runKpis({ ...job, clickhouse });
          } finally {
            lock.release();
          }
          if (!quiet) process.stderr.write(`${summaryLine(summary)}\n`);
          // Every changed day, not only this run's: a day whose load failed before is loaded now.
          loadIntoStore({ ...options, quiet }, (store) => store.syncKpis(out));
          if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        } finally {
          sink?.table.close();
        }
      })
  );
}

/** The job's events on stderr at `level`: the progress lines (info), the warnings (warn). */
function kpiReporter(level: LogLevel): (event: KpiEvent) => void {
  if (prints(level, 'info')) return report;
  if (prints(level, 'warn')) return warningsOnly;
  return () => {};
}

function warningsOnly(event: KpiEvent): void {
  if (event.type === 'stateRecovered') process.stderr.write(`playtally: warning: ${event.problem}\n`);
  if (event.type === 'rejectRate') process.stderr.write(`playtally: warning: ${event.warning.message}\n`);
  if (event.type === 'errorFile') {
    process.stderr.write(
      `playtally: warning: ${event.file.kind}/${event.file.file}: ${event.file.message}; moved to ${event.movedTo}\n`,
    );
  }
}

function report(event: KpiEvent): void {
  switch (event.type) {
    case 'catalog':
      process.stderr.write(
        `  ${event.kind}: ${plural(event.accepted, 'row')} from ${plural(event.files, 'file')}\n`,
      );
      break;
    case 'threadsCut':
      process.stderr.write(`  ${threadsCutNote(event)}\n`);
      break;
    case 'streamsFile':
      process.stderr.write(
        `  streams/${event.file}: ${plural(event.rows, 'row')}, ${thousands(event.rows - event.accepted)} rejected, ${(event.ms / 1000).toFixed(1)} s\n`,
      );
      break;
    case 'dayDone':
      process.stderr.write(
        `  ${event.date}: ${plural(event.counted, 'stream')} counted in ${plural(event.genres, 'genre row')}\n`,
      );
      break;
    case 'errorFile':
    case 'stateRecovered':
    case 'rejectRate':
      warningsOnly(event);
      break;
    case 'archiveNote':
      process.stderr.write(
        `playtally: note: once the KPIs of its days are written, each streams file is moved to ${event.archiveDir.replace(/\/$/, '')}/YYYYMMDD/ ` +
          `(nothing is deleted)${event.gitCheckout ? '; the landing folder is in a git checkout' : ''}; ` +
          'run with --no-archive to leave the files where they are\n',
      );
      break;
    case 'archived':
      process.stderr.write(`  archived streams/${event.file} to ${event.to}\n`);
      break;
  }
}

export function summaryLine(s: KpiSummary): string {
  const counted = s.days.reduce((a, d) => a + d.streams.counted, 0);
  return (
    `playtally: ${plural(s.days.length, 'day')} of genre KPIs written` +
    (s.days.length > 0 ? ` (${plural(counted, 'stream')} counted)` : '') +
    // Current: written by an earlier run from the same streams files and catalogues.
    (s.daysCurrent > 0 ? `, ${plural(s.daysCurrent, 'day')} already up to date` : '') +
    `; ${plural(s.filesParsed, 'streams file')} parsed` +
    (s.filesReused > 0 ? `, ${plural(s.filesReused, 'file')} unchanged since an earlier run` : '') +
    (s.errorFiles.length > 0 ? `, ${plural(s.errorFiles.length, 'file')} moved to error/` : '') +
    (s.archived.length > 0 ? `, ${thousands(s.archived.length)} archived` : '') +
    `; ${(s.elapsedMs / 1000).toFixed(1)} s, peak ${Math.round(s.peakRssBytes / 1024 / 1024)} MB`
  );
}
