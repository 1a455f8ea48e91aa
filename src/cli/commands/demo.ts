import { readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { kpiPaths } from '../../formats/kpiFiles.js';
import { generateKpiDataset } from '../../generate/kpiDataset.js';
import { generateLogs } from '../../generate/listenGenerator.js';
import { runTop50 } from '../../jobs/chartJob.js';
import { runKpis } from '../../jobs/kpiJob.js';
import { plural } from '../../ops/counts.js';
import { parseDay } from '../../ops/dates.js';
import { ResultsStore } from '../../store/resultsStore.js';
import { runOnce } from '../../unattended/runOnce.js';
import { positiveIntOption } from '../optionParsers.js';
import { progressReporter } from '../progress.js';
import { summaryLine as kpiSummaryLine } from './kpis.js';
import { summaryLine } from './top50.js';

/** The demo's week: the logs and the KPI drops of 2024-01-01 .. 2024-01-07. */
const DAYS = 7;

export function demoCommand(): Command {
  return new Command('demo')
    .description('generate a week of sample logs and KPI drops, compute the charts and KPIs, show a few rows')
    .option(
      '--dir <dir>',
      'folder for the sample (logs/, out/, kpi-landing/, kpi-out/ and the results store playtally.db inside)',
      'sample',
    )
    .option('--rows <n>', 'rows per day', positiveIntOption, 300_000)
    .addHelpText(
      'after',
      `
Examples:
  playtally demo                                            # in ./sample
  playtally demo --dir /tmp/playtally-demo --rows 50000`,
    )
    .action(async (options: { dir: string; rows: number }) => {
      const dir = resolve(options.dir);
      const logsDir = join(dir, 'logs');
      const outDir = join(dir, 'out');
      const start = parseDay('2024-01-01')!;
      process.stderr.write(`playtally demo: generating ${DAYS} days x ${plural(options.rows, 'row')}...\n`);
      generateLogs({ dir: logsDir, start, days: DAYS, rows: options.rows });
      const summary = await runTop50({ logsDir, outDir, onEvent: progressReporter(process.stderr, 'info') });
      process.stderr.write(`${summaryLine(summary)}\n\n`);
      const show = (path: string, lines: number): void => {
        process.stdout.write(`${relative(process.cwd(), path)} (first ${lines} rows, songs cut at 5):\n`);
        const rows = readFileSync(path, 'utf8').split('\n').slice(0, lines);
        for (const row of rows) {
          const [key, songs = ''] = row.split('|');
          const list = songs.split(',');
          process.stdout.write(
            `  ${key}|${list.slice(0, 5).join(',')}${list.length > 5 ? `,... (${list.length} songs)` : ''}\n`,
          );
        }
        process.stdout.write('\n');
      };
      show(summary.outputs.country.path, 5);
      show(summary.outputs.user.path, 5);
      process.stdout.write(`quality report: ${relative(process.cwd(), summary.outputs.quality)}\n\n`);

      // The second pipeline: genre KPIs from CSV drops of streams, songs and users, for the same
      // week as the logs (every listen time within it), so that each date has charts and KPIs.
      const landing = join(dir, 'kpi-landing');
      const kpiOut = join(dir, 'kpi-out');
      const streams = Math.max(1_000, Math.floor(options.rows / 4));
      process.stderr.write(
        `playtally demo: generating KPI drops for the same days: ${DAYS} days x ${plural(streams, 'stream row')} in 3 files a day...\n`,
      );
      rmSync(landing, { recursive: true, force: true });
      generateKpiDataset({
        dir: landing,
        start,
        days: DAYS,
        streamsPerDay: streams,
        filesPerDay: 3,
        withinDays: true,
      });
      const kpis = await runKpis({ landingDir: landing, outDir: kpiOut, archive: false });
      process.stderr.write(`${kpiSummaryLine(kpis)}\n\n`);
      // The newest day's KPI files: the date the dashboard opens on.
      const paths = kpiPaths(kpiOut, start + DAYS - 1);
      const head = (path: string, lines: number): void => {
        process.stdout.write(`${relative(process.cwd(), path)} (first ${lines} rows):\n`);
        for (const line of readFileSync(path, 'utf8')
          .split('\n')
          .slice(0, lines + 1)) {
          process.stdout.write(`  ${line}\n`);
        }
        process.stdout.write('\n');
      };
      head(paths.topGenres, 5);
      head(paths.genres, 3);
      // The results store, so that `playtally serve` has something to show: every chart date of
      // the week (movement needs the day before), the KPI days and the run history.
      const dbPath = join(dir, 'playtally.db');
      const store = ResultsStore.open(dbPath);
      try {
        await runOnce({ logsDir, outDir, command: 'run', store });
        // The week's days: an earlier demo's KPI files of other days (it wrote them for
        // 2023-12-31 .. 2024-01-03) are not loaded.
        store.syncKpis(
          kpiOut,
          Array.from({ length: DAYS }, (_, i) => start + i),
        );
      } finally {
        store.close();
      }
      const db = relative(process.cwd(), dbPath);
      process.stdout.write(
        `results store: ${db} (charts and KPIs of every day of the week, run history)\n` +
          `  see them in a browser: node dist/bin/playtally.js serve --db ${db}   # then open http://127.0.0.1:8080\n`,
      );
      process.stdout.write(
        `\nNext: run it yourself, e.g.\n  node dist/bin/playtally.js top50 --logs ${relative(process.cwd(), logsDir)} --out ${relative(process.cwd(), outDir)} --date 2024-01-06\n` +
          `or the way a schedule would (every chart date, then what was done):\n` +
          `  node dist/bin/playtally.js run --logs ${relative(process.cwd(), logsDir)} --out ${relative(process.cwd(), outDir)}\n` +
          `  node dist/bin/playtally.js status --out ${relative(process.cwd(), outDir)}\n` +
          `and the genre KPIs:\n` +
          `  node dist/bin/playtally.js kpis --landing ${relative(process.cwd(), landing)} --out ${relative(process.cwd(), kpiOut)} --granularity hour --no-archive\n`,
      );
    });
}
