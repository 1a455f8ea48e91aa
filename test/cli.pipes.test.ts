import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateLogs } from '../src/generate/listenGenerator.js';
import { parseDay } from '../src/ops/dates.js';

/**
 * When stdout is a pipe whose reader has gone (`playtally ... | head -1`), a write raises EPIPE.
 * That is the end of our output, not a failed run: no stack trace, and the run's own exit status
 * (it once crashed with exit 1 even after writing its charts).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'playtally-epipe-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Run the CLI with its stdout pipe closed on our side before it writes anything. */
function runWithClosedStdout(args: string[]): Promise<{ status: number | null; stderr: string }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('closed stdout (EPIPE)', () => {
  it('--help into a closed pipe exits 0 without a stack trace', async () => {
    const r = await runWithClosedStdout(['--help']);
    expect(r.stderr).not.toContain("Unhandled 'error' event");
    expect(r.status).toBe(0);
  });

  it('top50 --json into a closed pipe still exits 0 after writing its charts', async () => {
    const logs = join(tmp, 'logs');
    const out = join(tmp, 'out');
    generateLogs({ dir: logs, start: parseDay('2024-01-01')!, days: 1, rows: 1_000 });
    const r = await runWithClosedStdout(['top50', '--logs', logs, '--out', out, '--json', '--quiet']);
    expect(existsSync(join(out, 'country_top50_20240101.txt'))).toBe(true);
    expect(r.stderr).not.toContain("Unhandled 'error' event");
    expect(r.status).toBe(0);
  });
});
