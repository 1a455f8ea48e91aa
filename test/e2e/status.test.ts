import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUN_HISTORY, type RunRecord } from '../../src/formats/runHistory.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { isoDay } from '../../src/ops/dates.js';
import { ResultsReader } from '../../src/store/resultsReader.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import { statusReport } from '../../src/unattended/statusReport.js';
import { liveProcess, writeLockFile } from '../support/alerts.js';
import { Children, cli, requireBuiltCli, runFolders } from '../support/cliRuns.js';
import { day, logName, TempDirs } from '../support/tempDirs.js';

/**
 * `status` through the built CLI: the days, missing days, charts, quarantined logs and runs of a
 * state folder, as JSON and as text; a missing state folder is a usage error; failed runs (a
 * missing logs folder, an output folder that cannot be written) are in the history with their
 * exit code and message, a run refused by the lock is not. (A corrupt manifest:
 * test/e2e/unattended.edges.test.ts; a full disk: test/faults/noSpace.test.ts.)
 */

const FIRST = day('2024-04-01');
const GEN = { rows: 2_000, users: 100, songs: 300, seed: 3 };

const temp = new TempDirs();
const children = new Children();
afterEach(async () => {
  await children.stopAll();
  temp.cleanup();
});
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
    expect(s.days.every((d) => d.rows === GEN.rows && /^[0-9a-f]{32}$/.test(d.contentHash))).toBe(true);
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

describe('failed runs', () => {
  const OPTS = ['--window', '3', '--threads', '2'];
  const history = (state: string): RunRecord[] =>
    readFileSync(join(state, RUN_HISTORY), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as RunRecord);

  it('a missing logs folder (exit 3) and an output folder that cannot be written (exit 4) are recorded, shown by status and stored with --db; a run refused by the lock (exit 5) is not', () => {
    const { logs, out, state } = setup(2);
    const db = join(temp.make('playtally-ops-db-'), 'results.db');
    const first = cli(['run', '--logs', logs, '--out', out, ...OPTS, '--db', db]);
    expect(first.status, first.stderr).toBe(0);

    // The case: `run` on a missing logs folder used to exit 3 and leave no trace.
    const gone = `${logs}-gone`;
    const missing = cli(['run', '--logs', gone, '--out', out, ...OPTS, '--db', db]);
    expect(missing.status, missing.stderr).toBe(3);
    expect(missing.events.find((e) => e.event === 'failed')).toMatchObject({
      code: 'logs_not_found',
      exitCode: 3,
    });
    // An output folder that is a file, with the same state folder: exit 4 before the lock.
    const file = join(temp.make('playtally-ops-file-'), 'charts');
    writeFileSync(file, 'not a folder');
    const unwritable = cli(['run', '--logs', logs, '--out', file, '--state', state, ...OPTS]);
    expect(unwritable.status, unwritable.stderr).toBe(4);

    // Refused by the lock, at once and after --wait-timeout: the holder's history, not theirs.
    writeLockFile(state, liveProcess(children));
    expect(cli(['run', '--logs', logs, '--out', out, ...OPTS]).status).toBe(5);
    expect(cli(['run', '--logs', logs, '--out', out, ...OPTS, '--wait-timeout', '200ms']).status).toBe(5);
    rmSync(join(state, 'lock'));

    const runs = history(state);
    expect(runs.map((r) => [r.ok, r.error?.code, r.error?.exitCode])).toEqual([
      [true, undefined, undefined],
      [false, 'logs_not_found', 3],
      [false, 'output_not_writable', 4],
    ]);
    const [, noLogs, noOut] = runs;
    expect(noLogs).toMatchObject({ command: 'run', logsDir: gone, outDir: out, charts: [], days: [] });
    expect(noLogs!.error!.message).toBe(`logs folder ${gone} does not exist or is not a folder`);
    expect(missing.stderr).toContain(noLogs!.error!.message);
    expect(noOut!.outDir).toBe(file);
    expect(noOut!.error!.message).toContain(file);
    expect(unwritable.stderr).toContain(noOut!.error!.message);
    for (const run of runs)
      expect(Date.parse(run.finishedAt)).toBeGreaterThanOrEqual(Date.parse(run.startedAt));

    const json = cli(['status', '--out', out, '--json']);
    expect(json.status, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { runs: RunRecord[] }).runs).toEqual(runs);
    const text = cli(['status', '--out', out]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain('last runs (3):');
    expect(text.stdout).toMatch(/ run +ok +2 /);
    expect(text.stdout).toMatch(/ run +failed \(exit 3\) +0 /);
    expect(text.stdout).toMatch(/ run +failed \(exit 4\) +0 /);
    expect(text.stdout).toContain(`    logs_not_found: ${noLogs!.error!.message}\n`);
    expect(text.stdout).toContain(`    output_not_writable: ${noOut!.error!.message}\n`);

    // With --db the failed run is in the store too (the API and its metrics read it there).
    const reader = ResultsReader.open(db);
    try {
      expect(reader.runs(10)).toEqual([noLogs, runs[0]]);
      expect(reader.lastRun()).toMatchObject({ ok: false, finishedAt: noLogs!.finishedAt });
    } finally {
      reader.close();
    }

    // The next run goes on as before, its record after them.
    const next = cli(['run', '--logs', logs, '--out', out, ...OPTS]);
    expect(next.status, next.stderr).toBe(0);
    expect(history(state).map((r) => r.ok)).toEqual([true, false, false, true]);
  });

  it('records nothing where the run never got to a state folder: --out missing, and no folder created for it', () => {
    const base = temp.make('playtally-ops-nowhere-');
    const out = join(base, 'charts');
    const r = cli(['run', '--logs', join(base, 'no-logs'), '--out', out, ...OPTS]);
    expect(r.status, r.stderr).toBe(3);
    expect(existsSync(out)).toBe(false);
  });

  it('a run that reused the partials of earlier runs says so: days and rows, in the record and in status', () => {
    const { logs, out } = setup(3);
    // top50 parses the window of the newest date; the run then writes the other dates from those partials.
    expect(cli(['top50', '--logs', logs, '--out', out, '--window', '3', '-q']).status).toBe(0);
    const r = cli(['run', '--logs', logs, '--out', out, ...OPTS, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const record = JSON.parse(r.stdout) as RunRecord;
    expect(record.days).toEqual([]);
    expect(record.totals.rows).toBe(0);
    expect(record.charts).toEqual([0, 1].map((i) => isoDay(FIRST + i)));
    expect(record.reused).toEqual({ days: [0, 1].map((i) => isoDay(FIRST + i)), rows: 2 * GEN.rows });
    const text = cli(['status', '--out', out]);
    expect(text.stdout).toMatch(/ run +ok +0 +2 +0 +- +2 /);
  });
});
