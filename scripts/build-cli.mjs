// Bundle the compiled CLI (dist/src, tsc's output) into dist/bin with esbuild: playtally.js (the
// command: package.json's bin), worker.js and serverWorker.js (the threads and processes it
// starts, each found beside the module that starts it: workerPool.ts, serverGroup.ts), and the
// chunks they share. A process or thread that loads a few files instead of a hundred and fifty
// starts sooner: `playtally --version` 0.23 -> 0.15 s, two worker threads ready in 67 ms, not 96
// (docs/BENCHMARKS.md, "One file to load").
//
// The packages stay outside (node_modules, loaded as before, the lazy ones still when first used:
// test/e2e/startup.test.ts), and a module imported on demand (`import()`) stays a chunk of its own
// loaded then. dist/src stays too: the tests import its modules, and a worker started from the
// sources (vitest) runs dist/src's worker.js.
// Usage: node scripts/build-cli.mjs
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, 'dist', 'src');
const out = join(root, 'dist', 'bin');

// A clean folder: a chunk of an earlier build must not stay beside this one's.
rmSync(out, { recursive: true, force: true });

await build({
  entryPoints: {
    playtally: join(compiled, 'cli', 'main.js'),
    worker: join(compiled, 'engines', 'embedded', 'worker.js'),
    serverWorker: join(compiled, 'serve', 'serverWorker.js'),
  },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  // Mapped back to the TypeScript sources through tsc's maps (`node --enable-source-maps`).
  sourcemap: 'linked',
  logLevel: 'warning',
});
