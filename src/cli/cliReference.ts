import type { EventEmitter } from 'node:events';
import type { Command, Help, Option } from 'commander';
import { EXIT_CODES, errorCodesOf } from '../ops/exitCodes.js';

/**
 * docs/CLI.md, rendered from the commander tree itself, so the reference cannot drift from
 * `--help`: every command and subcommand with its description, usage, options (flags,
 * description, default, choices, environment variable) and the text its help adds (examples).
 * Pure and deterministic: it reads only the tree (no argv, no clock, no file); defaults that
 * depend on the machine carry a description (`--threads`: "number of cores") and that is shown.
 *
 * Regenerate with `npm run docs:cli`; test/unit/cliReference.test.ts fails when the file is stale.
 *
 * @example cliReference(program('0.0.0')) // '# CLI reference\n\n...'
 */
export function cliReference(root: Command): string {
  const commands = walk(root);
  const lines: string[] = [
    '# CLI reference',
    '',
    '<!-- Generated from the commander definitions in src/cli/ by `npm run docs:cli`',
    '     (src/cli/cliReference.ts). Do not edit: test/unit/cliReference.test.ts fails when it is stale. -->',
    '',
    `Every command, as \`${root.name()} <command> --help\` prints it. Back to the [README](../README.md).`,
    '',
    '| command | what it does |',
    '| --- | --- |',
    ...commands.map((c) => `| [\`${path(c)}\`](#${anchor(path(c))}) | ${inline(c.description())} |`),
    '',
    ...exitCodesSection(),
  ];
  for (const command of commands) lines.push('', ...section(command));
  return `${lines.join('\n')}\n`;
}

/**
 * The one table of exit codes, from src/cli/exitCodes.ts: what each means, and the error codes
 * (a failed run's \`error.code\`, the \`failed\` log line's \`code\`) that exit with it.
 */
function exitCodesSection(): string[] {
  return [
    '## Exit codes',
    '',
    'The same for every command (`playtally --help` prints them in short). An expected failure is one line on',
    'stderr, `playtally: error: ...` (its stack with `--log-level debug`); a failed `run`, `backfill` or `watch`',
    'also records its error code (the last column) in the run history and in its `failed` log line.',
    '',
    '| code | meaning | error codes |',
    '| --- | --- | --- |',
    ...EXIT_CODES.map((e) => `| ${e.code} | ${e.meaning} | ${errorCodesOf(e.code).map(code).join(', ')} |`),
  ];
}

/** The command and its subcommands, depth first, in the order they were added (as --help lists them). */
function walk(command: Command): Command[] {
  return [command, ...command.commands.flatMap(walk)];
}

/** `playtally generate kpi-dataset`: the words a user types, which is also the heading. */
export function path(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function section(command: Command): string[] {
  const help: Help = command.createHelp();
  const lines = [`## ${path(command)}`, ''];
  if (command.description() !== '') lines.push(inline(command.description()), '');
  lines.push('```', `${help.commandUsage(command)}`, '```');
  const subcommands = command.commands;
  // The root's are the index at the top of the page.
  if (subcommands.length > 0 && command.parent !== null) {
    lines.push('', 'Subcommands:', '');
    for (const sub of subcommands) {
      lines.push(`- [\`${path(sub)}\`](#${anchor(path(sub))}): ${inline(sub.description())}`);
    }
  }
  const args = help.visibleArguments(command);
  if (args.length > 0) {
    lines.push('', '| argument | description | default |', '| --- | --- | --- |');
    for (const arg of args) {
      const value =
        arg.defaultValue === undefined ? '' : code(arg.defaultValueDescription ?? show(arg.defaultValue));
      lines.push(`| \`${help.argumentTerm(arg)}\` | ${inline(arg.description)} | ${value} |`);
    }
  }
  const options = help.visibleOptions(command);
  if (options.length > 0) {
    lines.push('', '| option | description | default |', '| --- | --- | --- |');
    for (const option of options) {
      lines.push(`| \`${option.flags}\` | ${optionDescription(option)} | ${optionDefault(option)} |`);
    }
  }
  for (const [position, title] of [
    ['before', 'Before the options, `--help` prints:'],
    ['after', 'After the options, `--help` prints:'],
  ] as const) {
    const text = helpText(command, position);
    if (text !== '') lines.push('', title, '', ...fence(text));
  }
  return lines;
}

function optionDescription(option: Option): string {
  let text = inline(option.description);
  // What commander's help adds in parentheses after the description; the default has its column.
  if (option.argChoices !== undefined) text += ` (one of: ${option.argChoices.map(code).join(', ')})`;
  if (option.presetArg !== undefined) text += ` (without a value: ${code(show(option.presetArg))})`;
  if (option.envVar !== undefined) text += ` (environment variable: ${code(option.envVar)})`;
  return text;
}

/** As commander's help decides: a default is shown for options that take a value, and booleans. */
function optionDefault(option: Option): string {
  if (option.defaultValue === undefined) return '';
  const shown =
    option.required || option.optional || (option.isBoolean() && typeof option.defaultValue === 'boolean');
  if (!shown) return '';
  return option.defaultValueDescription !== undefined
    ? inline(option.defaultValueDescription)
    : code(show(option.defaultValue));
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The text `addHelpText(position, ...)` adds, collected without writing anywhere. */
function helpText(command: Command, position: 'before' | 'after'): string {
  const chunks: string[] = [];
  // A Command is an EventEmitter (addHelpText adds a listener) though its typings declare only on().
  (command as unknown as EventEmitter).emit(`${position}Help`, {
    error: false,
    command,
    write: (s: string) => chunks.push(s),
  });
  return chunks
    .join('')
    .replace(/^\s*\n/, '')
    .trimEnd();
}

/** A fence longer than any run of backticks in the text, so no help text can close it early. */
function fence(text: string): string[] {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const marks = '`'.repeat(longest + 1);
  return [`${marks}text`, text, marks];
}

/** GitHub's heading anchor: lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
export function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function code(text: string): string {
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

/**
 * Help text as one Markdown table cell: characters Markdown would read as markup are escaped
 * (`<out>` would be an HTML tag, `|` a column), `_` only where it could start emphasis, so
 * `user_id` stays readable in the source.
 */
function inline(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/[\\`*[\]<>|]/g, '\\$&')
    .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\_');
}
