import { join } from 'node:path';
import { compactDay } from '../../ops/dates.js';
import { writeWholeFileSync } from '../fileOutput.js';
import { Random } from '../random.js';
import type { Catalogue } from './catalogue.js';
import type { Users } from './users.js';

/**
 * Two files in streams/ that a reader must refuse whole rather than read row by row: a CSV without
 * the listen_time column (`streams-<start>-bad.csv`) and a binary file named `not-a-csv.csv`.
 * `onFile` is called with each path once it is in place.
 */
export function writeBadFiles(
  streamsFolder: string,
  start: number,
  seed: number,
  users: Users,
  catalogue: Catalogue,
  onFile: (path: string) => void,
): void {
  const random = new Random(seed, start, 0xbad);
  const noTime = join(streamsFolder, `streams-${compactDay(start)}-bad.csv`);
  const lines = ['user_id,track_id'];
  for (let i = 0; i < 100; i++) {
    const user = random.below(users.count) * (users.digits + 1);
    const userId = Buffer.from(users.idBytes.subarray(user, user + users.digits + 1)).toString('latin1');
    lines.push(`${userId},${catalogue.ids[random.below(catalogue.ids.length)]!}`);
  }
  writeWholeFileSync(noTime, Buffer.from(`${lines.join('\n')}\n`, 'latin1'));
  onFile(noTime);
  // PNG magic, then random bytes with NULs: not text at all.
  const garbage = new Uint8Array(4096);
  garbage.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]);
  for (let i = 10; i < garbage.length; i++) garbage[i] = random.next() < 0.1 ? 0 : random.below(256);
  const notCsv = join(streamsFolder, 'not-a-csv.csv');
  writeWholeFileSync(notCsv, garbage);
  onFile(notCsv);
}
