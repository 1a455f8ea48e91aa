import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type {
  FinishSpillResult,
  MergeCountriesResult,
  MergeCountriesTask,
  ParseUnitResult,
  ProgressMessage,
  Task,
} from '../../src/engines/embedded/tasks.js';
import { WorkerPool } from '../../src/engines/embedded/workerPool.js';
import { type PartialDirectory, PartialWriter } from '../../src/formats/partialFile.js';
import { aggregatePairs, emptySegments } from '../../src/partials/aggregatePairs.js';
import { ByteWriter } from '../../src/partials/varint.js';
import type { CountryChart } from '../../src/window/countryCharts.js';
import { mergeTopK } from '../../src/window/mergeTopK.js';
import { ROOT } from '../support/cliRuns.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * The worker pool (src/engines/embedded/workerPool.ts) with the real worker script (the build
 * output: `npm run build` first, which `npm run test:unit` does not run): tasks run on the worker
 * threads and each promise gets its own task's result; a task that throws rejects its promise with
 * the worker's message, code and path (the chart job rebuilds a day on code PARTIAL_CORRUPT and the
 * damaged file's path) and the pool goes on; a worker that dies fails what it ran and everything
 * after, without hanging; close() lets every thread end by itself.
 */

/** Where the pool finds its worker script when run from the TypeScript sources. */
const WORKER = join(ROOT, 'dist', 'src', 'engines', 'embedded', 'worker.js');
const temp = new TempDirs();
const pools: WorkerPool[] = [];

beforeAll(() => {
  if (!existsSync(WORKER)) {
    throw new Error(
      `${WORKER} is missing: run \`npm run build\` first (the pool runs the built worker; npm run test:unit does not build)`,
    );
  }
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
afterAll(() => temp.cleanup());

function pool(size: number, onProgress?: (p: ProgressMessage) => void): WorkerPool {
  const p = new WorkerPool(size, onProgress);
  pools.push(p);
  return p;
}

/** The pool's worker threads (a private field: the test checks that they end). */
function workersOf(p: WorkerPool): Worker[] {
  return (p as unknown as { slots: { worker: Worker }[] }).slots.map((s) => s.worker);
}

/** The error a promise rejects with (the test fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & { code?: unknown; path?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: unknown; path?: unknown };
  }
  return expect.fail('expected a rejection');
}

// ---- a day partial with country blocks to merge ---------------------------------------------

interface Day {
  path: string;
  directory: PartialDirectory;
  countries: Uint8Array[];
}

/** A partial of `partitions` partitions whose country blocks hold `(country, song)` plays. */
function writeDay(dir: string, name: string, partitions: number, seed: number): Day {
  const path = join(dir, name);
  const writer = new PartialWriter(path, partitions);
  const countries: Uint8Array[] = [];
  for (let p = 0; p < partitions; p++) {
    const n = 200 + p * 10;
    const keys = Float64Array.from({ length: n }, (_, i) => (i * 7 + seed) % 12);
    const songs = Float64Array.from({ length: n }, (_, i) => p * 1000 + ((i * 13 + seed) % 37));
    const out = new ByteWriter(256);
    const stats = aggregatePairs(keys, songs, n, out);
    const bytes = out.result().slice();
    countries.push(bytes);
    writer.writePartition(
      new Uint8Array(0),
      { keys: 0, pairs: 0, plays: 0, segments: emptySegments() },
      bytes,
      stats,
    );
  }
  return { path, directory: writer.commit({ name }), countries };
}

function mergeTask(days: Day[], partition: number, top = 5): MergeCountriesTask {
  return {
    kind: 'mergeCountries',
    partition,
    top,
    sources: days.map((d) => ({ path: d.path, blocks: [d.directory.countries[partition]!] })),
  };
}

/** What the task must give, merged on this thread. */
function mergedHere(days: Day[], partition: number, top = 5): CountryChart[] {
  const charts: CountryChart[] = [];
  mergeTopK(
    days.map((d) => d.countries[partition]!),
    top,
    (country, songs, plays, n) => {
      charts.push({ country, songs: songs.slice(0, n), plays: plays.slice(0, n) });
    },
  );
  return charts;
}

const dir = temp.make('worker-pool-');
const days = [writeDay(dir, 'a.ptp', 8, 1), writeDay(dir, 'b.ptp', 8, 5), writeDay(dir, 'c.ptp', 8, 9)];

// A pool that hangs fails its test in 15 s rather than the suite's 60 s.
describe('WorkerPool', { timeout: 15_000 }, () => {
  it('runs tasks on the worker threads; each promise gets its own task result, more tasks than workers', async () => {
    const p = pool(2);
    expect(p.size).toBe(2);
    const partitions = Array.from({ length: 24 }, (_, i) => i % 8);
    const results = await Promise.all(
      partitions.map((q, i) => p.run<MergeCountriesResult>(mergeTask(days, q, 1 + (i % 4)))),
    );
    results.forEach((r, i) => {
      expect(r.partition).toBe(partitions[i]);
      expect(r.countries).toEqual(mergedHere(days, partitions[i]!, 1 + (i % 4)));
      expect(r.countries.length).toBeGreaterThan(0);
    });
  });

  it('a task that throws rejects with the worker error (message, code, path, stack); the rest go on', async () => {
    const p = pool(2);
    const damaged = join(dir, 'damaged.ptp');
    const bytes = readFileSync(days[0]!.path);
    bytes[days[0]!.directory.countries[3]!.offset + 2]! ^= 0xff;
    writeFileSync(damaged, bytes);
    const missing = join(dir, 'no-such.ptp');

    const good = [0, 1, 2, 3].map((q) => p.run<MergeCountriesResult>(mergeTask(days, q)));
    // Each failure is caught where it is made: on two workers either may fail first, and one
    // rejecting while the test awaits the other would be an unhandled rejection.
    const corrupt = rejection(p.run({ ...mergeTask([{ ...days[0]!, path: damaged }], 3) }));
    const gone = rejection(p.run({ ...mergeTask([{ ...days[0]!, path: missing }], 0) }));
    const more = [4, 5, 6, 7].map((q) => p.run<MergeCountriesResult>(mergeTask(days, q)));

    const c = await corrupt;
    expect(c).toBeInstanceOf(Error);
    expect(c.code).toBe('PARTIAL_CORRUPT');
    expect(c.path).toBe(damaged);
    expect(c.message).toBe(
      `${damaged}: block checksum mismatch at ${days[0]!.directory.countries[3]!.offset}`,
    );
    expect(c.stack).toContain('PartialFileError');
    expect(c.stack).toContain('readBlock');

    const g = await gone;
    expect(g.code).toBe('ENOENT');
    expect(g.path).toBe(missing);
    expect(g.message).toContain('no such file or directory');

    const fine = await Promise.all([...good, ...more]);
    expect(fine.map((r) => r.partition)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The pool still takes work after the failures.
    expect((await p.run<MergeCountriesResult>(mergeTask(days, 6))).countries).toEqual(mergedHere(days, 6));
  });

  it('a task the worker does not know rejects too, and the worker stays usable', async () => {
    const p = pool(1);
    const error = await rejection(p.run({ kind: 'noSuchTask' } as unknown as Task));
    expect(error).toBeInstanceOf(Error);
    expect((await p.run<MergeCountriesResult>(mergeTask(days, 2))).partition).toBe(2);
  });

  it('runOnEach gives one task to every worker; a worker keeps its spill file between parse tasks; progress', async () => {
    const progress: ProgressMessage[] = [];
    const p = pool(3, (m) => progress.push(m));
    const spillDir = temp.make('worker-pool-spill-');
    expect(await p.runOnEach<FinishSpillResult>({ kind: 'finishSpill', spillDir })).toEqual([
      null,
      null,
      null,
    ]);

    // Each chunk owns its ArrayBuffer, as the gzip reader's chunks do (a small Buffer.from would
    // share Node's buffer pool, which cannot be transferred).
    const chunks = Array.from({ length: 9 }, (_, c) => {
      const lines = Array.from({ length: 50 }, (_, i) =>
        i === 7 ? 'not a row\n' : `${c * 100 + i}|${i % 6}|FR\n`,
      );
      return new TextEncoder().encode(lines.join(''));
    });
    const parsed = await Promise.all(
      chunks.map((bytes, index) =>
        p.run<ParseUnitResult>(
          {
            kind: 'parseChunk',
            index,
            bytes,
            skipFirstLine: false,
            spillDir,
            partitions: 4,
            spillBufferBytes: 1 << 16,
            maxExamples: 3,
          },
          [bytes.buffer as ArrayBuffer],
        ),
      ),
    );
    expect(parsed.map((r) => r.unit)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parsed.map((r) => [r.lines, r.valid])).toEqual(Array(9).fill([50, 49]));
    expect(parsed.every((r) => r.examples.length === 1 && r.examples[0]!.line === 8)).toBe(true);

    const spills = await p.runOnEach<FinishSpillResult>({ kind: 'finishSpill', spillDir });
    expect(spills).toHaveLength(3);
    const written = spills.filter((s) => s !== null);
    expect(written.length).toBeGreaterThan(0);
    expect(new Set(written.map((s) => s.path)).size).toBe(written.length); // one spill file per worker
    const pairs = written.flatMap((s) => s.chunks).reduce((n, c) => n + c.pairs, 0);
    expect(pairs).toBe(9 * 49 * 2); // every valid row, in both tables
    // Each worker reported the rows of its chunks as progress.
    expect(progress.reduce((n, m) => n + m.rows, 0)).toBe(9 * 50);
    // A second finishSpill finds nothing left open.
    expect(await p.runOnEach<FinishSpillResult>({ kind: 'finishSpill', spillDir })).toEqual([
      null,
      null,
      null,
    ]);
    // Progress made on the main thread (a gzip log is read there) goes to the same callback.
    progress.length = 0;
    p.progress({ type: 'progress', bytes: 123, rows: 0 });
    expect(progress).toEqual([{ type: 'progress', bytes: 123, rows: 0 }]);
  });

  it("two days' units interleaved on the same workers: each day's rows go to its own spill files only", async () => {
    // As when a day parsed again after a failure meets the next day's units (the days overlap).
    const p = pool(2);
    const dirs = [temp.make('worker-pool-day-a-'), temp.make('worker-pool-day-b-')];
    const unit = (d: number, index: number) => {
      const lines = Array.from(
        { length: 40 },
        (_, i) => `${(d + 1) * 1_000_000 + index * 100 + i}|${i % 5}|FR\n`,
      );
      const bytes = new TextEncoder().encode(lines.join(''));
      return p.run<ParseUnitResult>(
        {
          kind: 'parseChunk',
          index,
          bytes,
          skipFirstLine: false,
          spillDir: dirs[d]!,
          partitions: 4,
          spillBufferBytes: 1 << 16,
          maxExamples: 3,
        },
        [bytes.buffer as ArrayBuffer],
      );
    };
    await Promise.all(Array.from({ length: 12 }, (_, i) => unit(i % 2, i)));
    for (const [d, spillDir] of dirs.entries()) {
      const spills = await p.runOnEach<FinishSpillResult>({ kind: 'finishSpill', spillDir });
      const songs: number[] = [];
      for (const spill of spills) {
        if (spill === null) continue;
        expect(spill.path.startsWith(spillDir)).toBe(true);
        const file = readFileSync(spill.path);
        for (const c of spill.chunks) {
          const words = new Uint32Array(
            new Uint8Array(file.subarray(c.offset, c.offset + c.pairs * 8)).buffer,
          );
          for (let i = 0; i < c.pairs; i++) songs.push(words[2 * i]!);
        }
      }
      // Every row of the day's 6 units, in both tables, and none of the other day's.
      expect(songs).toHaveLength(6 * 40 * 2);
      expect(songs.every((song) => Math.floor(song / 1_000_000) === d + 1)).toBe(true);
    }
  });

  it('whenIdle resolves once no task waits and a worker is free: the tail of the work queued', async () => {
    const p = pool(2);
    let done = 0;
    const tasks = Array.from({ length: 6 }, (_, i) =>
      p.run(mergeTask(days, i % 8)).then(() => {
        done++;
      }),
    );
    await p.whenIdle();
    // Six tasks on two workers: the queue empties when the sixth starts, after four are done,
    // and a worker is free when a fifth is.
    expect(done).toBeGreaterThanOrEqual(5);
    await Promise.all(tasks);
    expect(await settlesWithin(p.whenIdle(), 200)).toBe('settled');
    const busy = pool(1);
    await busy.run(mergeTask(days, 0)); // the thread is up
    const running = busy.run(mergeTask(days, 1));
    let woke = false;
    const idle = busy.whenIdle().then(() => {
      woke = true;
    });
    await Promise.resolve();
    expect(woke).toBe(false); // the task is running
    await running;
    expect(await settlesWithin(idle, 200)).toBe('settled');
  });

  it('prepare completes a task as it is sent, not as it is queued, and its buffers are transferred', async () => {
    const p = pool(1);
    const prepared: number[] = [];
    const buffers: ArrayBuffer[] = [];
    const tasks = [0, 1, 2].map((q) =>
      p
        .run<MergeCountriesResult>(mergeTask(days, q), [], (task) => {
          prepared.push((task as MergeCountriesTask).partition);
          const buffer = new ArrayBuffer(64);
          buffers.push(buffer);
          (task as unknown as { spare: ArrayBuffer }).spare = buffer;
          return [buffer];
        })
        .then((r) => {
          expect(r.countries).toEqual(mergedHere(days, r.partition));
        }),
    );
    // One worker: the first task is sent at once, the others wait in the queue unprepared.
    expect(prepared).toEqual([0]);
    await Promise.all(tasks);
    expect(prepared).toEqual([0, 1, 2]);
    // Moved to the worker, not copied: detached here.
    expect(buffers.map((b) => b.byteLength)).toEqual([0, 0, 0]);
  });

  it('resourceLimits reach every thread (the chart job caps their young generation), and they still work', async () => {
    const limited = new WorkerPool(2, () => {}, { maxYoungGenerationSizeMb: 4 });
    pools.push(limited);
    const plain = new WorkerPool(1);
    pools.push(plain);
    expect(await limited.run(mergeTask(days, 0))).toEqual({ partition: 0, countries: mergedHere(days, 0) });
    await plain.run(mergeTask(days, 1));
    // The thread's own limits once it runs (V8's default young generation is larger: 48 MB here).
    expect(workersOf(limited).map((w) => w.resourceLimits?.maxYoungGenerationSizeMb)).toEqual([4, 4]);
    expect(workersOf(plain)[0]!.resourceLimits?.maxYoungGenerationSizeMb).toBeGreaterThan(4);
  });

  it('close() ends every thread by itself, well before the 5 s fallback', async () => {
    const p = new WorkerPool(3);
    await Promise.all([0, 1, 2].map((q) => p.run(mergeTask(days, q))));
    const workers = workersOf(p);
    const exits = workers.map((w) => new Promise<number>((done) => w.once('exit', done)));
    const started = Date.now();
    await p.close();
    expect(Date.now() - started).toBeLessThan(3000);
    // Exit code 0: each thread left on its own, none was terminated.
    expect(await Promise.all(exits)).toEqual([0, 0, 0]);
    expect(workers.every((w) => w.threadId === -1)).toBe(true);
  });

  it('retireIdle: a worker left without work ends while another works; the last stays for a late task', async () => {
    const p = new WorkerPool(3);
    const workers = workersOf(p);
    const exited: number[] = [];
    workers.forEach((w, i) => {
      w.once('exit', () => exited.push(i));
    });
    const tasks = [0, 1, 2, 3, 4].map((q) => p.run<MergeCountriesResult>(mergeTask(days, q)));
    p.retireIdle();
    const results = await Promise.all(tasks);
    expect(results.map((r) => r.countries)).toEqual([0, 1, 2, 3, 4].map((q) => mergedHere(days, q)));
    // Every worker but the one that finished last was left without work while another worked.
    await vi.waitFor(() => expect(exited).toHaveLength(2));
    const [last] = workers.filter((_, i) => !exited.includes(i));
    expect(last!.threadId).toBeGreaterThan(0);
    // A task queued late (a file read again whole) runs on it, with no failure for the others.
    expect((await p.run<MergeCountriesResult>(mergeTask(days, 5))).countries).toEqual(mergedHere(days, 5));
    await p.close();
    expect(workers.every((w) => w.threadId === -1)).toBe(true);
  });

  it('release: every worker leaves after its task, without waiting for close(); later and unsent tasks fail', async () => {
    const p = new WorkerPool(2);
    const workers = workersOf(p);
    const exits = workers.map((w) => new Promise<number>((done) => w.once('exit', done)));
    // Two running (one a worker), one queued behind them, one pinned to a worker.
    const running = [0, 1].map((q) => p.run<MergeCountriesResult>(mergeTask(days, q)));
    const queued = rejection(p.run(mergeTask(days, 2)));
    const pinned = rejection(p.runOnEach(mergeTask(days, 3)));
    p.release();
    // The tasks running finish with their results; the threads then end on their own (code 0),
    // with no close() called.
    expect((await Promise.all(running)).map((r) => r.countries)).toEqual(
      [0, 1].map((q) => mergedHere(days, q)),
    );
    expect(await Promise.all(exits)).toEqual([0, 0]);
    expect((await queued).message).toMatch(/closed/);
    expect((await pinned).message).toMatch(/closed/);
    expect((await rejection(p.run(mergeTask(days, 4)))).message).toMatch(/closed/);
    // close() afterwards has nothing left to wait for.
    const started = Date.now();
    await p.close();
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('close() of a pool that never ran a task', async () => {
    const p = new WorkerPool(2);
    const started = Date.now();
    await p.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(workersOf(p).every((w) => w.threadId === -1)).toBe(true);
  });

  /** 'settled' when `promise` settles within `ms`, else 'pending'. */
  async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
    const settled = promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'pending'>((done) => {
      timer = setTimeout(() => done('pending'), ms);
    });
    try {
      return await Promise.race([settled, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  // A task postMessage cannot send (DataCloneError: a function in the task, a detached buffer in
  // the transfer list) fails alone: the slot was marked busy before the post, and stayed busy for
  // good, so that worker never took another task and a pool of one hung.
  it('a task that cannot be sent to the worker rejects, and the worker still takes the next task', async () => {
    const p = pool(1);
    await p.run(mergeTask(days, 0)); // the thread is up: the next task takes milliseconds
    const error = await rejection(p.run({ ...mergeTask(days, 0), notData: () => 1 } as unknown as Task));
    expect(error.name).toBe('DataCloneError');
    expect(await settlesWithin(p.run(mergeTask(days, 1)), 500)).toBe('settled');
  });

  // A closed pool's threads have ended: a task posted to one was never answered.
  it('run() after close() rejects instead of waiting for ever', async () => {
    const p = new WorkerPool(1);
    await p.close();
    expect(await settlesWithin(p.run(mergeTask(days, 0)), 300)).toBe('settled');
  });

  it('a worker thread that ends fails every later task with one error; close() still resolves', async () => {
    const p = new WorkerPool(1);
    await p.run(mergeTask(days, 0)); // the thread is up and idle
    await workersOf(p)[0]!.terminate();
    const error = await rejection(p.run(mergeTask(days, 1)));
    expect(error.message).toMatch(/^worker thread exited unexpectedly \(code \d+\)$/);
    expect(await rejection(p.run(mergeTask(days, 2)))).toBe(error);
    expect(await rejection(p.runOnEach({ kind: 'finishSpill', spillDir: '/nowhere' }))).toBe(error);

    // A thread that is already gone sends no second 'exit': close() takes its 5 s fallback (made
    // instant here with fake timers) and still resolves.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let closed = false;
      const closing = p.close().then(() => (closed = true));
      await vi.advanceTimersByTimeAsync(5_000);
      await closing;
      expect(closed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  // A thread cannot be killed at a chosen point of a task without races (and terminating one in
  // the middle of V8's background compilation can abort the process, see WorkerPool.close): the
  // pool is sent the events of a thread that dies (an uncaught exception, an exit) while a task
  // runs and others wait, and hears nothing more from it (its message listener is removed; the
  // real thread is left to close()).
  for (const [event, payload, message] of [
    ['exit', 7, 'worker thread exited unexpectedly (code 7)'],
    ['error', new Error('uncaught in the worker'), 'uncaught in the worker'],
  ] as const) {
    it(`a worker '${event}' while a task runs fails it, the queued ones and later ones, with one error`, async () => {
      const p = pool(1);
      await p.run(mergeTask(days, 0));
      // Caught where they are made: all three reject at once.
      const running = rejection(p.run<MergeCountriesResult>(mergeTask(days, 1)));
      const queued = rejection(p.run(mergeTask(days, 2)));
      const pinned = rejection(p.runOnEach({ kind: 'finishSpill', spillDir: '/nowhere' }));
      const worker = workersOf(p)[0]!;
      worker.removeAllListeners('message');
      worker.emit(event, payload);
      const error = await running;
      expect(error.message).toBe(message);
      if (event === 'error') expect(error).toBe(payload);
      expect(await queued).toBe(error);
      expect(await pinned).toBe(error);
      expect(await rejection(p.run(mergeTask(days, 3)))).toBe(error);
    });
  }
});
