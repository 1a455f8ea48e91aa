import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Top50Event } from '../../src/engines/chartEngine.js';
import type { DayRecord } from '../../src/formats/manifest.js';
import type { QualityReport } from '../../src/formats/qualityReport.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { runTop50, type Top50Options } from '../../src/jobs/chartJob.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { type ReferenceRow, referenceCharts, referenceRows } from '../support/reference.js';
import { day, firstDifference, leftovers, readLog, TempDirs } from '../support/tempDirs.js';

/**
 * Contract: for the same inputs the chart bytes are identical whatever the thread count, the
 * memory budget or the number of partitions, including a window whose days were partitioned
 * differently, and they equal the plain reference.
 */

const FIRST = day('2024-03-01');
const DAYS = 7;
const LAST = FIRST + DAYS - 1;
/**
 * Partition budgets (48 bytes per pair): about 400, 1000 and 4000 pairs per partition, which
 * splits each ~900 KB day into 512, 256 and 32..64 partitions; the default plan gives 16.
 */
const FINEST = 48 * 400;
const FINE = 48 * 1000;
const MEDIUM = 48 * 4000;

interface Outputs {
  country: string;
  user: string;
  quality: QualityReport;
}

describe('chart bytes do not depend on threads, memory or partitioning', () => {
  const temp = new TempDirs();
  let logsDir: string;
  let reference: { country: string; user: string };
  let referenceValid = 0;

  beforeAll(() => {
    logsDir = temp.make('playtally-inv-logs-');
    generateLogs({
      dir: logsDir,
      start: FIRST,
      days: DAYS,
      rows: 40_000,
      users: 3_000,
      songs: 20_000,
      corruptRate: 0.01,
      crlfRate: 0.05,
      seed: 11,
    });
    const rows: ReferenceRow[] = [];
    for (let d = FIRST; d <= LAST; d++) rows.push(...referenceRows(readLog(logsDir, d)));
    referenceValid = rows.length;
    reference = referenceCharts(rows, 50);
  });
  afterAll(() => temp.cleanup());

  async function run(
    options: Partial<Top50Options>,
    outDir = temp.make('playtally-inv-out-'),
  ): Promise<Outputs & { partitions: number; events: Top50Event[] }> {
    const events: Top50Event[] = [];
    await runTop50({ logsDir, outDir, onEvent: (e) => events.push(e), ...options });
    const read = (name: string): string => readFileSync(join(outDir, name), 'latin1');
    const chartDay = options.day ?? LAST;
    const merge = events.find((e) => e.type === 'mergeStart');
    expect(leftovers(outDir)).toEqual([]);
    if (options.stateDir) expect(leftovers(options.stateDir)).toEqual([]);
    return {
      country: read(`country_top50_${compactDay(chartDay)}.txt`),
      user: read(`user_top50_${compactDay(chartDay)}.txt`),
      quality: JSON.parse(read(`quality_${compactDay(chartDay)}.json`)) as QualityReport,
      partitions: merge?.type === 'mergeStart' ? merge.partitions : -1,
      events,
    };
  }

  function expectReference(out: Outputs): void {
    expect(firstDifference(out.country, reference.country), 'country chart').toBeUndefined();
    expect(firstDifference(out.user, reference.user), 'user chart').toBeUndefined();
    expect(out.quality.totals.valid).toBe(referenceValid);
  }

  /**
   * A cold run's days overlap (ChartEngine.takeIn's `overlap`): each day after the first starts
   * while the day before is still aggregating, and each dayDone names its own day's log.
   */
  function expectDaysOverlapped(events: Top50Event[]): void {
    const at = (type: 'dayStart' | 'dayDone', d: number): number =>
      events.findIndex((e) => e.type === type && e.date === isoDay(d));
    for (let d = FIRST; d <= LAST; d++) {
      const done = events[at('dayDone', d)];
      expect(done?.type === 'dayDone' && !done.reused && done.file).toBe(`listen-${compactDay(d)}.log`);
      if (d > FIRST) expect(at('dayStart', d), isoDay(d)).toBeLessThan(at('dayDone', d - 1));
    }
  }

  it('the dataset is big enough to matter', () => {
    // Many users with more than 50 songs (the cut matters) and every country row present.
    const cut = reference.user.split('\n').filter((l) => l.split(',').length === 50).length;
    expect(cut).toBeGreaterThan(100);
    expect(reference.country.split('\n').length - 1).toBeGreaterThan(200);
    expect(referenceValid).toBeGreaterThan(270_000);
    expect(referenceValid).toBeLessThan(280_000);
  });

  const configs: { threads: number; partitionBytes?: number; memoryBytes?: number; partitions: number }[] = [
    { threads: 2, partitionBytes: FINEST, partitions: 512 },
    { threads: 1, partitionBytes: FINE, partitions: 256 },
    { threads: 3, partitionBytes: FINE, partitions: 256 },
    { threads: 1, partitionBytes: MEDIUM, partitions: 32 },
    { threads: 2, partitionBytes: MEDIUM, partitions: 32 },
    { threads: 3, partitionBytes: MEDIUM, partitions: 32 },
    { threads: 1, partitions: 16 },
    { threads: 2, partitions: 16 },
    { threads: 3, partitions: 16 },
    // 384MB holds the 3 threads (threadsWithin); 256MB holds 1.
    { threads: 3, memoryBytes: 384 * 1024 * 1024, partitions: 16 },
    { threads: 3, memoryBytes: 256 * 1024 * 1024, partitions: 16 },
  ];
  let baseline: QualityReport['totals'] | undefined;

  it.each(configs)(
    'threads $threads, partitionBytes $partitionBytes, memory $memoryBytes: equals the reference',
    async (config) => {
      const out = await run({
        threads: config.threads,
        partitionBytes: config.partitionBytes,
        memoryBytes: config.memoryBytes,
      });
      // The override really changed the partitioning (at least the expected count, at most 2x).
      expect(out.partitions).toBeGreaterThanOrEqual(config.partitions);
      expect(out.partitions).toBeLessThanOrEqual(config.partitions * 2);
      expectReference(out);
      expectDaysOverlapped(out.events);
      // The quality totals do not depend on the configuration either.
      baseline ??= out.quality.totals;
      expect(out.quality.totals).toEqual(baseline);
    },
  );

  it.each([
    { first: FINE, second: undefined, label: 'fine then coarse' },
    { first: undefined, second: FINE, label: 'coarse then fine' },
    { first: MEDIUM, second: FINE, label: 'medium then fine' },
  ])(
    'days partitioned differently in one window ($label) still give the reference',
    async ({ first, second }) => {
      const stateDir = temp.make('playtally-inv-state-');
      // Days 1..4 built with the first partitioning (window ending on day 4) ...
      const early = await run({ stateDir, day: FIRST + 3, threads: 2, partitionBytes: first });
      expect(early.quality.window.missing).toHaveLength(3);
      // ... then days 5..7 with the second, reusing days 1..4.
      const out = await run({ stateDir, threads: 3, partitionBytes: second });
      const done = out.events.filter((e) => e.type === 'dayDone');
      expect(done.map((e) => e.type === 'dayDone' && e.reused)).toEqual([
        true,
        true,
        true,
        true,
        false,
        false,
        false,
      ]);

      const manifest = JSON.parse(readFileSync(join(stateDir, 'manifest.json'), 'utf8')) as {
        days: Record<string, DayRecord>;
      };
      const partitions = Array.from(
        { length: DAYS },
        (_, i) => manifest.days[compactDay(FIRST + i)]!.partitions,
      );
      const a = partitions[0]!;
      const b = partitions[6]!;
      expect(a).not.toBe(b);
      expect(partitions).toEqual([a, a, a, a, b, b, b]);
      expect(out.partitions).toBe(Math.min(a, b));
      expectReference(out);
    },
  );
});
