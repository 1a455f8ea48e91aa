import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import {
  type ErrorMessage,
  EXIT_MESSAGE,
  errorFromMessage,
  type ProgressMessage,
  type Task,
} from './tasks.js';

interface Job {
  task: Task;
  transfer: ArrayBuffer[];
  /** Completes the task as it is sent (see run): buffers to transfer with it. */
  prepare?: (task: Task) => ArrayBuffer[];
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Tasks that must run on this worker (its spill file lives there). */
  pinned: Job[];
  current: Job | undefined;
  /** Asked to leave before the pool closes (retireIdle): its thread has ended or is ending. */
  retired?: Promise<void>;
}

/** The compiled worker script; from TypeScript sources (tests) the build output is used. */
function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'worker.js');
  const built = resolve(dirname(here), '../../../dist/src/engines/embedded/worker.js');
  if (!existsSync(built)) throw new Error(`worker script ${built} is missing: run \`npm run build\` first`);
  return built;
}

/**
 * V8 optimises hot functions on background threads by default. A worker thread ending while one
 * of those compile jobs runs sometimes never finishes ending (Node 20: the worker acknowledges the
 * exit message, then neither leaves nor yields to terminate()): about 1 run of `top50` in 40 hung
 * for ever in the pool's close (5 of 160 on the topper sample). With the optimising compiler on
 * the worker's own thread there were none in 880 runs. Set when the first pool starts, before any
 * worker exists, so every worker's isolate starts with it (and a process without workers, such as
 * `serve`, keeps V8's default); the cost is measured in docs/BENCHMARKS.md.
 */
function optimiseOnWorkerThreads(): void {
  setFlagsFromString('--no-concurrent-recompilation');
}

/**
 * A fixed set of worker threads running tasks from one queue. `run` gives a task to whichever
 * worker is free; `runOnEach` gives one task to every worker (to close per-worker state).
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private closed = false;
  private failure: Error | undefined;
  /** whenIdle's callers, waiting for a free worker and an empty queue. */
  private idleWaiters: (() => void)[] = [];
  /** Set by retireIdle: a worker left without work leaves, but for the last one. */
  private retiring = false;

  /**
   * `resourceLimits`: each thread's V8 heap limits (the chart job caps the young generation from
   * its memory budget, MemoryPlan.youngGenerationMb); V8's defaults without.
   */
  constructor(
    readonly size: number,
    private readonly onProgress: (progress: ProgressMessage) => void = () => {},
    resourceLimits?: ResourceLimits,
  ) {
    const script = workerScript();
    optimiseOnWorkerThreads();
    for (let i = 0; i < size; i++) {
      const worker = new Worker(script, resourceLimits === undefined ? undefined : { resourceLimits });
      const slot: Slot = { worker, pinned: [], current: undefined };
      worker.on('message', (message: { type: string } & Record<string, unknown>) =>
        this.onMessage(slot, message),
      );
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (!this.closed && slot.retired === undefined)
          this.fail(new Error(`worker thread exited unexpectedly (code ${code})`));
      });
      this.slots.push(slot);
    }
  }

  /**
   * Run `task` on the first free worker, `transfer`'s buffers moved with it. `prepare`, if given,
   * is called as the task is sent, not as it is queued: it may add to the task what is only known
   * then (buffers handed back by the tasks done meanwhile), and returns those to transfer too.
   */
  run<R>(task: Task, transfer: ArrayBuffer[] = [], prepare?: (task: Task) => ArrayBuffer[]): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      // A closed pool's threads have ended: a task posted to one would never be answered.
      if (this.closed) return reject(new Error('the worker pool is closed'));
      this.queue.push({ task, transfer, prepare, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  runOnEach<R>(task: Task): Promise<R[]> {
    return Promise.all(
      this.slots
        .filter((slot) => slot.retired === undefined)
        .map(
          (slot) =>
            new Promise<R>((resolve, reject) => {
              if (this.closed) return reject(new Error('the worker pool is closed'));
              slot.pinned.push({ task, transfer: [], resolve: resolve as (v: unknown) => void, reject });
              this.dispatch();
            }),
        ),
    );
  }

  /**
   * Resolves when no task waits and a worker is free (at once if that is so now; or when the pool
   * closes): the tail of the work queued so far has begun, and a thread is left waiting.
   */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.wakeIdleWaiters();
    });
  }

  /**
   * No work is coming but what is queued now (and perhaps a late task or two): from now on a
   * worker left without a task ends, and its memory goes back to the system, as long as another
   * worker is still there for what comes late. An idle thread keeps its last task's garbage, as
   * nothing it allocates makes V8 collect it: a KPI parse worker done with its file held about
   * 200 MB at 2M users while the other parsed the last file.
   */
  retireIdle(): void {
    this.retiring = true;
    this.dispatch();
  }

  /** Report progress made on the main thread (a gzip log is decompressed there). */
  progress(message: ProgressMessage): void {
    this.onProgress(message);
  }

  /**
   * No task is coming: every worker is asked to leave now (each as `leave` says, after the task it
   * may be running), so that the threads end while this one finishes its own work; `close` awaits
   * them. A task run after this fails, as on a closed pool.
   */
  release(): void {
    this.closed = true;
    for (const wake of this.idleWaiters.splice(0)) wake();
    // Tasks not sent yet would never be: they fail.
    const unsent = [...this.queue.splice(0), ...this.slots.flatMap((slot) => slot.pinned.splice(0))];
    for (const job of unsent) job.reject(new Error('the worker pool is closed'));
    for (const slot of this.slots) slot.retired ??= leave(slot.worker);
  }

  /** Stop the workers (release) and wait for their threads to end. */
  async close(): Promise<void> {
    this.release();
    await Promise.all(this.slots.map((slot) => slot.retired));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.current !== undefined || slot.retired !== undefined) continue;
      const job = slot.pinned.shift() ?? this.queue.shift();
      if (job === undefined) continue;
      if (this.failure) {
        job.reject(this.failure);
        continue;
      }
      try {
        const extra = job.prepare?.(job.task) ?? [];
        slot.worker.postMessage(job.task, extra.length === 0 ? job.transfer : [...job.transfer, ...extra]);
      } catch (error) {
        // Not sent (a task that cannot be cloned, a buffer already detached): that task fails,
        // the worker stays free for the next one.
        job.reject(error as Error);
        continue;
      }
      slot.current = job;
    }
    this.wakeIdleWaiters();
    if (this.retiring) this.retireFree();
  }

  /** Each free worker asked to leave, while another one is still working. */
  private retireFree(): void {
    if (this.queue.length > 0) return;
    for (const slot of this.slots) {
      if (!isFree(slot)) continue;
      if (!this.slots.some((other) => other !== slot && other.retired === undefined)) return;
      slot.retired = leave(slot.worker);
    }
  }

  private wakeIdleWaiters(): void {
    if (this.idleWaiters.length === 0 || this.queue.length > 0) return;
    if (this.slots.some(isFree)) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private onMessage(slot: Slot, message: { type: string } & Record<string, unknown>): void {
    if (message.type === 'progress') {
      this.onProgress(message as unknown as ProgressMessage);
      return;
    }
    const job = slot.current;
    slot.current = undefined;
    if (job !== undefined) {
      if (message.type === 'done') job.resolve(message.result);
      else {
        job.reject(errorFromMessage(message as unknown as ErrorMessage));
      }
    }
    this.dispatch();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const slot of this.slots) {
      slot.current?.reject(error);
      slot.current = undefined;
      for (const job of slot.pinned.splice(0)) job.reject(error);
    }
    for (const job of this.queue.splice(0)) job.reject(error);
  }
}

/** A worker there to take a task, with none running and none pinned to it. */
function isFree(slot: Slot): boolean {
  return slot.current === undefined && slot.pinned.length === 0 && slot.retired === undefined;
}

/**
 * A worker asked to leave on its own (it closes its port and its event loop ends), and terminated
 * only if it has not within a few seconds: terminating a thread in the middle of V8's background
 * compilation can abort the whole process (a Node bug).
 */
async function leave(worker: Worker): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage(EXIT_MESSAGE);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), 5_000);
  });
  if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
  clearTimeout(timer);
}
