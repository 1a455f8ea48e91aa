// Bundle the dashboard (src/dashboard: browser TypeScript and CSS) into dist/dashboard with esbuild:
// index.html beside assets/dashboard.js and assets/dashboard.css (minified, with source maps),
// the names index.html refers to. Served by `playtally serve` (src/serve/dashboardAssets.ts).
// Usage: node scripts/build-dashboard.mjs [--out <dir>]
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'src', 'dashboard');
const outFlag = process.argv.indexOf('--out');
const out = outFlag > 0 ? resolve(process.argv[outFlag + 1]) : join(root, 'dist', 'dashboard');
const assets = join(out, 'assets');

// A clean folder: the server serves every file in assets/, so nothing stale may stay there.
rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: { dashboard: join(source, 'main.ts') },
  outdir: assets,
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  // Browsers of the last few years (module scripts, CSS color-mix); no polyfills.
  target: ['chrome111', 'firefox113', 'safari16.2', 'edge111'],
  tsconfig: join(source, 'tsconfig.json'),
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
  // Output paths in the metafile are relative to this.
  absWorkingDir: root,
});

const html = readFileSync(join(source, 'index.html'), 'utf8');
for (const asset of html.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)) {
  if (!result.metafile.outputs[relative(root, join(assets, asset[1]))]) {
    throw new Error(
      `build-dashboard: index.html refers to /assets/${asset[1]}, which the bundle does not make`,
    );
  }
}
copyFileSync(join(source, 'index.html'), join(out, 'index.html'));

const sizes = Object.keys(result.metafile.outputs)
  .filter((path) => !path.endsWith('.map'))
  .map(
    (path) => `${relative(out, join(root, path))} ${(statSync(join(root, path)).size / 1024).toFixed(1)} KiB`,
  );
process.stdout.write(`dashboard: ${relative(process.cwd(), out) || '.'}/index.html, ${sizes.join(', ')}\n`);
