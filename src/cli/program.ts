import { Command } from 'commander';
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
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failed run (unexpected error), 2 usage error, 3 input problem
(logs missing, no logs, missing days with --strict, an unreadable log), 4 output or
state folder not writable (or full), 5 the state folder is locked by another run.
An expected failure is one line; --log-level debug adds its stack.

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
    root.addCommand(command.showHelpAfterError('(run with --help for usage)'));
  }
  root.exitOverride();
  for (const command of root.commands) command.exitOverride();
  return root;
}
