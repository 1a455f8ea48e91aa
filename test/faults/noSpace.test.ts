import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/formats/runHistory.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { cli, ROOT, requireBuiltCli } from '../support/cliRuns.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * Faults of the machine, produced for real (issue 17): a full disk is a small tmpfs mounted over
 * the output or the state folder. Asserted: exit 4, one sentence naming where (no stack trace),
 * nothing half-written, and a run after the fault is gone writing the bytes of a clean run.
 * Mounting needs root (CI runs as root); elsewhere the tests skip, saying why; under CI=true a
 * machine that cannot mount is a failure, not a skip.
 */
const temp = new TempDirs();
const mounted: string[] = [];
afterEach(() => {
  for (const dir of mounted.splice(0)) execFileSync('umount', [dir]);
  temp.cleanup();
});
beforeAll(requireBuiltCli);

function canMount(): boolean {
  const probe = temp.make('playtally-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  }
}
const mountable = canMount();
if (!mountable) {
  if (process.env.CI === 'true')
    throw new Error('faults/noSpace: CI must be able to mount a tmpfs (run as root)');
  console.warn('faults/noSpace: skipped: mounting a tmpfs needs root');
}

/** A full disk: a tmpfs of `size` mounted over `dir`. */
function smallDisk(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounted.push(dir);
}

function release(dir: string): void {
  execFileSync('umount', [dir]);
  mounted.splice(mounted.indexOf(dir), 1);
}

function logs(): string {
  const dir = temp.make('playtally-faults-logs-');
  generateLogs({ dir, start: day('2024-01-01'), days: 2, rows: 20_000, users: 2_000, songs: 500, seed: 5 });
  return dir;
}

const CHARTS = ['country_top50_20240102.txt', 'user_top50_20240102.txt'];
const charts = (dir: string): string[] => CHARTS.map((name) => readFileSync(join(dir, name), 'utf8'));

describe.runIf(mountable)('a full disk (issue 17, point 7)', () => {
  it('under the output folder: exit 4 naming the file, no stack, nothing half-written; the next run writes the clean bytes', () => {
    const logsDir = logs();
    const reference = temp.make('playtally-faults-ref-');
    expect(cli(['top50', '--logs', logsDir, '--out', reference, '-q']).status).toBe(0);

    const base = temp.make('playtally-faults-');
    const out = join(base, 'out');
    const state = join(base, 'state');
    smallDisk(out, '300k');
    const full = cli(['top50', '--logs', logsDir, '--out', out, '--state', state, '-q']);
    expect(full.status, full.stderr).toBe(4);
    expect(full.stderr).toMatch(
      /playtally: error: cannot write .*\/out\/user_top50_20240102\.txt: no space left on its device \(ENOSPC\)/,
    );
    expect(full.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(out).filter((name) => name.includes('.tmp-'))).toEqual([]);
    expect(readdirSync(out)).not.toContain('user_top50_20240102.txt');

    release(out);
    const again = cli(['top50', '--logs', logsDir, '--out', out, '--state', state, '-q']);
    expect(again.status, again.stderr).toBe(0);
    expect(charts(out)).toEqual(charts(reference));
  });

  it("under the results store (--db): exit 4 naming the store (SQLite's full disk), the charts written; with room, the store holds them", () => {
    const logsDir = logs();
    const base = temp.make('playtally-faults-');
    const out = join(base, 'out');
    const db = join(base, 'db');
    smallDisk(db, '400k');
    const store = join(db, 'playtally.db');
    const full = cli(['top50', '--logs', logsDir, '--out', out, '--db', store, '-q']);
    expect(full.status, full.stderr).toBe(4);
    expect(full.stderr).toContain(
      `playtally: error: cannot write ${store}: no space left on its device (SQLITE_FULL)`,
    );
    expect(full.stderr).not.toMatch(/\n\s+at /);
    // The chart files are written before the store is loaded, and are whole.
    expect(charts(out)).toHaveLength(2);

    execFileSync('mount', ['-o', 'remount,size=64m', db]);
    const again = cli(['top50', '--logs', logsDir, '--out', out, '--db', store, '-q']);
    expect(again.status, again.stderr).toBe(0);
    // Read in a child process: this one would hold the store's file open, and the disk busy.
    const script =
      `import { ResultsReader } from ${JSON.stringify(join(ROOT, 'dist/src/store/resultsReader.js'))};` +
      `const r = ResultsReader.open(${JSON.stringify(store)});` +
      "const d = '2024-01-02';" +
      'console.log(JSON.stringify(r.countries(d).map((c) => [c, r.countryChartOf(d, c)])));' +
      'r.close();';
    const stored = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as [string, { song: number; plays: number }[]][];
    const lines = stored.map(
      ([country, songs]) => `${country}|${songs.map((s) => `${s.song}:${s.plays}`).join(',')}`,
    );
    expect(lines.length).toBeGreaterThan(0);
    expect(`${lines.join('\n')}\n`).toBe(readFileSync(join(out, 'country_top50_20240102.txt'), 'utf8'));
  });

  it('under the state folder: exit 4 naming the state folder, no stack', () => {
    const base = temp.make('playtally-faults-');
    const state = join(base, 'state');
    smallDisk(state, '100k');
    const full = cli(['top50', '--logs', logs(), '--out', join(base, 'out'), '--state', state, '-q']);
    expect(full.status, full.stderr).toBe(4);
    expect(full.stderr).toContain(`in the state folder ${state}: no space left on its device (ENOSPC)`);
    expect(full.stderr).not.toMatch(/\n\s+at /);
  });

  it('a run on a full output disk is in the run history: failed, exit 4, the sentence naming the file; status shows it', () => {
    const logsDir = logs();
    const base = temp.make('playtally-faults-');
    const out = join(base, 'out');
    const state = join(base, 'state');
    smallDisk(out, '300k');
    const args = ['run', '--logs', logsDir, '--out', out, '--state', state, '--threads', '2'];
    const full = cli(args);
    expect(full.status, full.stderr).toBe(4);
    const status = (): { runs: RunRecord[] } =>
      JSON.parse(cli(['status', '--state', state, '--json']).stdout) as { runs: RunRecord[] };
    const [failed] = status().runs;
    expect(failed).toMatchObject({ command: 'run', ok: false, error: { code: 'write_failed', exitCode: 4 } });
    expect(failed!.error!.message).toMatch(
      /^cannot write .*\/out\/.*: no space left on its device \(ENOSPC\)/,
    );
    expect(full.stderr).toContain(`playtally: error: ${failed!.error!.message}`);
    const text = cli(['status', '--state', state]).stdout;
    expect(text).toMatch(/ run +failed \(exit 4\) /);
    expect(text).toContain(`    write_failed: ${failed!.error!.message}`);

    release(out);
    const again = cli(args);
    expect(again.status, again.stderr).toBe(0);
    expect(status().runs.map((r) => r.ok)).toEqual([false, true]);
  });
});
