import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkerPool } from '../../src/engines/embedded/workerPool.js';
import type { RunRecord } from '../../src/formats/runHistory.js';
import { runKpis } from '../../src/jobs/kpiJob.js';
import { acquireLock } from '../../src/ops/runLock.js';
import { ResultsReader } from '../../src/store/resultsReader.js';
import { ResultsStore } from '../../src/store/resultsStore.js';
import { watchLanding } from '../../src/unattended/landingWatch.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import type { RunEvent } from '../../src/unattended/runOptions.js';
import { kpiFiles, logsAndKpiLanding } from '../support/kpiLanding.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * `run --kpis-landing`: one scheduled command keeps the charts and the genre KPIs up to date. The
 * KPI files a run writes are byte for byte those of the `kpis` job on the same landing folder; a
 * second run finds them current; a `kpis` holding the KPI state folder makes the run skip its
 * KPIs (and say so) without failing the charts. Through the CLI: test/e2e/run.test.ts.
 */
const temp = new TempDirs();
afterEach(() => temp.cleanup());

describe('run with --kpis-landing', () => {
  it('writes the charts, then the KPIs the kpis job writes; a second run finds both current', async () => {
    const { logs, landing, out } = logsAndKpiLanding(temp);
    const copy = temp.make();
    cpSync(landing, copy, { recursive: true });
    const referenceOut = temp.make();
    const reference = await runKpis({ landingDir: copy, outDir: referenceOut, threads: 2, archive: false });
    const kpiDays = reference.days.map((d) => d.date);
    expect(kpiDays.length).toBeGreaterThan(1);

    const events: RunEvent[] = [];
    const store = ResultsStore.open(join(temp.make(), 'results.db'));
    try {
      const first = await runOnce({
        logsDir: logs,
        outDir: out,
        command: 'run',
        window: 2,
        threads: 2,
        store,
        kpis: { landingDir: landing, archive: false },
        onRunEvent: (e) => events.push(e),
      });
      expect(first.ok).toBe(true);
      expect(first.charts).toEqual(['2024-03-01', '2024-03-02']);
      expect(first.kpis).toMatchObject({ days: kpiDays, daysCurrent: 0, filesParsed: 4 });
      expect(kpiFiles(out)).toEqual(kpiFiles(referenceOut));
      expect(kpiFiles(out).size).toBe(3 * kpiDays.length);
      expect(events.some((e) => e.type === 'kpisDone')).toBe(true);
      // The store has the KPI days too.
      expect(events.find((e) => e.type === 'kpisStored')).toMatchObject({ dates: [...kpiDays].reverse() });
      const reader = ResultsReader.open(store.path);
      try {
        expect(reader.kpiDay(kpiDays[0]!)?.genres.length).toBeGreaterThan(0);
      } finally {
        reader.close();
      }

      const second = await runOnce({
        logsDir: logs,
        outDir: out,
        command: 'run',
        window: 2,
        threads: 2,
        store,
        kpis: { landingDir: landing, archive: false },
      });
      expect(second.charts).toEqual([]);
      expect(second.kpis).toMatchObject({ days: [], daysCurrent: kpiDays.length, filesParsed: 0 });
    } finally {
      store.close();
    }
  });

  it("ends the charts' worker threads before the KPI step starts its own, and each pool once", async () => {
    // Both at once held their buffers together: a run of 7 x 2M rows and 30M stream rows peaked
    // at 573 MB at the default budget (docs/BENCHMARKS.md, "Genre KPIs within --memory").
    const { logs, landing, out } = logsAndKpiLanding(temp);
    const order: string[] = [];
    const closes = new Map<WorkerPool, number>();
    const close = WorkerPool.prototype.close;
    const spy = vi.spyOn(WorkerPool.prototype, 'close').mockImplementation(async function (this: WorkerPool) {
      closes.set(this, (closes.get(this) ?? 0) + 1);
      await close.call(this);
      order.push('pool closed');
    });
    try {
      const record = await runOnce({
        logsDir: logs,
        outDir: out,
        command: 'run',
        window: 2,
        threads: 2,
        kpis: { landingDir: landing, archive: false },
        onRunEvent: (e) => {
          if (e.type === 'kpis' && e.event.type === 'parseStart') order.push('kpis parse');
        },
      });
      expect(record.ok).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(order[0]).toBe('pool closed');
    expect(order).toContain('kpis parse');
    expect([...closes.values()].every((n) => n === 1)).toBe(true);
  });

  it('archives the streams files once their days are written, as kpis does', async () => {
    const { logs, landing, out } = logsAndKpiLanding(temp);
    const record = await runOnce({
      logsDir: logs,
      outDir: out,
      command: 'run',
      threads: 2,
      kpis: { landingDir: landing },
    });
    expect(record.kpis).toMatchObject({ archived: 4 });
    expect(readdirSync(join(landing, 'streams'))).toEqual([]);
    expect(readdirSync(join(landing, 'archive')).length).toBeGreaterThan(0);
  });

  it('skips the KPIs, saying why, while a kpis command holds their state folder; the charts are written', async () => {
    const { logs, landing, out } = logsAndKpiLanding(temp);
    const lock = await acquireLock(join(out, '.playtally-kpis'), 'playtally kpis');
    const events: RunEvent[] = [];
    try {
      const record = await runOnce({
        logsDir: logs,
        outDir: out,
        command: 'run',
        threads: 2,
        kpis: { landingDir: landing },
        onRunEvent: (e) => events.push(e),
      });
      expect(record.ok).toBe(true);
      expect(record.charts.length).toBeGreaterThan(0);
      expect(record.kpis).toEqual({ skipped: expect.stringMatching(/playtally kpis/) });
      expect(events.filter((e) => e.type === 'kpisSkipped')).toHaveLength(1);
      expect(kpiFiles(out).size).toBe(0);
    } finally {
      lock.release();
    }
  });
});

describe('watch with --kpis-landing', () => {
  it('a KPI drop that lands (no new log) triggers a step that writes its days', async () => {
    const { logs, landing, out } = logsAndKpiLanding(temp);
    let stopRequested = false;
    let stopNow = (): void => {};
    const stop = { requested: () => stopRequested, stopped: new Promise<void>((r) => (stopNow = r)) };
    const steps: RunRecord[] = [];
    const watching = watchLanding({
      logsDir: logs,
      outDir: out,
      threads: 2,
      pollMs: 20,
      settleMs: 0,
      stop,
      kpis: { landingDir: landing, archive: false },
      onStep: (record) => steps.push(record),
    });
    const waitForSteps = async (n: number): Promise<void> => {
      for (let waited = 0; steps.length < n && waited < 20_000; waited += 20) await sleep(20);
    };
    try {
      await waitForSteps(1);
      expect(steps[0]?.charts.length).toBeGreaterThan(0);
      const firstDays = (steps[0]!.kpis as { days: string[] }).days;
      expect(firstDays.length).toBeGreaterThan(0);
      // The same rows once more in another file: every day it has rows on is due again.
      const streams = join(landing, 'streams');
      const [name] = readdirSync(streams).sort();
      cpSync(join(streams, name!), join(streams, 'again.csv'));
      await waitForSteps(2);
      expect(steps[1]?.charts).toEqual([]);
      expect((steps[1]!.kpis as { days: string[] }).days.length).toBeGreaterThan(0);
    } finally {
      stopRequested = true;
      stopNow();
      await watching;
    }
  });
});
