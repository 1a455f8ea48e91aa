import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DayRecord } from '../../src/formats/manifest.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { runTop50, type Top50Summary } from '../../src/jobs/chartJob.js';
import { compactDay } from '../../src/ops/dates.js';
import { type ReferenceRow, referenceCharts, referenceRows } from '../support/reference.js';
import { day, firstDifference, leftovers, readLog, TempDirs } from '../support/tempDirs.js';

/**
 * Contract (DESIGN.md, "Nothing is lost", and the partial format's own checks): a damaged partial
 * is detected and its day rebuilt from the log, whatever the damage.
 *
 * 1. A flipped byte inside a partial's data blocks passes the header and directory checks; the
 *    block CRC catches it when the merge reads the block, and the job rebuilds that day and merges
 *    again (this once failed every later run until the state folder was removed by hand).
 * 2. A folder in the partial's place is rebuilt too (it once ended the run with EISDIR).
 * 3. An unreadable manifest is moved aside and the state rebuilt from the logs.
 */

const FIRST = day('2024-05-01');
const GENERATOR = { rows: 3_000, users: 200, songs: 400, corruptRate: 0.02, crlfRate: 0.05, seed: 5 };

describe('damaged partials are rebuilt', () => {
  const temp = new TempDirs();
  afterEach(() => temp.cleanup());

  async function setup(): Promise<{ run: () => Promise<Top50Summary>; partial: string; check: () => void }> {
    const logsDir = temp.make('playtally-damaged-logs-');
    const outDir = temp.make('playtally-damaged-out-');
    generateLogs({ dir: logsDir, start: FIRST, days: 6, ...GENERATOR });
    const run = () => runTop50({ logsDir, outDir, threads: 2 });
    await run();
    const stateDir = join(outDir, '.playtally');
    const manifest = JSON.parse(readFileSync(join(stateDir, 'manifest.json'), 'utf8')) as {
      days: Record<string, DayRecord>;
    };
    const partial = join(stateDir, manifest.days[compactDay(FIRST + 3)]!.partial);
    const check = (): void => {
      const rows: ReferenceRow[] = [];
      for (let d = FIRST; d < FIRST + 6; d++) rows.push(...referenceRows(readLog(logsDir, d)));
      const want = referenceCharts(rows);
      const last = compactDay(FIRST + 5);
      const read = (name: string): string => readFileSync(join(outDir, name), 'latin1');
      expect(firstDifference(read(`country_top50_${last}.txt`), want.country)).toBeUndefined();
      expect(firstDifference(read(`user_top50_${last}.txt`), want.user)).toBeUndefined();
      expect(leftovers(outDir)).toEqual([]);
    };
    return { run, partial, check };
  }

  it('a flipped byte in a data block of a partial is rebuilt, not a failed run', async () => {
    const { run, partial, check } = await setup();
    const bytes = readFileSync(partial);
    const directoryOffset = Number(bytes.readBigUInt64LE(24));
    const at = 64 + Math.floor((directoryOffset - 64) / 2); // inside the blocks
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(partial, bytes);
    const summary = await run();
    expect(summary.days.map((d) => d.reused)).toEqual([true, true, true, false, true, true]);
    check();
  });

  it('a folder in place of a partial is rebuilt, not a failed run', async () => {
    const { run, partial, check } = await setup();
    rmSync(partial);
    mkdirSync(partial);
    const summary = await run();
    expect(summary.days.map((d) => d.reused)).toEqual([true, true, true, false, true, true]);
    check();
  });

  it('an unreadable manifest is set aside and the state rebuilt, with a warning', async () => {
    const { run, partial, check } = await setup();
    const stateDir = join(partial, '..', '..');
    writeFileSync(join(stateDir, 'manifest.json'), '{"version": 1, "days": ');
    const summary = await run();
    expect(summary.days.every((d) => !d.reused)).toBe(true);
    check();
    expect(readdirSync(stateDir).some((name) => name.startsWith('manifest.json.damaged-'))).toBe(true);
    // The rebuilt manifest is whole again: the next run reuses every day.
    expect((await run()).days.every((d) => d.reused)).toBe(true);
  });
});
