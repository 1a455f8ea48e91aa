import { createHash } from 'node:crypto';
import {
  appendFileSync,
  cpSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { type KpiSummary, runKpis } from '../../src/jobs/kpiJob.js';
import { day, leftovers, TempDirs } from '../support/tempDirs.js';

/**
 * Contract: each streams file is parsed once; a run recomputes exactly the days whose inputs
 * changed (a new file, a changed or removed one, new songs, another granularity), from the
 * partials, and its files always equal those of a run from scratch on the same landing folder.
 */

const temp = new TempDirs();
afterEach(() => temp.cleanup());

function landing(): string {
  const dir = temp.make('playtally-kpi-inc-');
  generateKpiDataset({
    dir,
    start: day('2024-05-01'),
    days: 3,
    streamsPerDay: 6_000,
    filesPerDay: 2,
    songs: 400,
    users: 600,
  });
  return dir;
}

/** The output files, quality reports without their generatedAt. */
function outputs(out: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(out)
    .filter((n) => !n.startsWith('.'))
    .sort()) {
    const text = readFileSync(join(out, name), 'utf8');
    files[name] = name.endsWith('.json') ? text.replace(/"generatedAt": "[^"]*"/, '') : text;
  }
  return files;
}

/** What a run from scratch (fresh output and state) writes for this landing folder. */
async function fromScratch(
  dir: string,
  granularity: 'day' | 'hour' = 'day',
): Promise<Record<string, string>> {
  const out = temp.make('playtally-kpi-scratch-');
  await runKpis({ landingDir: dir, outDir: out, granularity, threads: 2 });
  return outputs(out);
}

function streamsFiles(dir: string): string[] {
  return readdirSync(join(dir, 'streams')).sort();
}

describe('incremental genre KPIs', () => {
  it('a second run parses nothing and writes nothing', async () => {
    const dir = landing();
    const out = temp.make();
    const first = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    expect(first.filesParsed).toBe(streamsFiles(dir).length);
    const before = Object.fromEntries(
      readdirSync(out)
        .filter((n) => !n.startsWith('.'))
        .map((n) => [n, statSync(join(out, n)).mtimeMs]),
    );
    const second = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    expect(second.filesParsed).toBe(0);
    expect(second.days).toEqual([]);
    expect(second.daysCurrent).toBe(first.days.length);
    for (const [n, mtime] of Object.entries(before)) expect(statSync(join(out, n)).mtimeMs, n).toBe(mtime);
    expect(leftovers(out)).toEqual([]);
  });

  it("a state folder of a build before 2026-12-07 (each file's SHA-256 under sha256): nothing parsed or written again", async () => {
    const dir = landing();
    const out = temp.make();
    const first = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    // The manifest as that build wrote it: each file's SHA-256, and the days' inputs by it.
    const manifestPath = join(out, '.playtally-kpis', 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const older: Record<string, string> = {};
    for (const [name, record] of Object.entries<Record<string, unknown>>(manifest.files)) {
      expect(record.hash).toMatch(/^[0-9a-f]{32}$/);
      older[name] = createHash('sha256')
        .update(readFileSync(join(dir, 'streams', name)))
        .digest('hex');
      delete record.hash;
      record.sha256 = older[name];
    }
    for (const record of Object.values<{ inputs: Record<string, string> }>(manifest.days))
      for (const name of Object.keys(record.inputs)) record.inputs[name] = older[name]!;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const second = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    expect(second.filesParsed).toBe(0);
    expect(second.days).toEqual([]);
    expect(second.daysCurrent).toBe(first.days.length);
    // A new file's days are written with it, the same as from scratch.
    const name = streamsFiles(dir).find((n) => n.includes('20240502'))!;
    const rows = readFileSync(join(dir, 'streams', name), 'utf8')
      .split('\n')
      .slice(0, 300);
    writeFileSync(join(dir, 'streams', 'streams-20240502-99.csv'), `${rows.join('\n')}\n`);
    const third = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    expect(third.filesParsed).toBe(1);
    expect(third.days.map((d) => d.date)).toContain('2024-05-02');
    // The same as from scratch but for the hash a file was recorded with: its SHA-256 still.
    const unhashed = (files: Record<string, string>) =>
      Object.fromEntries(Object.entries(files).map(([n, text]) => [n, text.replace(/"hash": "\w+"/g, '')]));
    const written = outputs(out);
    expect(unhashed(written)).toEqual(unhashed(await fromScratch(dir)));
    const quality = JSON.parse(readFileSync(join(out, 'kpi_quality_20240502.json'), 'utf8')) as {
      files: { file: string; hash: string }[];
    };
    for (const f of quality.files)
      expect(f.hash, f.file).toEqual(older[f.file] ?? expect.stringMatching(/^[0-9a-f]{32}$/));
  });

  it('a new file for a computed day updates that day exactly, without parsing the others again', async () => {
    const dir = landing();
    const out = temp.make();
    await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    // Another batch for 2024-05-02: some rows repeat earlier ones exactly (duplicates across runs).
    const earlier = readFileSync(
      join(dir, 'streams', streamsFiles(dir).find((n) => n.includes('20240502'))!),
      'utf8',
    )
      .split('\n')
      .slice(1, 200);
    writeFileSync(
      join(dir, 'streams', 'streams-20240502-99.csv'),
      `user_id,track_id,listen_time\n${earlier.join('\n')}\nu999999,nosuch,2024-05-02T12:00:00Z\n`,
    );
    const run: KpiSummary = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    expect(run.filesParsed).toBe(1);
    expect(run.days.map((d) => d.date)).toContain('2024-05-02');
    expect(run.days.map((d) => d.date)).not.toContain('2024-05-01');
    expect(outputs(out)).toEqual(await fromScratch(dir));
  });

  it('a changed file replaces its contribution; a removed one takes it away', async () => {
    const dir = landing();
    const out = temp.make();
    await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    const [first, second] = streamsFiles(dir);
    appendFileSync(join(dir, 'streams', first!), 'u000001,nosuch2,2024-05-01T01:02:03Z\n');
    const changed = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    expect(changed.filesParsed).toBe(1);
    expect(outputs(out)).toEqual(await fromScratch(dir));
    rmSync(join(dir, 'streams', second!));
    const removed = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    expect(removed.filesParsed).toBe(0);
    expect(removed.days.length).toBeGreaterThan(0);
    expect(outputs(out)).toEqual(await fromScratch(dir));
  });

  it('new songs or another granularity recompute every day; a damaged partial is rebuilt', async () => {
    const dir = landing();
    const out = temp.make();
    const first = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    writeFileSync(
      join(dir, 'songs', 'zz-more.csv'),
      'track_id,track_name,artists,album_name,track_genre,duration_ms,popularity,explicit\nnosuch,N,A,B,pop,1000,1,False\n',
    );
    const songs = await runKpis({ landingDir: dir, outDir: out, threads: 2 });
    expect(songs.filesParsed).toBe(0);
    expect(songs.days.length).toBe(first.days.length);
    expect(outputs(out)).toEqual(await fromScratch(dir));

    const hourly = await runKpis({ landingDir: dir, outDir: out, threads: 2, granularity: 'hour' });
    expect(hourly.days.length).toBe(first.days.length);
    expect(outputs(out)).toEqual(await fromScratch(dir, 'hour'));

    const partials = join(out, '.playtally-kpis', 'partials');
    const victim = readdirSync(partials)[0]!;
    truncateSync(join(partials, victim), 100);
    rmSync(join(out, 'genre_kpis_20240501.csv'));
    const repaired = await runKpis({ landingDir: dir, outDir: out, threads: 2, granularity: 'hour' });
    expect(repaired.filesParsed).toBe(1);
    expect(outputs(out)).toEqual(await fromScratch(dir, 'hour'));
  });

  it('archives each streams file once its days are written, and goes on from the partials', async () => {
    const dir = landing();
    const reference = temp.make('playtally-kpi-ref-');
    cpSync(dir, reference, { recursive: true });
    const out = temp.make();
    const first = await runKpis({ landingDir: dir, outDir: out, threads: 2, archive: true });
    expect(streamsFiles(dir)).toEqual([]);
    expect(first.archived).toHaveLength(streamsFiles(reference).length);
    // Each file under the day it has most rows on (the generator's files are named after it).
    for (const path of first.archived) {
      const name = basename(path);
      expect(basename(dirname(path)), name).toBe(/streams-(\d{8})-/.exec(name)![1]);
      expect(readFileSync(path)).toEqual(readFileSync(join(reference, 'streams', name)));
    }
    expect(outputs(out)).toEqual(await fromScratch(reference));

    // Nothing new: nothing parsed or written, the archive stays as it is.
    const again = await runKpis({ landingDir: dir, outDir: out, threads: 2, archive: true });
    expect([again.filesParsed, again.days.length, again.archived.length]).toEqual([0, 0, 0]);

    // A late batch for an archived day: the day is recomputed from the archived files' partials.
    const late = 'user_id,track_id,listen_time\nu000001,nosuch,2024-05-01T05:00:00Z\n';
    writeFileSync(join(dir, 'streams', 'late.csv'), late);
    writeFileSync(join(reference, 'streams', 'late.csv'), late);
    const third = await runKpis({ landingDir: dir, outDir: out, threads: 2, archive: true });
    expect(third.filesParsed).toBe(1);
    expect(third.days.map((d) => d.date)).toEqual(['2024-05-01']);
    expect(outputs(out)).toEqual(await fromScratch(reference));

    // An archived file's damaged partial is parsed again from the archive.
    const partials = join(out, '.playtally-kpis', 'partials');
    for (const name of readdirSync(partials)) truncateSync(join(partials, name), 10);
    rmSync(join(out, 'genre_kpis_20240502.csv'));
    const repaired = await runKpis({ landingDir: dir, outDir: out, threads: 2, archive: true });
    expect(repaired.filesParsed).toBe(streamsFiles(reference).length);
    expect(outputs(out)).toEqual(await fromScratch(reference));
    expect(streamsFiles(dir)).toEqual([]);
  });

  it('a file archived by a run killed before it recorded the move is found in the archive, not lost', async () => {
    const dir = landing();
    const out = temp.make();
    await runKpis({ landingDir: dir, outDir: out, threads: 2, archive: true });
    const before = outputs(out);
    // As if killed between the move and the manifest write: the record does not know the archive.
    const manifestPath = join(out, '.playtally-kpis', 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const name = Object.keys(manifest.files)[0]!;
    delete manifest.files[name].archived;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const run = await runKpis({ landingDir: dir, outDir: out, threads: 2, archive: true });
    expect(run.days).toEqual([]);
    expect(outputs(out)).toEqual(before);
    const after = JSON.parse(readFileSync(manifestPath, 'utf8'));
    expect(after.files[name].archived).toMatch(new RegExp(`archive/\\d{8}/${name.replaceAll('.', '\\.')}$`));
  });
});
