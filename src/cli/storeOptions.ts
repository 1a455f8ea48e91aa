import { Option } from 'commander';
import { ResultsStore } from '../store/resultsStore.js';
import { positiveIntOption } from './optionParsers.js';

/** The results store `serve` and `load` use without --db (or $PLAYTALLY_DB). */
export const DEFAULT_DB = 'playtally.db';

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

/**
 * After a command wrote its files: with --db, load them into the store (`sync` picks what) and
 * say what was loaded on stderr (unless quiet).
 */
export function loadIntoStore(
  options: { db?: string; userChartDates?: number; quiet?: boolean },
  sync: (store: ResultsStore) => { date: string }[],
): void {
  const store = openStore(options);
  if (!store) return;
  try {
    const dates = sync(store).map((l) => l.date);
    if (!options.quiet) {
      process.stderr.write(
        dates.length === 0
          ? `playtally: results store ${store.path}: already up to date\n`
          : `playtally: results store ${store.path}: loaded ${dates.join(', ')}\n`,
      );
    }
  } finally {
    store.close();
  }
}
