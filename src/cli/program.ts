import { Command } from 'commander';
import { exitCodesHelp } from '../ops/exitCodes.js';
import { demoCommand } from './commands/demo.js';
import { generateCommand } from './commands/generate.js';
import { kpisCommand } from './commands/kpis.js';
import { loadCommand } from './commands/load.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { top50Command } from './commands/top50.js';
import { backfillCommand, runCommand, watchCommand } from './commands/unattended.js';

/**
 * The whole command tree, built without parsing or running anything: main.ts parses argv with it,
 * and scripts/cli-reference.mjs writes docs/CLI.md from it. The version is a parameter so that
 * this module reads no file.
 */
export function program(version: string): Command {
  const root = new Command('playtally')
    .description(
      'Rolling top-50 charts per country and per user from daily listen logs, by hand (top50) or unattended (run, watch, backfill, status); genre KPIs (kpis); a results store with an API and dashboard (load, serve).',
    )
    .version(version)
    // Options after a command are that command's own (generate and generate kpi-dataset share names).
    .enablePositionalOptions()
    .addHelpText(
      'after',
      `
${exitCodesHelp()}
An expected failure is one line, \`playtally: error: ...\`; --log-level debug adds its stack.

Examples:
  playtally demo                                            # sample data, charts and KPIs in ./sample
  playtally top50 --logs /data/logs --out /data/charts      # the charts of the newest log day
  playtally run --logs /data/landing --out /data/charts     # what cron runs: whatever is new
  playtally status --out /data/charts
  playtally top50 --help                                    # a command's options and examples`,
    );
  for (const command of [
    top50Command(),
    runCommand(),
    backfillCommand(),
    watchCommand(),
    statusCommand(),
    kpisCommand(),
    loadCommand(),
    serveCommand(),
    generateCommand(),
    demoCommand(),
  ]) {
    root.addCommand(command);
  }
  // Every command, subcommands too (\`kpis query\` exited 1 without the hint on an unknown option):
  // commander's parse errors end in main.ts's error boundary and read like playtally's own.
  const every = (command: Command): Command[] => [command, ...command.commands.flatMap(every)];
  for (const command of every(root)) {
    command
      .exitOverride()
      .showHelpAfterError(USAGE_HINT)
      .configureOutput({ outputError: (text, write) => write(prefixed(text)) });
  }
  return root;
}

/** How every error line starts, commander's parse errors included. Warnings are `playtally: warning: `. */
export const ERROR_PREFIX = 'playtally: error: ';
/** After a usage error (exit 2) only. */
export const USAGE_HINT = '(run with --help for usage)';

/** Commander's `error: unknown option '--x'` as `playtally: error: unknown option '--x'`. */
function prefixed(text: string): string {
  return ERROR_PREFIX + text.replace(/^error: /, '');
}
