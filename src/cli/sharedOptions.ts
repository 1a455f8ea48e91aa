import { availableParallelism } from 'node:os';
import { type Command, Option } from 'commander';
import { DEFAULT_MEMORY_BYTES, MIN_MEMORY_BYTES } from '../engines/embedded/memoryPlan.js';
import { PlaytallyError } from '../ops/errors.js';
import { DEFAULT_MAX_REJECT_RATE } from '../parse/rejectDiagnosis.js';
import { positiveIntOption, rateOption, sizeOption } from './optionParsers.js';

/**
 * The options several commands share, one definition each, so that an option has the same flags,
 * wording, default and meaning on every command that has it (DESIGN.md: "the same option means
 * the same thing, with the same name, on every command"). test/unit/sharedOptions.test.ts and test/e2e/sharedOptions.test.ts check every
 * command of the tree against these.
 */

/** `--memory`, on the commands whose job keeps to a memory budget (checked with checkMemoryOption). */
export function memoryOption(): Option {
  return new Option(
    '--memory <size>',
    'memory budget for the whole process, e.g. 512MB, 1GB (256MB holds one worker thread, each 64MB more one more)',
  )
    .argParser(sizeOption)
    .default(DEFAULT_MEMORY_BYTES, '1GB');
}

/** The engine's floor, checked in the action so that the message names the option plainly. */
export function checkMemoryOption(bytes: number): void {
  if (bytes < MIN_MEMORY_BYTES) throw new PlaytallyError('usage', '--memory must be at least 256MB');
}

/** `--threads`, on the commands whose job runs on worker threads. */
export function threadsOption(): Option {
  return new Option('--threads <n>', 'worker threads')
    .argParser(positiveIntOption)
    .default(availableParallelism(), 'number of cores');
}

/**
 * `--max-reject-rate`: a day (a log, or a streams file) whose share of rejected rows is above it
 * is a warning naming the main reason with an example; `action` says what the command does
 * besides (run: quarantine the log).
 */
export function maxRejectRateOption(action?: string): Option {
  return new Option(
    '--max-reject-rate <rate>',
    `warn${action ? ` and ${action}` : ''} when a day's share of rejected rows is above this (0..1)`,
  )
    .argParser(rateOption)
    .default(DEFAULT_MAX_REJECT_RATE);
}

/**
 * `--json`: `what` (a summary, a report, an answer) as JSON on stdout, which then holds nothing
 * else; whatever the command says besides (progress, logs, warnings) goes to stderr.
 *
 * @example jsonOption('the status report') // --json  print the status report as JSON on stdout (...)
 */
export function jsonOption(what: string): Option {
  return new Option('--json', `print ${what} as JSON on stdout (nothing else goes to stdout)`);
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** `json`: one JSON object per line; `pretty`: short lines for a person (cli/runLogger.ts). */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `-q, --quiet`: `--log-level warn` in two letters; given with --log-level, a usage error. */
export function quietOption(): Option {
  return new Option('-q, --quiet', 'print only warnings and errors (the same as --log-level warn)').conflicts(
    'logLevel',
  );
}

/**
 * `--log-level`: what the command prints about its work (its log, or its progress lines), from
 * debug (more detail) to error. The results (files, `--json`) do not depend on it.
 */
export function logLevelOption(): Option {
  return new Option(
    '--log-level <level>',
    'print messages of this level and above: debug adds detail, warn is -q, error only errors',
  )
    .choices(LOG_LEVELS)
    .default('info');
}

/**
 * `--log-format`: the log of the commands that keep one (run, backfill, watch, serve) as JSON
 * lines or as short lines for a person; by default short lines on a terminal, JSON otherwise.
 */
export function logFormatOption(): Option {
  return new Option(
    '--log-format <format>',
    'json (one object per line) or pretty (short lines); default: pretty on a terminal, json otherwise',
  ).choices(LOG_FORMATS);
}

/** `-q` and `--log-level`, together and in this order, on every command that logs or shows progress. */
export function withVerbosityOptions(command: Command): Command {
  return command.addOption(quietOption()).addOption(logLevelOption());
}

export interface VerbosityCliOptions {
  quiet?: boolean;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

/** The level of a command's messages: `-q` is warn, else `--log-level` (info by default). */
export function logLevelOf(options: VerbosityCliOptions): LogLevel {
  return options.quiet ? 'warn' : (options.logLevel ?? 'info');
}

/**
 * Whether a message of level `message` is printed at `level`.
 *
 * @example prints('warn', 'info') // false: -q leaves out the progress lines
 */
export function prints(level: LogLevel, message: LogLevel): boolean {
  return LOG_LEVELS.indexOf(message) >= LOG_LEVELS.indexOf(level);
}
