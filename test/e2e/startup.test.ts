import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, requireBuiltCli } from '../support/cliRuns.js';
import { TempDirs } from '../support/tempDirs.js';

beforeAll(requireBuiltCli);
const temp = new TempDirs();
afterAll(() => temp.cleanup());

/** Every file the program's imports load, as `LOADED <url>` lines (with the CommonJS cache's paths: packages). */
const RESOLVE_HOOK = `export async function resolve(spec, context, next) {
  const resolved = await next(spec, context);
  if (resolved.url.startsWith('file:')) console.log('LOADED ' + resolved.url);
  return resolved;
}`;

/** The packages named in `LOADED` lines. */
function packagesIn(stdout: string): Set<string> {
  return new Set([...stdout.matchAll(/LOADED .*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!));
}

/** Packages loaded only by the commands that need them. */
const LAZY = [
  'libsql',
  'pino',
  'csv-stringify',
  'csv-parse',
  'prom-client',
  'hono',
  'hash-wasm',
  '@node-rs/crc32',
];

/**
 * The packages of the CommonJS module cache (each a CommonJS package, so that they are seen there)
 * after importing the CLI's program, then after importing the module that needs them: every
 * command's start loads its own modules only (`playtally --version`, 0.38 s before the HTTP stack
 * was loaded on demand, 0.28 s after).
 */
function loadedBeforeAndAfter(module: string, packages: string[]): { before: string[]; after: string[] } {
  const url = (path: string): string => pathToFileURL(join(ROOT, 'dist', 'src', path)).href;
  const script = `
    import { createRequire } from 'node:module';
    const cache = createRequire(import.meta.url).cache;
    const loaded = () => ${JSON.stringify(packages)}.filter((p) =>
      Object.keys(cache).some((path) => path.includes('/node_modules/' + p + '/')));
    await import(${JSON.stringify(url('cli/program.js'))});
    const before = loaded();
    await import(${JSON.stringify(url(module))});
    console.log(JSON.stringify({ before, after: loaded() }));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout) as { before: string[]; after: string[] };
}

describe('what a command loads at its start', () => {
  it('the HTTP server (prom-client) only for serve', () => {
    expect(loadedBeforeAndAfter('serve/serverGroup.js', ['prom-client'])).toEqual({
      before: [],
      after: ['prom-client'],
    });
  });

  it('the ClickHouse client only with the ClickHouse engine', () => {
    expect(loadedBeforeAndAfter('engines/clickhouse/cluster.js', ['@clickhouse/client'])).toEqual({
      before: [],
      after: ['@clickhouse/client'],
    });
  });

  it('no results store (libsql), logger (pino), KPI CSV writer (csv-stringify, csv-parse), log hasher (hash-wasm) or checksum (@node-rs/crc32) at the start', () => {
    // Every package the program's modules load, CommonJS or ES module, seen by a resolve hook.
    const script = `
      import { createRequire, register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(RESOLVE_HOOK)}));
      await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'program.js')).href)});
      for (const path of Object.keys(createRequire(import.meta.url).cache)) console.log('LOADED ' + path);
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const packages = packagesIn(run.stdout);
    // The program itself needs these two; the test would see nothing if the hook saw nothing.
    expect(packages.has('commander')).toBe(true);
    for (const lazy of LAZY) expect(packages.has(lazy), lazy).toBe(false);
  });

  it('the bundle `playtally` runs (dist/bin) loads them on demand too, and few files of its own', () => {
    // Loaded before the command: the hook, and a report of the CommonJS cache as the process ends.
    const preload = join(temp.make(), 'preload.mjs');
    writeFileSync(
      preload,
      `import { createRequire, register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(RESOLVE_HOOK)}));
      const cache = createRequire(import.meta.url).cache;
      process.on('exit', () => { for (const path of Object.keys(cache)) console.log('LOADED ' + path); });`,
    );
    const run = spawnSync(process.execPath, ['--import', pathToFileURL(preload).href, CLI, '--version'], {
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const packages = packagesIn(run.stdout);
    expect(packages.has('commander')).toBe(true);
    for (const lazy of LAZY) expect(packages.has(lazy), lazy).toBe(false);
    // Its own files: the command and the chunks it imports, all from dist/bin (the program's
    // modules in dist/src are 150-odd files).
    const own = [
      ...new Set(
        run.stdout
          .split('\n')
          .filter((line) => line.startsWith('LOADED file:') && !line.includes('/node_modules/'))
          .map((line) => line.slice('LOADED '.length)),
      ),
    ];
    const bin = pathToFileURL(join(ROOT, 'dist', 'bin')).href;
    expect(own).toContain(pathToFileURL(CLI).href);
    expect(own.filter((url) => !url.startsWith(`${bin}/`))).toEqual([]);
    // Not every chunk: those of the modules other commands import on demand are left.
    const chunks = readdirSync(join(ROOT, 'dist', 'bin')).filter((name) => name.endsWith('.js'));
    expect(own.length).toBeLessThan(chunks.length);
  });
});
