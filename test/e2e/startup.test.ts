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
});
