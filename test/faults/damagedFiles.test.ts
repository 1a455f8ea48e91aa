import { copyFileSync, cpSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { cli, cliOk, requireBuiltCli, runDone } from '../support/cliRuns.js';
import {
  chartBytes,
  expectNoStack,
  flipBytes,
  gzipLogs,
  halfFiles,
  kpiBytes,
  lostInputs,
  smallLogs,
  truncateToHalf,
} from '../support/faults.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * Damaged files, produced for real (truncated to half, 8 bytes flipped in the middle): a landed log,
 * a partial and the manifest of the state folder, a KPI partial and the KPI manifest. Each test
 * asserts the exit code, one message naming the file without a stack, every input kept (logs
 * folder, archive or quarantine), no temporary file left, and, once the fault is gone, the bytes a
 * run on an untouched copy of the same inputs writes. See docs/RELIABILITY.md.
 */
const temp = new TempDirs();
afterEach(() => temp.cleanup());
beforeAll(requireBuiltCli);

const DAMAGES = [
  { name: 'truncated to half', damage: truncateToHalf },
  { name: 'with flipped bytes (a CRC error)', damage: flipBytes },
];

/** Generated listen logs of `days` days from 2024-01-01 (gzipped with `gz`) and an untouched copy. */
function listenLogs(days: number, gz = false): { logs: string; clean: string; names: string[] } {
  const logs = temp.make('playtally-faults-logs-');
  const plain = smallLogs(logs, days);
  const names = gz ? gzipLogs(logs) : plain;
  const clean = temp.make('playtally-faults-clean-');
  cpSync(logs, clean, { recursive: true });
  return { logs, clean, names };
}

/** The output folder of a clean run of `args` (a command and its options) on `logs`. */
function reference(args: string[], logs: string): string {
  const out = temp.make('playtally-faults-ref-');
  cliOk([...args, '--logs', logs, '--out', out, '-q']);
  return out;
}

describe('a damaged listen log', () => {
  it.each(DAMAGES)(
    '.log.gz $name under run: quarantined as unreadable with a reason file, the other days charted; a good copy put back gives the clean bytes',
    ({ damage }) => {
      const { logs, clean, names } = listenLogs(3, true);
      const ref = reference(['run'], clean);
      const out = temp.make('playtally-faults-out-');
      const quarantine = join(temp.make('playtally-faults-q-'), 'quarantine');
      const name = 'listen-20240102.log.gz';
      damage(join(logs, name));
      const args = ['run', '--logs', logs, '--out', out, '--quarantine', quarantine, '-q'];

      const r = cli(args);
      expect(r.status, r.stderr).toBe(0);
      expectNoStack(r.stderr);
      const quarantined = r.events.find((e) => e.event === 'quarantined');
      expect(quarantined).toMatchObject({
        file: name,
        reason: 'unreadable',
        movedTo: join(quarantine, name),
      });
      expect(quarantined?.msg).toContain(`${join(logs, name)} is not a readable gzip file (`);
      const reason = JSON.parse(readFileSync(join(quarantine, `${name}.reason.json`), 'utf8'));
      expect(reason).toMatchObject({ file: name, reason: 'unreadable' });
      expect(reason.message).toContain('is not a readable gzip file');
      expect(lostInputs(names, [logs, quarantine])).toEqual([]);
      expect(halfFiles([out, quarantine])).toEqual([]);
      // The day before the damaged one is charted from its own log alone: the clean bytes already.
      const first = ['country_top50_20240101.txt', 'user_top50_20240101.txt'];
      const charts = chartBytes(out);
      for (const chart of first) expect(charts[chart], chart).toBe(chartBytes(ref)[chart]);
      expect(Object.keys(charts)).toHaveLength(6);

      copyFileSync(join(clean, name), join(logs, name));
      const again = cli(args);
      expect(again.status, again.stderr).toBe(0);
      expectNoStack(again.stderr);
      expect(chartBytes(out)).toEqual(chartBytes(ref));
      expect(halfFiles([out, quarantine])).toEqual([]);
    },
  );

  it.each(DAMAGES)(
    '.log.gz $name under top50: exit 3 naming the file, no chart written; a good copy put back gives the clean bytes',
    ({ damage }) => {
      const { logs, clean, names } = listenLogs(3, true);
      const ref = reference(['top50'], clean);
      const out = temp.make('playtally-faults-out-');
      const path = join(logs, 'listen-20240102.log.gz');
      damage(path);

      const r = cli(['top50', '--logs', logs, '--out', out, '-q']);
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toContain(`playtally: error: ${path} is not a readable gzip file (`);
      expectNoStack(r.stderr);
      expect(lostInputs(names, [logs])).toEqual([]);
      expect(halfFiles([out])).toEqual([]);
      expect(chartBytes(out)).toEqual({});

      copyFileSync(join(clean, 'listen-20240102.log.gz'), path);
      const again = cli(['top50', '--logs', logs, '--out', out, '-q']);
      expect(again.status, again.stderr).toBe(0);
      expect(chartBytes(out)).toEqual(chartBytes(ref));
    },
  );
});

describe('a damaged partial in the state folder', () => {
  /** The partials of a state folder, in day order. */
  const partials = (state: string): string[] =>
    readdirSync(join(state, 'partials'))
      .sort()
      .map((name) => join(state, 'partials', name));

  it('one truncated, one with flipped bytes, under top50: both rebuilt from their logs, the damaged one named; the clean bytes', () => {
    const { logs, clean, names } = listenLogs(3);
    const ref = reference(['top50'], clean);
    const out = temp.make('playtally-faults-out-');
    const state = join(out, '.playtally');
    cliOk(['top50', '--logs', logs, '--out', out, '-q']);
    const [truncated, flipped] = partials(state);
    truncateToHalf(truncated!);
    flipBytes(flipped!);

    const r = cli(['top50', '--logs', logs, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expectNoStack(r.stderr);
    // A block checksum fails in the merge: a warning names the file. A truncated partial fails its
    // header check before any use and is parsed again from its log, which the progress names.
    expect(r.stderr).toContain(`warning: partial of 2024-01-02 is damaged (${flipped}: `);
    expect(r.stderr).toContain('listen-20240101.log: parsed');
    expect(chartBytes(out)).toEqual(chartBytes(ref));
    expect(lostInputs(names, [logs])).toEqual([]);
    expect(halfFiles([out])).toEqual([]);
    // The rebuilt partials are whole: the next run reuses every one.
    expect(cliOk(['top50', '--logs', logs, '--out', out]).stderr).toContain('(0 parsed, 3 reused)');
  });

  it('one truncated, one with flipped bytes, under run when the next day lands: both rebuilt (run_done.rebuilt), the clean bytes', () => {
    const { logs, clean, names } = listenLogs(4);
    const ref = reference(['run'], clean);
    const out = temp.make('playtally-faults-out-');
    const held = join(temp.make('playtally-faults-held-'), names[3]!);
    renameSync(join(logs, names[3]!), held);
    cliOk(['run', '--logs', logs, '--out', out, '-q']);
    const [truncated, flipped] = partials(join(out, '.playtally'));
    truncateToHalf(truncated!);
    flipBytes(flipped!);
    renameSync(held, join(logs, names[3]!));

    const r = cli(['run', '--logs', logs, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expectNoStack(r.stderr);
    expect(runDone(r).rebuilt).toEqual(['2024-01-01', '2024-01-02']);
    const damaged = r.events.find((e) => e.event === 'partial_damaged');
    expect(damaged).toMatchObject({ level: 40, date: '2024-01-02' });
    expect(damaged?.problem).toContain(flipped);
    expect(chartBytes(out)).toEqual(chartBytes(ref));
    expect(lostInputs(names, [logs])).toEqual([]);
    expect(halfFiles([out])).toEqual([]);
  });
});

describe('a damaged state manifest', () => {
  it.each([
    { name: 'truncated, under top50', command: 'top50', damage: truncateToHalf },
    {
      name: 'valid JSON of the wrong shape, under run',
      command: 'run',
      damage: (path: string) => writeFileSync(path, '{"version":2,"days":[1,2,3]}'),
    },
  ])(
    '$name: set aside as manifest.json.damaged-<ms> named in a warning; the clean bytes',
    ({ command, damage }) => {
      const { logs, clean, names } = listenLogs(3);
      const ref = reference([command], clean);
      const out = temp.make('playtally-faults-out-');
      const state = join(out, '.playtally');
      cliOk([command, '--logs', logs, '--out', out, '-q']);
      const manifest = join(state, 'manifest.json');
      damage(manifest);
      const damagedBytes = readFileSync(manifest);

      const r = cli([command, '--logs', logs, '--out', out, '-q']);
      expect(r.status, r.stderr).toBe(0);
      expectNoStack(r.stderr);
      const aside = readdirSync(state).filter((n) => /^manifest\.json\.damaged-\d+$/.test(n));
      expect(aside).toHaveLength(1);
      // top50 warns on stderr, run in a JSON line on stdout; the same sentence.
      expect(r.stderr + r.stdout).toMatch(/state manifest was unreadable \([^)]+\); moved to /);
      expect(r.stderr + r.stdout).toContain(`moved to ${join(state, aside[0]!)}, rebuilding`);
      expect(readFileSync(join(state, aside[0]!))).toEqual(damagedBytes);
      expect(() => JSON.parse(readFileSync(manifest, 'utf8'))).not.toThrow();
      expect(chartBytes(out)).toEqual(chartBytes(ref));
      expect(lostInputs(names, [logs])).toEqual([]);
      expect(halfFiles([out])).toEqual([]);
    },
  );
});

describe('the KPI side', () => {
  const LATE = 'streams-20240201-02.csv';
  const KPI_SIZES = { streamsPerDay: 4_000, songs: 400, users: 600, seed: 3 };

  /**
   * A KPI landing folder (2 days, 2 streams files a day) and the KPI files of a clean run on a
   * copy; then a first run without the late file LATE, `damage` to the state folder, LATE landing,
   * and the run under test (`flags` on every run: --no-archive, --json).
   */
  function kpiFault(damage: (state: string) => void, flags: string[] = []) {
    const landing = temp.make('playtally-faults-kpi-');
    generateKpiDataset({ dir: landing, start: day('2024-02-01'), days: 2, filesPerDay: 2, ...KPI_SIZES });
    const names = readdirSync(join(landing, 'streams')).sort();
    const clean = temp.make('playtally-faults-kpi-clean-');
    cpSync(landing, clean, { recursive: true });
    const ref = temp.make('playtally-faults-kpi-ref-');
    cliOk(['kpis', '--landing', clean, '--out', ref, '-q', ...flags]);
    const held = join(temp.make('playtally-faults-held-'), LATE);
    renameSync(join(landing, 'streams', LATE), held);
    const out = temp.make('playtally-faults-kpi-out-');
    const state = join(out, '.playtally-kpis');
    cliOk(['kpis', '--landing', landing, '--out', out, '-q', ...flags]);
    damage(state);
    renameSync(held, join(landing, 'streams', LATE));
    const r = cli(['kpis', '--landing', landing, '--out', out, ...flags]);
    return { r, out, ref, state, landing, names };
  }

  /** What every KPI fault test asserts: exit 0, no stack, every streams file kept, no half file. */
  function expectKept({ r, out, landing, names }: ReturnType<typeof kpiFault>): void {
    expect(r.status, r.stderr).toBe(0);
    expectNoStack(r.stderr);
    expect(lostInputs(names, [landing])).toEqual([]);
    expect(halfFiles([out, landing])).toEqual([]);
  }

  const partialOf = (state: string, file: string): string => {
    const name = readdirSync(join(state, 'partials')).find((n) => n.startsWith(`${file}-`));
    return join(state, 'partials', name!);
  };

  it('a KPI partial truncated, its streams file archived: parsed again from the archive when a late file lands; the clean KPI files', () => {
    const fault = kpiFault((state) => truncateToHalf(partialOf(state, 'streams-20240201-01.csv')));
    expectKept(fault);
    expect(fault.r.stderr).toMatch(/streams-20240201-01\.csv: [\d,]+ rows/);
    expect(kpiBytes(fault.out)).toEqual(kpiBytes(fault.ref));
  });

  it('the KPI manifest truncated (--no-archive): set aside and named; every file parsed again; the clean KPI files', () => {
    const fault = kpiFault((state) => truncateToHalf(join(state, 'manifest.json')), ['--no-archive']);
    expectKept(fault);
    const aside = readdirSync(fault.state).filter((n) => /^manifest\.json\.damaged-\d+$/.test(n));
    expect(aside).toHaveLength(1);
    expect(fault.r.stderr).toMatch(
      /playtally: warning: KPI state manifest was unreadable \([^)]+\); moved to /,
    );
    expect(fault.r.stderr).toContain(`moved to ${join(fault.state, aside[0]!)}, rebuilding`);
    expect(kpiBytes(fault.out)).toEqual(kpiBytes(fault.ref));
  });

  // The manifest is the only record of the streams files archived: once it is set aside, the
  // archive's files are taken in again (kpiLanding.ts unknownArchived), or the late file's day
  // would be rewritten from the late file alone (it counted 1,939 streams instead of 3,890).
  it('the KPI manifest truncated, the streams files archived: a late file for an archived day gives the clean KPI files', () => {
    const fault = kpiFault((state) => truncateToHalf(join(state, 'manifest.json')));
    expectKept(fault);
    expect(kpiBytes(fault.out)).toEqual(kpiBytes(fault.ref));
  });

  // Each day of a KPI partial has its CRC-32 (formats/kpiPartials.ts): flipped bytes in its columns
  // were read as rows, and the day written wrong with exit 0.
  it('a KPI partial with flipped bytes: detected and parsed again from the archive; the clean KPI files', () => {
    const fault = kpiFault((state) => flipBytes(partialOf(state, 'streams-20240201-01.csv')));
    expectKept(fault);
    expect(fault.r.stderr).toMatch(
      /streams-20240201-01\.csv-[0-9a-f]+\.kpf: (day \d+: )?(header )?checksum mismatch; parsing streams-20240201-01\.csv again/,
    );
    expect(kpiBytes(fault.out)).toEqual(kpiBytes(fault.ref));
  });

  // A file parsed again from the archive is not one of the landing folder's: it was counted as
  // parsed against them ("2 streams file(s) parsed (-1 reused)", "filesReused": -1).
  it('a KPI partial truncated, parsed again from the archive: the summary counts no negative reuse', () => {
    const fault = kpiFault(
      (state) => truncateToHalf(partialOf(state, 'streams-20240201-01.csv')),
      ['--json'],
    );
    expectKept(fault);
    const summary = JSON.parse(fault.r.stdout) as { filesParsed: number; filesReused: number };
    // The late file and the archived one parsed again; the landing folder holds only the late one.
    expect(summary.filesParsed).toBe(2);
    expect(summary.filesReused).toBe(0);
  });
});
