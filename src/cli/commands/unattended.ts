import { Command, Option } from 'commander';
import type { Granularity } from '../../kpis/genreKpis.js';
import { plural } from '../../ops/counts.js';
import { isoDay } from '../../ops/dates.js';
import { PlaytallyError } from '../../ops/errors.js';
import { exitCodesHelp } from '../../ops/exitCodes.js';
import type { DynamoSink } from '../../sinks/dynamoSink.js';
import { folderLocation } from '../../sources/locations.js';
import {
  alertFailure,
  type FrameOptions,
  inUnattendedFrame,
  logFailure,
  type RunOutputs,
  recordFailure,
  stateDirOf,
} from '../../unattended/frame.js';
import { watchLanding } from '../../unattended/landingWatch.js';
import { runOnce } from '../../unattended/runOnce.js';
import type { RunOptions } from '../../unattended/runOptions.js';
import type { StopSignals } from '../../unattended/stopSignals.js';
import { clickhouseOptions, type EngineCliOptions, withEngineOptions } from '../engineOptions.js';
import { dayOption, durationOption, positiveIntOption, requireOption } from '../optionParsers.js';
import { createRunLogger, type Logger, logRunDone, logRunEvent } from '../runLogger.js';
import {
  checkMemoryOption,
  jsonOption,
  logFormatOption,
  logLevelOf,
  maxRejectRateOption,
  memoryOption,
  prints,
  threadsOption,
  type VerbosityCliOptions,
  withVerbosityOptions,
} from '../sharedOptions.js';
import { openSink, type SinkCliOptions, withSinkOptions } from '../sinkOptions.js';
import { dbOption, openStore, userChartDatesOption } from '../storeOptions.js';

export interface UnattendedCliOptions extends EngineCliOptions, SinkCliOptions, VerbosityCliOptions {
  logs?: string;
  out?: string;
  state?: string;
  window: number;
  top: number;
  memory: number;
  threads: number;
  archive?: string;
  quarantine?: string;
  maxRejectRate: number;
  keepDays?: number;
  wait?: boolean;
  waitTimeout?: number;
  onFailureWebhook?: string;
  /** run, backfill, watch: the run records on stdout, the log on stderr. */
  json?: boolean;
  db?: string;
  userChartDates?: number;
  /** run, watch: genre KPIs too (unattended/kpiStep.ts). */
  kpisLanding?: string;
  kpisState?: string;
  kpisGranularity?: Granularity;
  kpisArchive?: boolean;
}

/**
 * The folders of run, backfill, watch (and serve --watch): first in their --help, since --logs
 * and --out are required.
 */
export function withRunFolders(command: Command): Command {
  return command
    .option(
      '--logs <dir>',
      'landing folder (or s3://bucket/prefix) of listen-YYYYMMDD.log or listen-YYYY-MM-DD.log files, plain or .gz (required)',
    )
    .option('--out <dir>', 'folder for the chart files and quality reports (required)')
    .option(
      '--state <dir>',
      'state folder: partials, manifest, run history, lock (default: <out>/.playtally)',
    );
}

/** The options of the charts job that run, backfill and watch share. */
export function withRunJobOptions(command: Command): Command {
  return command
    .option('--window <days>', 'days in each chart window', positiveIntOption, 7)
    .option('--top <n>', 'songs per chart row', positiveIntOption, 50)
    .addOption(memoryOption())
    .addOption(threadsOption())
    .option(
      '--archive <dir>',
      'move each log here once every chart that needs it is written (default: logs stay); on S3 (s3://...) when --logs is',
    )
    .option(
      '--quarantine <dir>',
      'where logs with too many rejected lines go (default: <logs>/quarantine, or <logs>/error/ on S3)',
    )
    .addOption(maxRejectRateOption('quarantine the log'))
    .option(
      '--keep-days <n>',
      'keep the data of the newest N days (partials, or rows on the cluster); older is pruned (default: --window; with --engine clickhouse: every day; minimum: --window)',
      positiveIntOption,
    )
    .option('--wait', 'wait for another run holding the state folder instead of exiting with code 5')
    .option('--wait-timeout <duration>', 'wait at most this long (e.g. 10m; implies --wait)', durationOption)
    .option('--on-failure-webhook <url>', 'POST a JSON alert here when a run fails');
}

/** run and watch keep the genre KPIs up to date too, with a KPI landing folder. */
export function withKpiOptions(command: Command): Command {
  return command
    .option(
      '--kpis-landing <dir>',
      'also keep the genre KPIs up to date: the KPI landing folder (streams/, songs/, users/ of *.csv; or s3://...), KPI files into --out (see kpis)',
    )
    .option('--kpis-state <dir>', "the KPIs' state folder (default: <out>/.playtally-kpis, as kpis has)")
    .addOption(
      new Option('--kpis-granularity <unit>', 'KPI rows per genre and day, or per genre and UTC hour')
        .choices(['day', 'hour'])
        .default('day'),
    )
    .option(
      '--no-kpis-archive',
      'leave processed streams files in the KPI landing folder (default: move to archive/YYYYMMDD/ there)',
    );
}

/**
 * Where the charts are computed and where else they go: the engine, the DynamoDB sink and the
 * results store (`db: false` for serve, whose --db is its input and comes first).
 */
export function withRunDestinations(command: Command, { db = true } = {}): Command {
  withEngineOptions(command);
  withSinkOptions(command, 'the country charts');
  if (db) command.addOption(dbOption());
  return command.addOption(userChartDatesOption());
}

function runOptions(
  options: UnattendedCliOptions,
  log: Logger,
  stop: StopSignals,
  outputs: RunOutputs,
): Omit<RunOptions, 'command'> {
  const logsDir = requireOption(options.logs, '--logs <dir>');
  const outDir = requireOption(options.out, '--out <dir>');
  checkMemoryOption(options.memory);
  if (options.keepDays !== undefined && options.keepDays < options.window) {
    throw new PlaytallyError('usage', `--keep-days must be at least --window (${options.window})`);
  }
  const clickhouse = clickhouseOptions(options);
  return {
    logsDir,
    outDir,
    stateDir: options.state,
    window: options.window,
    top: options.top,
    memoryBytes: options.memory,
    threads: options.threads,
    archiveDir: options.archive,
    quarantineDir: options.quarantine,
    maxRejectRate: options.maxRejectRate,
    keepDays: options.keepDays,
    shouldStop: () => stop.requested(),
    onRunEvent: (event) => logRunEvent(log, event),
    store: outputs.store,
    syncSink: outputs.sink && chartsToSink(outputs.sink, log),
    clickhouse,
    kpis:
      options.kpisLanding === undefined
        ? undefined
        : {
            landingDir: options.kpisLanding,
            stateDir: options.kpisState,
            granularity: options.kpisGranularity,
            archive: options.kpisArchive,
            syncSink: outputs.sink && kpisToSink(outputs.sink, log),
          },
  };
}

/** The unattended frame (unattended/frame.ts) of a command, from its options. */
function frameOptions(
  command: 'run' | 'backfill' | 'watch',
  options: UnattendedCliOptions,
  log: Logger,
): FrameOptions {
  const level = logLevelOf(options);
  return {
    command,
    logsDir: options.logs,
    outDir: options.out,
    stateDir: options.state,
    archiveDir: options.archive,
    quarantineDir: options.quarantine,
    kpisLandingDir: options.kpisLanding,
    // `--wait-timeout` alone means waiting too.
    wait: options.wait === true || options.waitTimeout !== undefined,
    waitTimeoutMs: options.waitTimeout,
    onFailureWebhook: options.onFailureWebhook,
    log,
    openStore: () => openStore(options),
    openSink: () =>
      openSink(
        options,
        stateDirOf({ outDir: options.out, stateDir: options.state })!,
        !prints(level, 'info'),
      ),
  };
}

/** Run `body` in the unattended frame, with the command's log (on stderr with --json: stdout is the records'). */
export async function unattended(
  command: 'run' | 'backfill' | 'watch',
  options: UnattendedCliOptions,
  body: (log: Logger, stop: StopSignals, outputs: RunOutputs) => Promise<void>,
): Promise<void> {
  const log = createRunLogger(logLevelOf(options), options.json ? process.stderr : process.stdout, {
    format: options.logFormat,
    // A watcher runs for days: each line says when.
    clock: command === 'watch',
  });
  await inUnattendedFrame(frameOptions(command, options, log), (stop, outputs) => body(log, stop, outputs));
}

const EXIT_CODES_HELP = `
${exitCodesHelp()}`;

export function runCommand(): Command {
  const command = withKpiOptions(withRunJobOptions(withRunFolders(new Command('run'))))
    .description(
      'one idempotent run for cron or a systemd timer: process what is new, write the charts that are due',
    )
    .addOption(
      new Option(
        '--settle <duration>',
        'take only logs whose mtime is at least this old (for upstreams that write in place)',
      )
        .argParser(durationOption)
        .default(0, '0s: every log present'),
    );
  withRunDestinations(command).addOption(jsonOption("the run's record (as in runs.jsonl)"));
  return withVerbosityOptions(command)
    .addOption(logFormatOption())
    .addHelpText(
      'after',
      `
Every new or changed log is parsed once (a log with too many rejected lines is quarantined);
then the charts of every date whose window changed are written, logs whose charts are all
written are archived (with --archive), and partials older than --keep-days are pruned.
Logs go to stdout (to stderr with --json): JSON lines, or short lines on a terminal
(--log-format json|pretty forces one).
${EXIT_CODES_HELP}

Examples (the first a crontab line: every 15 minutes):
  */15 * * * * playtally run --logs /data/landing --out /data/charts --archive /data/archive -q
  playtally run --logs /data/landing --out /data/charts --json 2>>/var/log/playtally.log
  playtally run --logs /data/landing --out /data/charts --log-level debug`,
    )
    .action(async (options: UnattendedCliOptions & { settle: number }) => {
      await unattended('run', options, async (log, stop, outputs) => {
        const settle = options.settle;
        const record = await runOnce({
          ...runOptions(options, log, stop, outputs),
          command: 'run',
          // A log still being written in place is left for the next run.
          isReady: settle > 0 ? (l) => Date.now() - l.mtimeMs >= settle : undefined,
        });
        logRunDone(log, record);
        if (options.json) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
      });
    });
}

export function backfillCommand(): Command {
  const command = withRunFolders(new Command('backfill'))
    .description(
      'write the charts of every date from --from to --to (those already current are kept unless --force)',
    )
    .option('--from <date>', 'first chart date, YYYYMMDD or YYYY-MM-DD (required)', dayOption)
    .option('--to <date>', 'last chart date (required)', dayOption)
    .option('--force', 'rewrite the charts even of dates that are current');
  withRunDestinations(withRunJobOptions(command)).addOption(
    jsonOption("the run's record (as in runs.jsonl)"),
  );
  return withVerbosityOptions(command)
    .addOption(logFormatOption())
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}

Examples:
  playtally backfill --logs /data/landing --out /data/charts --from 2024-01-01 --to 2024-03-31
  playtally backfill --logs /data/landing --out /data/charts --from 20240301 --to 20240331 --force --json`,
    )
    .action(async (options: UnattendedCliOptions & { from?: number; to?: number; force?: boolean }) => {
      if (options.from === undefined)
        throw new PlaytallyError('usage', "required option '--from <date>' not specified");
      if (options.to === undefined)
        throw new PlaytallyError('usage', "required option '--to <date>' not specified");
      if (options.to < options.from) {
        throw new PlaytallyError(
          'usage',
          `--to ${isoDay(options.to)} is before --from ${isoDay(options.from)}`,
        );
      }
      const { from, to } = options;
      await unattended('backfill', options, async (log, stop, outputs) => {
        const record = await runOnce({
          ...runOptions(options, log, stop, outputs),
          command: 'backfill',
          from,
          to,
          force: options.force,
        });
        logRunDone(log, record);
        if (options.json) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
      });
    });
}

/** Options of the watcher (watch, serve --watch). */
export function withWatchOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--poll-interval <duration>', 'how often to look at the landing folder')
        .argParser(durationOption)
        .default(10_000, '10s'),
    )
    .addOption(
      new Option('--settle <duration>', 'a log counts once unchanged this long (or renamed into place)')
        .argParser(durationOption)
        .default(30_000, '30s'),
    );
}

export function watchCommand(): Command {
  const command = withKpiOptions(
    withWatchOptions(withRunJobOptions(withRunFolders(new Command('watch')))),
  ).description(
    'watch the landing folder: process the logs present, then each new or replaced log as it lands',
  );
  withRunDestinations(command).addOption(jsonOption("each cycle's record (a line each, as in runs.jsonl)"));
  return withVerbosityOptions(command)
    .addOption(logFormatOption())
    .addHelpText(
      'after',
      `
A log counts only when complete: dotfiles, *.tmp and *.part are ignored, and a file must keep
its size and mtime for --settle (a file renamed into place with an older mtime counts at once).
All state is on disk: a restarted watcher goes on where it stopped. SIGINT or SIGTERM stops it
after the current step; a second signal stops it at once.
${EXIT_CODES_HELP}

Examples:
  playtally watch --logs /data/landing --out /data/charts --archive /data/archive
  playtally watch --logs /data/landing --out /data/charts --poll-interval 1m --settle 2m --db /data/playtally.db
  playtally watch --logs /data/landing --out /data/charts --json -q | jq -c .charts`,
    )
    .action(async (options: WatchCliOptions) => {
      await unattended('watch', options, (log, stop, outputs) => watchLoop(options, log, stop, outputs));
    });
}

export type WatchCliOptions = UnattendedCliOptions & { pollInterval: number; settle: number };

/** The watcher of `watch` and `serve --watch`, inside the unattended frame (lock, signals, store). */
export async function watchLoop(
  options: WatchCliOptions,
  log: Logger,
  stop: StopSignals,
  outputs: RunOutputs,
): Promise<void> {
  log.info(
    {
      event: 'watching',
      logs: folderLocation(requireOption(options.logs, '--logs <dir>')),
      pollMs: options.pollInterval,
      settleMs: options.settle,
    },
    `watching ${options.logs} (every ${options.pollInterval / 1000} s, settle ${options.settle / 1000} s)`,
  );
  await watchLanding({
    ...runOptions(options, log, stop, outputs),
    pollMs: options.pollInterval,
    settleMs: options.settle,
    stop,
    onStep: (record) => {
      if (options.json) process.stdout.write(`${JSON.stringify(record)}\n`);
      const kpiDays = record.kpis && 'days' in record.kpis ? record.kpis.days.length : 0;
      if (
        record.days.length +
          record.charts.length +
          record.quarantined.length +
          record.archived.length +
          kpiDays >
        0
      )
        logRunDone(log, record);
    },
    // One alert and one record per streak of the same failure, not one per poll; logged every
    // time. A failed step is recorded by runOnce; a poll that could not list the landing folder
    // here.
    onStepError: async (error, repeat) => {
      if (repeat) logFailure(log, error);
      else {
        const frame = frameOptions('watch', options, log);
        const at = new Date().toISOString();
        await recordFailure(frame, at, error, { lockHeld: true, store: outputs.store });
        await alertFailure(frame, at, error);
      }
    },
  });
  log.info({ event: 'stopped' }, 'stopped');
}

/** The run's sync of the country charts into the DynamoDB sink, logged date by date. */
function chartsToSink(sink: DynamoSink, log: Logger): (outDir: string) => Promise<void> {
  return async (outDir) => {
    const written = await sink.syncCharts(outDir);
    if (written.length > 0) {
      log.info(
        { event: 'sink_written', table: sink.table.name, dates: written.map((w) => w.date) },
        `${plural(written.length, 'chart date')} written to DynamoDB ${sink.table.name}`,
      );
    }
  };
}

/** The KPI step's sync of the KPI days into the DynamoDB sink, logged. */
function kpisToSink(sink: DynamoSink, log: Logger): (outDir: string) => Promise<void> {
  return async (outDir) => {
    const written = await sink.syncKpis(outDir);
    if (written.length > 0) {
      log.info(
        { event: 'sink_written', table: sink.table.name, dates: written.map((w) => w.date) },
        `${plural(written.length, 'KPI day')} written to DynamoDB ${sink.table.name}`,
      );
    }
  };
}
