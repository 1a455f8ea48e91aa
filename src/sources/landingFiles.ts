import { inFolder, listFolder, subfolder } from './locations.js';

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
