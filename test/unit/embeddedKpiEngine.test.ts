import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { embeddedKpiEngine } from '../../src/engines/embedded/kpiEngine.js';
import type { KpiDayEngine, KpiDayInput } from '../../src/engines/kpiEngine.js';
import type { Catalog } from '../../src/kpis/genreKpis.js';
import { IdInterner } from '../../src/parse/idInterner.js';
import { MICROS_PER_DAY } from '../../src/parse/timestamps.js';
import { TrackGenres } from '../../src/parse/trackGenres.js';
import { writePartial } from '../support/kpiPartialFiles.js';
import { mulberry32 } from '../support/prng.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * The embedded KPI engine's read-ahead (src/engines/embedded/kpiEngine.ts): a partial read ahead
 * (its header, its names numbered while the parse reads other files) gives the day the engine
 * computes without it, whatever the order partials are read ahead in, on this thread and cut into
 * parts on the workers started ahead (startThreads); a partial that cannot be read ahead is left
 * for the day that reads it, which reports it damaged (so that the job parses its file again).
 */
// The worker pools the engine starts, counted.
const pools = vi.hoisted(() => ({ started: 0 }));
vi.mock(import('../../src/engines/embedded/workerPool.js'), async (importOriginal) => {
  const original = await importOriginal();
  class CountedPool extends original.WorkerPool {
    constructor(...args: ConstructorParameters<typeof original.WorkerPool>) {
      super(...args);
      pools.started++;
    }
  }
  return { ...original, WorkerPool: CountedPool };
});

const temp = new TempDirs();
const engines: KpiDayEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});
afterAll(() => temp.cleanup());

const DAY = 19_800;
const TRACKS = Array.from({ length: 40 }, (_, i) => `t${i}`);
const catalog: Catalog = {
  tracks: TrackGenres.of(TRACKS.map((t, i) => [t, [{ genre: `g${i % 7}`, durationMs: 1000 + i }]])),
  users: internerOf(Array.from({ length: 300 }, (_, i) => `u${i}`)),
};

function internerOf(names: string[]): IdInterner {
  const interner = new IdInterner();
  for (const name of names) interner.id(name);
  return interner;
}

/** A partial of `rows` random rows on DAY, with names of its own numbering (a file's). */
function partial(dir: string, name: string, rows: number, seed: number): string {
  const random = mulberry32(seed);
  // Each file numbers its names in its own order, and holds a few names the catalogue lacks.
  const users = Array.from({ length: 320 }, (_, i) => `u${(i * 7 + seed) % 320}`);
  const tracks = [...TRACKS.map((_, i) => TRACKS[(i + seed) % TRACKS.length]!), 'unknown'];
  const u = new Uint32Array(rows);
  const t = new Uint32Array(rows);
  const at = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    u[i] = Math.floor(random() * users.length);
    t[i] = Math.floor(random() * tracks.length);
    at[i] = DAY * MICROS_PER_DAY + Math.floor(random() * 24) * 3_600_000_000 + (i % 5) * 1_000_000;
  }
  const path = join(dir, name);
  writePartial(
    path,
    {
      file: name,
      size: rows,
      mtimeMs: 0,
      hash: name,
      report: { kind: 'streams', file: name, rows, accepted: rows, rejects: {} },
      examples: [],
      users,
      tracks,
    },
    [{ day: DAY, users: u, tracks: t, times: at }],
  );
  return path;
}

function input(paths: string[], granularity: 'day' | 'hour' = 'day'): KpiDayInput {
  return {
    day: DAY,
    granularity,
    sources: paths.map((p, i) => ({ file: `f${i}`, hash: p, partial: p, rows: 3000 })),
    catalog,
    catalogKey: 'k',
  };
}

function engine(threads: number): KpiDayEngine {
  const e = embeddedKpiEngine({ threads, parallelDayRows: 1000, maxPartRows: 2000 });
  engines.push(e);
  return e;
}

describe('embedded KPI engine: partials read ahead', { timeout: 20_000 }, () => {
  const dir = temp.make('kpi-engine-');
  const paths = [
    partial(dir, 'a.ptk', 3000, 1),
    partial(dir, 'b.ptk', 3000, 2),
    partial(dir, 'c.ptk', 3000, 3),
  ];

  it.each([1, 2])(
    'the same day with partials read ahead (in any order) as without, %i thread(s)',
    async (threads) => {
      for (const granularity of ['day', 'hour'] as const) {
        const plain = await engine(threads).computeDay(input(paths, granularity));
        expect(plain.genres.length).toBeGreaterThan(0);
        expect(plain.streams.unknownTrack).toBeGreaterThan(0);
        const ahead = engine(threads);
        ahead.startThreads?.(9000);
        for (const p of [paths[2]!, paths[0]!]) ahead.readAhead?.(p, catalog, 'k');
        expect(await ahead.computeDay(input(paths, granularity))).toEqual(plain);
      }
    },
  );

  it("numbers the users anew from another catalogue's: the known users are that catalogue's", async () => {
    // Fewer users known: more of the day's rows are of unknown users, and the KPIs count them.
    const fewer: Catalog = {
      tracks: catalog.tracks,
      users: internerOf(Array.from({ length: 150 }, (_, i) => `u${i * 2}`)),
    };
    const other = (ps: string[]): KpiDayInput => ({ ...input(ps), catalog: fewer, catalogKey: 'k2' });
    const alone = await engine(2).computeDay(other(paths));
    const plain = await engine(2).computeDay(input(paths));
    expect(alone.streams.unknownUser).toBeGreaterThan(plain.streams.unknownUser);
    const e = engine(2);
    for (const p of paths) e.readAhead?.(p, catalog, 'k');
    expect(await e.computeDay(other(paths))).toEqual(alone);
    expect(await e.computeDay(input(paths))).toEqual(plain);
    // The catalogues are looked up, not added to.
    expect(fewer.users.size).toBe(150);
    expect(catalog.users.size).toBe(300);
  });

  it('starts its threads ahead only for days that could be large, with threads to spare, and never once closed', async () => {
    const before = pools.started;
    engine(1).startThreads?.(1_000_000);
    engine(2).startThreads?.(999); // below parallelDayRows (1000 here)
    expect(pools.started).toBe(before);
    const e = engine(2);
    e.startThreads?.(1000);
    e.startThreads?.(5000); // the same threads
    expect(pools.started).toBe(before + 1);
    const closed = engine(2);
    await closed.close();
    closed.startThreads?.(1_000_000);
    expect(pools.started).toBe(before + 1);
  });

  it('idle lets its threads go; a day asked for after it is computed on new ones, the same', async () => {
    const e = engine(2);
    const first = await e.computeDay(input(paths, 'hour'));
    const before = pools.started;
    await e.idle?.();
    expect(await e.computeDay(input(paths, 'hour'))).toEqual(first);
    expect(pools.started).toBe(before + 1);
    // Idle with no threads: nothing to let go.
    await e.idle?.();
    await e.idle?.();
    expect(await e.computeDay(input(paths))).toEqual(await engine(1).computeDay(input(paths)));
  });

  it('a partial that cannot be read ahead is reported by the day that reads it', async () => {
    const damaged = join(dir, 'damaged.ptk');
    writeFileSync(damaged, 'not a partial');
    const e = engine(1);
    expect(() => e.readAhead?.(damaged, catalog, 'k')).not.toThrow();
    expect(() => e.readAhead?.(join(dir, 'missing.ptk'), catalog, 'k')).not.toThrow();
    await expect(e.computeDay(input([paths[0]!, damaged]))).rejects.toMatchObject({
      code: 'PARTIAL_CORRUPT',
      path: damaged,
    });
  });
});
