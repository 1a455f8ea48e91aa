import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, type CliRun, cli } from './cliRuns.js';

/**
 * The CLI run as a service user meets permissions: root (CI) reads and writes anything, so the
 * permission faults run the CLI as `nobody` through `setpriv`; a developer who is not root meets
 * them as themself. Only where `nobody` can read the built CLI (a checkout under a private home
 * folder is not): elsewhere the tests skip, saying why, and under CI=true that is a failure.
 */
const root = process.getuid?.() === 0;
const SETPRIV = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

/** Whether permission faults can be produced here (see above); warns naming `suite` when not. */
export function permissionsCanBeMet(suite: string): boolean {
  if (!root) return true;
  try {
    execFileSync(
      'setpriv',
      [...SETPRIV, process.execPath, '-e', `require('fs').readFileSync(${JSON.stringify(CLI)})`],
      { stdio: 'ignore' },
    );
    return true;
  } catch {
    if (process.env.CI === 'true')
      throw new Error(`${suite}: under CI, nobody must be able to run the built CLI`);
    console.warn(`${suite}: skipped: nobody cannot read the built CLI here`);
    return false;
  }
}

/** The CLI with `args` as the service user (`nobody` under root, else this user), blocking. */
export function cliAsServiceUser(args: string[], timeoutMs = 50_000): CliRun {
  return cli(args, { timeoutMs, ...(root ? { under: ['setpriv', ...SETPRIV] } : {}) });
}

/** Open a tree made by the tests (as root) to the service user: folders 777, files 666. */
export function openToServiceUser(dir: string): void {
  chmodSync(dir, 0o777);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) openToServiceUser(path);
    else chmodSync(path, 0o666);
  }
}
