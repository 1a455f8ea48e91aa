import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { anchor, cliReference, path } from '../../src/cli/cliReference.js';
import { program } from '../../src/cli/program.js';
import type { ErrorCode } from '../../src/ops/errors.js';
import { EXIT, EXIT_CODES, errorCodesOf, exitCodeFor, exitCodesHelp } from '../../src/ops/exitCodes.js';
import { commandsByPath, helpText } from '../support/cliTree.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI_MD = join(ROOT, 'docs', 'CLI.md');
const STALE = 'docs/CLI.md is stale: run `npm run docs:cli` and commit the result';

function commands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(commands)];
}

/** The text of one command's section of docs/CLI.md: from its heading to the next. */
function sectionOf(doc: string, command: Command): string {
  const start = doc.indexOf(`\n## ${path(command)}\n`);
  if (start < 0) return '';
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

describe('docs/CLI.md, the generated CLI reference', () => {
  const doc = existsSync(CLI_MD) ? readFileSync(CLI_MD, 'utf8') : '';

  it('is what `npm run docs:cli` writes from the commander definitions today', () => {
    // A changed option, description or example changes the reference: regenerate it.
    expect(doc, STALE).toBe(cliReference(program('0.0.0')));
  });

  it('names every option of every command in that command section', () => {
    const missing: string[] = [];
    for (const command of commands(program('0.0.0'))) {
      const section = sectionOf(doc, command);
      if (section === '') missing.push(`the section "## ${path(command)}"`);
      for (const option of command.options) {
        if (option.hidden) continue;
        for (const flag of [option.long, option.short]) {
          if (flag && !section.includes(`\`${flag}`) && !section.includes(` ${flag}`)) {
            missing.push(`${path(command)} ${flag}`);
          }
        }
      }
    }
    expect(missing, STALE).toEqual([]);
  });
});

/** Markdown files of the documentation: the README, docs/ and the deployment notes. */
function markdownFiles(): string[] {
  const files = [join(ROOT, 'README.md')];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.md')) files.push(full);
    }
  };
  for (const dir of ['docs', 'deploy']) if (existsSync(join(ROOT, dir))) walk(join(ROOT, dir));
  return files.sort();
}

/** The anchors GitHub gives the headings of a Markdown file (a repeated heading gets -1, -2...). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of withoutFences(text).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = anchor(heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

/** Fenced blocks left out: a `# comment` in a shell example is not a heading. */
function withoutFences(text: string): string {
  return text.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** Code left out: a `[x](y)` there is an example, not a link. */
function withoutCode(text: string): string {
  return withoutFences(text).replace(/`[^`\n]*`/g, '');
}

describe('the README and docs/', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('the README is a front door: at most 250 lines', () => {
    expect(readme.split('\n').length - 1).toBeLessThanOrEqual(250);
  });

  it("the README's table of commands names every command, with a link to its reference", () => {
    const missing = commands(program('0.0.0'))
      .slice(1)
      .map(path)
      .filter((p) => !readme.includes(`| \`${p}\` |`) || !readme.includes(`](docs/CLI.md#${anchor(p)})`));
    expect(missing, 'add these commands to the table in README.md').toEqual([]);
  });

  it('every relative link points at a file that exists, and at a heading it has', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const link of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = link[1]!;
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        const [pathPart, hash] = target.split('#') as [string, string | undefined];
        const targetFile = pathPart === '' ? file : join(dirname(file), pathPart);
        const where = `${relative(ROOT, file)}: ${target}`;
        if (!existsSync(targetFile)) {
          broken.push(`${where} (no such file)`);
          continue;
        }
        if (hash !== undefined && targetFile.endsWith('.md')) {
          if (!anchors(readFileSync(targetFile, 'utf8')).has(hash)) broken.push(`${where} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

/** The cells of the Markdown table rows of `text` that start with a number (the exit codes). */
function exitRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => /^\|\s*\d+\s*\|/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
}

describe('exit codes: one mapping (src/cli/exitCodes.ts), one table (docs/CLI.md), the same words in --help', () => {
  const doc = existsSync(CLI_MD) ? readFileSync(CLI_MD, 'utf8') : '';
  const section = doc.slice(
    doc.indexOf('\n## Exit codes\n'),
    doc.indexOf('\n## ', doc.indexOf('\n## Exit codes\n') + 1),
  );

  it('docs/CLI.md has the table once: every exit code, its meaning and the error codes that exit with it', () => {
    expect(doc.split('\n## Exit codes\n')).toHaveLength(2);
    const rows = exitRows(section);
    expect(rows.map((r) => Number(r[0]))).toEqual(EXIT_CODES.map((e) => e.code));
    for (const [i, e] of EXIT_CODES.entries()) {
      expect(rows[i]![1], `exit ${e.code}`).toBe(e.meaning);
      const listed = [...rows[i]![2]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
      expect(listed, `exit ${e.code}`).toEqual(errorCodesOf(e.code));
    }
    // Every exit code the CLI uses has its row.
    expect(EXIT_CODES.map((e) => e.code).sort((a, b) => a - b)).toEqual(
      Object.values(EXIT).sort((a, b) => a - b),
    );
  });

  it('every error code of src/ops/errors.ts is in the row of the exit code it maps to', () => {
    const source = readFileSync(join(ROOT, 'src', 'ops', 'errors.ts'), 'utf8');
    const union = source.slice(
      source.indexOf('export type ErrorCode'),
      source.indexOf(';', source.indexOf('export type ErrorCode')),
    );
    const codes = [...union.matchAll(/'([a-z_]+)'/g)].map((m) => m[1] as ErrorCode);
    expect(codes.length).toBeGreaterThan(20);
    const rows = exitRows(section);
    for (const code of codes) {
      const row = rows.find((r) => r[2]!.includes(`\`${code}\``));
      expect(row, code).toBeDefined();
      expect(Number(row![0]), code).toBe(exitCodeFor(code));
    }
    // serve: no store is a missing input (3); a port it cannot listen on, a place it cannot use (4).
    expect(exitCodeFor('store_not_found')).toBe(EXIT.input);
    expect(exitCodeFor('cannot_listen')).toBe(EXIT.output);
  });

  it("the root --help's paragraph, and every command help that repeats the codes, say the same words", () => {
    const paragraph = exitCodesHelp();
    for (const e of EXIT_CODES) expect(paragraph.replace(/\s+/g, ' ')).toContain(`${e.code} ${e.short}`);
    const helps = [
      ['', helpText([])],
      ...[...commandsByPath().keys()].map((name) => [name, helpText(name.split(' '))]),
    ];
    const repeating = helps.filter(([, help]) => help!.includes('Exit codes'));
    expect(repeating.map(([name]) => name)).toEqual(['', 'run', 'backfill', 'watch']);
    for (const [name, help] of repeating) expect(help, `playtally ${name} --help`).toContain(paragraph);
  });

  it('README.md and docs/RELIABILITY.md link to the table and hold no table of their own', () => {
    for (const file of ['README.md', join('docs', 'RELIABILITY.md')]) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const link = file === 'README.md' ? 'docs/CLI.md#exit-codes' : 'CLI.md#exit-codes';
      expect(text, file).toContain(`](${link})`);
      expect(exitRows(text), file).toEqual([]);
    }
  });
});
