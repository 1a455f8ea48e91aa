import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nameProblem, scanLogs } from '../../src/sources/logFiles.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * Which names are logs (src/sources/logFiles.ts), and what is said about the others (never passed
 * over in silence). A log that cannot be read, through the CLI: test/e2e/top50.test.ts.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());

function folder(files: Record<string, string>): string {
  const dir = temp.make('playtally-names-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('log names', () => {
  it('accepts the day as YYYYMMDD or YYYY-MM-DD, plain or gzip', async () => {
    const dir = folder({
      'listen-20240101.log': '1|2|FR\n',
      'listen-2024-01-02.log': '1|2|FR\n',
      'listen-20240103.log.gz': '',
      'listen-2024-01-04.log.gz': '',
    });
    const scan = await scanLogs(dir);
    expect(scan.logs.map((l) => [l.name, l.day, l.compressed])).toEqual([
      ['listen-20240101.log', day('2024-01-01'), false],
      ['listen-2024-01-02.log', day('2024-01-02'), false],
      ['listen-20240103.log.gz', day('2024-01-03'), true],
      ['listen-2024-01-04.log.gz', day('2024-01-04'), true],
    ]);
    expect(scan.ignored).toEqual([]);
  });

  it('uses one file a day: the plain log before the gzip, then the first name, and names the others', async () => {
    const dir = folder({
      'listen-20240101.log': '',
      'listen-2024-01-01.log': '',
      'listen-20240101.log.gz': '',
      'listen-2024-01-02.log.gz': '',
      'listen-2024-01-02.log': '',
    });
    const scan = await scanLogs(dir);
    expect(scan.logs.map((l) => l.name)).toEqual(['listen-2024-01-01.log', 'listen-2024-01-02.log']);
    expect(scan.ignored).toEqual([
      {
        name: 'listen-20240101.log',
        reason: 'listen-2024-01-01.log exists for the same day and is used instead',
      },
      {
        name: 'listen-20240101.log.gz',
        reason: 'listen-2024-01-01.log exists for the same day and is used instead',
      },
      {
        name: 'listen-2024-01-02.log.gz',
        reason: 'listen-2024-01-02.log exists for the same day and is used instead',
      },
    ]);
  });

  it('says what is wrong with a name that is meant as a log, and which name to give it', () => {
    expect(nameProblem('listen-YYYYMMDD.log')).toBe(
      'its day part "YYYYMMDD" is not a date: name each log for its day, as listen-YYYYMMDD.log or ' +
        'listen-YYYY-MM-DD.log (or the same with .gz) (e.g. listen-20240107.log)',
    );
    expect(nameProblem('listen-20240230.log')).toBe('20240230 is not a date (no such day in the calendar)');
    expect(nameProblem('listen-2024-02-30.log.gz')).toBe(
      '2024-02-30 is not a date (no such day in the calendar)',
    );
    expect(nameProblem('sample_listen-2021-12-01.txt')).toMatch(
      /^not a log name: .*; rename it listen-20211201\.log$/,
    );
    expect(nameProblem('listen-20211201.txt')).toMatch(/rename it listen-20211201\.log$/);
    expect(nameProblem('old-listens-20211201.log.gz')).toMatch(/rename it listen-20211201\.log\.gz$/);
    // Two dates, or none: no name to suggest, but the accepted names are said.
    expect(nameProblem('listen-backup.txt')).toBe(
      'not a log name: playtally reads listen-YYYYMMDD.log or listen-YYYY-MM-DD.log (or the same with .gz)',
    );
    expect(nameProblem('app.log')).toMatch(/^not a log name/);
    // Files that are not listen data are not a log's business.
    for (const other of ['README.md', 'songs.csv', 'notes.txt']) expect(nameProblem(other)).toBeUndefined();
  });

  it('skips dotfiles and files still being written in silence, and names the rest', async () => {
    const dir = folder({
      '.listen-20240101.log.swp': '',
      'listen-20240101.log.tmp': '',
      'listen-20240101.log.part': '',
      'README.md': '',
      'listen-20240230.log': '',
    });
    mkdirSync(join(dir, 'listen-20240102.log'));
    const scan = await scanLogs(dir);
    expect(scan.logs).toEqual([]);
    expect(scan.ignored).toEqual([
      { name: 'listen-20240102.log', reason: 'not a regular file' },
      { name: 'listen-20240230.log', reason: '20240230 is not a date (no such day in the calendar)' },
    ]);
  });

  it('names a link that cannot be followed instead of reading it as a missing day', async () => {
    const dir = folder({ 'listen-20240101.log': '1|2|FR\n' });
    symlinkSync(join(dir, 'gone.log'), join(dir, 'listen-20240102.log'));
    symlinkSync('listen-20240103.log', join(dir, 'listen-20240103.log'));
    symlinkSync('listen-20240101.log', join(dir, 'listen-20240104.log')); // a good link is a log
    const scan = await scanLogs(dir);
    expect(scan.logs.map((l) => l.name)).toEqual(['listen-20240101.log', 'listen-20240104.log']);
    expect(scan.ignored).toEqual([
      {
        name: 'listen-20240102.log',
        reason: `is a symbolic link to ${join(dir, 'gone.log')}, which does not exist; the day 2024-01-02 is read as missing`,
      },
      {
        name: 'listen-20240103.log',
        reason:
          'is a symbolic link that loops (-> listen-20240103.log); the day 2024-01-03 is read as missing',
      },
    ]);
  });
});
