import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layout of src/ is a contract (docs/ARCHITECTURE.md): the data flows one way, and a folder
 * imports only from the folders of the stages before it. STAGES is that order; a new folder must
 * be placed in it, and an import against the order fails here, naming the file.
 */
const STAGES = [
  'ops', // errors, dates, atomic files, locks, retries, process figures
  'parse', // pure byte and CSV parsers, reject reasons and their diagnosis
  'partials', // a day's aggregation: partitioned, sorted, run-length encoded pairs
  'window', // k-way merge of the window and the top-K
  'kpis', // genre KPI arithmetic
  'cloud', // AWS clients: S3 folders, the DynamoDB table
  'sources', // where inputs live: folders, S3, gzip, log units, content hashes
  'formats', // one file per on-disk format: name, writer, reader
  'engines', // one contract per job, the embedded and ClickHouse implementations
  'jobs', // the chart and KPI jobs around an engine
  'sinks', // outside copies of the results (DynamoDB)
  'store', // the SQLite results store
  'unattended', // run, backfill, watch, status
  'serve', // the HTTP API
  'generate', // synthetic data, a library for the CLI, tests and benchmarks
  'dashboard', // the browser dashboard
  'cli', // options and printing
];

/** The pure core: no file, network or process I/O of its own. */
const CORE = ['parse', 'partials', 'window', 'kpis'];

const SRC = resolve(import.meta.dirname, '../../src');
const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

interface Import {
  file: string;
  target: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every import of every source file: a path under src/ for relative ones, else the module name. */
const imports: Import[] = sourceFiles(SRC).flatMap((path) =>
  [...readFileSync(path, 'utf8').matchAll(IMPORT)].map((m) => {
    const spec = (m[1] ?? m[2])!;
    const target = spec.startsWith('.') ? relative(SRC, resolve(dirname(path), spec)) : spec;
    return { file: relative(SRC, path), target };
  }),
);
const folderOf = (path: string): string => path.split('/')[0]!;
const isLocal = (i: Import): boolean => !i.target.startsWith('..') && i.target.includes('/');

describe('the layout of src/', () => {
  it('has a stage for every folder, and the imports follow the stages', () => {
    const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());
    expect(folders.filter((f) => !STAGES.includes(f))).toEqual([]);
    const against = imports
      .filter(isLocal)
      .filter((i) => STAGES.indexOf(folderOf(i.target)) > STAGES.indexOf(folderOf(i.file)))
      .map((i) => `${i.file} imports ${i.target}`);
    expect(against).toEqual([]);
  });

  it('keeps the two engines apart: neither imports the other, the contracts import neither', () => {
    const crossing = imports.filter(
      (i) =>
        (i.file.startsWith('engines/embedded/') && i.target.startsWith('engines/clickhouse/')) ||
        (i.file.startsWith('engines/clickhouse/') && i.target.startsWith('engines/embedded/')) ||
        (/^engines\/(chartEngine|kpiEngine)\.ts$/.test(i.file) && /^engines\/\w+\//.test(i.target)),
    );
    expect(crossing.map((i) => `${i.file} imports ${i.target}`)).toEqual([]);
    // Exactly one module outside the engines picks an implementation.
    const pickers = new Set(
      imports
        .filter((i) => /^engines\/(embedded|clickhouse)\/(chartEngine|kpiEngine)(\.js)?$/.test(i.target))
        .map((i) => i.file),
    );
    expect([...pickers]).toEqual(['engines/pickEngine.ts']);
  });

  it('keeps the core pure: no fs, network or child processes in parse, partials, window, kpis', () => {
    const io = imports.filter(
      (i) =>
        CORE.includes(folderOf(i.file)) &&
        /^node:(fs|fs\/promises|net|http|https|child_process|worker_threads)$/.test(i.target),
    );
    expect(io.map((i) => `${i.file} imports ${i.target}`)).toEqual([]);
  });
});
