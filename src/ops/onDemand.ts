import { createRequire } from 'node:module';

const requirePackage = createRequire(import.meta.url);

/**
 * A CommonJS package loaded the first time it is asked for, then kept: for the packages only some
 * commands use (the results store's libsql, the run log's pino, the KPI files' CSV writer), which
 * an import at the top would load at every command's start (test/e2e/startup.test.ts holds it).
 * Synchronous, unlike `import()`, so that the functions using them stay so.
 */
export function onDemand<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= requirePackage(specifier) as T;
    return loaded;
  };
}
