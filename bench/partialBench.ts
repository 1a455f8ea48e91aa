import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ArgsSpec, args, median, ROOT, record } from './benchSupport.js';

/**
 * `node dist/bench/partialBench.js --log FILE`: one day's log into its partial, and nothing else
 * (no window merge, no charts): the cost issue 19 asks to bring to 2 s for 20M rows. Each
 * measurement is a fresh child process building the partial into a fresh state folder with the
 * embedded engine's worker pool and memory plan; with `--against DIR` (another build's dist/, e.g.
 * a worktree of the previous commit) that build's does the same, round by round, interleaved.
 *
 *   node dist/bench/partialBench.js --log FILE [--runs 3] [--threads 2] [--memory 1024] [--against DIR] [--record]
 *
 * Per build: median wall time, CPU time (all threads) and peak RSS, and the CPU time of the two
 * phases on the busiest threads (phase 1: parse and partition into spill files, the content hash;
 * phase 2: sort and encode each partition, the partial written), read from /proc per thread. The
 * partials of every build must hold the same bytes (blocks and directory, but for the time of the
 * build): it is checked, and the table says so.
 */
const SPEC: ArgsSpec = {
  usage: 'npm run bench:partial -- --log FILE [options]   (or node dist/bench/partialBench.js ...)',
  about: "One day's log into its partial and nothing else, CPU per phase; partials compared byte for byte.",
  options: {
    log: { value: 'FILE', help: 'the day to build, a listen-YYYYMMDD.log (required)', required: true },
    runs: { value: 'R', help: 'interleaved rounds (default 3)' },
    threads: { value: 'N', help: 'worker threads (default 2)' },
    memory: { value: 'MB', help: 'the memory plan in MB (default 1024)' },
    against: { value: 'DIST', help: "another build's dist/ folder, run side by side" },
    record: { help: 'write the table into the bench:partial block of docs/BENCHMARKS.md' },
    child: { value: 'DIST', help: "internal: build the partial with this build's modules", hidden: true },
  },
};

interface Measure {
  wallMs: number;
  cpuMs: number;
  rssMb: number;
  /** Phase 1 and phase 2 CPU ms of each worker thread (the threads that used more than 50 ms). */
  phase1: number[];
  phase2: number[];
  phase1WallMs: number;
  /** sha256 of the partial but for the build's time: equal partials, equal digests. */
  digest: string;
  bytes: number;
}

/** CPU ms (user + system) of every thread of this process, by thread id. */
function threadCpu(): Map<string, number> {
  const ticks = 10; // /proc counts clock ticks of 10 ms (USER_HZ 100)
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) * ticks);
    } catch {
      // the thread ended
    }
  }
  return out;
}

function busy(before: Map<string, number>, after: Map<string, number>): number[] {
  return [...after]
    .map(([tid, ms]) => ms - (before.get(tid) ?? 0))
    .filter((ms) => ms > 50)
    .sort((a, b) => b - a);
}

/** The partial's bytes with the build's time left out of its directory. */
function partialDigest(path: string): string {
  const file = readFileSync(path);
  const offset = Number(file.readBigUInt64LE(24));
  const length = file.readUInt32LE(32);
  const directory = JSON.parse(file.subarray(offset, offset + length).toString('utf8'));
  delete directory.meta.builtAt;
  delete directory.meta.buildMs;
  return createHash('sha256')
    .update(file.subarray(64, offset))
    .update(JSON.stringify(directory))
    .digest('hex');
}

/** Child: build the partial of `log` with the modules of the build at `dist`; print a Measure. */
async function child(dist: string, log: string, threads: number, memoryMb: number): Promise<void> {
  const { scanLogs } = await import(join(dist, 'src/sources/logFiles.js'));
  const { StateStore } = await import(join(dist, 'src/formats/manifest.js'));
  const { WorkerPool } = await import(join(dist, 'src/engines/embedded/workerPool.js'));
  const { planMemory } = await import(join(dist, 'src/engines/embedded/memoryPlan.js'));
  const { ensureDayPartial } = await import(join(dist, 'src/engines/embedded/dayPartial.js'));
  const scan = await scanLogs(dirname(log));
  const file = scan.logs.find((l: { name: string }) => l.name === basename(log));
  if (file === undefined) throw new Error(`${log} is not a listen log (listen-YYYYMMDD.log)`);
  const stateDir = mkdtempSync(join(tmpdir(), 'playtally-partial-bench-'));
  try {
    const state = new StateStore(stateDir);
    const pool = new WorkerPool(threads);
    const plan = planMemory(memoryMb * 1024 * 1024, threads);
    // Phase 1 ends when the job asks the workers to close their spill files.
    let phase1End: { cpu: Map<string, number>; at: number } | undefined;
    const runOnEach = pool.runOnEach.bind(pool);
    pool.runOnEach = (task: { kind: string }) => {
      if (task.kind === 'finishSpill' && phase1End === undefined)
        phase1End = { cpu: threadCpu(), at: performance.now() };
      return runOnEach(task);
    };
    const cpuBefore = process.cpuUsage();
    const threadsBefore = threadCpu();
    const started = performance.now();
    const partial = await ensureDayPartial(file, state, pool, plan, state.tmpDir, true);
    const wallMs = performance.now() - started;
    const threadsAfter = threadCpu();
    const cpu = process.cpuUsage(cpuBefore);
    await pool.close();
    const measure: Measure = {
      wallMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssMb: process.resourceUsage().maxRSS / 1024,
      phase1: busy(threadsBefore, phase1End!.cpu),
      phase2: busy(phase1End!.cpu, threadsAfter),
      phase1WallMs: phase1End!.at - started,
      digest: partialDigest(partial.path),
      bytes: statSync(partial.path).size,
    };
    process.stdout.write(JSON.stringify(measure));
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function measure(dist: string, log: string, threads: number, memoryMb: number): Measure {
  const r = spawnSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      '--child',
      dist,
      '--log',
      log,
      '--threads',
      String(threads),
      '--memory',
      String(memoryMb),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (r.status !== 0) throw new Error(`partial child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measure;
}

async function main(): Promise<void> {
  const a = args(SPEC);
  const log = resolve(a.get('log')!);
  const threads = Number(a.get('threads') ?? 2);
  const memoryMb = Number(a.get('memory') ?? 1024);
  if (a.has('child')) return child(a.get('child')!, log, threads, memoryMb);
  const runs = Number(a.get('runs') ?? 3);
  const against = a.get('against');
  const builds: [string, string][] = [
    ['this build', join(ROOT, 'dist')],
    ...(against === undefined ? [] : [['--against build', resolve(against)] as [string, string]]),
  ];
  const results = new Map<string, Measure[]>(builds.map(([name]) => [name, []]));
  for (let round = 0; round < runs; round++) {
    for (const [name, dist] of builds) {
      const m = measure(dist, log, threads, memoryMb);
      results.get(name)!.push(m);
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      console.error(
        `round ${round + 1}: ${name}: ${(m.wallMs / 1000).toFixed(2)} s, CPU ${(m.cpuMs / 1000).toFixed(2)} s, ` +
          `phase 1 ${m.phase1.join('/')} ms, phase 2 ${m.phase2.join('/')} ms, ${m.rssMb.toFixed(0)} MB (load ${load})`,
      );
    }
  }
  const digests = new Set([...results.values()].flat().map((m) => m.digest));
  const first = results.get(builds[0]![0])!;
  const base = median(first.map((m) => m.wallMs));
  const mb = statSync(log).size / 1e6;
  const perThread = (ms: number[][]): string =>
    `${(median(ms.map((t) => t[0] ?? 0)) / 1000).toFixed(2)} + ${(median(ms.map((t) => t[1] ?? 0)) / 1000).toFixed(2)} s`;
  const lines = [
    `One day's log (${basename(log)}, ${mb.toFixed(0)} MB) into its partial, ${threads} threads, --memory ${memoryMb}MB, ` +
      `median of ${runs} interleaved runs (${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}):`,
    '',
    '| build | wall | CPU (all threads) | phase 1 CPU (two busiest threads) | phase 2 CPU (two busiest threads) | peak RSS | vs this build |',
    '|---|---|---|---|---|---|---|',
    ...builds.map(([name]) => {
      const ms = results.get(name)!;
      const wall = median(ms.map((m) => m.wallMs));
      return (
        `| ${name} | ${(wall / 1000).toFixed(2)} s | ${(median(ms.map((m) => m.cpuMs)) / 1000).toFixed(2)} s | ` +
        `${perThread(ms.map((m) => m.phase1))} | ${perThread(ms.map((m) => m.phase2))} | ` +
        `${median(ms.map((m) => m.rssMb)).toFixed(0)} MB | ${(wall / base).toFixed(2)}x |`
      );
    }),
    '',
    `Partials (${(first[0]!.bytes / 1e6).toFixed(0)} MB) identical across ${builds.length > 1 ? 'builds and ' : ''}runs: ` +
      `${digests.size === 1 ? 'yes' : 'NO'}.`,
  ];
  const report = lines.join('\n');
  console.log(report);
  if (a.has('record')) {
    const command = `npm run bench:partial -- --log ${log} --runs ${runs}${against ? ' --against <previous build>/dist' : ''}`;
    record(
      'partial',
      `### A day's partial (${new Date().toISOString().slice(0, 10)})\n\nCommand: \`${command}\`\n\n${report}`,
    );
  }
  if (digests.size !== 1) process.exitCode = 1;
}

await main();
