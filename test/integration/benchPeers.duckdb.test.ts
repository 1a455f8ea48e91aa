import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { duckdbKpiFiles } from '../../bench/duckdbKpiPeer.js';
import { duckdbCharts } from '../../bench/duckdbPeer.js';
import type { QualityReport } from '../../src/formats/qualityReport.js';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { CORRUPTIONS, generateLogs } from '../../src/generate/listenGenerator.js';
import { runTop50 } from '../../src/jobs/chartJob.js';
import { runKpis } from '../../src/jobs/kpiJob.js';
import { compactDay } from '../../src/ops/dates.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The benchmark's DuckDB peers (bench/duckdbPeer.ts, bench/duckdbKpiPeer.ts) write the same bytes
 * as playtally, on generated data with dirt: a ratio against a peer that computes something else
 * would mean nothing. The chart data has every kind of corrupt row but `1|2|JP\r\r` (DuckDB's CSV
 * reader ends a line at a lone `\r`: the one place where the peer's row rule differs), blanks
 * around fields, CRLF rows and a header line.
 */
const temp = new TempDirs();
afterAll(() => temp.cleanup());

const FIRST = day('2024-05-01');

describe('the benchmark peers write playtally bytes', () => {
  it.each(['table', 'raw'] as const)('charts, %s form: both files byte-identical', async (form) => {
    const logs = temp.make('playtally-peer-logs-');
    const { files } = generateLogs({
      dir: logs,
      start: FIRST,
      days: 7,
      rows: 30_000,
      corruptRate: 0.05,
      corruptKinds: CORRUPTIONS.filter((k) => k !== 'double_cr'),
      crlfRate: 0.05,
      blankRate: 0.05,
      header: true,
      seed: 19,
    });
    const out = temp.make('playtally-peer-out-');
    await runTop50({ logsDir: logs, outDir: out, threads: 2 });
    const peer = temp.make('playtally-peer-duck-');
    const { validRows } = await duckdbCharts({
      files,
      countryPath: join(peer, 'country.txt'),
      userPath: join(peer, 'user.txt'),
      memory: '1GB',
      threads: 2,
      temp: join(peer, 'tmp'),
      form,
      count: true,
    });
    const date = compactDay(FIRST + 6);
    const quality = JSON.parse(readFileSync(join(out, `quality_${date}.json`), 'utf8')) as QualityReport;
    expect(validRows).toBe(quality.totals.valid);
    // Not vacuous: every kind of reject occurred, and the top-50 cut applies.
    for (const [reason, n] of Object.entries(quality.totals.rejectedByReason))
      expect(n, reason).toBeGreaterThan(0);
    const user = readFileSync(join(out, `user_top50_${date}.txt`));
    expect(user.toString('latin1').split('\n').length).toBeGreaterThan(1000);
    expect(
      readFileSync(join(peer, 'country.txt')).equals(readFileSync(join(out, `country_top50_${date}.txt`))),
    ).toBe(true);
    expect(readFileSync(join(peer, 'user.txt')).equals(user)).toBe(true);
    expect(readdirSync(peer).sort()).toEqual(['country.txt', 'tmp', 'user.txt']);
  });

  it.each([
    ['sets', 'given'],
    ['distinct', 'sniff'],
  ] as const)('genre KPIs, %s form, dialect %s: every file byte-identical', async (form, dialect) => {
    const landing = temp.make('playtally-peer-kpi-');
    generateKpiDataset({
      dir: landing,
      start: FIRST,
      days: 2,
      streamsPerDay: 20_000,
      seed: 19,
      dirtRate: 0.03,
    });
    const out = temp.make('playtally-peer-kpi-out-');
    await runKpis({ landingDir: landing, outDir: out, threads: 2, archive: false });
    const peer = temp.make('playtally-peer-kpi-duck-');
    const names = await duckdbKpiFiles({
      landing,
      out: peer,
      memory: '1GB',
      threads: 2,
      temp: join(peer, 'tmp'),
      form,
      dialect,
    });
    const ours = readdirSync(out)
      .filter((n) => n.endsWith('.csv'))
      .sort();
    expect(names).toEqual(ours);
    expect(ours.length).toBeGreaterThanOrEqual(4);
    for (const name of ours)
      expect(readFileSync(join(peer, name)).equals(readFileSync(join(out, name))), name).toBe(true);
  });
});
