import { execFileSync } from 'node:child_process';
import { rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { CLI, cli, requireBuiltCli } from '../support/cliRuns.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * What a person reads on a terminal (issue 18): each command run under a pseudo-terminal
 * (`script`), its output as the screen shows it (a live line redrawn in place leaves only its
 * last state, and is cleared before the next line). A week's run fits on one screen: a line per
 * log, per chart date, per file moved, warnings, one summary; the fields only at debug; JSON lines
 * off a terminal, and --log-format forces either.
 */
const temp = new TempDirs();
let week = '';
beforeAll(() => {
  requireBuiltCli();
  week = temp.make('playtally-tty-logs-');
  generateLogs({
    dir: week,
    start: day('2024-01-01'),
    days: 7,
    rows: 20_000,
    users: 2_000,
    songs: 500,
    seed: 3,
  });
});
afterAll(() => temp.cleanup());

const haveScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!haveScript) {
  if (process.env.CI === 'true')
    throw new Error('e2e/terminalOutput: `script` (util-linux) is needed under CI');
  console.warn('e2e/terminalOutput: skipped: no `script` command to make a pseudo-terminal');
}

/** What the live line writes to redraw itself: back to the line's start, erase it. */
const CLEAR_LINE = '\r\x1b[K';

/** The CLI under a pseudo-terminal, 100 columns wide: the lines as the screen shows them. */
function onTerminal(args: string[], under: string[] = []): { status: number; lines: string[]; raw: string } {
  const quoted = [...under, process.execPath, CLI, ...args]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(' ');
  let output = '';
  let status = 0;
  try {
    output = execFileSync('script', ['-qec', `stty cols 100; ${quoted}`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
    });
  } catch (error) {
    const e = error as { status: number; stdout: string };
    status = e.status;
    output = e.stdout;
  }
  const lines = output
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    // What stays on screen of a line redrawn in place: the text after its last clear.
    .map((line) => {
      const clear = line.lastIndexOf(CLEAR_LINE);
      return clear < 0 ? line : line.slice(clear + CLEAR_LINE.length);
    })
    .filter((line) => line.trim() !== '');
  return { status, lines, raw: output };
}

/** Every state a live line was drawn in (each redraw starts with CLEAR_LINE). */
function liveLines(raw: string): string[] {
  return raw
    .split(CLEAR_LINE)
    .slice(1)
    .map((piece) => piece.split(/[\r\n]/)[0]!)
    .filter((text) => text !== '');
}

describe.runIf(haveScript)('on a terminal', () => {
  it('run: a week fits on one screen, a line per log and per chart date, then one summary', () => {
    const { status, lines, raw } = onTerminal([
      'run',
      '--logs',
      week,
      '--out',
      temp.make('playtally-tty-out-'),
    ]);
    // The live line, redrawn in place and gone from the screen at the end: the merge's parts.
    expect(liveLines(raw)).toContainEqual(
      expect.stringMatching(/^ {2}merging 1 day: \d+\/\d+ parts, [\d.]+ s$/),
    );
    expect(status, lines.join('\n')).toBe(0);
    expect(lines.length, lines.join('\n')).toBeLessThanOrEqual(25);
    expect(lines.filter((l) => /^ {2}parsed 2024-01-0\d: [\d,]+ rows in [\d.]+ s$/.test(l))).toHaveLength(7);
    expect(
      lines.filter((l) => /^ {2}charts 2024-01-0\d: [\d,]+ countries, 2,000 users in [\d.]+ s$/.test(l)),
    ).toHaveLength(7);
    // The window of the first dates starts before the data: said once, as information.
    expect(lines).toContain(
      '  the window of 2024-01-01 starts 6 days before the first log (2024-01-01): the data starts there',
    );
    expect(lines.some((l) => l.startsWith('playtally: warning:'))).toBe(false);
    expect(lines.at(-1)).toMatch(
      /^playtally: done: 7 logs parsed \(140,000 rows, [\d.]+% rejected\), 7 chart dates written, 0 quarantined, 0 archived, 0 pruned$/,
    );
    expect(lines.join('\n')).not.toMatch(/[{}]|"event"/);
  });

  it('run again with nothing to do: two lines', () => {
    const out = temp.make('playtally-tty-out-');
    cli(['run', '--logs', week, '--out', out, '-q']);
    const { status, lines } = onTerminal(['run', '--logs', week, '--out', out]);
    expect(status).toBe(0);
    expect(lines).toEqual([
      '  every chart date is current (7)',
      'playtally: done: 0 logs parsed (0 rows, 0.00% rejected), 0 chart dates written, 0 quarantined, 0 archived, 0 pruned',
    ]);
  });

  it('a gap between logs is a warning, once, and the summary names the day', () => {
    const logs = temp.make('playtally-tty-gap-');
    generateLogs({
      dir: logs,
      start: day('2024-01-01'),
      days: 5,
      rows: 5_000,
      users: 500,
      songs: 200,
      seed: 4,
    });
    rmSync(join(logs, 'listen-20240103.log'));
    const { lines } = onTerminal(['run', '--logs', logs, '--out', temp.make('playtally-tty-out-')]);
    expect(lines.filter((l) => l.startsWith('playtally: warning:'))).toEqual([
      'playtally: warning: no log for 2024-01-03: that day is left out of the charts',
    ]);
    expect(lines.at(-1)).toMatch(/; no log for 2024-01-03$/);
  });

  it('a log still within --settle is said to be waiting, not "no logs yet"', () => {
    const logs = temp.make('playtally-tty-settle-');
    generateLogs({
      dir: logs,
      start: day('2024-01-01'),
      days: 2,
      rows: 2_000,
      users: 300,
      songs: 100,
      seed: 5,
    });
    const out = temp.make('playtally-tty-out-');
    const none = onTerminal(['run', '--logs', logs, '--out', out, '--settle', '1h']);
    expect(none.lines[0]).toBe(
      '  no log ready yet: listen-20240101.log, listen-20240102.log are waiting out --settle',
    );
    // One settled (written two hours ago), one not.
    const past = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(logs, 'listen-20240101.log'), past, past);
    const one = onTerminal(['run', '--logs', logs, '--out', out, '--settle', '1h']);
    expect(one.lines[0]).toBe('  1 log waiting out --settle (taken in by a later run): listen-20240102.log');
    expect(one.lines.at(-1)).toMatch(/^playtally: done: 1 log parsed /);
  });

  it('a failed run: one error line (the failed log line is not said twice on a terminal)', () => {
    const missing = join(temp.make('playtally-tty-fail-'), 'no-logs');
    const { status, lines } = onTerminal([
      'run',
      '--logs',
      missing,
      '--out',
      temp.make('playtally-tty-out-'),
    ]);
    expect(status).toBe(3);
    expect(lines).toEqual([`playtally: error: logs folder ${missing} does not exist or is not a folder`]);
  });

  it('backfill: a line per chart date and one summary', () => {
    const out = temp.make('playtally-tty-out-');
    const { status, lines } = onTerminal([
      'backfill',
      '--logs',
      week,
      '--out',
      out,
      '--from',
      '2024-01-03',
      '--to',
      '2024-01-07',
    ]);
    expect(status, lines.join('\n')).toBe(0);
    expect(lines.length).toBeLessThanOrEqual(25);
    expect(lines.filter((l) => l.startsWith('  charts 2024-01-0'))).toHaveLength(5);
    expect(lines.at(-1)).toMatch(/^playtally: done: 7 logs parsed .*, 5 chart dates written, /);
  });

  it('watch: one cycle, each line with its time (a watcher runs for days)', () => {
    const out = temp.make('playtally-tty-out-');
    // One cycle, then SIGTERM (an orderly stop, exit 0) from `timeout`.
    const { status, lines } = onTerminal(
      ['watch', '--logs', week, '--out', out, '--poll-interval', '200ms', '--settle', '0s'],
      ['timeout', '--preserve-status', '-s', 'TERM', '6'],
    );
    expect(status, lines.join('\n')).toBe(0);
    for (const line of lines) expect(line).toMatch(/^\d\d:\d\d:\d\d /);
    const text = lines.map((l) => l.slice(9));
    expect(text[0]).toMatch(/^ {2}watching .* \(every 0\.2 s, settle 0 s\)$/);
    expect(text.filter((l) => l.startsWith('  charts 2024-01-0'))).toHaveLength(7);
    expect(text).toContainEqual(expect.stringMatching(/^playtally: done: 7 logs parsed /));
    expect(text.at(-1)).toBe('  stopped');
    expect(lines.length).toBeLessThanOrEqual(25);
  });

  it('--log-level debug adds the fields; --log-format json gives JSON lines on a terminal', () => {
    const debug = onTerminal([
      'run',
      '--logs',
      week,
      '--out',
      temp.make('playtally-tty-out-'),
      '--log-level',
      'debug',
    ]);
    expect(debug.lines.find((l) => l.startsWith('  parsed 2024-01-01:'))).toMatch(
      / {2}\{"event":"day_parsed","date":"2024-01-01",/,
    );
    const json = onTerminal([
      'run',
      '--logs',
      week,
      '--out',
      temp.make('playtally-tty-out-'),
      '--log-format',
      'json',
    ]);
    for (const line of json.lines) expect(JSON.parse(line)).toHaveProperty('msg');
  });

  it('kpis: a line per file and per day, and one summary', () => {
    const landing = temp.make('playtally-tty-kpis-');
    generateKpiDataset({ dir: landing, start: day('2024-01-01'), days: 2, streamsPerDay: 20_000, seed: 2 });
    const { status, lines, raw } = onTerminal([
      'kpis',
      '--landing',
      landing,
      '--out',
      temp.make('playtally-tty-out-'),
      '--no-archive',
    ]);
    expect(status, lines.join('\n')).toBe(0);
    expect(lines.length).toBeLessThanOrEqual(25);
    expect(lines.at(-1)).toMatch(/^playtally: \d+ day(s|\(s\))? of genre KPIs written/);
    // The live lines, gone from the screen at the end: files parsed, then days computed.
    expect(liveLines(raw)).toContainEqual(
      expect.stringMatching(/^ {2}parsing streams files: \d\/6, [\d.]+ s$/),
    );
    expect(liveLines(raw)).toContainEqual(expect.stringMatching(/^ {2}computing days: \d\/\d, [\d.]+ s$/));
    expect(lines.join('\n')).not.toMatch(/parsing streams files|computing days/);
  });
});

describe('off a terminal', () => {
  it('--log-format pretty gives the short lines into a pipe', () => {
    const r = cli([
      'run',
      '--logs',
      week,
      '--out',
      temp.make('playtally-tty-out-'),
      '--log-format',
      'pretty',
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('  charts 2024-01-0'))).toHaveLength(7);
    expect(r.stdout).not.toContain('{');
  });
});
