import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { chartDatesIn } from '../../formats/chartFiles.js';
import { kpiDatesIn } from '../../formats/kpiFiles.js';
import { plural } from '../../ops/counts.js';
import { PlaytallyError } from '../../ops/errors.js';
import { ResultsStore } from '../../store/resultsStore.js';
import { logLevelOf, prints, type VerbosityCliOptions, withVerbosityOptions } from '../sharedOptions.js';
import { DEFAULT_DB, userChartDatesOption } from '../storeOptions.js';

interface LoadCliOptions extends VerbosityCliOptions {
  db?: string;
  charts?: string;
  kpis?: string;
  state?: string;
  userChartDates: number;
}

export function loadCommand(): Command {
  const command = new Command('load')
    .description(
      'load existing output files (charts, quality reports, KPIs, run history) into the results store',
    )
    .option('--db <file>', `the results store, created if missing (default: ${DEFAULT_DB}, or $PLAYTALLY_DB)`)
    .option('--charts <dir>', 'folder of chart files and quality reports (the --out of top50/run/watch)')
    .option('--kpis <dir>', 'folder of KPI files (the --out of kpis)')
    .option('--state <dir>', 'state folder whose runs.jsonl to load (default: <charts>/.playtally)')
    .addOption(userChartDatesOption());
  return withVerbosityOptions(command)
    .addHelpText(
      'after',
      `
Loads every date whose files are new or changed since they were loaded (so it can run again and
again), newest first; each date is one transaction. User charts are kept for the newest
--user-chart-dates dates. A malformed file is an error (exit 3) and loads nothing of its date.

Examples:
  playtally load --db /data/playtally.db --charts /data/charts --kpis /data/kpis
  playtally load --charts /data/charts -q                   # into ./playtally.db`,
    )
    .action((options: LoadCliOptions) => {
      if (!options.charts && !options.kpis) {
        throw new PlaytallyError('usage', 'give --charts <dir>, --kpis <dir> or both');
      }
      for (const dir of [options.charts, options.kpis]) {
        if (dir && !existsSync(dir)) throw new PlaytallyError('bad_result_file', `no such folder: ${dir}`);
      }
      const db = resolve(options.db ?? process.env.PLAYTALLY_DB ?? DEFAULT_DB);
      const store = ResultsStore.open(db, { userChartDates: options.userChartDates });
      const quiet = !prints(logLevelOf(options), 'info');
      const say = (line: string): void => {
        if (!quiet) process.stderr.write(`playtally: ${line}\n`);
      };
      try {
        if (options.charts) {
          const loaded = store.syncCharts(options.charts);
          say(
            loaded.length === 0
              ? nothingNew('charts', chartDatesIn(resolve(options.charts)).length, 'chart', options.charts)
              : `charts: loaded ${plural(loaded.length, 'date')}: ${loaded.map((l) => `${l.date} (${plural(l.countries, 'country', 'countries')}, ${l.userChartsKept ? plural(l.users, 'user') : 'user charts not kept'})`).join(', ')}`,
          );
          const stateDir = options.state ?? join(options.charts, '.playtally');
          if (existsSync(stateDir)) say(`runs: ${plural(store.syncRuns(stateDir), 'run')} from ${stateDir}`);
        }
        if (options.kpis) {
          const loaded = store.syncKpis(options.kpis);
          say(
            loaded.length === 0
              ? nothingNew('kpis', kpiDatesIn(resolve(options.kpis)).length, 'KPI', options.kpis)
              : `kpis: loaded ${plural(loaded.length, 'day')}: ${loaded.map((l) => l.date).join(', ')}`,
          );
        }
        say(`results store: ${db}`);
      } finally {
        store.close();
      }
    });
}

/**
 * Nothing loaded from `dir`: because it holds no result files (an empty or wrong folder), or because
 * every date in it is in the store already. The two read alike otherwise.
 */
function nothingNew(what: 'charts' | 'kpis', present: number, kind: string, dir: string): string {
  const unit = what === 'charts' ? 'date' : 'day';
  if (present === 0) return `${what}: no ${kind} files in ${dir}: nothing to load`;
  return present === 1
    ? `${what}: the one ${unit} in ${dir} is already loaded`
    : `${what}: all ${plural(present, unit)} in ${dir} are already loaded`;
}
