import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { cliReference, path } from '../src/cli/cliReference.js';
import { program } from '../src/cli/program.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
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
