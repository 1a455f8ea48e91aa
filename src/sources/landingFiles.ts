import { plural } from '../ops/counts.js';
import { inFolder, isS3, listFolder, subfolder } from './locations.js';

/** The three kinds of CSV drop in a KPI landing folder, each in its own subfolder. */
export const LANDING_KINDS = ['streams', 'songs', 'users'] as const;
export type LandingKind = (typeof LANDING_KINDS)[number];

export interface LandingFile {
  kind: LandingKind;
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export type LandingScan = Record<LandingKind, LandingFile[]>;

/**
 * `streams/*.csv`, `songs/*.csv` and `users/*.csv` under `dir` (a folder or an S3 location), each list in name order (the
 * order rows are read in, which decides which of two duplicate songs or users is kept). Dotfiles
 * and temporary names (`*.tmp`, `*.part`) are files still being written and are skipped, as are
 * names not ending in `.csv` and the `error/` and `archive/` folders playtally writes.
 */
export async function scanLanding(dir: string): Promise<LandingScan> {
  const scan = { streams: [], songs: [], users: [] } as LandingScan;
  for (const kind of LANDING_KINDS) {
    const sub = subfolder(dir, kind);
    for (const entry of await listFolder(sub)) {
      const name = entry.name;
      if (name.startsWith('.') || !name.toLowerCase().endsWith('.csv') || !entry.isFile) continue;
      scan[kind].push({ kind, name, path: inFolder(sub, name), size: entry.size, mtimeMs: entry.mtimeMs });
    }
  }
  return scan;
}

/**
 * What a landing folder holds, in words, for an error that must say where things were expected:
 * each kind's subfolder and its CSV files, and CSV files left directly in the folder (a common
 * first mistake: the drops belong in streams/, songs/ and users/).
 */
export async function describeLanding(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const kind of LANDING_KINDS) {
    const entries = (await listFolder(subfolder(dir, kind))).filter((e) => !e.name.startsWith('.'));
    const csv = entries.filter((e) => e.isFile && e.name.toLowerCase().endsWith('.csv')).length;
    const other = entries.length - csv;
    if (entries.length === 0) parts.push(`${kind}/ ${isS3(dir) ? 'empty' : 'missing or empty'}`);
    else
      parts.push(
        `${kind}/ ${plural(csv, 'CSV file')}${other > 0 ? ` and ${plural(other, 'other entry', 'other entries')}` : ''}`,
      );
  }
  const loose = (await listFolder(dir)).filter((e) => e.isFile && e.name.toLowerCase().endsWith('.csv'));
  let text = `found in ${dir}: ${parts.join(', ')}`;
  if (loose.length > 0) {
    const names = loose.slice(0, 3).map((e) => e.name);
    text +=
      `; ${plural(loose.length, 'CSV file')} directly in the landing folder (${names.join(', ')}` +
      `${loose.length > names.length ? ', ...' : ''}), which is not read: each kind goes in its own subfolder`;
  }
  return text;
}
