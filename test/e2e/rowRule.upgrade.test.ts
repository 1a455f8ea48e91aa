import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireBuiltCli, runDone } from '../support/cliRuns.js';
import { contentHashV1 } from '../support/logSamples.js';
import { referenceCharts, referenceRows } from '../support/reference.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * A state folder written by a release with the first row rule (no blanks around fields, no
 * header) holds partials in which such rows were rejected. Since the bytes of the log did not
 * change, nothing else would make a run read it again: the rule version does. Each test builds
 * that old state as it was (a log parsed under the old rule gives the partial of the same log
 * with its blanks made bad), then runs this release on it.
 */

const temp = new TempDirs();
beforeAll(requireBuiltCli);
afterAll(() => temp.cleanup());

const NAME = 'listen-20240301.log';
const KEY = '20240301';
/** Clean rows, then rows written with blanks around their fields (the public sample's layout). */
const CLEAN = '1|10|FR\n2|10|FR\n2|11|DE\n';
const SPACED = '3 | 10 | FR\n3 | 12 | FR\n\t4|12|DE \n';
/** The same bytes with every blank made a letter: what the old rule saw (bad ids). */
const asOldRuleSaw = (text: string): string => text.replace(/[ \t]/g, 'x');

interface Manifest {
  days: Record<string, { rule?: number; hash: string; mtimeMs: number }>;
  charts: Record<string, { inputs: Record<string, string> }>;
  quarantined: Record<string, { rule?: number; hash: string; mtimeMs: number }>;
}

/**
 * Logs and output folders whose state is what the old release left after reading `text`: its
 * partial has the rows the old rule accepted, and the records name the log's true content hash
 * (in version 1, as that release took it) and no rule version.
 */
function oldState(text: string, command: 'top50' | 'run', more: string[] = []) {
  const logs = temp.make('playtally-rule-logs-');
  const out = temp.make('playtally-rule-out-');
  const log = join(logs, NAME);
  writeFileSync(log, asOldRuleSaw(text));
  const first = cli([command, '--logs', logs, '--out', out, ...more]);
  // A log the old release quarantined is moved back by its user, unchanged.
  rmSync(join(logs, 'quarantine', NAME), { force: true });
  writeFileSync(log, text);
  // The records name this very file (name, size, mtime, content hash): only the rule tells.
  const { mtimeMs } = statSync(log);
  // As that release recorded it: version 1 of the content hash.
  const hash = contentHashV1(readFileSync(log));
  patchManifest(out, (m) => {
    const day = m.days[KEY];
    if (day) Object.assign(day, { rule: undefined, hash, mtimeMs });
    for (const chart of Object.values(m.charts)) if (chart.inputs[KEY]) chart.inputs[KEY] = hash;
    const q = m.quarantined[KEY];
    if (q) Object.assign(q, { rule: undefined, hash, mtimeMs });
  });
  return { logs, out, first };
}

function patchManifest(out: string, change: (m: Manifest) => void): Manifest {
  const path = join(out, '.playtally', 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  change(manifest);
  writeFileSync(path, JSON.stringify(manifest));
  return manifest;
}

function charts(out: string): { country: string; user: string } {
  return {
    country: readFileSync(join(out, `country_top50_${KEY}.txt`), 'utf8'),
    user: readFileSync(join(out, `user_top50_${KEY}.txt`), 'utf8'),
  };
}

const expected = (text: string) => referenceCharts(referenceRows(Buffer.from(text)));

describe('a state from the first row rule', () => {
  it('top50 parses a day with rejects again, and charts its blank-separated rows', () => {
    const text = CLEAN + SPACED;
    const { logs, out, first } = oldState(text, 'top50', ['--max-reject-rate', '1']);
    expect(first.status, first.stderr).toBe(0);
    // The old state: the spaced rows rejected.
    expect(charts(out)).toEqual(expected(CLEAN));
    const r = cli(['top50', '--logs', logs, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).days[0]).toMatchObject({ reused: false, valid: 6, rejected: 0 });
    expect(charts(out)).toEqual(expected(text));
    // Parsed under this rule now: the next run reuses it.
    const again = cli(['top50', '--logs', logs, '--out', out, '--json']);
    expect(JSON.parse(again.stdout).days[0].reused).toBe(true);
  });

  it('run parses it again and rewrites the charts computed from the old partial', () => {
    const text = CLEAN + SPACED;
    const { logs, out, first } = oldState(text, 'run', ['--max-reject-rate', '1']);
    expect(runDone(first).charts).toEqual(['2024-03-01']);
    expect(charts(out)).toEqual(expected(CLEAN));
    const r = cli(['run', '--logs', logs, '--out', out, '--max-reject-rate', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(runDone(r).parsed).toBe(1);
    expect(runDone(r).charts).toEqual(['2024-03-01']);
    expect(charts(out)).toEqual(expected(text));
    expect(runDone(cli(['run', '--logs', logs, '--out', out, '--max-reject-rate', '1'])).parsed).toBe(0);
  });

  it('a day without rejects keeps its partial: the new rule reads its rows the same', () => {
    const { logs, out } = oldState(CLEAN, 'run');
    const r = cli(['run', '--logs', logs, '--out', out]);
    expect(runDone(r)).toMatchObject({ parsed: 0, charts: [] });
    expect(charts(out)).toEqual(expected(CLEAN));
  });

  it('a log quarantined for its rejects under the old rule is judged again when it lands again', () => {
    const text = CLEAN + SPACED;
    const { logs, out, first } = oldState(text, 'run');
    expect(runDone(first).quarantined).toBe(1);
    const r = cli(['run', '--logs', logs, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(runDone(r)).toMatchObject({ parsed: 1, quarantined: 0 });
    expect(charts(out)).toEqual(expected(text));
  });
});
