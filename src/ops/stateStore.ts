import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RejectCounts, RejectExample } from '../parse/rejects.js';
import { writeFileAtomic } from './atomicFile.js';
import { PlaytallyError } from './errors.js';

/** What one day's log produced; kept in the manifest and inside the partial itself. */
export interface DayRecord {
  /** YYYY-MM-DD */
  date: string;
  file: string;
  size: number;
  mtimeMs: number;
  /** Content hash (see hashLogFile). */
  hash: string;
  /** The partial, relative to the state directory. */
  partial: string;
  partitions: number;
  lines: number;
  valid: number;
  rejected: number;
  rejects: RejectCounts;
  examples: RejectExample[];
  users: number;
  userSongPairs: number;
  countrySongPairs: number;
  builtAt: string;
  buildMs: number;
}

interface Manifest {
  version: 1;
  days: Record<string, DayRecord>;
}

/**
 * The state directory: `partials/` holds one partial per log day, `manifest.json` says which log
 * (name, size, mtime, content hash) each partial was built from, `tmp/` holds a run's scratch
 * files. The manifest is rewritten atomically after each day, so a killed run loses at most the
 * day it was building.
 */
export class StateStore {
  readonly partialsDir: string;
  readonly tmpDir: string;
  private readonly manifestPath: string;
  private manifest: Manifest;
  /** Set when the manifest was unreadable and the state starts over: what happened. */
  recovered: string | undefined;

  constructor(readonly dir: string) {
    this.partialsDir = join(dir, 'partials');
    this.tmpDir = join(dir, 'tmp');
    this.manifestPath = join(dir, 'manifest.json');
    try {
      mkdirSync(this.partialsDir, { recursive: true });
      mkdirSync(this.tmpDir, { recursive: true });
    } catch (error) {
      throw new PlaytallyError(
        'state_not_writable',
        `cannot create state directory ${dir}: ${(error as Error).message}`,
      );
    }
    this.manifest = this.load();
  }

  day(compactDate: string): DayRecord | undefined {
    return this.manifest.days[compactDate];
  }

  /** Record a day's new partial and remove the one it replaces. */
  putDay(compactDate: string, record: DayRecord): void {
    const previous = this.manifest.days[compactDate];
    this.manifest.days[compactDate] = record;
    this.save();
    if (previous && previous.partial !== record.partial)
      rmSync(join(this.dir, previous.partial), { force: true });
  }

  partialPath(record: DayRecord): string {
    return join(this.dir, record.partial);
  }

  /**
   * The manifest, or an empty one. An unreadable manifest is set aside (renamed, not deleted)
   * and the state rebuilt from the logs: everything in it is derived data.
   */
  private load(): Manifest {
    if (!existsSync(this.manifestPath)) return { version: 1, days: {} };
    try {
      const parsed = JSON.parse(readFileSync(this.manifestPath, 'utf8')) as Manifest;
      if (parsed?.version !== 1 || typeof parsed.days !== 'object' || parsed.days === null) {
        throw new Error('unknown manifest version');
      }
      return parsed;
    } catch (error) {
      const aside = `${this.manifestPath}.damaged-${Date.now()}`;
      try {
        renameSync(this.manifestPath, aside);
      } catch (renameError) {
        throw new PlaytallyError(
          'corrupt_state',
          `state manifest ${this.manifestPath} is unreadable and cannot be moved aside ` +
            `(${(renameError as Error).message}); remove it to rebuild the state from the logs`,
        );
      }
      this.recovered = `state manifest was unreadable (${(error as Error).message}); moved to ${aside}, rebuilding`;
      return { version: 1, days: {} };
    }
  }

  private save(): void {
    writeFileAtomic(this.manifestPath, JSON.stringify(this.manifest, null, 1));
  }
}
