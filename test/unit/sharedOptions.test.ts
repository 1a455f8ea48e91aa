import type { Option } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  jsonOption,
  logLevelOption,
  maxRejectRateOption,
  memoryOption,
  quietOption,
  threadsOption,
} from '../../src/cli/sharedOptions.js';
import { commandsByPath, parseError } from '../support/cliTree.js';
import { HAVE } from '../support/sharedOptions.js';

/**
 * The options several commands share (DESIGN.md: "the same option means the same thing, with the
 * same name, on every command"), read from the commander tree in-process: which commands have each
 * (HAVE), that each is the one shared definition of src/cli/sharedOptions.ts there (flags, wording,
 * default, parser), and that a bad value is refused alike on every command. What they do, through
 * the built CLI: test/e2e/sharedOptions.test.ts.
 */

const ALL = [...commandsByPath().keys()];

/**
 * The shared definition of each option, and whether a command may add its own words to the
 * description where the definition takes them (`--json` says what it prints; `--max-reject-rate`
 * what the command does besides warning).
 */
const DEFINITIONS: Record<string, (words: string) => Option> = {
  '--json': (words) => jsonOption(words),
  '--quiet': () => quietOption(),
  '--log-level': () => logLevelOption(),
  '--memory': () => memoryOption(),
  '--threads': () => threadsOption(),
  '--max-reject-rate': (words) => (words === '' ? maxRejectRateOption() : maxRejectRateOption(words)),
};

/** The description of `definition` with its command's own words as a pattern, or as written. */
function descriptionPattern(definition: (words: string) => Option): RegExp {
  const marker = '\u0000';
  const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const withWords = definition(marker).description;
  const bare = definition('').description;
  const pattern = literal(withWords).replace(literal(marker), '.+');
  return new RegExp(`^(${pattern}|${literal(bare)})$`);
}

/** The options an option cannot be given with (commander keeps them untyped). */
function conflicts(option: Option): string[] {
  return (option as Option & { conflictsWith: string[] }).conflictsWith;
}

describe('the shared options: one definition each', () => {
  const commands = commandsByPath();

  it.each(Object.keys(HAVE))('%s is on exactly the commands that have the concept', (flag) => {
    const having = ALL.filter((name) => commands.get(name)!.options.some((o) => o.long === flag));
    expect(having).toEqual(HAVE[flag]);
  });

  it.each(Object.keys(HAVE))('%s has the same flags, wording, default and parser everywhere', (flag) => {
    const definition = DEFINITIONS[flag]!;
    const reference = definition('');
    for (const name of HAVE[flag]!) {
      const option = commands.get(name)!.options.find((o) => o.long === flag)!;
      const where = `playtally ${name} ${flag}`;
      expect(option.flags, where).toBe(reference.flags);
      expect(option.description, where).toMatch(descriptionPattern(definition));
      expect(option.defaultValue, where).toEqual(reference.defaultValue);
      expect(option.defaultValueDescription, where).toBe(reference.defaultValueDescription);
      expect(option.argChoices, where).toEqual(reference.argChoices);
      // A parser of choices is a closure made per option; the choices are compared above.
      if (reference.argChoices === undefined) expect(option.parseArg, where).toBe(reference.parseArg);
      expect(conflicts(option), where).toEqual(conflicts(reference));
    }
  });

  it('-q and --log-level come together: -q is a level', () => {
    expect(HAVE['--quiet']!.filter((name) => !HAVE['--log-level']!.includes(name))).toEqual([]);
  });
});

describe('--log-level', () => {
  it('a level that is not one is a usage error naming the choices, on every command', () => {
    for (const name of HAVE['--log-level']!) {
      expect(parseError([...name.split(' '), '--log-level', 'verbose']), name).toMatch(
        /Allowed choices are debug, info, warn, error/,
      );
    }
  });
});

describe('--memory, --threads and --max-reject-rate check their value alike on every command', () => {
  it.each([
    ['--memory', 'lots', /"lots" is not a size/],
    ['--threads', '0', /"0" is not a positive integer/],
    ['--max-reject-rate', '2', /"2" is not a rate between 0 and 1/],
  ])('%s %s', (flag, value, message) => {
    for (const name of HAVE[flag]!) {
      expect(parseError([...name.split(' '), flag, value]), name).toMatch(message);
    }
  });
});
