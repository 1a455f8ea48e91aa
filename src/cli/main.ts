#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { PlaytallyError } from '../ops/errors.js';
import { closeS3 } from '../sources/locations.js';
import { demoCommand } from './commands/demo.js';
import { generateCommand } from './commands/generate.js';
import { kpisCommand } from './commands/kpis.js';
import { loadCommand } from './commands/load.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { top50Command } from './commands/top50.js';
import { backfillCommand, runCommand, watchCommand } from './commands/unattended.js';
import { EXIT, exitCodeFor } from './exitCodes.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function program(): Command {
  const root = new Command('playtally')
    .description(
      'Rolling top-50 charts per country and per user from daily listen logs, by hand (top50) or unattended (run, watch, backfill, status); genre KPIs (kpis); a results store with an API and dashboard (load, serve).',
    )
    .version(pkg.version)
    // Options after a command are that command's own (generate and generate kpi-dataset share names).
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failed run (unexpected error), 2 usage error, 3 input problem
(logs missing, no logs, missing days with --strict,
an unreadable gzip log), 4 output or state folder not writable, 5 the state folder is
locked by another run.`,
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

// A reader that goes away (`playtally ... | head`) is the end of our output, not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help text) already.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof PlaytallyError) {
      const hint = error.code === 'usage' ? '\n(run with --help for usage)' : '';
      process.stderr.write(`playtally: error: ${error.message}${hint}\n`);
      return exitCodeFor(error.code);
    }
    process.stderr.write(`playtally: internal error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  } finally {
    // Kept-alive S3 connections would hold the process open after its work.
    closeS3();
  }
}

process.exitCode = await main(process.argv);
