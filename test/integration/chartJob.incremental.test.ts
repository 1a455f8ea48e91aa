import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Top50Event } from '../../src/engines/chartEngine.js';
import type { DayRecord } from '../../src/formats/manifest.js';
import type { QualityReport } from '../../src/formats/qualityReport.js';
import { generateLogs, ListenGenerator } from '../../src/generate/listenGenerator.js';
import { runTop50, type Top50Summary } from '../../src/jobs/chartJob.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { contentHashV1 } from '../support/logSamples.js';
import { type ReferenceRow, referenceCharts, referenceRows } from '../support/reference.js';
import { day, firstDifference, leftovers, logName, readLog, TempDirs } from '../support/tempDirs.js';

/**
 * Contract: each day's log is processed once. Partials in the state folder are reused while the
 * log is the same file (size and mtime, or the same content after a touch), rebuilt when it
 * changed or when the partial is missing or damaged, and every run leaves no temporary files.
 */

const FIRST = day('2024-05-01');
const GENERATOR = { rows: 3_000, users: 200, songs: 400, corruptRate: 0.02, crlfRate: 0.05, seed: 5 };

interface Run {
  summary: Top50Summary;
  events: Top50Event[];
  country: string;
  user: string;
  quality: QualityReport;
  /** Bytes the run parsed (sum of progress events). */
  parsedBytes: number;
}

interface Fixture {
  logsDir: string;
  outDir: string;
  stateDir: string;
  partialsDir: string;
  run(options?: { day?: number; threads?: number }): Promise<Run>;
  manifest(): Record<string, DayRecord>;
  partialOf(dayNumber: number): string;
  logPath(dayNumber: number): string;
}

/** Stat and content of every partial, to show that a run did not touch them. */
function snapshot(dir: string): Record<string, { ino: number; mtimeMs: number; sha: string }> {
  const out: Record<string, { ino: number; mtimeMs: number; sha: string }> = {};
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = statSync(path);
    out[name] = {
      ino: st.ino,
      mtimeMs: st.mtimeMs,
      sha: createHash('sha256').update(readFileSync(path)).digest('hex'),
    };
  }
  return out;
}

describe('incremental runs over a shared state folder', () => {
  const temp = new TempDirs();
  afterEach(() => temp.cleanup());

  /** Logs for FIRST..FIRST+days-1, an output folder with the default state folder inside. */
  function fixture(days = 6): Fixture {
    const logsDir = temp.make('playtally-inc-logs-');
    const outDir = temp.make('playtally-inc-out-');
    generateLogs({ dir: logsDir, start: FIRST, days, ...GENERATOR });
    const stateDir = join(outDir, '.playtally');
    const f: Fixture = {
      logsDir,
      outDir,
      stateDir,
      partialsDir: join(stateDir, 'partials'),
      async run(options = {}) {
        const events: Top50Event[] = [];
        const summary = await runTop50({
          logsDir,
          outDir,
          threads: options.threads ?? 2,
          day: options.day,
          onEvent: (e) => events.push(e),
        });
        const chartDay = day(summary.date);
        const read = (name: string): string => readFileSync(join(outDir, name), 'latin1');
        const result: Run = {
          summary,
          events,
          country: read(`country_top50_${compactDay(chartDay)}.txt`),
          user: read(`user_top50_${compactDay(chartDay)}.txt`),
          quality: JSON.parse(read(`quality_${compactDay(chartDay)}.json`)) as QualityReport,
          parsedBytes: events.reduce((n, e) => n + (e.type === 'progress' ? e.bytes : 0), 0),
        };
        // Every run: the reference over the logs as they are now, and no temporary files left.
        const rows: ReferenceRow[] = [];
        for (let d = chartDay - 6; d <= chartDay; d++) {
          if (existsSync(f.logPath(d))) rows.push(...referenceRows(readLog(logsDir, d)));
        }
        const want = referenceCharts(rows, 50);
        expect(firstDifference(result.country, want.country), 'country chart').toBeUndefined();
        expect(firstDifference(result.user, want.user), 'user chart').toBeUndefined();
        expect(result.quality.totals.valid).toBe(rows.length);
        expect(leftovers(outDir)).toEqual([]);
        expect(readdirSync(join(stateDir, 'tmp'))).toEqual([]);
        return result;
      },
      manifest() {
        const m = JSON.parse(readFileSync(join(stateDir, 'manifest.json'), 'utf8')) as {
          days: Record<string, DayRecord>;
        };
        return m.days;
      },
      partialOf(dayNumber) {
        return join(stateDir, f.manifest()[compactDay(dayNumber)]!.partial);
      },
      logPath(dayNumber) {
        return join(logsDir, logName(dayNumber));
      },
    };
    return f;
  }

  const reusedFlags = (r: Run): boolean[] => r.summary.days.map((d) => d.reused);

  it('a second run reuses every partial without touching it', async () => {
    const f = fixture();
    const first = await f.run();
    expect(reusedFlags(first)).toEqual([false, false, false, false, false, false]);
    expect(first.parsedBytes).toBe(
      Array.from({ length: 6 }, (_, i) => statSync(f.logPath(FIRST + i)).size).reduce((a, b) => a + b),
    );
    const partials = snapshot(f.partialsDir);
    expect(Object.keys(partials)).toHaveLength(6);
    const manifest = f.manifest();

    const second = await f.run({ threads: 3 });
    expect(reusedFlags(second)).toEqual([true, true, true, true, true, true]);
    expect(second.parsedBytes).toBe(0);
    expect(snapshot(f.partialsDir)).toEqual(partials);
    // The day records are untouched (the chart record is rewritten: the charts were).
    expect(f.manifest()).toEqual(manifest);
    expect(second.country).toBe(first.country);
    expect(second.user).toBe(first.user);
    expect(second.quality.totals).toEqual(first.quality.totals);
  });

  it('a new day is the only one parsed, and the oldest day leaves the window', async () => {
    const f = fixture(6);
    const first = await f.run();
    expect(first.quality.window.missing).toEqual([isoDay(FIRST - 1)]);
    const partials = snapshot(f.partialsDir);
    const generator = new ListenGenerator(GENERATOR);

    generator.writeDay(f.logsDir, FIRST + 6);
    const second = await f.run();
    expect(second.summary.date).toBe(isoDay(FIRST + 6));
    expect(reusedFlags(second)).toEqual([true, true, true, true, true, true, false]);
    expect(second.parsedBytes).toBe(statSync(f.logPath(FIRST + 6)).size);
    expect(second.quality.window.missing).toEqual([]);
    // The old partials are untouched; one new partial.
    const after = snapshot(f.partialsDir);
    for (const [name, stat] of Object.entries(partials)) expect(after[name]).toEqual(stat);
    expect(Object.keys(after)).toHaveLength(7);

    generator.writeDay(f.logsDir, FIRST + 7);
    const third = await f.run();
    expect(third.summary.days.map((d) => d.date)).toEqual(
      Array.from({ length: 7 }, (_, i) => isoDay(FIRST + 1 + i)),
    );
    expect(reusedFlags(third)).toEqual([true, true, true, true, true, true, false]);
    expect(third.parsedBytes).toBe(statSync(f.logPath(FIRST + 7)).size);
    expect(third.country).not.toBe(second.country);
  });

  it('a log rewritten with the same size is rebuilt and the charts follow', async () => {
    const f = fixture();
    const first = await f.run();
    const target = FIRST + 2;
    const oldPartial = f.partialOf(target);
    const bytes = readLog(f.logsDir, target);
    const text = bytes.toString('latin1');
    // Give the first valid row's play to a user id of the same width that does not exist yet.
    const m = /^(\d+)\|(\d+)\|([A-Z]{2})\r?$/m.exec(text)!;
    const newUser = '9'.repeat(m[2]!.length);
    expect(first.user.includes(`\n${newUser}|`) || first.user.startsWith(`${newUser}|`)).toBe(false);
    const changed = Buffer.from(
      text.replace(m[0], `${m[1]}|${newUser}|${m[3]}${m[0].endsWith('\r') ? '\r' : ''}`),
      'latin1',
    );
    expect(changed.length).toBe(bytes.length);
    expect(changed.equals(bytes)).toBe(false);
    writeFileSync(f.logPath(target), changed);
    // Make sure the mtime moves even on a file system with coarse timestamps.
    const st = statSync(f.logPath(target));
    utimesSync(f.logPath(target), st.atime, new Date(st.mtimeMs + 5_000));

    const second = await f.run();
    expect(reusedFlags(second)).toEqual([true, true, false, true, true, true]);
    expect(second.parsedBytes).toBe(bytes.length);
    expect(second.user).not.toBe(first.user);
    expect(second.user).toContain(`\n${newUser}|${BigInt(m[1]!)}:1\n`);
    // The replaced partial is gone, the new one is named after the new content.
    expect(existsSync(oldPartial)).toBe(false);
    expect(f.partialOf(target)).not.toBe(oldPartial);
    expect(existsSync(f.partialOf(target))).toBe(true);
    expect(readdirSync(f.partialsDir)).toHaveLength(6);
  });

  it('a log that grows or shrinks is rebuilt and the charts follow', async () => {
    const f = fixture();
    const first = await f.run();
    const target = FIRST + 4;
    // Grow: three plays of song 777 by a user id above 2^32 that the generator never writes.
    appendFileSync(f.logPath(target), '777|8589934597|AD\n777|8589934597|AD\r\n0777|08589934597|AD\n');
    const grown = await f.run();
    expect(reusedFlags(grown)).toEqual([true, true, true, true, false, true]);
    expect(grown.user).toContain('\n8589934597|777:3\n');
    expect(grown.quality.totals.rows).toBe(first.quality.totals.rows + 3);
    expect(grown.quality.totals.valid).toBe(first.quality.totals.valid + 3);

    // Shrink: cut the last 1000 bytes (and with them the appended rows, and a line in half).
    truncateSync(f.logPath(target), statSync(f.logPath(target)).size - 1000);
    const shrunk = await f.run();
    expect(reusedFlags(shrunk)).toEqual([true, true, true, true, false, true]);
    expect(shrunk.user).not.toContain('8589934597|');
    expect(shrunk.quality.totals.valid).toBeLessThan(first.quality.totals.valid);
    expect(readdirSync(f.partialsDir)).toHaveLength(6);
  });

  it('a touched log (new mtime, same content) reuses its partial through the content hash', async () => {
    const f = fixture();
    const first = await f.run();
    const target = FIRST + 1;
    const partials = snapshot(f.partialsDir);
    const later = new Date(statSync(f.logPath(target)).mtimeMs + 60_000);
    utimesSync(f.logPath(target), later, later);

    const second = await f.run();
    expect(reusedFlags(second)).toEqual([true, true, true, true, true, true]);
    expect(second.parsedBytes).toBe(0);
    expect(snapshot(f.partialsDir)).toEqual(partials);
    expect(second.user).toBe(first.user);
    expect(second.country).toBe(first.country);
    // The manifest now knows the new mtime, so the next run needs no hash pass.
    expect(f.manifest()[compactDay(target)]!.mtimeMs).toBe(statSync(f.logPath(target)).mtimeMs);
  });

  it('a state whose hashes an older build took (version 1): a touched log is checked in that version', async () => {
    const f = fixture();
    const first = await f.run();
    expect(Object.values(f.manifest()).every((d) => /^[0-9a-f]{32}$/.test(d.hash))).toBe(true);
    // As an older build recorded them: every day's hash, and the chart's inputs, in version 1.
    const manifestPath = join(f.stateDir, 'manifest.json');
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      days: Record<string, DayRecord>;
      charts: Record<string, { inputs: Record<string, string> }>;
    };
    for (const [key, d] of Object.entries(m.days)) {
      d.hash = contentHashV1(readLog(f.logsDir, day(d.date)));
      for (const chart of Object.values(m.charts))
        if (chart.inputs[key] !== undefined) chart.inputs[key] = d.hash;
    }
    writeFileSync(manifestPath, JSON.stringify(m));
    const partials = snapshot(f.partialsDir);
    const touched = FIRST + 1;
    const changed = FIRST + 4;
    for (const target of [touched, changed]) {
      const later = new Date(statSync(f.logPath(target)).mtimeMs + 60_000);
      utimesSync(f.logPath(target), later, later);
    }
    // Same size, other bytes: its version 1 hash no longer holds.
    const bytes = readLog(f.logsDir, changed);
    const at = bytes.indexOf(10) - 1;
    bytes[at] = bytes[at] === 0x31 ? 0x32 : 0x31;
    const st = statSync(f.logPath(changed));
    writeFileSync(f.logPath(changed), bytes);
    utimesSync(f.logPath(changed), st.atime, st.mtime);

    const second = await f.run();
    expect(reusedFlags(second)).toEqual([true, true, true, true, false, true]);
    expect(second.parsedBytes).toBe(bytes.length);
    const days = f.manifest();
    // The touched log keeps its version 1 record, its new mtime noted; the parsed one is version 2.
    expect(days[compactDay(touched)]!.hash).toBe(m.days[compactDay(touched)]!.hash);
    expect(days[compactDay(touched)]!.mtimeMs).toBe(statSync(f.logPath(touched)).mtimeMs);
    expect(days[compactDay(changed)]!.hash).toMatch(/^[0-9a-f]{32}$/);
    // Every other partial untouched; the changed day's replaced.
    const replaced = m.days[compactDay(changed)]!.partial.split('/').pop()!;
    const kept = snapshot(f.partialsDir);
    expect(kept[replaced]).toBeUndefined();
    for (const [name, entry] of Object.entries(partials))
      if (name !== replaced) expect(kept[name], name).toEqual(entry);
    expect(second.user).not.toBe(first.user);
  });

  describe('a damaged partial is detected and rebuilt', () => {
    const damages: { name: string; damage: (path: string) => void }[] = [
      { name: 'deleted', damage: (path) => rmSync(path) },
      { name: 'truncated', damage: (path) => truncateSync(path, statSync(path).size - 7) },
      { name: 'emptied', damage: (path) => truncateSync(path, 0) },
      { name: 'extended', damage: (path) => appendFileSync(path, 'x') },
      { name: 'bad magic', damage: (path) => flipByte(path, () => 0) },
      { name: 'bad directory checksum field', damage: (path) => flipByte(path, () => 36) },
      { name: 'flipped byte in the directory', damage: (path) => flipByte(path, (size) => size - 3) },
    ];

    // A flipped byte inside a data block, and a directory in the partial's place: see
    // test/integration/chartJob.damaged.test.ts.
    it.each(damages)('$name', async ({ damage }) => {
      const f = fixture();
      const first = await f.run();
      const target = FIRST + 3;
      damage(f.partialOf(target));
      const second = await f.run();
      expect(reusedFlags(second)).toEqual([true, true, true, false, true, true]);
      expect(second.country).toBe(first.country);
      expect(second.user).toBe(first.user);
      // Whole again: the next run reuses it.
      const third = await f.run();
      expect(reusedFlags(third)).toEqual([true, true, true, true, true, true]);
    });
  });

  it('temporary files of dead runs are removed; those of live processes are kept', async () => {
    const f = fixture(2);
    await f.run();
    const deadPid = 2 ** 22 + 12_345; // above Linux's pid_max default range: never a live process
    const stale = [
      join(f.outDir, `.country_top50_20240502.txt.tmp-${deadPid}`),
      join(f.partialsDir, `.listen-20240501-0000000000000000.ptp.tmp-${deadPid}`),
      join(f.stateDir, `.manifest.json.tmp-${deadPid}`),
    ];
    for (const path of stale) writeFileSync(path, 'half');
    mkdirSync(join(f.stateDir, 'tmp', `run-${deadPid}-1700000000000`, 'spill-20240501'), { recursive: true });
    // A temporary file of a process that is alive (this one's parent) is not ours to remove.
    const live = join(f.outDir, `.user_top50_20240502.txt.tmp-${process.ppid}`);
    writeFileSync(live, 'busy');
    // Nor is a file of the user's that merely ends like one of ours (ours are dotfiles).
    const usersOwn = join(f.outDir, `notes.tmp-${deadPid}`);
    writeFileSync(usersOwn, 'mine');

    await runTop50({ logsDir: f.logsDir, outDir: f.outDir, threads: 1 });
    for (const path of stale) expect(existsSync(path)).toBe(false);
    expect(readdirSync(join(f.stateDir, 'tmp'))).toEqual([]);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(usersOwn)).toBe(true);
    rmSync(live);
    rmSync(usersOwn);
    expect(leftovers(f.outDir)).toEqual([]);
  });
});

/** Flip the low bit of one byte of a file; `at` gets the file size. */
function flipByte(path: string, at: (size: number) => number): void {
  const bytes = readFileSync(path);
  const offset = at(bytes.length);
  bytes[offset] = bytes[offset]! ^ 0x01;
  writeFileSync(path, bytes);
}
