import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/serve/app.js';
import { API_ROUTES } from '../../src/serve/routes.js';
import type { ResultsReader } from '../../src/store/resultsReader.js';
import { commandsByPath, helpText, parseError } from '../support/cliTree.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * Every command's --help, as the CLI prints it (made in-process from the commander tree, see
 * `helpText`): the options a user must give first (the inputs and outputs), then the job's own
 * options, then the engine, sink and store options, then what to print (--json, -q, --log-level,
 * --log-format);
 * and an Examples block whose command lines parse, with every required option. The built CLI's
 * --help, run as a child process: test/e2e/cli.test.ts.
 */

const commands = commandsByPath();

/** The inputs and outputs of each command, in the order its --help lists them first. */
const FIRST: Record<string, string[]> = {
  top50: ['--logs', '--out', '--state'],
  run: ['--logs', '--out', '--state'],
  backfill: ['--logs', '--out', '--state', '--from', '--to'],
  watch: ['--logs', '--out', '--state'],
  status: ['--out', '--state', '--logs'],
  kpis: ['--landing', '--out', '--state'],
  'kpis query': ['--sink', '--date'],
  load: ['--db', '--charts', '--kpis', '--state'],
  serve: ['--db', '--logs', '--out', '--state'],
  generate: ['--out'],
  'generate kpi-dataset': ['--out'],
  demo: ['--dir'],
};

/** Where the results are computed and where else they go. */
const ENGINE_AND_SINKS = new Set([
  '--engine',
  '--clickhouse',
  '--clickhouse-database',
  '--clickhouse-cluster',
  '--sink',
  '--create-table',
  '--db',
  '--user-chart-dates',
]);

/** What and how much to print, last (before commander's --help). */
const OUTPUT = ['--json', '--quiet', '--log-level', '--log-format', '--help'];

/** The long flags of the options section of a --help text, in order. */
function optionFlags(help: string): string[] {
  const options = help.slice(help.indexOf('\nOptions:\n') + 1);
  const section = options.slice(0, options.search(/\n(\n|Commands:\n|$)/));
  return [...section.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!);
}

/** The command lines of the Examples block of a --help text, from `playtally` on, without comments. */
function examples(help: string): string[] {
  const block = /^Examples(?: \([^\n]*\))?:\n((?: {2}.*\n?)+)/m.exec(help);
  if (!block) return [];
  return block[1]!
    .split('\n')
    .filter((line) => line.includes('playtally '))
    .map((line) => line.slice(line.indexOf('playtally ')));
}

/** The words of a command line given to playtally: up to a comment, a redirection or a pipe. */
function words(line: string): string[] {
  const all = line.split(/\s+/).slice(1);
  const end = all.findIndex((w) => /^(#|\||\d?>)/.test(w));
  return end < 0 ? all : all.slice(0, end);
}

describe('--help of every command', () => {
  const helps = new Map<string, string>();
  const help = (name: string): string => {
    if (!helps.has(name)) helps.set(name, helpText(name === '' ? [] : name.split(' ')));
    return helps.get(name)!;
  };

  it('every command is in the table of its inputs and outputs', () => {
    expect([...commands.keys()].sort()).toEqual(Object.keys(FIRST).sort());
  });

  it.each(Object.keys(FIRST))(
    '%s: inputs and outputs first, then the job, the engine and sinks, then what to print',
    (name) => {
      const flags = optionFlags(help(name));
      const first = FIRST[name]!;
      expect(flags.slice(0, first.length)).toEqual(first);
      // Every option its help calls required is among them.
      for (const option of commands.get(name)!.options) {
        if (/\(required\)$/.test(option.description)) expect(first, option.flags).toContain(option.long);
      }
      const rank = (flag: string): number =>
        first.includes(flag) ? 0 : OUTPUT.includes(flag) ? 3 : ENGINE_AND_SINKS.has(flag) ? 2 : 1;
      const ranks = flags.map(rank);
      expect(ranks, flags.join(' ')).toEqual([...ranks].sort((a, b) => a - b));
      const output = flags.filter((f) => OUTPUT.includes(f));
      expect(output, 'in the order --json, -q, --log-level').toEqual(
        OUTPUT.filter((f) => output.includes(f)),
      );
    },
  );

  it.each(['playtally', ...Object.keys(FIRST)])(
    '%s: an Examples block of command lines that parse',
    (label) => {
      const name = label === 'playtally' ? '' : label;
      const lines = examples(help(name));
      expect(lines.length, `no Examples block in \`playtally ${name} --help\``).toBeGreaterThan(0);
      if (name !== '')
        expect(lines.some((l) => l.startsWith(`playtally ${name} `) || l === `playtally ${name}`)).toBe(true);
      for (const line of lines) {
        const given = words(line);
        expect(parseError(given), line).toBeUndefined();
        // The command the line runs: the longest run of its first words that names one.
        const command = [...commands.keys()]
          .filter((c) => given.slice(0, c.split(' ').length).join(' ') === c)
          .sort((a, b) => b.length - a.length)[0]!;
        if (given.includes('--help')) continue;
        for (const option of commands.get(command)!.options) {
          if (/\(required\)$/.test(option.description))
            expect(given, `${line}: ${option.long}`).toContain(option.long);
        }
      }
    },
  );
});

describe('serve --help: the routes', () => {
  const temp = new TempDirs();
  afterAll(() => temp.cleanup());

  /** The routes of the `Routes` block, as patterns (`/api/runs?limit=` is `/api/runs`), and their query strings. */
  function listed(help: string): { patterns: string[]; lines: string[] } {
    const block = /^Routes\b[^\n]*\n(?:[^\n]*\n)*?((?: {2}\S.*\n)+)/m.exec(help);
    expect(block, 'a Routes block').not.toBeNull();
    const lines = block![1]!
      .trim()
      .split('\n')
      .map((line) => line.trim());
    const patterns = lines.flatMap((line) =>
      line
        .replace(/ \(.*\)$/, '')
        .split(', ')
        .map((item) => item.replace(/\?.*$/, '')),
    );
    return { patterns, lines };
  }

  it('lists every route the app serves, the dashboard included, and no other', () => {
    const dir = temp.make('playtally-help-dash-');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    // Routes are registered without reading the store.
    const { app } = createApp({ reader: {} as ResultsReader, dashboardDir: dir });
    const served = [...new Set(app.routes.filter((r) => r.method === 'GET').map((r) => r.path))];
    expect(served).toContain('/api/charts/country');
    expect(served).toContain('/openapi.json');
    const { patterns } = listed(helpText(['serve']));
    expect([...patterns].sort()).toEqual([...served].sort());
  });

  it('gives each API route the query parameters of its OpenAPI declaration', () => {
    const { lines } = listed(helpText(['serve']));
    for (const route of API_ROUTES) {
      const query = route.query.map((name) => `${name}=`).join('&');
      expect(lines, route.pattern).toContain(query === '' ? route.pattern : `${route.pattern}?${query}`);
    }
    expect(lines).toContain('/api/charts/country/:cc?date=');
    expect(lines).toContain('/api/kpis/genres/:genre?from=&to=');
  });
});
