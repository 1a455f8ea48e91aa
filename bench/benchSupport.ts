import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compactDay } from '../src/ops/dates.js';

/** The repository root (this file runs from dist/bench/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');

/** `--name value` and bare `--flag` (value 'true') arguments. */
export function args(): Map<string, string> {
  const out = new Map<string, string>();
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(a.slice(2), 'true');
    else out.set(a.slice(2), argv[++i]!);
  }
  return out;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Write `report` into docs/BENCHMARKS.md between the markers of `name`, replacing what was there. */
export function record(name: string, report: string): void {
  const path = join(ROOT, 'docs/BENCHMARKS.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n${report}\n${end}`;
  writeFileSync(
    path,
    text.includes(begin)
      ? text.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), block)
      : `${text}\n${block}\n`,
  );
  console.error(`bench: recorded in ${path}`);
}

/** Run a Node.js script as a child process; its stdout and wall time (an error with its stderr if it fails). */
export function run(command: string, argv: string[]): Promise<{ stdout: string; wallMs: number }> {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [command, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`${command} ${argv.join(' ')} exited ${code}:\n${stderr}`));
      else resolvePromise({ stdout, wallMs });
    });
  });
}

/** The arguments of one measured `playtally top50` run (a JSON summary on stdout), then `extra`. */
export function top50Argv(
  run: { logs: string; out: string; state: string; day: number },
  ...extra: string[]
): string[] {
  return [
    'top50',
    '--logs',
    run.logs,
    '--out',
    run.out,
    '--state',
    run.state,
    '--date',
    compactDay(run.day),
    '--json',
    '--quiet',
    ...extra,
  ];
}
