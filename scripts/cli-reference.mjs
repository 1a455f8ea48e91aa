// Write docs/CLI.md, the CLI reference, from the commander definitions of the built CLI
// (dist/src/cli/program.js: the command tree, built without parsing argv or running anything).
// Usage: npm run docs:cli (compiles first). test/unit/cliReference.test.ts fails when the file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cliReference } from '../dist/src/cli/cliReference.js';
import { program } from '../dist/src/cli/program.js';

const target = fileURLToPath(new URL('../docs/CLI.md', import.meta.url));
// The version appears in no help text (only in what --version prints), so any value gives the same file.
const text = cliReference(program('0.0.0'));
writeFileSync(target, text);
process.stdout.write(`docs/CLI.md: ${text.split('\n').length - 1} lines\n`);
