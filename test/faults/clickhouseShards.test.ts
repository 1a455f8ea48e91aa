import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import {
  CLICKHOUSE_URLS,
  clickhouseArgs,
  haveClickHouse,
  requireClickHouse,
  TestDatabases,
} from '../support/clickhouse.js';
import { cli, requireBuiltCli } from '../support/cliRuns.js';
import { expectNoStack, halfFiles, kpiBytes, lostInputs } from '../support/faults.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The ClickHouse engine's faults through the CLI (issue 17, points 4 and 11), on the two-shard
 * cluster CI starts: fewer URLs than the cluster has shards (it counted another load's rows:
 * 144 streams for 108), credentials a shard refuses, a shard that does not answer. Each is
 * refused before any work: the exit code, one sentence naming what to fix (never the password),
 * every landing file where it was, no half file; with the fault removed, the KPI files are those
 * of the embedded engine, byte for byte.
 */
requireClickHouse('faults/clickhouseShards');
const temp = new TempDirs();
const databases = new TestDatabases('playtally_faults');
afterEach(() => temp.cleanup());
afterAll(() => databases.dropAll());
beforeAll(requireBuiltCli);

/** A small KPI landing folder, its reference KPI files (embedded engine) and its streams files' names. */
function landingWithReference(): { landing: string; reference: string; streams: string[] } {
  const base = temp.make('playtally-faults-ch-');
  const landing = join(base, 'landing');
  generateKpiDataset({ dir: landing, start: day('2024-02-01'), days: 2, streamsPerDay: 5_000, seed: 8 });
  const clean = join(base, 'clean');
  cpSync(landing, clean, { recursive: true });
  const reference = join(base, 'reference');
  const r = cli(['kpis', '--landing', clean, '--out', reference, '--no-archive', '-q']);
  expect(r.status, r.stderr).toBe(0);
  return { landing, reference, streams: readdirSync(join(landing, 'streams')) };
}

describe.runIf(haveClickHouse)('the ClickHouse engine refuses a fault before any work', () => {
  it.each([
    {
      fault: 'fewer URLs than the cluster has shards',
      urls: () => [CLICKHOUSE_URLS[0]!],
      exit: 2,
      says: new RegExp(`gives 1 shard URL but cluster playtally has ${CLICKHOUSE_URLS.length} shards`),
    },
    {
      fault: 'credentials a shard refuses',
      urls: () => CLICKHOUSE_URLS.map((url) => url.replace('://', '://default:not-the-password@')),
      exit: 4,
      says: /ClickHouse shard 1 at http:\/\/127\.0\.0\.1:\d+ refuses playtally's queries/,
    },
    {
      fault: 'a shard that does not answer',
      urls: () => [CLICKHOUSE_URLS[0]!, 'http://127.0.0.1:1'],
      exit: 4,
      says: /127\.0\.0\.1:1/,
    },
  ])(
    '$fault: exit $exit naming it, nothing moved; fixed, the embedded engine’s bytes',
    ({ urls, exit, says }) => {
      const { landing, reference, streams } = landingWithReference();
      const out = temp.make('playtally-faults-ch-out-');
      const database = databases.next();
      const r = cli(['kpis', '--landing', landing, '--out', out, ...clickhouseArgs(database, urls()), '-q']);
      expect(r.status, r.stderr).toBe(exit);
      expect(r.stderr).toMatch(says);
      expect(r.stderr).not.toContain('not-the-password');
      expectNoStack(r.stderr);
      // Refused before any work: every streams file still in streams/, nothing archived or written.
      expect(readdirSync(join(landing, 'streams')).sort()).toEqual([...streams].sort());
      expect(lostInputs(streams, [landing])).toEqual([]);
      expect(readdirSync(landing).sort()).toEqual(['songs', 'streams', 'users']);
      expect(Object.keys(kpiBytes(out))).toEqual([]);
      expect(halfFiles([out, landing])).toEqual([]);

      const fixed = cli([
        'kpis',
        '--landing',
        landing,
        '--out',
        out,
        ...clickhouseArgs(database),
        '--no-archive',
        '-q',
      ]);
      expect(fixed.status, fixed.stderr).toBe(0);
      expect(kpiBytes(out)).toEqual(kpiBytes(reference));
    },
  );
});
