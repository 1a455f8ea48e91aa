import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/formats/manifest.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import { runFolders } from '../support/cliRuns.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * A run killed after recording a quarantine (the manifest forgets the day) and before removing
 * the day's partial leaves a partial no record names; the crash test found one (1 trial in a
 * few hundred). The next session removes such orphans, and only them.
 */
const temp = new TempDirs();
afterAll(() => temp.cleanup());

describe('partials no record names', () => {
  it('are removed when the next run opens its session; the named ones stay', async () => {
    const f = runFolders(temp, 'playtally-orphans-', day('2024-04-01'), 2, { rows: 500, seed: 3 });
    await runOnce({ logsDir: f.logs, outDir: f.out, command: 'run', window: 2, threads: 1 });
    const partials = join(f.state, 'partials');
    const named = readdirSync(partials).sort();
    expect(named).toHaveLength(2);
    const orphan = join(partials, 'listen-20240403-0123456789abcdef.ptp');
    writeFileSync(orphan, 'left by a killed run');
    const other = join(partials, 'notes.txt');
    writeFileSync(other, 'not a partial');

    const record = await runOnce({ logsDir: f.logs, outDir: f.out, command: 'run', window: 2, threads: 1 });
    expect(record.ok).toBe(true);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(other)).toBe(true);
    expect(
      readdirSync(partials)
        .filter((n) => n.endsWith('.ptp'))
        .sort(),
    ).toEqual(named);
    // The state says the same.
    const state = new StateStore(f.state);
    expect(state.removeOrphanPartials()).toEqual([]);

    // Retention killed between marking the day pruned and removing its partial: removed too.
    const [first] = Object.entries(state.days()).sort(([a], [b]) => a.localeCompare(b));
    state.patchDay(first![0], { pruned: true });
    const left = join(f.state, first![1].partial);
    expect(existsSync(left)).toBe(true);
    await runOnce({ logsDir: f.logs, outDir: f.out, command: 'run', window: 2, threads: 1 });
    expect(existsSync(left)).toBe(false);
  });
});
