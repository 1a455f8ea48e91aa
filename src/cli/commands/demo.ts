import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { runTop50 } from '../../engine/top50Job.js';
import { parseDay } from '../../ops/dates.js';
import { positiveIntOption } from '../optionParsers.js';
import { progressReporter } from '../progress.js';
import { generateLogs } from './generate.js';
import { summaryLine } from './top50.js';

export function demoCommand(): Command {
  return new Command('demo')
    .description('generate a week of sample logs, compute the charts and show a few rows')
    .option('--dir <dir>', 'folder for the sample (logs/ and out/ inside)', 'sample')
    .option('--rows <n>', 'rows per day', positiveIntOption, 300_000)
    .action(async (options: { dir: string; rows: number }) => {
      const dir = resolve(options.dir);
      const logsDir = join(dir, 'logs');
      const outDir = join(dir, 'out');
      const start = parseDay('2024-01-01')!;
      process.stderr.write(
        `playtally demo: generating 7 days x ${options.rows.toLocaleString('en-US')} rows...\n`,
      );
      generateLogs({ dir: logsDir, start, days: 7, rows: options.rows });
      const summary = await runTop50({ logsDir, outDir, onEvent: progressReporter(process.stderr, false) });
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
      process.stdout.write(`quality report: ${relative(process.cwd(), summary.outputs.quality)}\n`);
      process.stdout.write(
        `\nNext: run it yourself, e.g.\n  node dist/src/cli/main.js top50 --logs ${relative(process.cwd(), logsDir)} --out ${relative(process.cwd(), outDir)} --date 2024-01-06\n` +
          `or the way a schedule would (every chart date, then what was done):\n` +
          `  node dist/src/cli/main.js run --logs ${relative(process.cwd(), logsDir)} --out ${relative(process.cwd(), outDir)}\n` +
          `  node dist/src/cli/main.js status --out ${relative(process.cwd(), outDir)}\n`,
      );
    });
}
