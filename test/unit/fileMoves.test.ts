import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { moveInto } from '../../src/ops/fileMoves.js';
import { day, logName, TempDirs } from '../support/tempDirs.js';

/** Moves that never lose a file (src/ops/fileMoves.ts): a file moved onto an older one keeps it aside. */

const FIRST = day('2024-04-01');

const temp = new TempDirs();
afterEach(() => temp.cleanup());

describe('moves that keep every file', () => {
  it('moveInto keeps every earlier file of the same name, even within one second', () => {
    // BUG: the kept copy is named `<name>.replaced-<timestamp to the second>` (src/ops/fileMoves.ts,
    // moveInto; the same in src/unattended/quarantine.ts); a third file of the same name moved in
    // the same second renames over the second's `.replaced-` copy, which is lost.
    const from = temp.make('playtally-ops-from-');
    const to = join(temp.make('playtally-ops-to-'), 'archive');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2024-04-02T03:04:05.100Z'));
      for (const content of ['one', 'two', 'three']) {
        writeFileSync(join(from, logName(FIRST)), content);
        moveInto(join(from, logName(FIRST)), to);
        vi.setSystemTime(new Date(Date.now() + 200));
      }
    } finally {
      vi.useRealTimers();
    }
    const kept = readdirSync(to)
      .map((name) => readFileSync(join(to, name), 'utf8'))
      .sort();
    expect(readFileSync(join(to, logName(FIRST)), 'utf8')).toBe('three');
    expect(kept).toEqual(['one', 'three', 'two']);
  });
});
