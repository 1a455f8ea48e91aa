import { type Command, CommanderError } from 'commander';
import { path } from '../../src/cli/cliReference.js';
import { program } from '../../src/cli/program.js';

/**
 * The CLI's commander tree, read and parsed in the test process without running any action: for
 * tests of what the commands declare (their options, their help), fast and without a build.
 */

/** Every command below the root, by the words a user types after `playtally` (`kpis query`). */
export function commandsByPath(): Map<string, Command> {
  const found = new Map<string, Command>();
  const walk = (command: Command): void => {
    for (const sub of command.commands) {
      found.set(path(sub).replace(/^playtally /, ''), sub);
      walk(sub);
    }
  };
  walk(program('0.0.0'));
  return found;
}

/**
 * What commander says of `words` (a command line after `playtally`), parsed without running any
 * action: undefined when it parses (options known, values valid, no conflict).
 */
export function parseError(words: string[]): string | undefined {
  const root = program('0.0.0');
  let message: string | undefined;
  const every = (command: Command): Command[] => [command, ...command.commands.flatMap(every)];
  for (const command of every(root)) {
    command.exitOverride().configureOutput({
      writeOut: () => {},
      writeErr: (text) => (message = (message ?? '') + text),
    });
    if (command !== root) command.action(() => {});
  }
  try {
    root.parse(['node', 'playtally', ...words]);
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // --help (or --version) parses: commander ends it with exit code 0.
    if (error.exitCode !== 0) message ??= error.message;
  }
  return message;
}

/**
 * What `playtally <words> --help` prints, from the tree in the test process: the command's help
 * and the text its help adds (the examples), without colours and at the 80 columns commander uses
 * when stdout is a pipe, so the very text the built CLI prints into a pipe. Throws when `words`
 * do not parse.
 */
export function helpText(words: string[]): string {
  const root = program('0.0.0');
  let out = '';
  let err = '';
  const every = (command: Command): Command[] => [command, ...command.commands.flatMap(every)];
  for (const command of every(root)) {
    command.exitOverride().configureOutput({
      writeOut: (text) => (out += text),
      writeErr: (text) => (err += text),
      getOutHelpWidth: () => 80,
      getOutHasColors: () => false,
    });
    if (command !== root) command.action(() => {});
  }
  try {
    root.parse(['node', 'playtally', ...words, '--help']);
  } catch (error) {
    if (!(error instanceof CommanderError) || error.exitCode !== 0) throw error;
    return out;
  }
  throw new Error(`playtally ${words.join(' ')} --help printed no help: ${err}`);
}
