import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, requireBuiltCli } from '../support/cliRuns.js';

beforeAll(requireBuiltCli);

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

  it('no results store (libsql), logger (pino), KPI CSV writer (csv-stringify, csv-parse) or log hasher (hash-wasm) at the start', () => {
    // Every package the program's modules load, CommonJS or ES module, seen by a resolve hook.
    const hook = `export async function resolve(spec, context, next) {
      const resolved = await next(spec, context);
      if (resolved.url.includes('/node_modules/')) console.log('LOADED ' + resolved.url);
      return resolved;
    }`;
    const script = `
      import { createRequire, register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'program.js')).href)});
      for (const path of Object.keys(createRequire(import.meta.url).cache)) console.log('LOADED ' + path);
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const packages = new Set(
      [...run.stdout.matchAll(/LOADED .*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]),
    );
    // The program itself needs these two; the test would see nothing if the hook saw nothing.
    expect(packages.has('commander')).toBe(true);
    for (const lazy of ['libsql', 'pino', 'csv-stringify', 'csv-parse', 'prom-client', 'hono', 'hash-wasm']) {
      expect(packages.has(lazy), lazy).toBe(false);
    }
  });
});
