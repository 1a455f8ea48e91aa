import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogs } from '../src/generate/listenGenerator.js';
import { parseDay } from '../src/ops/dates.js';

/**
 * Progress is drawn on a terminal only: a live line per log file (percent, MB, rows/s) redrawn
 * with \r, and plain lines when stderr is a file or a pipe. The terminal is a pseudo-terminal
 * made by util-linux `script`.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const hasScript = spawnSync('script', ['--version']).status === 0;
let tmp = '';
let logs = '';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  tmp = mkdtempSync(join(tmpdir(), 'playtally-progress-'));
  logs = join(tmp, 'logs');
  generateLogs({ dir: logs, start: parseDay('2024-03-01')!, days: 2, rows: 50_000 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('progress', () => {
  it.skipIf(!hasScript)('is a live line per file on a terminal', () => {
    const command = `${process.execPath} ${CLI} top50 --logs ${logs} --out ${join(tmp, 'tty')}`;
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toContain('\r\x1b[K');
    expect(r.stdout).toMatch(/listen-20240301\.log {2}\d+% {2}\d+\/\d+ MB {2}[\d.]+[kM]? rows\/s/);
    expect(r.stdout).toMatch(/playtally: 2024-03-02: window/);
  });

  it('is plain lines when stderr is not a terminal', () => {
    const r = spawnSync(process.execPath, [CLI, 'top50', '--logs', logs, '--out', join(tmp, 'pipe')], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).toMatch(/listen-20240301\.log: parsed 50,000 rows in [\d.]+ s/);
  });
});
