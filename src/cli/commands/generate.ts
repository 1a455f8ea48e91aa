import { Command, InvalidArgumentError, Option } from 'commander';
import { generateKpiDataset, MAX_FILES_PER_DAY, MIN_SONGS } from '../../generate/kpiDataset.js';
import { CORRUPTIONS, type Corruption, generateLogs } from '../../generate/listenGenerator.js';
import { plural, thousands } from '../../ops/counts.js';
import { isoDay, parseDay } from '../../ops/dates.js';
import { PlaytallyError } from '../../ops/errors.js';
import {
  dayOption,
  nonNegativeIntOption,
  positiveIntOption,
  rateOption,
  requireOption,
} from '../optionParsers.js';
import {
  jsonOption,
  logLevelOf,
  prints,
  type VerbosityCliOptions,
  withVerbosityOptions,
} from '../sharedOptions.js';

interface GenerateCliOptions extends VerbosityCliOptions {
  out?: string;
  start: number;
  days: number;
  rows: number;
  users?: number;
  songs: number;
  corruptRate: number;
  crlfRate: number;
  blankRate: number;
  header?: boolean;
  corruptKinds?: Corruption[];
  seed: number;
  json?: boolean;
}

export function generateCommand(): Command {
  const command = new Command('generate')
    .description(
      'write deterministic synthetic listen logs (listen-YYYYMMDD.log) for demos, tests and benchmarks',
    )
    .option('--out <dir>', 'folder for the logs, created if missing (required)')
    .addOption(
      new Option('--start <date>', 'first day, YYYYMMDD or YYYY-MM-DD')
        .argParser(dayOption)
        .default(parseDay('2024-01-01'), '2024-01-01'),
    )
    .option('--days <n>', 'number of daily files', positiveIntOption, 7)
    .option('--rows <n>', 'rows per day, corrupt rows included', nonNegativeIntOption, 1_000_000)
    .option('--users <n>', 'distinct users (default: rows / 10, at least 1,000)', positiveIntOption)
    .option('--songs <n>', 'songs in the catalogue (ids spread over 1..2^27)', positiveIntOption, 80_000_000)
    .option('--corrupt-rate <rate>', 'fraction of corrupt rows, 0..1', rateOption, 0.001)
    .option('--crlf-rate <rate>', 'fraction of valid rows ending in \\r\\n, 0..1', rateOption, 0.01)
    .option(
      '--blank-rate <rate>',
      'fraction of valid rows written with blanks around their fields (5 | 6 | FR), 0..1',
      rateOption,
      0,
    )
    .option('--header', 'start each log with the header line sng_id|user_id|country')
    .option(
      '--corrupt-kinds <list>',
      `comma-separated kinds of corrupt rows (default: all): ${CORRUPTIONS.join(', ')}`,
      corruptKindsOption,
    )
    .option('--seed <n>', 'random seed', nonNegativeIntOption, 1)
    .addOption(jsonOption('a summary of what was written'));
  return (
    withVerbosityOptions(command)
      .addHelpText(
        'after',
        `
Rows look like 24822533|1230438706|BR: Zipf-like song popularity over a sparse catalogue,
heavy-tailed user activity, a home country per user (all 249 codes, skewed towards big
markets) and per-user favourite songs. Corrupt rows include empty lines, missing or extra
fields, non-numeric, negative or huge ids, lowercase, unknown or wrong-length countries,
a blank inside an id, non-ASCII bytes, very long lines and doubled \\r.

Examples:
  playtally generate --out sample/logs --days 7 --rows 20000000
  playtally generate --out /tmp/logs --days 2 --rows 1000 --corrupt-rate 0.05 --header --json -q`,
      )
      // `generate kpi-dataset --out X`: the options after the subcommand are the subcommand's own.
      .enablePositionalOptions()
      .addCommand(kpiDatasetCommand())
      .action((options: GenerateCliOptions) => {
        const out = requireOption(options.out, '--out <dir>');
        const quiet = !prints(logLevelOf(options), 'info');
        const summary = generateLogs({
          dir: out,
          start: options.start,
          days: options.days,
          rows: options.rows,
          users: options.users,
          songs: options.songs,
          corruptRate: options.corruptRate,
          crlfRate: options.crlfRate,
          blankRate: options.blankRate,
          header: options.header,
          corruptKinds: options.corruptKinds,
          seed: options.seed,
          onFile: (path) => {
            if (!quiet) process.stderr.write(`  wrote ${path}\n`);
          },
        });
        if (!quiet) {
          process.stderr.write(
            `playtally: generated ${plural(summary.days, 'day')} from ${isoDay(options.start)}, ` +
              `${plural(summary.rowsPerDay, 'row')} each, in ${(summary.elapsedMs / 1000).toFixed(1)} s ` +
              `(${(summary.rowsPerSecond / 1e6).toFixed(1)}M rows/s)\n`,
          );
        }
        if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      })
  );
}

interface KpiDatasetCliOptions extends VerbosityCliOptions {
  out?: string;
  start: number;
  days: number;
  streams: number;
  files: number;
  songs: number;
  users: number;
  dirtRate: number;
  seed: number;
  bad?: boolean;
  json?: boolean;
}

/** `generate kpi-dataset`: the landing folder of the daily genre KPIs (songs/, users/, streams/). */
function kpiDatasetCommand(): Command {
  const command = new Command('kpi-dataset')
    .description(
      'write a deterministic synthetic landing folder for the daily genre KPIs: songs/tracks.csv, users/users.csv and streams/streams-YYYYMMDD-NN.csv',
    )
    .option('--out <dir>', 'landing folder, created if missing (required)')
    .addOption(
      new Option('--start <date>', 'first day of streams, YYYYMMDD or YYYY-MM-DD')
        .argParser(dayOption)
        .default(parseDay('2024-01-01'), '2024-01-01'),
    )
    .option('--days <n>', 'days of streams', positiveIntOption, 1)
    .option(
      '--streams <n>',
      'stream rows per day over its files, dirt included',
      nonNegativeIntOption,
      100_000,
    )
    .option('--files <n>', `streams files (batches) per day, 1..${MAX_FILES_PER_DAY}`, positiveIntOption, 3)
    .option(
      '--songs <n>',
      `distinct tracks, at least ${MIN_SONGS} (one per genre)`,
      positiveIntOption,
      20_000,
    )
    .option('--users <n>', 'users', positiveIntOption, 50_000)
    .option('--dirt-rate <rate>', 'fraction of dirty stream rows, 0..1', rateOption, 0.01)
    .option('--seed <n>', 'random seed', nonNegativeIntOption, 1)
    .option('--bad', 'also write streams-<start>-bad.csv (no listen_time column) and a binary not-a-csv.csv')
    .addOption(jsonOption('a summary of what was written'));
  return withVerbosityOptions(command)
    .addHelpText(
      'after',
      `
songs/tracks.csv has the columns of the Kaggle "Spotify Tracks Dataset" (114 genres, about 5%
of the tracks listed again under a second genre, names with commas, quotes, newlines and
non-ASCII text). users/users.csv has user_id (u and 6+ digits), user_name, user_age,
user_country (ISO 3166-1) and created_at, in another column order. Stream rows are
user_id,track_id,listen_time with ISO 8601 times (Z, milliseconds, no offset meaning UTC, or
an offset, some of which cross the UTC day), skewed popularity and per-user favourites; at
--dirt-rate, rows are duplicates (within a file and across a day's files), bad timestamps,
empty ids, unknown tracks or users, or quoted fields. One file per dataset has \\r\\n line
endings; the last day's first streams file has its columns in another order.

Examples:
  playtally generate kpi-dataset --out /data/landing --days 3 --streams 1000000
  playtally generate kpi-dataset --out /tmp/landing --bad --seed 7`,
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .action((options: KpiDatasetCliOptions) => {
      const out = requireOption(options.out, '--out <dir>');
      const quiet = !prints(logLevelOf(options), 'info');
      if (options.files > MAX_FILES_PER_DAY)
        throw new PlaytallyError('usage', `--files must be at most ${MAX_FILES_PER_DAY}`);
      if (options.songs < MIN_SONGS)
        throw new PlaytallyError('usage', `--songs must be at least ${MIN_SONGS} (one per genre)`);
      const summary = generateKpiDataset({
        dir: out,
        start: options.start,
        days: options.days,
        streamsPerDay: options.streams,
        filesPerDay: options.files,
        songs: options.songs,
        users: options.users,
        dirtRate: options.dirtRate,
        seed: options.seed,
        bad: options.bad ?? false,
        onFile: (path) => {
          if (!quiet) process.stderr.write(`  wrote ${path}\n`);
        },
      });
      if (!quiet) {
        const dirty = Object.values(summary.dirt).reduce((a, b) => a + b, 0);
        process.stderr.write(
          `playtally: generated a KPI landing folder in ${out}: ${plural(summary.songs.rows, 'song row')}, ` +
            `${plural(summary.users.rows, 'user')}, ${plural(summary.streams.rows, 'stream row')} ` +
            `over ${plural(summary.days, 'day')} from ${summary.start} (${thousands(dirty)} dirty), ` +
            `in ${(summary.elapsedMs / 1000).toFixed(1)} s (${(summary.rowsPerSecond / 1e6).toFixed(1)}M rows/s)\n`,
        );
      }
      if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    });
}

function corruptKindsOption(value: string): Corruption[] {
  const kinds = value.split(',').map((k) => k.trim());
  for (const kind of kinds) {
    if (!(CORRUPTIONS as readonly string[]).includes(kind)) {
      throw new InvalidArgumentError(`"${kind}" is not a corruption kind (${CORRUPTIONS.join(', ')})`);
    }
  }
  return kinds as Corruption[];
}
