import { mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PlaytallyError } from '../ops/errors.js';
import type { FileReport, RowExample } from '../parse/catalogs.js';
import { checkRecords, isRecord, StateFile } from './stateFile.js';

/** A streams file parsed into its partial: what it was (name, size, mtime, content hash) and what it held. */
export interface KpiFileRecord {
  file: string;
  size: number;
  mtimeMs: number;
  /**
   * Its content hash (sources/contentHash.ts), which names its partial and the days' inputs; a
   * record of a build before 2026-12-07 has the SHA-256 of its bytes, under `sha256`, read as
   * this (a file is told changed by its size and mtime, never hashed again to compare).
   */
  hash: string;
  /** The partial, relative to the state folder, and its size (a partial of another size is damaged). */
  partial: string;
  partialBytes: number;
  days: { day: number; rows: number }[];
  report: FileReport;
  examples: RowExample[];
  parsedAt: string;
  /** Where the file was archived (absolute path), once every day it has rows on was written. */
  archived?: string;
}

/** A day whose KPI files were written: from which files' contents, catalogues and granularity. */
export interface KpiDayRecord {
  date: string;
  granularity: string;
  /** File name -> content hash, of every streams file with rows on the day. */
  inputs: Record<string, string>;
  /** Content hash of the songs and users files. */
  catalog: string;
  outDir: string;
  files: { genres: string; topGenres: string; quality: string };
  writtenAt: string;
}

interface KpiManifest {
  version: 1;
  files: Record<string, KpiFileRecord>;
  days: Record<string, KpiDayRecord>;
}

/**
 * The KPI state folder: `partials/` holds one partial per streams file, `manifest.json` what each
 * was built from and which days were written from which inputs. The manifest is rewritten
 * atomically after each change; everything here derives from the landing folder, so an
 * unreadable manifest is set aside and the state rebuilt.
 */
export class KpiState {
  readonly partialsDir: string;
  private readonly file: StateFile<KpiManifest>;
  /** Set when the manifest was unreadable and the state starts over: what happened. */
  readonly recovered: string | undefined;

  constructor(readonly dir: string) {
    this.partialsDir = join(dir, 'partials');
    try {
      mkdirSync(this.partialsDir, { recursive: true });
    } catch (error) {
      throw new PlaytallyError(
        'state_not_writable',
        `cannot create state folder ${dir}: ${(error as Error).message}`,
      );
    }
    this.file = new StateFile(join(dir, 'manifest.json'), KPI_MANIFEST_SHAPE);
    this.recovered = this.file.recovered;
  }

  files(): Readonly<Record<string, KpiFileRecord>> {
    return this.manifest.files;
  }

  partialPath(record: KpiFileRecord): string {
    return join(this.dir, record.partial);
  }

  /** Record a file's new partial (an absolute path in the partials folder); the one it replaces goes. */
  putFile(name: string, record: Omit<KpiFileRecord, 'partial'> & { partial: string }): void {
    const previous = this.manifest.files[name];
    const stored = { ...record, partial: relative(this.dir, record.partial) };
    this.manifest.files[name] = stored;
    this.save();
    if (previous && previous.partial !== stored.partial)
      rmSync(join(this.dir, previous.partial), { force: true });
  }

  /** Change a file's record in place (archived or not); its partial stays. */
  patchFile(name: string, patch: Partial<KpiFileRecord>): void {
    const record: KpiFileRecord = { ...this.manifest.files[name]!, ...patch };
    if (patch.archived === undefined && 'archived' in patch) delete record.archived;
    this.manifest.files[name] = record;
    this.save();
  }

  dropFile(name: string): void {
    const previous = this.manifest.files[name];
    if (!previous) return;
    delete this.manifest.files[name];
    this.save();
    rmSync(join(this.dir, previous.partial), { force: true });
  }

  day(key: string): KpiDayRecord | undefined {
    return this.manifest.days[key];
  }

  putDay(key: string, record: KpiDayRecord): void {
    this.manifest.days[key] = record;
    this.save();
  }

  private get manifest(): KpiManifest {
    return this.file.value;
  }

  private save(): void {
    this.file.save();
  }
}

const KPI_MANIFEST_SHAPE = {
  what: 'KPI state manifest',
  empty: (): KpiManifest => ({ version: 1, files: {}, days: {} }),
  check(parsed: unknown): KpiManifest | Error {
    if (!isRecord(parsed) || parsed.version !== 1 || !isRecord(parsed.files) || !isRecord(parsed.days)) {
      return new Error('unknown manifest version');
    }
    for (const record of Object.values(parsed.files)) renameSha256(record);
    const problem =
      checkRecords(parsed.files, 'file', {
        file: 'string',
        size: 'number',
        mtimeMs: 'number',
        hash: 'string',
        partial: 'string',
        partialBytes: 'number',
        days: 'object',
        report: 'object',
      }) ??
      checkRecords(parsed.days, 'day', {
        date: 'string',
        inputs: 'object',
        catalog: 'string',
        outDir: 'string',
        files: 'object',
      });
    return problem ?? (parsed as unknown as KpiManifest);
  },
};

/** A file record of a build before 2026-12-07: its `sha256` is its hash (KpiFileRecord.hash). */
function renameSha256(record: unknown): void {
  if (!isRecord(record) || typeof record.sha256 !== 'string' || 'hash' in record) return;
  record.hash = record.sha256;
  delete record.sha256;
}
