import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ArgsSpec,
  helpText,
  kpiLandingMarker,
  listenLogKinds,
  listenLogMarker,
  matchesMarker,
  parseArgs,
  sameFile,
  UsageError,
} from '../../bench/benchSupport.js';
import { DEFAULT_CASES, diskNeed, parseCase, parseCases, totalNeed } from '../../bench/scalingCases.js';

/**
 * The bench scripts' shared option handling (bench/benchSupport.ts): --help and a mistyped option
 * must stop a script before it starts an hours-long run. And scaling.ts's cases: their names, the
 * markers that let a generated folder be reused, the disk they need. No benchmark is run here.
 */

const SPEC: ArgsSpec = {
  usage: 'node dist/bench/example.js [options]',
  about: 'An example bench.',
  options: {
    rows: { value: 'N', help: 'rows a day (default 20)' },
    record: { help: 'write the table into docs/BENCHMARKS.md' },
    'no-gzip': { help: 'skip the gzip run' },
    child: { value: 'FILE', help: 'internal', hidden: true },
  },
};

describe('parseArgs', () => {
  it('reads values, flags and --name=value', () => {
    const parsed = parseArgs(SPEC, ['--rows', '5', '--record', '--no-gzip']);
    expect(parsed).toEqual(
      new Map([
        ['rows', '5'],
        ['record', 'true'],
        ['no-gzip', 'true'],
      ]),
    );
    expect(parseArgs(SPEC, ['--rows=7'])).toEqual(new Map([['rows', '7']]));
    expect(parseArgs(SPEC, [])).toEqual(new Map());
  });

  it('does not let a flag take the next word as its value', () => {
    expect(() => parseArgs(SPEC, ['--record', 'yes'])).toThrow(/unexpected argument 'yes'/);
    expect(() => parseArgs(SPEC, ['--record=yes'])).toThrow(/--record is a flag/);
  });

  it('refuses a command line without a required option, unless it asks for help', () => {
    const spec: ArgsSpec = {
      ...SPEC,
      options: { ...SPEC.options, log: { value: 'FILE', help: 'x', required: true } },
    };
    expect(() => parseArgs(spec, ['--rows', '5'])).toThrow(new UsageError('--log FILE is required'));
    expect(parseArgs(spec, ['--log', 'a.log'])).toEqual(new Map([['log', 'a.log']]));
    expect(parseArgs(spec, ['--help'])).toBe('help');
  });

  it('asks for the value of a value option', () => {
    expect(() => parseArgs(SPEC, ['--rows'])).toThrow(/--rows needs a value \(N\)/);
    expect(() => parseArgs(SPEC, ['--rows', '--record'])).toThrow(UsageError);
  });

  it('refuses an unknown option, naming the valid ones but not the hidden', () => {
    const error = (() => {
      try {
        parseArgs(SPEC, ['--rows', '5', '--row', '6']);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error?.message).toBe('unknown option --row; valid options: --rows, --record, --no-gzip');
  });

  it('accepts a hidden option', () => {
    expect(parseArgs(SPEC, ['--child', 'a.log'])).toEqual(new Map([['child', 'a.log']]));
  });

  it('returns help for --help or -h, whatever else is there', () => {
    expect(parseArgs(SPEC, ['--help'])).toBe('help');
    expect(parseArgs(SPEC, ['--rows', '5', '-h'])).toBe('help');
    expect(parseArgs(SPEC, ['--bogus', '--help'])).toBe('help');
  });
});

describe('helpText', () => {
  it('lists the usage, what it does and each visible option with its value, aligned', () => {
    expect(helpText(SPEC)).toBe(
      [
        'Usage: node dist/bench/example.js [options]',
        '',
        'An example bench.',
        '',
        'Options:',
        '  --rows N   rows a day (default 20)',
        '  --record   write the table into docs/BENCHMARKS.md',
        '  --no-gzip  skip the gzip run',
        '  --help     print this help and exit',
        '',
      ].join('\n'),
    );
  });
});

describe('scaling cases', () => {
  it('are issue 19 by default', () => {
    expect(parseCases(undefined)).toEqual([
      { kind: 'charts', name: 'charts-7x5M', days: 7, rows: 5_000_000 },
      { kind: 'charts', name: 'charts-7x20M', days: 7, rows: 20_000_000 },
      { kind: 'charts', name: 'charts-7x50M', days: 7, rows: 50_000_000 },
      { kind: 'charts', name: 'charts-30x5M', days: 30, rows: 5_000_000 },
      { kind: 'charts', name: 'charts-7x20M-10Musers', days: 7, rows: 20_000_000, users: 10_000_000 },
      { kind: 'charts', name: 'charts-7x20M-2kusers', days: 7, rows: 20_000_000, users: 2_000 },
      { kind: 'kpis', name: 'kpis-1M', days: 1, streams: 1_000_000 },
      { kind: 'kpis', name: 'kpis-10M', days: 1, streams: 10_000_000 },
      { kind: 'kpis', name: 'kpis-30M', days: 1, streams: 30_000_000 },
    ]);
    expect(parseCases('')).toHaveLength(DEFAULT_CASES.length);
  });

  it('take a subset, or sizes of your own', () => {
    expect(parseCases('kpis-10M,charts-7x20M').map((c) => c.name)).toEqual(['kpis-10M', 'charts-7x20M']);
    expect(parseCase('charts-2x20000')).toEqual({
      kind: 'charts',
      name: 'charts-2x20000',
      days: 2,
      rows: 20_000,
    });
    expect(parseCase('charts-2x20k-3kusers')).toMatchObject({ days: 2, rows: 20_000, users: 3_000 });
    expect(parseCase('kpis-20k')).toEqual({ kind: 'kpis', name: 'kpis-20k', days: 1, streams: 20_000 });
    expect(parseCase('kpis-3x1.5M')).toMatchObject({ days: 3, streams: 1_500_000 });
  });

  it('refuse a name that is none, saying which are', () => {
    expect(() => parseCase('charts-7x5X')).toThrow(/unknown case 'charts-7x5X': the cases are charts-7x5M,/);
    expect(() => parseCase('kpis-0')).toThrow(/sizes must be at least 1/);
    expect(() => parseCases('kpis-1M,,nope')).toThrow(UsageError);
  });

  it("a charts case's work: its partials, a day's spill and its user chart twice (old and temporary)", () => {
    // 1 x 20M rows, 2M users: 0.2 GB of partials, 0.4 GB of spill, a chart of 20M entries (one a
    // row: fewer than 50 a user) of 11 bytes and 2M users of 10, twice.
    expect(diskNeed(parseCase('charts-1x20M')).work).toBe(0.2e9 + 0.4e9 + 2 * (20e6 * 11 + 2e6 * 10));
    // 7 x 50M rows, 5M users: 50 entries a user (250M of the window's 350M rows).
    expect(diskNeed(parseCase('charts-7x50M')).work).toBe(3.5e9 + 1e9 + 2 * (250e6 * 11 + 5e6 * 10));
    // Users named: 10M users, 140M rows, at most one entry a row.
    expect(diskNeed(parseCase('charts-7x20M-10Musers')).work).toBe(
      1.4e9 + 0.4e9 + 2 * (140e6 * 11 + 10e6 * 10),
    );
  });

  it('need about 0.5 GB of log for a 20M-row day, and the largest state once', () => {
    const day = diskNeed(parseCase('charts-1x20M'));
    expect(day.input).toBe(0.5e9);
    const cases = parseCases('charts-7x5M,kpis-1M');
    const [charts, kpis] = cases.map(diskNeed);
    expect(totalNeed(cases, () => false)).toBe(
      charts!.input + kpis!.input + Math.max(charts!.work, kpis!.work),
    );
    expect(totalNeed(cases, (c) => c.kind === 'charts')).toBe(
      kpis!.input + Math.max(charts!.work, kpis!.work),
    );
  });
});

describe('data set markers', () => {
  it('keep the text main.ts always wrote when the users are the default', () => {
    expect(listenLogMarker({ days: 7, rows: 20 })).toBe(
      JSON.stringify({ days: 7, rows: 20, kinds: listenLogKinds(), seed: 1 }),
    );
    expect(listenLogKinds()).not.toContain('double_cr');
    expect(listenLogMarker({ days: 7, rows: 20, users: 5 })).not.toBe(listenLogMarker({ days: 7, rows: 20 }));
    expect(kpiLandingMarker({ days: 1, streams: 10 })).toBe('{"days":1,"streams":10,"seed":1}');
  });

  it('match a folder only when its .params.json is the same text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'playtally-bench-marker-'));
    try {
      const marker = listenLogMarker({ days: 2, rows: 20_000 });
      expect(matchesMarker(dir, marker)).toBe(false);
      writeFileSync(join(dir, '.params.json'), listenLogMarker({ days: 2, rows: 30_000 }));
      expect(matchesMarker(dir, marker)).toBe(false);
      writeFileSync(join(dir, '.params.json'), marker);
      expect(matchesMarker(dir, marker)).toBe(true);
      expect(matchesMarker(join(dir, 'missing'), marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sameFile', () => {
  it('compares files larger than its chunk byte for byte, sizes first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'samefile-'));
    try {
      const bytes = Buffer.alloc(9 << 20, 7);
      const at = (name: string, data: Uint8Array): string => {
        writeFileSync(join(dir, name), data);
        return join(dir, name);
      };
      const a = at('a', bytes);
      const b = at('b', bytes);
      const late = Buffer.from(bytes);
      late[late.length - 1] = 8;
      expect(sameFile(a, b)).toBe(true);
      expect(sameFile(a, at('late', late))).toBe(false);
      expect(sameFile(a, at('short', bytes.subarray(1)))).toBe(false);
      expect(sameFile(at('e1', new Uint8Array(0)), at('e2', new Uint8Array(0)))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
