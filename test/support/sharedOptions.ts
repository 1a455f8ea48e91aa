/**
 * Which commands have each of the options several commands share (src/cli/sharedOptions.ts): the
 * table both test/unit/sharedOptions.test.ts (the definitions) and test/e2e/sharedOptions.test.ts
 * (what they do through the built CLI) check against.
 */

/**
 * Which commands have each shared option. A command without one has no such concept: `status`,
 * `kpis query` and `demo` neither log nor show progress nor hold a memory budget, `load` and
 * `serve` print no summary.
 */
export const HAVE: Record<string, string[]> = {
  '--json': [
    'top50',
    'run',
    'backfill',
    'watch',
    'status',
    'kpis',
    'kpis query',
    'generate',
    'generate kpi-dataset',
  ],
  '--quiet': [
    'top50',
    'run',
    'backfill',
    'watch',
    'kpis',
    'load',
    'serve',
    'generate',
    'generate kpi-dataset',
  ],
  '--log-level': [
    'top50',
    'run',
    'backfill',
    'watch',
    'kpis',
    'load',
    'serve',
    'generate',
    'generate kpi-dataset',
  ],
  '--memory': ['top50', 'run', 'backfill', 'watch', 'kpis', 'serve'],
  '--threads': ['top50', 'run', 'backfill', 'watch', 'kpis', 'serve'],
  '--max-reject-rate': ['top50', 'run', 'backfill', 'watch', 'kpis', 'serve'],
};
