#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { PlaytallyError } from '../ops/errors.js';
import { writeFailure } from '../ops/ioErrors.js';
import { closeS3 } from '../sources/locations.js';
import { EXIT, exitCodeFor } from './exitCodes.js';
import { program } from './program.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// A reader that goes away (`playtally ... | head`) is the end of our output, not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

async function main(argv: string[]): Promise<number> {
  try {
    await program(pkg.version).parseAsync(argv);
    return EXIT.ok;
  } catch (caught) {
    // A write fault that reached here another way than ops/atomicFile.ts (a worker thread's
    // write) is the machine's, said in a sentence, not a stack.
    const error = writeFailure(caught, undefined);
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
