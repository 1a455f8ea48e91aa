import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { cli, requireBuiltCli } from '../support/cliRuns.js';
import { chartBytes, expectNoStack, halfFiles, kpiBytes } from '../support/faults.js';
import { cliAsServiceUser, openToServiceUser, permissionsCanBeMet } from '../support/runAs.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * Permission faults, met for real as a service user (issue 17, points 2 and 7): a log, a streams
 * file, an output, state or store folder the user may not read or write. Asserted each time: the
 * exit code, one sentence naming the file or folder (no stack trace), nothing lost, no half file,
 * and a run after the fault is removed giving the bytes of a clean run.
 */
const temp = new TempDirs();
afterEach(() => temp.cleanup());
beforeAll(requireBuiltCli);
const canMeet = permissionsCanBeMet('faults/permissions');

const DATES = ['20240101', '20240102', '20240103'];
/** The log the service user may not read. */
const BAD = 'listen-20240102.log';

/** A service user's work folder: three days of logs, all of it open to the user. */
function workFolder(): { base: string; logs: string } {
  const base = temp.make('playtally-perm-');
  const logs = join(base, 'logs');
  generateLogs({
    dir: logs,
    start: day('2024-01-01'),
    days: 3,
    rows: 20_000,
    users: 2_000,
    songs: 500,
    seed: 9,
  });
  openToServiceUser(base);
  return { base, logs };
}

function expectOneSentence(stderr: string, names: string): void {
  expect(stderr).toContain(names);
  expectNoStack(stderr);
}

describe.runIf(canMeet)('a log the service user may not read', () => {
  it('top50: exit 3 naming the log, the log left in place; readable again, the clean bytes', () => {
    const { base, logs } = workFolder();
    const reference = join(base, 'reference');
    expect(cli(['top50', '--logs', logs, '--out', reference, '-q']).status).toBe(0);
    const out = join(base, 'out');
    chmodSync(join(logs, BAD), 0o000);

    const r = cliAsServiceUser(['top50', '--logs', logs, '--out', out, '-q']);
    expect(r.status, r.stderr).toBe(3);
    expectOneSentence(r.stderr, `cannot read ${join(logs, BAD)}: no permission to read it (EACCES)`);
    expect(readdirSync(logs)).toEqual(DATES.map((d) => `listen-${d}.log`));
    expect(halfFiles([base])).toEqual([]);

    chmodSync(join(logs, BAD), 0o644);
    const again = cliAsServiceUser(['top50', '--logs', logs, '--out', out, '-q']);
    expect(again.status, again.stderr).toBe(0);
    expect(chartBytes(out)).toEqual(chartBytes(reference));
  });

  it('run: the log is quarantined as unreadable, the charts that do not need it are the clean ones; put back readable, every chart is clean', () => {
    const { base, logs } = workFolder();
    const clean = join(base, 'clean-logs');
    cpSync(logs, clean, { recursive: true });
    const reference = join(base, 'reference');
    expect(cli(['run', '--logs', clean, '--out', reference, '-q']).status).toBe(0);
    const out = join(base, 'out');
    const quarantine = join(base, 'quarantine');
    mkdirSync(quarantine, { mode: 0o777 });
    chmodSync(quarantine, 0o777);
    chmodSync(join(logs, BAD), 0o000);

    const r = cliAsServiceUser(['run', '--logs', logs, '--out', out, '--quarantine', quarantine, '-q']);
    expect(r.status, r.stderr).toBe(0);
    // Off a terminal, run logs JSON lines to stdout: the quarantine is a warning there.
    expectOneSentence(
      `${r.stdout}${r.stderr}`,
      `cannot read ${join(logs, BAD)}: no permission to read it (EACCES)`,
    );
    // Nothing lost: the log is in quarantine with its reason, the others where they were.
    expect(readdirSync(logs)).toEqual(['listen-20240101.log', 'listen-20240103.log']);
    const reason = JSON.parse(readFileSync(join(quarantine, `${BAD}.reason.json`), 'utf8')) as {
      reason: string;
    };
    expect(reason.reason).toBe('unreadable');
    expect(existsSync(join(quarantine, BAD))).toBe(true);
    // 2024-01-01's window does not hold 2024-01-02: its charts are the clean run's.
    const first = ['country_top50_20240101.txt', 'user_top50_20240101.txt'];
    for (const name of first)
      expect(readFileSync(join(out, name), 'utf8')).toBe(readFileSync(join(reference, name), 'utf8'));
    expect(halfFiles([base])).toEqual([]);

    chmodSync(join(quarantine, BAD), 0o644);
    renameSync(join(quarantine, BAD), join(logs, BAD));
    const again = cliAsServiceUser(['run', '--logs', logs, '--out', out, '--quarantine', quarantine, '-q']);
    expect(again.status, again.stderr).toBe(0);
    expect(chartBytes(out)).toEqual(chartBytes(reference));
  });
});

describe.runIf(canMeet)('a streams file the service user may not read', () => {
  it('kpis: the file is moved to error/ with its reason, the others counted; put back readable, the clean KPI files', () => {
    const base = temp.make('playtally-perm-kpis-');
    const landing = join(base, 'landing');
    generateKpiDataset({ dir: landing, start: day('2024-01-01'), days: 2, streamsPerDay: 20_000, seed: 4 });
    const clean = join(base, 'clean-landing');
    cpSync(landing, clean, { recursive: true });
    const reference = join(base, 'reference');
    expect(cli(['kpis', '--landing', clean, '--out', reference, '--no-archive', '-q']).status).toBe(0);
    openToServiceUser(base);
    const streams = join(landing, 'streams');
    const bad = readdirSync(streams).sort()[0]!;
    chmodSync(join(streams, bad), 0o000);
    const out = join(base, 'out');

    const r = cliAsServiceUser(['kpis', '--landing', landing, '--out', out, '--no-archive', '-q']);
    expect(r.status, r.stderr).toBe(0);
    expectOneSentence(r.stderr, `cannot read ${join(streams, bad)}: no permission to read it (EACCES)`);
    expect(existsSync(join(landing, 'error', 'streams', bad))).toBe(true);
    expect(existsSync(join(landing, 'error', 'streams', `${bad}.reason.json`))).toBe(true);
    expect(readdirSync(streams).length).toBe(readdirSync(join(clean, 'streams')).length - 1);
    expect(halfFiles([base])).toEqual([]);

    chmodSync(join(landing, 'error', 'streams', bad), 0o644);
    renameSync(join(landing, 'error', 'streams', bad), join(streams, bad));
    const again = cliAsServiceUser(['kpis', '--landing', landing, '--out', out, '--no-archive', '-q']);
    expect(again.status, again.stderr).toBe(0);
    expect(Object.keys(kpiBytes(reference)).length).toBeGreaterThan(0);
    expect(kpiBytes(out)).toEqual(kpiBytes(reference));
  });
});

describe.runIf(canMeet)('a folder the service user may not write', () => {
  it('--out: exit 4 naming the folder, nothing written', () => {
    const { base, logs } = workFolder();
    const out = join(base, 'out');
    mkdirSync(out);
    chmodSync(out, 0o555);
    const r = cliAsServiceUser(['top50', '--logs', logs, '--out', out, '-q']);
    expect(r.status, r.stderr).toBe(4);
    expectOneSentence(r.stderr, out);
    expect(readdirSync(out)).toEqual([]);
  });

  it('--state: exit 4 naming the folder; writable again, the clean bytes', () => {
    const { base, logs } = workFolder();
    const reference = join(base, 'reference');
    expect(cli(['run', '--logs', logs, '--out', reference, '-q']).status).toBe(0);
    const out = join(base, 'out');
    const state = join(base, 'state');
    mkdirSync(state);
    chmodSync(state, 0o555);
    const r = cliAsServiceUser(['run', '--logs', logs, '--out', out, '--state', state, '-q']);
    expect(r.status, r.stderr).toBe(4);
    expectOneSentence(r.stderr, state);
    expect(halfFiles([base])).toEqual([]);

    chmodSync(state, 0o777);
    const again = cliAsServiceUser(['run', '--logs', logs, '--out', out, '--state', state, '-q']);
    expect(again.status, again.stderr).toBe(0);
    expect(chartBytes(out)).toEqual(chartBytes(reference));
  });

  it('a state manifest it may not read: exit 4 naming it, the manifest kept (not set aside as damaged); readable again, the clean bytes', () => {
    const { base, logs } = workFolder();
    const reference = join(base, 'reference');
    expect(cli(['top50', '--logs', logs, '--out', reference, '-q']).status).toBe(0);
    const out = join(base, 'out');
    const state = join(base, 'state');
    expect(cliAsServiceUser(['top50', '--logs', logs, '--out', out, '--state', state, '-q']).status).toBe(0);
    const manifest = join(state, 'manifest.json');
    const before = readFileSync(manifest);
    chmodSync(manifest, 0o000);
    const r = cliAsServiceUser(['top50', '--logs', logs, '--out', out, '--state', state, '-q']);
    expect(r.status, r.stderr).toBe(4);
    expectOneSentence(r.stderr, `cannot read ${manifest}: no permission to read it (EACCES)`);
    expect(readdirSync(state).filter((n) => n.includes('.damaged-'))).toEqual([]);
    chmodSync(manifest, 0o666);
    expect(readFileSync(manifest)).toEqual(before);
    const again = cliAsServiceUser(['top50', '--logs', logs, '--out', out, '--state', state, '-q']);
    expect(again.status, again.stderr).toBe(0);
    expect(chartBytes(out)).toEqual(chartBytes(reference));
  });

  it('serve on a store whose folder it cannot write: exit 4 saying why and how to fix it (issue 17, point 12)', () => {
    const { base, logs } = workFolder();
    chmodSync(base, 0o755);
    const db = join(base, 'db');
    mkdirSync(db);
    const store = join(db, 'playtally.db');
    expect(cli(['top50', '--logs', logs, '--out', join(base, 'out'), '--db', store, '-q']).status).toBe(0);
    chmodSync(store, 0o644);
    chmodSync(db, 0o555);
    const r = cliAsServiceUser(['serve', '--db', store, '--port', '0'], 20_000);
    expect(r.status, r.stderr).toBe(4);
    expectOneSentence(r.stderr, `Its folder ${db} is not writable by this user`);
    expect(r.stderr).toContain('playtally.db-shm');
  });
});
