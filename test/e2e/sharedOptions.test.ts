import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { Children, cli, parseEvents, requireBuiltCli, spawnCli } from '../support/cliRuns.js';
import { parseError } from '../support/cliTree.js';
import { HAVE } from '../support/sharedOptions.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The options several commands share, through the built CLI: that each does the same on each
 * command that has it (HAVE): --json prints the summary and nothing else on stdout, -q leaves the
 * warnings and errors, --log-level shows more or less, --memory, --threads and --max-reject-rate
 * are checked and reported alike. Their definitions: test/unit/sharedOptions.test.ts. Needs
 * `npm run build` first.
 */

const temp = new TempDirs();
/** Logs of 2024-02-01 and 2024-02-03: the day between has none, a gap in the data, which is a warning. */
let logs = '';
/** A landing folder of KPI drops. */
let landing = '';

beforeAll(() => {
  requireBuiltCli();
  logs = temp.make('playtally-options-logs-');
  generateLogs({ dir: logs, start: day('2024-02-01'), days: 3, rows: 2_000, users: 300, songs: 2_000 });
  rmSync(join(logs, 'listen-20240202.log'));
  landing = temp.make('playtally-options-landing-');
  generateKpiDataset({
    dir: landing,
    start: day('2024-02-01'),
    days: 1,
    streamsPerDay: 2_000,
    filesPerDay: 2,
    songs: 300,
    users: 400,
  });
});
const children = new Children();
afterEach(() => children.stopAll());
afterAll(() => temp.cleanup());

/** A fresh output folder. */
const out = (): string => temp.make('playtally-options-out-');

/** The command line of each command that does some work, for the options that change its output. */
function args(name: string): string[] {
  switch (name) {
    case 'top50':
    case 'run':
      return [name, '--logs', logs, '--out', out()];
    case 'backfill':
      return ['backfill', '--logs', logs, '--out', out(), '--from', '2024-02-02', '--to', '2024-02-03'];
    case 'kpis':
      return ['kpis', '--landing', landing, '--out', out(), '--no-archive'];
    case 'generate':
      return ['generate', '--out', join(out(), 'logs'), '--days', '1', '--rows', '500'];
    case 'generate kpi-dataset':
      return [
        'generate',
        'kpi-dataset',
        '--out',
        join(out(), 'landing'),
        '--streams',
        '500',
        '--songs',
        '200',
      ];
    case 'load': {
      const charts = out();
      expect(cli(['top50', '--logs', logs, '--out', charts, '-q']).status).toBe(0);
      return ['load', '--db', join(out(), 'store.db'), '--charts', charts];
    }
    case 'status': {
      const charts = out();
      expect(cli(['top50', '--logs', logs, '--out', charts, '-q']).status).toBe(0);
      return ['status', '--out', charts];
    }
    default:
      throw new Error(`no command line for ${name}`);
  }
}

/** Lines of a text, without the figures that change from run to run (times, sizes of memory). */
function lines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) =>
      l
        .replace(/playtally-options-out-\w+/g, 'OUT')
        .replace(/\d+\.\d s\b/g, 'N s')
        .replace(/[\d.]+M rows\/s/g, 'N rows/s')
        .replace(/peak \d+ MB/, 'peak N MB'),
    );
}

describe('--json: the summary on stdout, as JSON, and nothing else there', () => {
  const fields: Record<string, Record<string, unknown>> = {
    top50: {
      date: '2024-02-03',
      window: expect.anything(),
      totals: expect.anything(),
      outputs: expect.anything(),
    },
    run: {
      command: 'run',
      ok: true,
      charts: ['2024-02-01', '2024-02-02', '2024-02-03'],
      totals: expect.anything(),
    },
    backfill: {
      command: 'backfill',
      ok: true,
      charts: ['2024-02-02', '2024-02-03'],
      days: expect.anything(),
    },
    kpis: { days: expect.anything(), filesParsed: 2, warnings: expect.anything() },
    generate: { days: 1, rowsPerDay: 500 },
    'generate kpi-dataset': {
      songs: expect.anything(),
      users: expect.anything(),
      streams: expect.anything(),
    },
    status: { stateDir: expect.anything(), days: expect.anything(), charts: expect.anything(), runs: [] },
  };
  it.each(Object.keys(fields))('%s --json', (name) => {
    const r = cli([...args(name), '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject(fields[name]!);
  });

  it('run and backfill: the log goes to stderr, as it would to stdout', () => {
    const plain = cli(args('run'));
    const json = cli([...args('run'), '--json']);
    const events = (text: string): unknown[] => parseEvents(text).map((e) => e.event);
    expect(events(json.stderr)).toEqual(events(plain.stdout));
    expect(events(json.stderr)).toContain('run_done');
  });

  it('watch: a line per cycle, each its record', async () => {
    const landing = temp.make('playtally-options-watch-');
    generateLogs({ dir: landing, start: day('2024-02-01'), days: 3, rows: 500 });
    // A gap (2024-02-02): the warning that -q still shows.
    rmSync(join(landing, 'listen-20240202.log'));
    const child = spawnCli(
      [
        'watch',
        '--logs',
        landing,
        '--out',
        out(),
        '--poll-interval',
        '100ms',
        '--settle',
        '0s',
        '--json',
        '-q',
      ],
      { children },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await vi.waitFor(() => expect(stdout).toContain('\n'), { timeout: 20_000 });
    // The landing folder changes: a second cycle, a second line.
    generateLogs({ dir: landing, start: day('2024-02-04'), days: 1, rows: 500 });
    await vi.waitFor(() => expect(stdout.split('\n').length).toBeGreaterThan(2), { timeout: 20_000 });
    child.kill('SIGTERM');
    expect(await closed).toBe(0);
    const records = stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { command: string; ok: boolean; charts: string[] });
    expect(records.map((r) => [r.command, r.ok, r.charts])).toEqual([
      ['watch', true, ['2024-02-01', '2024-02-02', '2024-02-03']],
      ['watch', true, ['2024-02-04']],
    ]);
    // -q: the log on stderr holds warnings only (the gap of the first windows).
    expect(parseEvents(stderr).length).toBeGreaterThan(0);
    for (const event of parseEvents(stderr))
      expect(event.level, JSON.stringify(event)).toBeGreaterThanOrEqual(40);
  });
});

describe('-q: only warnings and errors', () => {
  it.each(['top50', 'kpis', 'load', 'generate', 'generate kpi-dataset'])('%s -q', (name) => {
    const r = cli([...args(name), '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    for (const line of lines(r.stderr)) expect(line).toMatch(/^playtally: warning: /);
  });

  it.each(['run', 'backfill'])('%s -q: the log holds warnings and errors only', (name) => {
    const r = cli([...args(name), '-q']);
    expect(r.status, r.stderr).toBe(0);
    const events = parseEvents(r.stdout);
    expect(events.length, 'the gap in the windows is a warning').toBeGreaterThan(0);
    for (const event of events) expect(event.level, JSON.stringify(event)).toBeGreaterThanOrEqual(40);
    expect(lines(r.stdout)).toHaveLength(events.length);
  });

  it('top50 -q still prints the warnings (the gap in the window)', () => {
    const r = cli([...args('top50'), '-q']);
    expect(r.stderr).toMatch(
      /^playtally: warning: no log for 2024-02-02: that day is left out of the charts$/m,
    );
  });

  it('is --log-level warn', () => {
    const quiet = cli([...args('top50'), '-q']);
    const warn = cli([...args('top50'), '--log-level', 'warn']);
    expect(lines(warn.stderr)).toEqual(lines(quiet.stderr));
    const events = (words: string[]): unknown[] => parseEvents(cli(words).stdout).map((e) => e.event);
    expect(events([...args('run'), '--log-level', 'warn'])).toEqual(events([...args('run'), '-q']));
  });

  it('given with --log-level, is a usage error on every command (exit 2)', () => {
    const conflict = "option '-q, --quiet' cannot be used with option '--log-level <level>'";
    for (const name of HAVE['--quiet']!) {
      for (const words of [
        ['-q', '--log-level', 'debug'],
        ['--log-level', 'warn', '--quiet'],
      ]) {
        expect(parseError([...name.split(' '), ...words]), name).toContain(conflict);
      }
      expect(parseError([...name.split(' '), '-q']), name).toBeUndefined();
    }
    const r = cli(['top50', '-q', '--log-level', 'debug']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(conflict);
  });
});

describe('--log-level', () => {
  it('top50: debug shows more than the default, which shows more than warn, which shows more than error', () => {
    const at = (level: string): string[] => lines(cli([...args('top50'), '--log-level', level]).stderr);
    const [debug, info, warn, error] = [at('debug'), at('info'), at('warn'), at('error')];
    expect(lines(cli(args('top50')).stderr), 'info is the default').toEqual(info);
    expect(debug.length).toBeGreaterThan(info.length);
    expect(info.length).toBeGreaterThan(warn.length);
    expect(warn.length).toBeGreaterThan(0);
    expect(error).toEqual([]);
    // Each level adds lines to the next: nothing shown at one level is hidden at a lower one.
    for (const [more, less] of [
      [debug, info],
      [info, warn],
    ] as const) {
      for (const line of less) expect(more).toContain(line);
    }
    expect(debug.filter((l) => !info.includes(l)).join('\n')).toMatch(/merged in N s/);
  });

  it('run: debug adds lines of level debug (20) to those of the default', () => {
    const events = (words: string[]): Record<string, unknown>[] => parseEvents(cli(words).stdout);
    const info = events(args('run'));
    const debug = events([...args('run'), '--log-level', 'debug']);
    expect(info.every((e) => (e.level as number) >= 30)).toBe(true);
    expect(debug.filter((e) => e.level === 20).map((e) => e.event)).toContain('merge_done');
    expect(debug.filter((e) => (e.level as number) >= 30).map((e) => e.event)).toEqual(
      info.map((e) => e.event),
    );
  });

  it.each(['kpis', 'load', 'generate'])('%s --log-level error leaves nothing on stderr', (name) => {
    const r = cli([...args(name), '--log-level', 'error']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('--memory, --threads and --max-reject-rate check their value alike on every command', () => {
  it.each(HAVE['--memory']!)('%s --memory 100MB: below the floor of 256MB, exit 2', (name) => {
    // Every required option given, so that the budget is what fails.
    const base =
      name === 'serve'
        ? ['serve', '--watch', '--logs', logs, '--out', out(), '--db', join(out(), 'x.db'), '--port', '0']
        : name === 'backfill'
          ? ['backfill', '--logs', logs, '--out', out(), '--from', '2024-02-01', '--to', '2024-02-01']
          : name === 'kpis'
            ? ['kpis', '--landing', landing, '--out', out(), '--no-archive']
            : [name, '--logs', logs, '--out', out()];
    const r = cli([...base, '--memory', '100MB'], { timeoutMs: 20_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--memory must be at least 256MB/);
  });

  it('--threads and --memory are what the summary reports', () => {
    const r = cli([...args('top50'), '--threads', '1', '--memory', '512MB', '--json', '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ threads: 1, memoryBytes: 512 * 1024 * 1024 });
  });

  it.each(['top50', 'kpis'])(
    '%s --memory 256MB holds one worker thread, whatever --threads asks for: said, and in the summary',
    (name) => {
      const r = cli([...args(name), '--threads', '2', '--memory', '256MB', '--json']);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ threads: 1, memoryBytes: 256 * 1024 * 1024 });
      expect(r.stderr).toContain('--memory 256MB holds 1 worker thread: running 1 of the 2 asked for');
      const wider = cli([...args(name), '--threads', '2', '--memory', '320MB', '--json']);
      expect(wider.status, wider.stderr).toBe(0);
      expect(JSON.parse(wider.stdout)).toMatchObject({ threads: 2, memoryBytes: 320 * 1024 * 1024 });
      expect(wider.stderr).not.toContain('holds');
    },
  );

  it('an unattended run logs the cut as an event of its own, for its charts and for its KPI step', () => {
    const run = cli([
      ...args('run'),
      '--kpis-landing',
      landing,
      '--no-kpis-archive',
      '--threads',
      '2',
      '--memory',
      '256MB',
      '--log-format',
      'json',
    ]);
    expect(run.status, run.stderr).toBe(0);
    const events = parseEvents(run.stdout);
    for (const event of ['threads_cut', 'kpis_threads_cut']) {
      expect(events).toContainEqual(
        expect.objectContaining({ event, threads: 1, asked: 2, memoryBytes: 256 * 1024 * 1024 }),
      );
    }
  });

  it('kpis writes the same files on the one thread 256MB holds as on the default budget', () => {
    const [small, large] = [out(), out()];
    const kpis = ['kpis', '--landing', landing, '--no-archive', '-q'];
    expect(cli([...kpis, '--out', small, '--memory', '256MB', '--threads', '2']).status).toBe(0);
    expect(cli([...kpis, '--out', large, '--memory', '1GB', '--threads', '2']).status).toBe(0);
    const files = readdirSync(small).filter((f) => f.endsWith('.csv'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files)
      expect(readFileSync(join(large, f), 'utf8')).toBe(readFileSync(join(small, f), 'utf8'));
  });
});
