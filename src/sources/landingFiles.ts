import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
 * `streams/*.csv`, `songs/*.csv` and `users/*.csv` under `dir`, each list in name order (the
 * order rows are read in, which decides which of two duplicate songs or users is kept). Dotfiles
 * and temporary names (`*.tmp`, `*.part`) are files still being written and are skipped, as are
 * names not ending in `.csv` and the `error/` and `archive/` folders playtally writes.
 */
export function scanLanding(dir: string): LandingScan {
  const scan = { streams: [], songs: [], users: [] } as LandingScan;
  for (const kind of LANDING_KINDS) {
    const sub = join(dir, kind);
    if (!existsSync(sub) || !statSync(sub).isDirectory()) continue;
    for (const name of readdirSync(sub).sort()) {
      if (name.startsWith('.') || !name.toLowerCase().endsWith('.csv')) continue;
      const path = join(sub, name);
      const stat = statSync(path);
      if (!stat.isFile()) continue;
      scan[kind].push({ kind, name, path, size: stat.size, mtimeMs: stat.mtimeMs });
    }
  }
  return scan;
}
