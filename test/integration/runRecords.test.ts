import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunRecord, readRunHistory } from '../../src/formats/runHistory.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { PlaytallyError } from '../../src/ops/errors.js';
import { createApp } from '../../src/serve/app.js';
import { ResultsReader } from '../../src/store/resultsReader.js';
import { ResultsStore } from '../../src/store/resultsStore.js';
import { type FrameOptions, inUnattendedFrame, type RunLog } from '../../src/unattended/frame.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import type { RunOptions } from '../../src/unattended/runOptions.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The run history's rule (src/unattended/runRecords.ts), in-process through the unattended frame
 * and runOnce: every run that got as far as its state folder is recorded once, failed ones with
 * the code, message and exit code the CLI reports (a bug: `internal`, exit 1); a run never records
 * into a state folder another process holds; a failed run reaches the results store, so that
 * `/api/runs` and `playtally_last_run_ok` show it. Through the built CLI: test/e2e/status.test.ts.
 */

const FIRST = day('2024-05-01');
const GEN = { rows: 2_000, users: 100, songs: 300, seed: 4 };

const temp = new TempDirs();
const sleepers: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const child of sleepers.splice(0)) child.kill('SIGKILL');
  temp.cleanup();
});

interface Folders {
  logs: string;
  out: string;
  state: string;
  db: string;
}

function folders(days = 2): Folders {
  const logs = temp.make('playtally-rec-logs-');
  generateLogs({ dir: logs, start: FIRST, days, ...GEN });
  const out = temp.make('playtally-rec-out-');
  return {
    logs,
    out,
    state: join(out, '.playtally'),
    db: join(temp.make('playtally-rec-db-'), 'results.db'),
  };
}

/** A log that keeps its lines, for the `failed` and `run_not_recorded` lines. */
function memoryLog(): RunLog & { lines: { level: string; fields: object; message: string }[] } {
  const lines: { level: string; fields: object; message: string }[] = [];
  const at = (level: string) => (fields: object, message: string) => {
    lines.push({ level, fields, message });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** The frame of `run` over `f` (with its store), as the CLI sets it up. */
function frame(f: Folders, overrides: Partial<FrameOptions> = {}): FrameOptions {
  return {
    command: 'run',
    logsDir: f.logs,
    outDir: f.out,
    wait: false,
    log: memoryLog(),
    openStore: () => ResultsStore.open(f.db),
    openSink: async () => undefined,
    ...overrides,
  };
}

/** `runOnce` over `f` in the frame, as `playtally run --db` does it. */
async function run(f: Folders, overrides: Partial<FrameOptions> = {}, options: Partial<RunOptions> = {}) {
  await inUnattendedFrame(frame(f, overrides), async (_stop, outputs) => {
    await runOnce({
      logsDir: overrides.logsDir ?? f.logs,
      outDir: f.out,
      command: 'run',
      window: 3,
      threads: 2,
      store: outputs.store,
      ...options,
    });
  });
}

function storedRuns(db: string): RunRecord[] {
  const reader = ResultsReader.open(db);
  try {
    return reader.runs(100) as RunRecord[];
  } finally {
    reader.close();
  }
}

/** The value of one sample of the Prometheus text. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('failed runs in the history, the store, the API and the metrics', () => {
  it('a run failing before its lock (no logs folder) is recorded with exit 3; /api/runs and playtally_last_run_ok show it', async () => {
    const f = folders();
    await run(f);
    const gone = `${f.logs}-gone`;
    await expect(run(f, { logsDir: gone })).rejects.toMatchObject({ code: 'logs_not_found' });

    const history = readRunHistory(f.state);
    expect(history.map((r) => [r.ok, r.error])).toEqual([
      [true, undefined],
      [
        false,
        {
          code: 'logs_not_found',
          message: `logs folder ${gone} does not exist or is not a folder`,
          exitCode: 3,
        },
      ],
    ]);
    // The lock taken to record it is released.
    expect(existsSync(join(f.state, 'lock'))).toBe(false);
    expect(storedRuns(f.db)).toEqual([...history].reverse());

    const reader = ResultsReader.open(f.db);
    try {
      const { app } = createApp({ reader });
      const answer = await app.request('/api/runs');
      expect(answer.status).toBe(200);
      const { runs } = (await answer.json()) as { runs: RunRecord[] };
      expect(runs[0]).toEqual(history[1]);
      expect(runs[0]).toMatchObject({ ok: false, error: { code: 'logs_not_found', exitCode: 3 } });
      const metrics = await (await app.request('/metrics')).text();
      expect(sample(metrics, 'playtally_last_run_ok')).toBe(0);
      expect(sample(metrics, 'playtally_last_run_rows')).toBe(0);
      expect(sample(metrics, 'playtally_last_run_timestamp_seconds')).toBe(
        Date.parse(history[1]!.finishedAt) / 1000,
      );
    } finally {
      reader.close();
    }

    // A run that succeeds again sets it back to 1.
    await run(f);
    const reader2 = ResultsReader.open(f.db);
    try {
      const metrics = await (await createApp({ reader: reader2 }).app.request('/metrics')).text();
      expect(sample(metrics, 'playtally_last_run_ok')).toBe(1);
    } finally {
      reader2.close();
    }
  });

  it('a run failing in runOnce is recorded once, by runOnce, in the history and the store', async () => {
    const f = folders();
    // The frame checked a logs folder that is there; runOnce meets one that is not (as when it
    // goes away between the two): the failure is runOnce's, recorded there and not again.
    await expect(run(f, {}, { logsDir: join(f.logs, 'not-there') })).rejects.toMatchObject({
      code: 'logs_not_found',
    });
    const history = readRunHistory(f.state);
    expect(history).toHaveLength(1);
    expect(history[0]!.error).toMatchObject({ code: 'logs_not_found', exitCode: 3 });
    expect(storedRuns(f.db)).toEqual(history);
  });

  it('a failure after the lock, outside runOnce (the store cannot be opened), is recorded in runs.jsonl', async () => {
    const f = folders();
    const log = memoryLog();
    const unusable = new PlaytallyError(
      'store_unusable',
      'results store /nowhere/results.db cannot be opened',
    );
    let opened = 0;
    await expect(
      run(f, {
        log,
        openStore: () => {
          opened++;
          throw unusable;
        },
      }),
    ).rejects.toBe(unusable);
    // Not opened a second time just to record the failure of opening it.
    expect(opened).toBe(1);
    expect(readRunHistory(f.state).map((r) => r.error)).toEqual([
      { code: 'store_unusable', message: unusable.message, exitCode: 4 },
    ]);
    expect(log.lines.filter((l) => (l.fields as { event?: string }).event === 'failed')).toHaveLength(1);
    expect(log.lines.some((l) => (l.fields as { event?: string }).event === 'run_not_recorded')).toBe(false);
  });

  it('a run whose record the store cannot take fails with exit 4, and its record says so', async () => {
    const f = folders();
    const full = new PlaytallyError(
      'write_failed',
      `cannot write ${f.db}: no space left on its device (SQLITE_FULL)`,
    );
    const store = {
      syncCharts: () => [],
      addRun: () => {
        throw full;
      },
    } as unknown as ResultsStore;
    await expect(
      runOnce({ logsDir: f.logs, outDir: f.out, command: 'run', window: 3, threads: 2, store }),
    ).rejects.toBe(full);
    const [record] = readRunHistory(f.state);
    // The charts are written; the run is not ok, since it exits 4.
    expect(record!.charts).toHaveLength(2);
    expect(record).toMatchObject({
      ok: false,
      error: { code: 'write_failed', message: full.message, exitCode: 4 },
    });
  });
});

describe('bugs', () => {
  it('an internal error in the frame (before runOnce) is recorded as internal, exit 1', async () => {
    const f = folders();
    const bug = new TypeError("Cannot read properties of undefined (reading 'days')");
    await expect(
      inUnattendedFrame(frame(f), async () => {
        throw bug;
      }),
    ).rejects.toBe(bug);
    expect(readRunHistory(f.state).map((r) => [r.ok, r.error])).toEqual([
      [false, { code: 'internal', message: bug.message, exitCode: 1 }],
    ]);
    expect(storedRuns(f.db).map((r) => r.error?.code)).toEqual(['internal']);
  });

  it('an internal error in runOnce is recorded once, as internal, exit 1', async () => {
    const f = folders();
    const bug = new RangeError('Invalid array length');
    await expect(
      run(
        f,
        {},
        {
          onRunEvent: (event) => {
            if (event.type === 'chartsDue') throw bug;
          },
        },
      ),
    ).rejects.toBe(bug);
    const history = readRunHistory(f.state);
    expect(history.map((r) => [r.ok, r.error])).toEqual([
      [false, { code: 'internal', message: bug.message, exitCode: 1 }],
    ]);
    // What it did before the bug is in its record: the logs it parsed.
    expect(history[0]!.days).toHaveLength(2);
    expect(storedRuns(f.db)).toEqual(history);
  });
});

describe('where nothing is recorded', () => {
  it('not into a state folder another live process holds, even for a failure met before the lock', async () => {
    const f = folders();
    mkdirSync(f.state, { recursive: true });
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    sleepers.push(holder);
    const lock = {
      pid: holder.pid,
      host: hostname(),
      command: 'playtally watch',
      startedAt: new Date().toISOString(),
    };
    writeFileSync(join(f.state, 'lock'), `${JSON.stringify(lock)}\n`);

    await expect(run(f, { logsDir: `${f.logs}-gone` })).rejects.toMatchObject({ code: 'logs_not_found' });
    await expect(run(f)).rejects.toMatchObject({ code: 'locked' });
    expect(existsSync(join(f.state, 'runs.jsonl'))).toBe(false);
    expect(existsSync(f.db)).toBe(false);
  });

  it('not when the state folder would have to be made in a folder that is not there', async () => {
    const f = folders();
    const state = join(f.out, 'no', 'such', 'state');
    await expect(run(f, { logsDir: `${f.logs}-gone`, stateDir: state })).rejects.toMatchObject({
      code: 'logs_not_found',
    });
    expect(existsSync(join(f.out, 'no'))).toBe(false);
  });
});
