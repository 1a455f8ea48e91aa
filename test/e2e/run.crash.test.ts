import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { isoDay } from '../../src/ops/dates.js';
import { requireBuiltCli, spawnCli } from '../support/cliRuns.js';
import { mulberry32 } from '../support/prng.js';
import { day, firstDifference, leftovers, listTree, logName, TempDirs } from '../support/tempDirs.js';

/**
 * Crash safety of `playtally run`: the process is killed with SIGKILL at random moments (and on
 * chosen log events, so that kills land in every phase: parse, quarantine, charts, archive,
 * prune), then run again to completion. Whatever the moment of the kill, the end result must be
 * the one of an uninterrupted run: the same chart bytes, the same quality reports, the same files
 * in out/, archive/ and quarantine/, no temporary file and no lock left behind, no log lost.
 *
 * The trials are drawn from a seeded generator: set PLAYTALLY_CRASH_SEED to replay another draw.
 * Needs `npm run build` first (the CLI and its worker threads run from dist/).
 */

const SEED = Number(process.env.PLAYTALLY_CRASH_SEED ?? 20240301);
const TRIALS = 36;

const FIRST = day('2024-03-01');
const DAYS = 8;
/** Written gzip-compressed. */
const GZ_DAY = FIRST + 1;
/** Written with 30% corrupt rows: quarantined. */
const BAD_DAY = FIRST + 4;
const GENERATOR = { rows: 3_000, users: 300, songs: 2_000, seed: 11 };

/** The options of every run: a 3-day window, archive, keep the partials of 3 days. */
function runArgs(root: string): string[] {
  return [
    'run',
    '--logs',
    join(root, 'logs'),
    '--out',
    join(root, 'out'),
    '--window',
    '3',
    '--threads',
    '2',
    '--archive',
    join(root, 'archive'),
    '--keep-days',
    '3',
  ];
}

// ---------------------------------------------------------------------------------------------
// Seeded draw of the trials (mulberry32, so that a failing draw can be replayed)

/** Kill when this log event shows on stdout (`date` when given must match too). */
interface EventTrigger {
  event: string;
  date?: string;
}

type Kill =
  /** SIGKILL this share of the reference run's wall time after the spawn. */
  | { at: number }
  /** SIGKILL as soon as the event is read from the child's stdout. */
  | { on: EventTrigger };

interface Trial {
  index: number;
  first: Kill;
  /** Kill the first rerun too, this share of the reference wall time after its spawn. */
  second?: number;
}

/** Events spread over the phases of a run, in the order they come. */
const TRIGGERS: EventTrigger[] = [
  { event: 'day_parsed', date: isoDay(FIRST) },
  { event: 'day_parsed', date: isoDay(GZ_DAY) },
  // The bad day's partial is recorded; its quarantine comes next.
  { event: 'day_parsed', date: isoDay(BAD_DAY) },
  { event: 'quarantined' },
  { event: 'day_parsed', date: isoDay(FIRST + 6) },
  { event: 'charts_due' },
  { event: 'charts_written', date: isoDay(FIRST + 1) },
  { event: 'charts_written', date: isoDay(BAD_DAY) },
  { event: 'charts_written', date: isoDay(FIRST + DAYS - 1) },
  { event: 'archived', date: isoDay(FIRST) },
  { event: 'archived', date: isoDay(FIRST + 3) },
  { event: 'pruned', date: isoDay(FIRST + 1) },
  { event: 'day_parsed', date: isoDay(FIRST + 3) },
  { event: 'charts_written', date: isoDay(FIRST + 2) },
  { event: 'charts_written', date: isoDay(FIRST + 5) },
  { event: 'archived', date: isoDay(GZ_DAY) },
  { event: 'archived', date: isoDay(FIRST + 5) },
  { event: 'pruned', date: isoDay(FIRST + 3) },
];

function drawTrials(): Trial[] {
  const rnd = mulberry32(SEED);
  const trials: Trial[] = [];
  for (let i = 0; i < TRIALS; i++) {
    // Even trials: a random moment; odd trials: the next event of TRIGGERS, so every phase is hit.
    const first: Kill =
      i % 2 === 0 ? { at: Number(rnd().toFixed(3)) } : { on: TRIGGERS[((i - 1) / 2) % TRIGGERS.length]! };
    const secondDraw = rnd();
    const second = secondDraw < 0.35 ? Number(rnd().toFixed(3)) : undefined;
    trials.push({ index: i, first, second });
  }
  return trials;
}

function describeKill(kill: Kill): string {
  return 'at' in kill
    ? `kill at ${kill.at} of the run`
    : `kill on ${kill.on.event}${kill.on.date ? ` ${kill.on.date}` : ''}`;
}

function describeTrial(trial: Trial): string {
  return (
    `trial ${trial.index}: ${describeKill(trial.first)}` +
    (trial.second === undefined ? '' : `, then the rerun at ${trial.second}`)
  );
}

// ---------------------------------------------------------------------------------------------
// Running the CLI

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  /** When the kill was sent (ms after the spawn), and why; undefined: not killed. */
  killedAtMs?: number;
  killedOn?: string;
  events: string[];
  stdout: string;
  stderr: string;
}

function runCli(args: string[], kill?: { afterMs?: number; on?: EventTrigger }): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawnCli(args);
    const result: CliRun = { code: null, signal: null, ms: 0, events: [], stdout: '', stderr: '' };
    let pending = '';
    let timer: NodeJS.Timeout | undefined;
    const killNow = (why: string): void => {
      if (result.killedAtMs !== undefined || child.exitCode !== null) return;
      child.kill('SIGKILL');
      result.killedAtMs = Math.round(performance.now() - started);
      result.killedOn = why;
    };
    if (kill?.afterMs !== undefined) {
      const afterMs = kill.afterMs;
      if (afterMs <= 0) killNow('time 0');
      else timer = setTimeout(() => killNow(`time ${afterMs} ms`), afterMs);
    }
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      result.stdout += chunk;
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
        let parsed: { event?: string; date?: string } | undefined;
        try {
          parsed = JSON.parse(line) as { event?: string; date?: string };
        } catch {
          continue;
        }
        const name = `${parsed.event ?? '?'}${parsed.date ? ` ${parsed.date}` : ''}`;
        if (result.killedAtMs === undefined) result.events.push(name);
        const on = kill?.on;
        if (on && parsed.event === on.event && (on.date === undefined || parsed.date === on.date))
          killNow(`event ${name}`);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      result.stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      result.code = code;
      result.signal = signal;
      result.ms = Math.round(performance.now() - started);
      resolvePromise(result);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// What a run leaves behind

interface Snapshot {
  /** Files in out/, without the state folder out/.playtally/. */
  outNames: string[];
  /** Chart files by name (country_top50_*, user_top50_*). */
  charts: Map<string, Buffer>;
  /** quality_*.json by name, without `generatedAt`. */
  quality: Map<string, unknown>;
  /** Everything below logs/ (quarantine/ included: it is logs/quarantine by default). */
  logsNames: string[];
  archiveNames: string[];
  /** quarantine/*.reason.json by name, without `quarantinedAt`. */
  reasons: Map<string, unknown>;
  /** The partials in the state folder. */
  partials: string[];
}

function withoutKey(json: string, key: string): unknown {
  const value = JSON.parse(json) as Record<string, unknown>;
  delete value[key];
  return value;
}

function treeOrEmpty(dir: string): string[] {
  return existsSync(dir) ? listTree(dir) : [];
}

function snapshot(root: string): Snapshot {
  const out = join(root, 'out');
  const quarantine = join(root, 'logs', 'quarantine');
  const charts = new Map<string, Buffer>();
  const quality = new Map<string, unknown>();
  for (const name of readdirSync(out)) {
    if (/^(country|user)_top50_\d{8}\.txt$/.test(name)) charts.set(name, readFileSync(join(out, name)));
    // generatedAt is a timestamp: it is the only field that may differ between two runs.
    if (/^quality_\d{8}\.json$/.test(name))
      quality.set(name, withoutKey(readFileSync(join(out, name), 'utf8'), 'generatedAt'));
  }
  const reasons = new Map<string, unknown>();
  if (existsSync(quarantine)) {
    for (const name of readdirSync(quarantine)) {
      // quarantinedAt is a timestamp (when the quarantine was recorded).
      if (name.endsWith('.reason.json'))
        reasons.set(name, withoutKey(readFileSync(join(quarantine, name), 'utf8'), 'quarantinedAt'));
    }
  }
  return {
    outNames: treeOrEmpty(out).filter((p) => !p.startsWith('.playtally/') && p !== '.playtally/'),
    charts,
    quality,
    logsNames: treeOrEmpty(join(root, 'logs')),
    archiveNames: treeOrEmpty(join(root, 'archive')),
    reasons,
    partials: treeOrEmpty(join(out, '.playtally', 'partials')),
  };
}

/** Every way in which `root` differs from the reference; empty when it is the same. */
function differences(root: string, reference: Snapshot, landing: Map<string, Buffer>): string[] {
  const problems: string[] = [];
  const actual = snapshot(root);
  const sameList = (what: string, a: string[], e: string[]): void => {
    if (JSON.stringify(a) !== JSON.stringify(e))
      problems.push(`${what}: ${JSON.stringify(a)}, expected ${JSON.stringify(e)}`);
  };
  sameList('files in out/', actual.outNames, reference.outNames);
  sameList('files in logs/ (and logs/quarantine/)', actual.logsNames, reference.logsNames);
  sameList('files in archive/', actual.archiveNames, reference.archiveNames);
  sameList('partials in the state folder', actual.partials, reference.partials);
  for (const [name, expected] of reference.charts) {
    const got = actual.charts.get(name);
    if (got === undefined) problems.push(`${name} is missing`);
    else if (!got.equals(expected))
      problems.push(
        `${name} differs: ${firstDifference(got.toString('latin1'), expected.toString('latin1')) ?? 'bytes differ'}`,
      );
  }
  for (const [name, expected] of reference.quality) {
    const got = actual.quality.get(name);
    if (JSON.stringify(got) !== JSON.stringify(expected))
      problems.push(`${name} differs (generatedAt aside): ${JSON.stringify(got)?.slice(0, 300)}`);
  }
  for (const [name, expected] of reference.reasons) {
    const got = actual.reasons.get(name);
    if (JSON.stringify(got) !== JSON.stringify(expected))
      problems.push(
        `quarantine/${name} differs (quarantinedAt aside): ${JSON.stringify(got)?.slice(0, 300)}`,
      );
  }
  for (const dir of ['out', 'logs', 'archive']) {
    const left = existsSync(join(root, dir)) ? leftovers(join(root, dir)) : [];
    if (left.length > 0) problems.push(`temporary files left in ${dir}/: ${left.join(', ')}`);
  }
  const state = join(root, 'out', '.playtally');
  const locks = existsSync(state) ? readdirSync(state).filter((n) => n.startsWith('lock')) : [];
  if (locks.length > 0) problems.push(`lock files left in the state folder: ${locks.join(', ')}`);
  // No log lost: each one is, whole, in the landing folder, the archive or the quarantine.
  for (const [name, bytes] of landing) {
    const places = [
      join(root, 'logs', name),
      join(root, 'archive', name),
      join(root, 'logs', 'quarantine', name),
    ];
    if (!places.some((p) => existsSync(p) && readFileSync(p).equals(bytes)))
      problems.push(`${name} is lost (not whole in logs/, archive/ or logs/quarantine/)`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------

const temp = new TempDirs();
let base: string;
/** The landing folder every trial starts from, and its files. */
let landingDir: string;
const landing = new Map<string, Buffer>();
let reference: Snapshot;
let referenceMs: number;

/** A new trial folder: `<root>/logs` a copy of the landing folder; out/ and archive/ not there yet. */
let trialCounter = 0;
function freshCopy(): string {
  const root = join(base, `trial-${++trialCounter}`);
  mkdirSync(root);
  cpSync(landingDir, join(root, 'logs'), { recursive: true, preserveTimestamps: true });
  return root;
}

beforeAll(async () => {
  requireBuiltCli();
  base = temp.make('playtally-crash-');
  landingDir = join(base, 'landing');
  generateLogs({ dir: landingDir, start: FIRST, days: DAYS, ...GENERATOR });
  // The bad day: 30% corrupt rows, far above the default --max-reject-rate of 5%.
  const badDir = join(base, 'bad');
  generateLogs({ dir: badDir, start: BAD_DAY, days: 1, ...GENERATOR, seed: 12, corruptRate: 0.3 });
  renameSync(join(badDir, logName(BAD_DAY)), join(landingDir, logName(BAD_DAY)));
  const plain = join(landingDir, logName(GZ_DAY));
  writeFileSync(`${plain}.gz`, gzipSync(readFileSync(plain)));
  rmSync(plain);
  for (const name of readdirSync(landingDir)) landing.set(name, readFileSync(join(landingDir, name)));

  // Two uninterrupted runs: the reference, its wall time, and a check that runs are repeatable.
  const times: number[] = [];
  const roots: string[] = [];
  for (let i = 0; i < 2; i++) {
    const root = freshCopy();
    const r = await runCli(runArgs(root));
    if (r.code !== 0) throw new Error(`reference run failed (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    times.push(r.ms);
    roots.push(root);
  }
  reference = snapshot(roots[0]!);
  referenceMs = Math.max(...times);
  const repeat = differences(roots[1]!, reference, landing);
  if (repeat.length > 0) throw new Error(`two uninterrupted runs differ:\n${repeat.join('\n')}`);
  console.log(`crash trials: seed ${SEED}, reference run ${times.join(' / ')} ms`);
}, 60_000);

afterAll(() => temp.cleanup());

describe('run killed with SIGKILL at any moment, then run again', () => {
  it('the reference run writes charts, archives, quarantines the bad day and prunes', () => {
    // Guards the trials against a setup that would make them vacuous.
    expect(reference.charts.size).toBe(2 * DAYS);
    expect(reference.quality.size).toBe(DAYS);
    expect(reference.archiveNames.length).toBeGreaterThan(0);
    expect(reference.archiveNames).toContain(`${logName(GZ_DAY)}.gz`);
    expect(reference.logsNames).toContain(`quarantine/${logName(BAD_DAY)}`);
    expect(reference.logsNames).toContain(`quarantine/${logName(BAD_DAY)}.reason.json`);
    expect(reference.partials.length).toBe(3);
  });

  it.each(drawTrials().map((t) => [describeTrial(t), t] as const))(
    '%s',
    async (_name, trial) => {
      const root = freshCopy();
      const args = runArgs(root);
      const history: string[] = [];
      const note = (label: string, r: CliRun): void => {
        history.push(
          `${label}: exit ${r.code ?? r.signal} after ${r.ms} ms` +
            (r.killedAtMs === undefined
              ? ', not killed'
              : `, killed at ${r.killedAtMs} ms on ${r.killedOn}`) +
            `; events: ${r.events.join(', ') || 'none'}`,
        );
      };

      const first = await runCli(
        args,
        'at' in trial.first ? { afterMs: Math.round(trial.first.at * referenceMs) } : { on: trial.first.on },
      );
      note('killed run', first);
      if (trial.second !== undefined) {
        const second = await runCli(args, { afterMs: Math.round(trial.second * referenceMs) });
        note('second killed run', second);
      }
      let rerun = await runCli(args);
      note('rerun', rerun);
      if (rerun.code !== 0) {
        // Allowed: one more rerun to finish.
        rerun = await runCli(args);
        note('second rerun', rerun);
      }
      const context =
        `seed ${SEED}, ${describeTrial(trial)}, reference ${referenceMs} ms\n${history.join('\n')}` +
        (rerun.code === 0
          ? ''
          : `\nstdout: ${rerun.stdout.slice(-2000)}\nstderr: ${rerun.stderr.slice(-2000)}`);
      expect(rerun.code, context).toBe(0);
      expect(differences(root, reference, landing), context).toEqual([]);
      rmSync(root, { recursive: true, force: true });
    },
    60_000,
  );
});
