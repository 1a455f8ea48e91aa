import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  writeCountryChartFromCluster,
  writeUserChartFromCluster,
} from '../../src/engines/clickhouse/chartQueries.js';
import { ClickHouseCluster } from '../../src/engines/clickhouse/cluster.js';
import { ensureListenTables } from '../../src/engines/clickhouse/listenTables.js';
import { type LoadedDay, loadListenDay } from '../../src/engines/clickhouse/loadListenDay.js';
import type { QualityReport } from '../../src/formats/qualityReport.js';
import { runTop50 } from '../../src/jobs/chartJob.js';
import { compactDay, isoDay } from '../../src/ops/dates.js';
import { scanLogs } from '../../src/sources/logFiles.js';
import { CLICKHOUSE_URLS, haveClickHouse, requireClickHouse } from '../support/clickhouse.js';
import { runFolders } from '../support/cliRuns.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The scale-out engine's building blocks against the embedded engine (issue 6, first part): the
 * days of a window loaded into the two-shard cluster by playtally's parser, then the country and
 * user charts computed in ClickHouse SQL, must give files byte-identical to the embedded engine's,
 * and the same reject figures; loading a day again replaces it.
 */
requireClickHouse('integration/clickhouse.charts.test');

const temp = new TempDirs();
const FIRST = day('2024-03-01');
const DATE = FIRST + 7;
const GEN = { rows: 30_000, users: 2_000, songs: 400, seed: 17 };
let cluster: ClickHouseCluster;
let logs = '';
let embedded = '';
let report: QualityReport;
const loaded = new Map<string, LoadedDay>();

beforeAll(async () => {
  if (!haveClickHouse) return;
  const f = runFolders(temp, 'playtally-chcharts-', FIRST, 8, GEN);
  logs = f.logs;
  embedded = f.out;
  const summary = await runTop50({ logsDir: logs, outDir: embedded, day: DATE, threads: 2 });
  report = JSON.parse(readFileSync(summary.outputs.quality, 'utf8')) as QualityReport;
  cluster = new ClickHouseCluster(CLICKHOUSE_URLS, `playtally_test_charts_${process.pid}`);
  await ensureListenTables(cluster, 'playtally');
  for (const log of (await scanLogs(logs)).logs)
    loaded.set(isoDay(log.day), await loadListenDay(cluster, log));
}, 120_000);

afterAll(async () => {
  if (cluster) {
    await cluster.onEach(`DROP DATABASE IF EXISTS ${cluster.database}`);
    await cluster.close();
  }
  temp.cleanup();
});

async function clusterCharts(dir: string): Promise<{ country: string; user: string }> {
  const days = Array.from({ length: 7 }, (_, i) => DATE - 6 + i);
  const country = join(dir, `country_top50_${compactDay(DATE)}.txt`);
  const user = join(dir, `user_top50_${compactDay(DATE)}.txt`);
  await writeCountryChartFromCluster(cluster, country, days, 50);
  await writeUserChartFromCluster(cluster, user, days, 50);
  return { country, user };
}

describe.runIf(haveClickHouse)('charts computed in ClickHouse', () => {
  it('are byte-identical to the embedded engine for the same window', async () => {
    const out = temp.make('playtally-chcharts-ch-');
    const files = await clusterCharts(out);
    const name = (kind: string) => `${kind}_top50_${compactDay(DATE)}.txt`;
    expect(readFileSync(files.country, 'utf8')).toBe(readFileSync(join(embedded, name('country')), 'utf8'));
    const user = readFileSync(files.user);
    expect(user.length).toBeGreaterThan(10_000);
    expect(user.equals(readFileSync(join(embedded, name('user'))))).toBe(true);
  });

  it("counts each day's rows and rejects exactly as the embedded engine, examples included", () => {
    for (const d of report.days) {
      const mine = loaded.get(d.date)!;
      expect(mine, d.date).toBeDefined();
      expect({
        rows: mine.lines,
        valid: mine.valid,
        rejected: mine.rejected,
        rejectedByReason: mine.rejects,
        examples: mine.examples,
      }).toEqual({
        rows: d.rows,
        valid: d.valid,
        rejected: d.rejected,
        rejectedByReason: d.rejectedByReason,
        examples: d.examples,
      });
    }
    expect([...loaded.values()].some((d) => d.rejected > 0)).toBe(true);
  });

  it('loading a day again (the same log, then as .log.gz) replaces it: the charts do not change', async () => {
    const newest = (await scanLogs(logs)).logs.find((l) => l.day === DATE)!;
    await loadListenDay(cluster, newest);
    const gzDir = temp.make('playtally-chcharts-gz-');
    const gz = join(gzDir, `${newest.name}.gz`);
    writeFileSync(gz, gzipSync(readFileSync(newest.path)));
    const again = await loadListenDay(cluster, (await scanLogs(gzDir)).logs[0]!);
    expect(again.valid).toBe(loaded.get(isoDay(DATE))!.valid);
    const out = temp.make('playtally-chcharts-again-');
    const files = await clusterCharts(out);
    const name = (kind: string) => `${kind}_top50_${compactDay(DATE)}.txt`;
    expect(readFileSync(files.country).equals(readFileSync(join(embedded, name('country'))))).toBe(true);
    expect(readFileSync(files.user).equals(readFileSync(join(embedded, name('user'))))).toBe(true);
  });
});
