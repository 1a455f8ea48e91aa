import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUN_HISTORY } from '../../src/formats/runHistory.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { isoDay } from '../../src/ops/dates.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import { statusReport } from '../../src/unattended/statusReport.js';
import { cli, requireBuiltCli, runFolders } from '../support/cliRuns.js';
import { day, logName, TempDirs } from '../support/tempDirs.js';

/**
 * `status` through the built CLI: the days, missing days, charts, quarantined logs and runs of a
 * state folder, as JSON and as text; a missing state folder is a usage error. (A corrupt manifest:
 * test/e2e/unattended.edges.test.ts.)
 */

const FIRST = day('2024-04-01');
const GEN = { rows: 2_000, users: 100, songs: 300, seed: 3 };

const temp = new TempDirs();
afterEach(() => temp.cleanup());
beforeAll(requireBuiltCli);

/** Some small logs and an output folder (its state folder is `<out>/.playtally`). */
function setup(days = 3): { logs: string; out: string; state: string } {
  return runFolders(temp, 'playtally-ops-', FIRST, days, GEN);
}

describe('status', () => {
  it('lists days, missing days, charts, quarantined logs and runs, as JSON and as text', async () => {
    const { logs, out, state } = setup(3);
    const BAD = FIRST + 3;
    generateLogs({ dir: logs, start: BAD, days: 1, ...GEN, corruptRate: 0.3, seed: 9 });
    generateLogs({ dir: logs, start: FIRST + 4, days: 1, ...GEN });
    const options = { logsDir: logs, outDir: out, window: 3, threads: 2, command: 'run' as const };
    const first = await runOnce(options);
    expect(first.quarantined.map((q) => q.date)).toEqual([isoDay(BAD)]);
    await runOnce(options);
    // A day landed since: pending.
    generateLogs({ dir: logs, start: FIRST + 5, days: 1, ...GEN });

    const r = cli(['status', '--out', out, '--logs', logs, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Awaited<ReturnType<typeof statusReport>>;
    expect(s.lock).toBeNull();
    expect(s.days.map((d) => d.date)).toEqual([0, 1, 2, 4].map((i) => isoDay(FIRST + i)));
    expect(s.days.every((d) => d.rows === GEN.rows && /^[0-9a-f]{64}$/.test(d.sha256))).toBe(true);
    expect(s.missingDays).toEqual([isoDay(BAD)]);
    expect(s.pending).toEqual([logName(FIRST + 5)]);
    expect(s.charts.count).toBe(5);
    expect(s.charts.first).toBe(isoDay(FIRST));
    expect(s.charts.last).toBe(isoDay(FIRST + 4));
    expect(s.quarantined).toEqual([
      expect.objectContaining({
        date: isoDay(BAD),
        file: logName(BAD),
        reason: 'reject_rate',
        movedTo: join(logs, 'quarantine', logName(BAD)),
      }),
    ]);
    expect(s.runs.map((run) => [run.command, run.ok, run.charts.length])).toEqual([
      ['run', true, 5],
      ['run', true, 0],
    ]);

    const text = cli(['status', '--out', out]);
    expect(text.status, text.stderr).toBe(0);
    for (const section of [
      `state: ${state}`,
      'lock: free',
      'processed days (4):',
      `missing days: ${isoDay(BAD)}`,
      `charts: 5 dates, ${isoDay(FIRST)} .. ${isoDay(FIRST + 4)}`,
      'quarantined (1):',
      'last runs (2):',
    ]) {
      expect(text.stdout).toContain(section);
    }
    expect(text.stdout).toContain(logName(BAD));

    // A run history with lines cut short or garbled: those lines are skipped.
    appendFileSync(join(state, RUN_HISTORY), '{"id":"cut short","command":"ru\nnot json at all\n\n');
    expect((await statusReport(state)).runs).toHaveLength(2);
    const after = cli(['status', '--state', state, '--json']);
    expect(after.status, after.stderr).toBe(0);
    expect((JSON.parse(after.stdout) as { runs: unknown[] }).runs).toHaveLength(2);
    // And the next run appends after them.
    await runOnce(options);
    expect((await statusReport(state)).runs).toHaveLength(3);
  });

  it('a missing state folder is a usage error (exit 2)', () => {
    const nowhere = join(temp.make('playtally-ops-none-'), 'out');
    const r = cli(['status', '--out', nowhere, '--json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('does not exist');
    expect(r.stdout).toBe('');
    expect(cli(['status']).status).toBe(2);
  });
});
