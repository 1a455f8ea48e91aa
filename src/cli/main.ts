#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { EXIT, failureOf } from '../ops/exitCodes.js';
import { packageRoot } from '../ops/packageRoot.js';
import { closeS3 } from '../sources/locations.js';
import { ERROR_PREFIX, program, USAGE_HINT } from './program.js';

const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
  version: string;
};

// A reader that goes away (`playtally ... | head`) is the end of our output, not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

async function main(argv: string[]): Promise<number> {
  const root = program(pkg.version);
  // The level of the command that ran, for the error boundary: a stack is for --log-level debug.
  let level: string | undefined;
  root.hook('preAction', (_, action) => {
    level = (action.opts() as { logLevel?: string }).logLevel;
  });
  try {
    await root.parseAsync(argv);
    return EXIT.ok;
  } catch (caught) {
    return reportFailure(caught, level === 'debug');
  } finally {
    // Kept-alive S3 connections would hold the process open after its work.
    closeS3();
  }
}

/**
 * The process's error boundary: an expected fault (a PlaytallyError, or an I/O fault of the
 * machine that reached here unnamed, such as a worker thread's write) is one sentence and its exit
 * code, its stack only at --log-level debug; anything else is a bug, printed with its stack.
 */
function reportFailure(caught: unknown, debug: boolean): number {
  if (caught instanceof CommanderError) {
    // Commander has printed the message (or the help text) already.
    return caught.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  const failure = failureOf(caught);
  if (failure.code !== 'internal') {
    const error = failure.error as Error;
    // The same line as commander's own parse errors (program.ts), and its hint for usage errors only.
    const hint = failure.exitCode === EXIT.usage ? `\n${USAGE_HINT}` : '';
    process.stderr.write(`${ERROR_PREFIX}${failure.message}${hint}\n`);
    if (debug) process.stderr.write(`debug: ${stackOf(error.cause ?? error)}\n`);
    return failure.exitCode;
  }
  process.stderr.write(
    `playtally: internal error (a bug: please report it with what follows): ${stackOf(failure.error)}\n`,
  );
  return failure.exitCode;
}

function stackOf(error: unknown): string {
  return (error as Error)?.stack ?? String(error);
}

process.exitCode = await main(process.argv);
