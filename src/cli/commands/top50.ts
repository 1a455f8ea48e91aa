import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { runTop50, type Top50Summary } from '../../jobs/chartJob.js';
import { plural, thousands } from '../../ops/counts.js';
import { parseDay } from '../../ops/dates.js';
import { ensureWritable } from '../../ops/folders.js';
import { acquireLock } from '../../ops/runLock.js';
import { percent, rejectRate } from '../../parse/rejectDiagnosis.js';
import { folderLocation, requireInputFolder, requireLocalFolders } from '../../sources/locations.js';
import { clickhouseOptions, type EngineCliOptions, withEngineOptions } from '../engineOptions.js';
import { dayOption, positiveIntOption, requireOption } from '../optionParsers.js';
import { progressReporter } from '../progress.js';
import {
  checkMemoryOption,
  jsonOption,
  logLevelOf,
  maxRejectRateOption,
  memoryOption,
  prints,
  threadsOption,
  type VerbosityCliOptions,
  withVerbosityOptions,
} from '../sharedOptions.js';
import { openSink, type SinkCliOptions, withSinkOptions, writeSink } from '../sinkOptions.js';
import { dbOption, loadIntoStore, userChartDatesOption } from '../storeOptions.js';

interface Top50CliOptions extends EngineCliOptions, SinkCliOptions, VerbosityCliOptions {
  logs: string;
  out: string;
  state?: string;
  date?: number;
  window: number;
  top: number;
  memory: number;
  threads: number;
  strict?: boolean;
  maxRejectRate: number;
  wait?: boolean;
  json?: boolean;
  db?: string;
  userChartDates: number;
}

export function top50Command(): Command {
  const command = new Command('top50')
    .description('write the 7-day top-50 charts per country and per user for one date')
    // Required, but checked in the action: commander checks required options before unknown
    // ones, so a misspelt --logs would be reported as a missing --logs.
    .option(
      '--logs <dir>',
      'folder (or s3://bucket/prefix) of daily listen-YYYYMMDD.log or listen-YYYY-MM-DD.log files, plain or .gz (required)',
    )
    .option('--out <dir>', 'folder for the chart files and quality report, created if missing (required)')
    .option('--state <dir>', 'folder for per-day partials reused by later runs (default: <out>/.playtally)')
    .option('--date <date>', 'chart date, YYYYMMDD or YYYY-MM-DD (default: newest log day)', dayOption)
    .option('--window <days>', 'days in the window, ending on the chart date', positiveIntOption, 7)
    .option('--top <n>', 'songs per chart row', positiveIntOption, 50)
    .addOption(memoryOption())
    .addOption(threadsOption())
    .option('--strict', 'fail (exit 3) when a day of the window has no log')
    .addOption(maxRejectRateOption())
    .option('--wait', 'wait for another run using the state folder instead of exiting with code 5');
  withEngineOptions(command);
  withSinkOptions(command, 'the country charts')
    .addOption(dbOption())
    .addOption(userChartDatesOption())
    .addOption(jsonOption('a summary of the run'));
  return withVerbosityOptions(command)
    .addHelpText(
      'after',
      `
Input (in --logs): one row per stream, sng_id|user_id|country, e.g. 29569957|7788196|BL;
blanks around a field are ignored (29569957 | 7788196 | BL), ids with leading zeros are the
same id, a first line naming the columns is a header. Other lines are rejected and counted;
a window without a single valid row is exit 3, with what the lines look like.

Output (in --out):
  country_top50_YYYYMMDD.txt  one row per country: CC|sng_id:plays,... (at most --top songs)
  user_top50_YYYYMMDD.txt     one row per user:    user_id|sng_id:plays,...
  quality_YYYYMMDD.json       rows read, valid, rejected by reason with examples, missing days

Examples:
  playtally top50 --logs /data/logs --out /data/charts --date 2024-01-07
  playtally top50 --logs /data/logs --out /data/charts --json -q > summary.json
  playtally top50 --logs s3://listens/logs/ --out /data/charts --memory 512MB --threads 2`,
    )
    .action(async (options: Partial<Top50CliOptions> & Omit<Top50CliOptions, 'logs' | 'out'>) => {
      const logs = requireOption(options.logs, '--logs <dir>');
      const out = requireOption(options.out, '--out <dir>');
      const level = logLevelOf(options);
      const quiet = !prints(level, 'info');
      checkMemoryOption(options.memory);
      // The folders are checked before the lock, which creates the state folder.
      requireLocalFolders({ '--out': out, '--state': options.state });
      await requireInputFolder(folderLocation(logs));
      ensureWritable(resolve(out), 'output_not_writable', 'output folder');
      const stateDir = resolve(options.state ?? join(out, '.playtally'));
      const clickhouse = clickhouseOptions(options);
      // The sink's table is checked (or created) before any work: a wrong name fails at once.
      const sink = await openSink(options, stateDir, quiet);
      try {
        // One process at a time per state folder (a `run` or `watch` may be using it).
        const lock = await acquireLock(stateDir, 'playtally top50', { wait: options.wait });
        let summary: Top50Summary;
        try {
          summary = await runTop50({
            logsDir: logs,
            outDir: out,
            stateDir: options.state,
            day: options.date,
            window: options.window,
            top: options.top,
            memoryBytes: options.memory,
            threads: options.threads,
            strict: options.strict ?? false,
            maxRejectRate: options.maxRejectRate,
            onEvent: progressReporter(process.stderr, level),
            clickhouse,
          });
          if (sink !== undefined) await writeSink(sink, 'charts', out, quiet);
        } finally {
          lock.release();
        }
        if (!quiet) process.stderr.write(`${summaryLine(summary)}\n`);
        loadIntoStore({ ...options, quiet }, (store) => store.syncCharts(out, [parseDay(summary.date)!]));
        if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      } finally {
        sink?.table.close();
      }
    });
}

/** The one-line summary printed on stderr after a run. */
export function summaryLine(s: Top50Summary): string {
  const n = thousands;
  const rate = percent(rejectRate(s.totals));
  const built = s.days.filter((d) => !d.reused).length;
  const gaps = s.window.missing.length - s.beforeData;
  return (
    `playtally: ${s.date}: window ${s.window.from}..${s.window.to}, ${plural(s.window.present.length, 'day')}` +
    `${gaps > 0 ? `, ${gaps} missing` : ''}${s.beforeData > 0 ? `, ${s.beforeData} before the first log` : ''} ` +
    `(${built} parsed, ${s.days.length - built} reused); ${plural(s.totals.rows, 'row')}, ${n(s.totals.valid)} valid, ` +
    `${n(s.totals.rejected)} rejected (${rate}); ${plural(s.outputs.country.rows, 'country', 'countries')}, ` +
    `${plural(s.outputs.user.rows, 'user')}; ${(s.elapsedMs / 1000).toFixed(1)} s, ` +
    `peak ${Math.round(s.peakRssBytes / 1024 / 1024)} MB`
  );
}
