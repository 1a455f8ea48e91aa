import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { parseDay } from '../../src/ops/dates.js';
import { cli, ROOT, requireBuiltCli, spawnCli } from '../support/cliRuns.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * The compiled CLI, run as a user runs it, on what every command shares: the help and the version,
 * usage errors (exit 2, before any work), the usage messages, the error boundary, and a stdout pipe whose reader has
 * gone (`playtally ... | head -1`: the end of the output, not a failed run). Needs `npm run build`
 * first.
 */
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const temp = new TempDirs();
let tmp: string;
/** A week of generated logs, 2024-01-01 .. 2024-01-07. */
let logs: string;

beforeAll(() => {
  requireBuiltCli();
  tmp = temp.make('playtally-cli-');
  logs = join(tmp, 'logs');
  generateLogs({ dir: logs, start: parseDay('2024-01-01')!, days: 7, rows: 20_000, seed: 3 });
});
afterAll(() => temp.cleanup());

let outCounter = 0;
/** A fresh output folder path (not created). */
function freshOut(): string {
  return join(tmp, `out-${++outCounter}`);
}

describe('help and version', () => {
  it('--help on the root lists every command and exits 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: playtally/);
      for (const command of ['top50', 'generate', 'demo'])
        expect(r.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
      expect(r.stdout).toMatch(/Exit codes: 0 ok/);
      expect(r.stdout).toContain('docs/CLI.md#exit-codes');
    }
  });

  it.each([
    [
      'top50',
      [
        '--logs',
        '--out',
        '--state',
        '--date',
        '--window',
        '--top',
        '--memory',
        '--threads',
        '--strict',
        '--json',
        '--quiet',
      ],
    ],
    [
      'generate',
      [
        '--out',
        '--start',
        '--days',
        '--rows',
        '--users',
        '--songs',
        '--corrupt-rate',
        '--crlf-rate',
        '--seed',
        '--json',
      ],
    ],
    ['demo', ['--dir', '--rows']],
  ])('%s --help documents its options and exits 0', (command, options) => {
    for (const args of [
      [command, '--help'],
      ['help', command],
    ]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: playtally ${command} \\[options\\]`));
      for (const option of options) expect(r.stdout, option).toContain(option);
      expect(r.stderr).toBe('');
    }
  });

  it('--version prints the package.json version', () => {
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(VERSION);
    }
  });

  it('no command at all prints the help on stderr and exits 2', () => {
    const r = cli([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Usage: playtally/);
    expect(r.stdout).toBe('');
  });
});

describe('usage errors exit 2', () => {
  // Functions, because `logs` is only known once beforeAll has run.
  const cases: [string, () => string[], RegExp][] = [
    ['unknown command', () => ['bogus'], /unknown command 'bogus'/],
    [
      'unknown option',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--bogus'],
      /unknown option '--bogus'/,
    ],
    [
      'unknown option of generate',
      () => ['generate', '--out', freshOut(), '--bogus'],
      /unknown option '--bogus'/,
    ],
    ['unknown option of demo', () => ['demo', '--bogus'], /unknown option '--bogus'/],
    ['missing --logs', () => ['top50', '--out', freshOut()], /required option '--logs <dir>' not specified/],
    ['missing --out', () => ['top50', '--logs', logs], /required option '--out <dir>' not specified/],
    ['missing generate --out', () => ['generate'], /required option '--out <dir>' not specified/],
    [
      'impossible --date',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--date', '2024-02-30'],
      /2024-02-30.*not a date/,
    ],
    [
      'impossible compact --date',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--date', '20230229'],
      /20230229.*not a date/,
    ],
    [
      'word --date',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--date', 'yesterday'],
      /yesterday.*not a date/,
    ],
    [
      'half-dashed --date',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--date', '2024-0105'],
      /2024-0105.*not a date/,
    ],
    [
      'word --memory',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--memory', 'lots'],
      /lots.*not a size/,
    ],
    [
      '--memory below 256MB',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--memory', '100MB'],
      /--memory must be at least 256MB/,
    ],
    [
      'zero --threads',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--threads', '0'],
      /--threads.*"0" is not a positive integer/,
    ],
    [
      'word --threads',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--threads', 'x'],
      /--threads.*"x" is not a positive integer/,
    ],
    [
      'zero --top',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--top', '0'],
      /--top.*"0" is not a positive integer/,
    ],
    [
      'negative --top',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--top=-5'],
      /--top.*"-5" is not a positive integer/,
    ],
    [
      'fractional --top',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--top', '2.5'],
      /--top.*"2.5" is not a positive integer/,
    ],
    [
      'word --top',
      () => ['top50', '--logs', logs, '--out', freshOut(), '--top', 'many'],
      /--top.*"many" is not a positive integer/,
    ],
    ['extra argument', () => ['top50', '--logs', logs, '--out', freshOut(), 'extra'], /too many arguments/],
    [
      'bad generate --rows',
      () => ['generate', '--out', freshOut(), '--rows', '-1'],
      /--rows.*not a non-negative integer/,
    ],
    [
      'bad generate --corrupt-rate',
      () => ['generate', '--out', freshOut(), '--corrupt-rate', '2'],
      /--corrupt-rate.*not a rate/,
    ],
    [
      'bad generate --start',
      () => ['generate', '--out', freshOut(), '--start', '2024-13-01'],
      /2024-13-01.*not a date/,
    ],
    ['bad demo --rows', () => ['demo', '--dir', freshOut(), '--rows', '0'], /--rows.*not a positive integer/],
    // A subcommand's own parse errors: `kpis query --bogus` exited 1, without the hint.
    ['unknown option of kpis query', () => ['kpis', 'query', '--bogus'], /unknown option '--bogus'/],
    [
      'invalid choice',
      () => ['kpis', '--landing', logs, '--out', freshOut(), '--granularity', 'week'],
      /argument 'week' is invalid\. Allowed choices are day, hour/,
    ],
    // playtally's own usage errors (PlaytallyError 'usage'), after commander's.
    ['load without a folder', () => ['load'], /give --charts <dir>, --kpis <dir> or both/],
  ];

  it.each(cases)('%s', (_name, args, message) => {
    const argv = args();
    const r = cli(argv);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    // One prefix for every error line, commander's own included; the hint after it.
    expect(r.stderr).toMatch(/^playtally: error: /);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.stderr.trimEnd().endsWith('(run with --help for usage)'), r.stderr).toBe(true);
    // Nothing was written: a usage error is caught before any work.
    const outIndex = argv.findIndex((a) => a === '--out' || a === '--dir');
    if (outIndex >= 0) expect(existsSync(argv[outIndex + 1]!)).toBe(false);
  });
});

describe('usage messages', () => {
  it('a misspelt required option is named as unknown, not reported as the required one missing', () => {
    // `top50 --lgos x --out y` says only "required option '--logs <dir>' not specified": commander
    // checks mandatory options before unknown ones, so the typo itself is never mentioned.
    const r = cli(['top50', '--lgos', join(tmp, 'usage-logs'), '--out', join(tmp, 'usage-out')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--lgos'");
  });

  it('generate --help shows the --start default as a date, not as an internal day number', () => {
    // Once showed "(default: 19723)": the default is the parsed day number of 2024-01-01.
    const r = cli(['generate', '--help']);
    expect(r.status).toBe(0);
    // The option's help may wrap onto the next line: read it up to the next option.
    const text = r.stdout.replace(/\s+/g, ' ');
    const start = text.slice(text.indexOf('--start'), text.indexOf('--days'));
    expect(start).toMatch(/default: (2024-01-01|20240101)\)/);
    expect(start).not.toContain('19723');
  });
});

/**
 * Run the CLI with its stdout pipe closed on our side before it writes anything: a write raises
 * EPIPE, which must end the output without a stack trace, with the run's own exit status (it once
 * crashed with exit 1 even after writing its charts).
 */
function runWithClosedStdout(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args);
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('the error boundary (issue 17)', () => {
  it('an expected fault is one sentence and its exit code; its stack only at --log-level debug', () => {
    const args = ['top50', '--logs', join(tmp, 'no-such-logs'), '--out', freshOut()];
    const plain = cli(args);
    expect(plain.status).toBe(3);
    expect(plain.stderr).toMatch(/^playtally: error: .*no-such-logs/m);
    // Not a usage error: no usage hint.
    expect(plain.stderr).not.toContain('--help');
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = cli([...args, '--log-level', 'debug']);
    expect(debug.status).toBe(3);
    expect(debug.stderr).toMatch(/^playtally: error: .*no-such-logs/m);
    expect(debug.stderr).toMatch(/^debug: PlaytallyError: .*\n\s+at /m);
  });
});

describe('closed stdout (EPIPE)', () => {
  it('--help into a closed pipe exits 0 without a stack trace', async () => {
    const r = await runWithClosedStdout(['--help']);
    expect(r.stderr).not.toContain("Unhandled 'error' event");
    expect(r.status).toBe(0);
  });

  it('top50 --json into a closed pipe still exits 0 after writing its charts', async () => {
    const logs = join(tmp, 'epipe-logs');
    const out = join(tmp, 'epipe-out');
    generateLogs({ dir: logs, start: parseDay('2024-01-01')!, days: 1, rows: 1_000 });
    const r = await runWithClosedStdout(['top50', '--logs', logs, '--out', out, '--json', '--quiet']);
    expect(existsSync(join(out, 'country_top50_20240101.txt'))).toBe(true);
    expect(r.stderr).not.toContain("Unhandled 'error' event");
    expect(r.status).toBe(0);
  });
});
