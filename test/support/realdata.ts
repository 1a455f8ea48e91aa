import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

/**
 * The real input files of `../shared/realdata/` (see its README), read where they are: never
 * copied into the project. A test folder links to them under the names playtally reads. Without
 * the folder (a clone elsewhere) the suites that need them skip with a message; under CI=true,
 * where it is always beside the project, its absence is a failure.
 */
export const REALDATA = fileURLToPath(new URL('../../../shared/realdata/', import.meta.url));
export const haveRealdata = existsSync(REALDATA);

/** Call at the top of a test file: says why its suites skip, or fails under CI. */
export function realdataGuard(suite: string): void {
  if (haveRealdata) return;
  if (process.env.CI === 'true') {
    describe(`${suite}, in CI`, () => {
      it('has ../shared/realdata beside the project', () => {
        throw new Error(`${REALDATA} is absent: CI runs with ../shared beside the project`);
      });
    });
    return;
  }
  process.stderr.write(`${suite}: skipped, ${REALDATA} is absent\n`);
}

/** A real file's path: `realdata('topper', 'listen-20200211.log')`. */
export function realdata(...parts: string[]): string {
  return join(REALDATA, ...parts);
}

/** Its bytes. */
export function realBytes(...parts: string[]): Buffer {
  return readFileSync(realdata(...parts));
}

/** Link `target` into `dir` as `name` (a real file under the name playtally reads). */
export function linkAs(dir: string, name: string, target: string): string {
  const path = join(dir, name);
  symlinkSync(target, path);
  return path;
}
