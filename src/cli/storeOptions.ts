import { Option } from 'commander';
import { ResultsStore } from '../store/resultsStore.js';
import { positiveIntOption } from './optionParsers.js';

/** `--db <file>` on the commands that write results: load them into the results store too. */
export function dbOption(): Option {
  return new Option(
    '--db <file>',
    'also load the results into this SQLite results store (created if missing), for `playtally serve`',
  ).env('PLAYTALLY_DB');
}

export function userChartDatesOption(): Option {
  return new Option(
    '--user-chart-dates <n>',
    'keep user charts in the store for the newest N chart dates (a date holds millions of users)',
  )
    .argParser(positiveIntOption)
    .default(3);
}

/** The store named by --db, opened (and migrated) for writing; undefined without --db. */
export function openStore(options: { db?: string; userChartDates?: number }): ResultsStore | undefined {
  if (options.db === undefined) return undefined;
  return ResultsStore.open(options.db, { userChartDates: options.userChartDates });
}

export function storedLine(path: string, dates: string[]): string {
  return dates.length === 0
    ? `playtally: results store ${path}: already current`
    : `playtally: results store ${path}: loaded ${dates.join(', ')}`;
}
