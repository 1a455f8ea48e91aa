import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFilePartialHeader } from '../../src/formats/kpiPartials.js';
import { TempFileWriter, tempPathFor, writeFileAtomic } from '../../src/ops/atomicFile.js';
import { writePartial } from '../support/kpiPartialFiles.js';
import { TempDirs } from '../support/tempDirs.js';

// Every fsync the modules under test make is counted (and still made).
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return { ...real, fsyncSync: vi.fn(real.fsyncSync) };
});

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
  vi.mocked(fs.fsyncSync).mockClear();
});

/** The file's bytes, and whether anything but it is left in its folder (a temporary file). */
function committed(path: string): { text: string; others: string[] } {
  const dir = join(path, '..');
  return {
    text: fs.readFileSync(path, 'utf8'),
    others: fs.readdirSync(dir).filter((name) => join(dir, name) !== path),
  };
}

describe('atomic files: what a commit promises past a power cut', () => {
  it('flushes an output before its rename (the default)', () => {
    const path = join(temp.make(), 'out.csv');
    writeFileAtomic(path, 'a,b\n');
    expect(committed(path)).toEqual({ text: 'a,b\n', others: [] });
    expect(fs.fsyncSync).toHaveBeenCalledTimes(1);

    const file = new TempFileWriter(tempPathFor(path), path);
    file.write(Buffer.from('c,d\n'));
    file.commit(path);
    expect(committed(path)).toEqual({ text: 'c,d\n', others: [] });
    expect(fs.fsyncSync).toHaveBeenCalledTimes(2);
  });

  it('renames a cache without waiting for the disk, and leaves it whole', () => {
    const path = join(temp.make(), 'cache.bin');
    const file = new TempFileWriter(tempPathFor(path), path);
    file.write(Buffer.from('rows'));
    file.commit(path, 'cache');
    expect(committed(path)).toEqual({ text: 'rows', others: [] });
    expect(fs.fsyncSync).not.toHaveBeenCalled();
  });

  it('commits a KPI partial as a cache (its CRCs find what a power cut loses)', () => {
    const path = join(temp.make(), 'streams.kpf');
    writePartial(
      path,
      {
        file: 'streams.csv',
        size: 10,
        mtimeMs: 1,
        hash: 'x',
        report: { kind: 'streams', file: 'streams.csv', rows: 1, accepted: 1, rejects: {} },
        examples: [],
        users: ['u1'],
        tracks: ['t1'],
      },
      [{ day: 19_000, users: Uint32Array.of(0), tracks: Uint32Array.of(0), times: Float64Array.of(1) }],
    );
    expect(readFilePartialHeader(path).segments).toHaveLength(1);
    expect(fs.fsyncSync).not.toHaveBeenCalled();
  });
});
