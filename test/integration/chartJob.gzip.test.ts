import { readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Top50Event } from '../../src/engines/chartEngine.js';
import type { QualityReport } from '../../src/formats/qualityReport.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { runTop50 } from '../../src/jobs/chartJob.js';
import { compactDay } from '../../src/ops/dates.js';
import { PlaytallyError } from '../../src/ops/errors.js';
import { scanLogs } from '../../src/sources/logFiles.js';
import { day, firstDifference, leftovers, logName, TempDirs } from '../support/tempDirs.js';

/**
 * Contract: a `listen-YYYYMMDD.log.gz` gives exactly the charts and quality figures of the same
 * log uncompressed (across the chunks it is decompressed in); a damaged gzip file is an input error
 * naming the file, never a crash or a half-written output; a day with both logs uses the plain one.
 */

const temp = new TempDirs();
afterEach(() => temp.cleanup());

describe('gzip logs in the top-50 job', () => {
  const START = day('2024-06-01');

  function qualityWithoutNames(path: string): unknown {
    const q = JSON.parse(readFileSync(path, 'utf8')) as QualityReport;
    const strip = (d: QualityReport['days'][number]) => ({ ...d, file: d.file.replace(/\.gz$/, '') });
    return { ...q, generatedAt: '', day: q.day && strip(q.day), days: q.days.map(strip) };
  }

  it('gives byte-identical charts and the same quality figures as the plain logs, across chunks', async () => {
    const plain = temp.make();
    // Day 3 is large enough (about 16 MB) to be cut into several 8 MB chunks.
    generateLogs({ dir: plain, start: START, days: 2, rows: 5_000, corruptRate: 0.02, seed: 11 });
    generateLogs({ dir: plain, start: START + 2, days: 1, rows: 800_000, corruptRate: 0.01, seed: 12 });
    const gz = temp.make();
    for (let d = START; d < START + 3; d++) {
      writeFileSync(join(gz, `${logName(d)}.gz`), gzipSync(readFileSync(join(plain, logName(d)))));
    }
    const outPlain = temp.make();
    const outGz = temp.make();
    await runTop50({ logsDir: plain, outDir: outPlain, window: 3, threads: 2 });
    const events: Top50Event[] = [];
    const summary = await runTop50({
      logsDir: gz,
      outDir: outGz,
      window: 3,
      threads: 2,
      onEvent: (e) => events.push(e),
    });
    for (const name of ['country_top50_20240603.txt', 'user_top50_20240603.txt']) {
      const a = readFileSync(join(outGz, name), 'latin1');
      const b = readFileSync(join(outPlain, name), 'latin1');
      expect(firstDifference(a, b), name).toBeUndefined();
      expect(a.length).toBeGreaterThan(0);
    }
    expect(qualityWithoutNames(join(outGz, 'quality_20240603.json'))).toEqual(
      qualityWithoutNames(join(outPlain, 'quality_20240603.json')),
    );
    expect(summary.days.map((d) => d.file)).toEqual([0, 1, 2].map((i) => `${logName(START + i)}.gz`));
    // Progress is reported in compressed bytes: exactly the size of the files read.
    const progressed = events.reduce((n, e) => n + (e.type === 'progress' ? e.bytes : 0), 0);
    const sizes = summary.days.reduce((n, d) => n + readFileSync(join(gz, d.file)).length, 0);
    expect(progressed).toBe(sizes);
    expect(leftovers(outGz)).toEqual([]);

    // A second run reuses every partial; a touched but unchanged gzip file is recognised by its hash.
    const now = new Date();
    utimesSync(join(gz, `${logName(START)}.gz`), now, now);
    const again = await runTop50({ logsDir: gz, outDir: outGz, window: 3, threads: 2 });
    expect(again.days.every((d) => d.reused)).toBe(true);
  });

  it.each([
    ['truncated', (bytes: Buffer) => bytes.subarray(0, Math.floor(bytes.length / 2))],
    [
      'corrupt in the middle',
      (bytes: Buffer) => {
        const copy = Buffer.from(bytes);
        for (let i = 200; i < 260; i++) copy[i] = 0x55;
        return copy;
      },
    ],
    ['not gzip at all', () => Buffer.from('1|2|US\n3|4|FR\n')],
    ['empty', () => Buffer.alloc(0)],
  ])('a %s gzip log is an input error naming the file, and writes nothing', async (_, damage) => {
    const logs = temp.make();
    generateLogs({ dir: logs, start: START, days: 1, rows: 20_000, seed: 3 });
    const path = join(logs, logName(START));
    writeFileSync(`${path}.gz`, damage(gzipSync(readFileSync(path))));
    rmSync(path);
    const out = temp.make();
    const failure = await runTop50({ logsDir: logs, outDir: out, threads: 2 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PlaytallyError);
    expect((failure as PlaytallyError).code).toBe('unreadable_log');
    expect((failure as Error).message).toContain(`${logName(START)}.gz`);
    expect(leftovers(out)).toEqual([]);
    expect((await scanLogs(logs)).logs).toHaveLength(1);
    // Nothing but the state folder was written.
    expect(readdirSync(out).filter((n) => n !== '.playtally')).toEqual([]);
  });

  it('uses the plain log when a day has both, and reports the gzip one as ignored', async () => {
    const logs = temp.make();
    generateLogs({ dir: logs, start: START, days: 2, rows: 100, seed: 3 });
    const second = join(logs, logName(START + 1));
    writeFileSync(`${join(logs, logName(START))}.gz`, gzipSync(readFileSync(join(logs, logName(START)))));
    writeFileSync(`${second}.gz`, gzipSync(readFileSync(second)));
    renameSync(second, join(logs, `.${logName(START + 1)}.part`));
    const scan = await scanLogs(logs);
    expect(scan.logs.map((l) => l.name)).toEqual([logName(START), `${logName(START + 1)}.gz`]);
    expect(scan.logs.map((l) => l.compressed)).toEqual([false, true]);
    expect(scan.ignored).toEqual([
      {
        name: `${logName(START)}.gz`,
        reason: `${logName(START)} exists for the same day and is used instead`,
      },
    ]);
    expect(compactDay(scan.logs[1]!.day)).toBe('20240602');
  });
});
