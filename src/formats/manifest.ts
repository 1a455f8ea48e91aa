import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { ROW_RULE_VERSION } from '../parse/listenParser.js';
import type { RejectCounts, RejectExample } from '../parse/rejects.js';
import { sameRecordedContent } from '../sources/contentHash.js';
import type { LogFile } from '../sources/logFiles.js';
import { checkRecords, isRecord, readStateFile, StateFile } from './stateFile.js';

/**
 * Was the day parsed under the current row rule, or would that rule give the same rows? Every row
 * an older rule accepted is still valid, so a day without rejected lines stays as it is; one with
 * rejects is parsed again when its log is at hand (blanks and a header are accepted since rule 2).
 */
export function parsedUnderCurrentRule(record: Pick<DayRecord, 'rule' | 'rejected'>): boolean {
  return (record.rule ?? 1) >= ROW_RULE_VERSION || record.rejected === 0;
}

/** What one day's log produced; kept in the manifest and inside the partial itself. */
/**
 * What identifies the log a record is about (a day's partial or load, a quarantine): its day, name,
 * size, mtime and content hash, all checked before the record is trusted.
 */
export function logIdentity(
  log: Pick<LogFile, 'day' | 'name' | 'size' | 'mtimeMs'>,
  hash: string,
): Pick<DayRecord, 'date' | 'file' | 'size' | 'mtimeMs' | 'hash'> {
  return { date: isoDay(log.day), file: log.name, size: log.size, mtimeMs: log.mtimeMs, hash };
}

export interface DayRecord {
  /** YYYY-MM-DD */
  date: string;
  file: string;
  size: number;
  mtimeMs: number;
  /** Content hash (sources/contentHash.ts: 32 hex digits; 64 when an older build recorded it). */
  hash: string;
  /** The row rule the log was parsed under (ROW_RULE_VERSION); absent: the first rule. */
  rule?: number;
  /** The partial, relative to the state directory; '' for a day loaded into ClickHouse instead. */
  partial: string;
  partitions: number;
  /** Rows: valid and rejected lines, not counting a header line. */
  lines: number;
  /** 1 when the log's first line was a header naming the columns (absent: 0). */
  header?: number;
  valid: number;
  rejected: number;
  rejects: RejectCounts;
  examples: RejectExample[];
  users: number;
  userSongPairs: number;
  countrySongPairs: number;
  builtAt: string;
  buildMs: number;
  /** Where the log was moved by `--archive` (absolute path); absent while it is in the logs folder. */
  archived?: string;
  /** The partial was removed by retention (`--keep-days`); rebuilt from the log if ever needed. */
  pruned?: boolean;
  /** The engine clickhouse: the cluster and database (`url,url/db`) the day's rows were loaded into. */
  clickhouse?: string;
}

/** A chart date whose files were written: which inputs they were computed from. */
export interface ChartRecord {
  /** YYYY-MM-DD */
  date: string;
  window: number;
  top: number;
  /** Content hash of each log day the charts were computed from, by YYYYMMDD. */
  inputs: Record<string, string>;
  /** The folder the files were written to, and their names. */
  outDir: string;
  files: { country: string; user: string; quality: string };
  rows: { country: number; user: number };
  writtenAt: string;
}

/** A log moved to the quarantine folder (by `run`, `watch` or `backfill`). */
export interface QuarantineRecord {
  date: string;
  file: string;
  size: number;
  mtimeMs: number;
  hash: string;
  reason: 'reject_rate' | 'unreadable';
  message: string;
  /** For `reject_rate`: the row rule the log was judged under (absent: the first). */
  rule?: number;
  /** For `reject_rate`: the share rejected, by reason, and the first rejected lines. */
  rejectRate?: number;
  rejects?: RejectCounts;
  examples?: RejectExample[];
  /** Where the log is (absolute path), once moved; the reason file lies beside it. */
  movedTo?: string;
  reasonFile?: string;
  at: string;
}

interface Manifest {
  version: 2;
  days: Record<string, DayRecord>;
  charts: Record<string, ChartRecord>;
  /** By YYYYMMDD: the last log of that day that was quarantined. */
  quarantined: Record<string, QuarantineRecord>;
}

export const MANIFEST_VERSION = 2;

/**
 * The state directory: `partials/` holds one partial per log day, `manifest.json` says which log
 * (name, size, mtime, content hash) each partial was built from, which chart dates were written
 * from which inputs, and which logs were quarantined; `tmp/` holds a run's scratch files. The
 * manifest is rewritten atomically after each change, so a killed run loses at most the step it
 * was in.
 */
export class StateStore {
  readonly partialsDir: string;
  readonly tmpDir: string;
  private readonly file: StateFile<Manifest>;
  /** Set when the manifest was unreadable and the state starts over: what happened. */
  readonly recovered: string | undefined;

  constructor(readonly dir: string) {
    this.partialsDir = join(dir, 'partials');
    this.tmpDir = join(dir, 'tmp');
    try {
      mkdirSync(this.partialsDir, { recursive: true });
      mkdirSync(this.tmpDir, { recursive: true });
    } catch (error) {
      throw new PlaytallyError(
        'state_not_writable',
        `cannot create state directory ${dir}: ${(error as Error).message}`,
      );
    }
    this.file = new StateFile(join(dir, 'manifest.json'), MANIFEST_SHAPE);
    this.recovered = this.file.recovered;
  }

  day(compactDate: string): DayRecord | undefined {
    return this.manifest.days[compactDate];
  }

  /** Every day record, by YYYYMMDD. */
  days(): Readonly<Record<string, DayRecord>> {
    return this.manifest.days;
  }

  /**
   * Record a day's new partial and remove the one it replaces. A log parsed again under a newer
   * row rule may give other rows from the same bytes: the charts computed from its old partial
   * are forgotten, so that a run writes them again.
   */
  putDay(compactDate: string, record: DayRecord): void {
    const previous = this.manifest.days[compactDate];
    if (previous && sameRecordedContent(previous, record) && (previous.rule ?? 1) !== (record.rule ?? 1)) {
      for (const [date, chart] of Object.entries(this.manifest.charts)) {
        if (chart.inputs[compactDate] === previous.hash) delete this.manifest.charts[date];
      }
    }
    // A partial rebuilt from the archived log: the log is still where the archive put it.
    if (
      previous?.archived !== undefined &&
      previous.file === record.file &&
      sameRecordedContent(previous, record)
    ) {
      record = { ...record, archived: previous.archived };
    }
    this.manifest.days[compactDate] = record;
    delete this.manifest.quarantined[compactDate];
    this.save();
    if (previous && previous.partial !== record.partial) this.removePartial(previous);
  }

  /** Change a day's record in place (archived, pruned); the partial stays. */
  patchDay(compactDate: string, patch: Partial<DayRecord>): DayRecord {
    const record = { ...this.manifest.days[compactDate]!, ...patch };
    for (const key of Object.keys(patch) as (keyof DayRecord)[]) {
      if (patch[key] === undefined) delete record[key];
    }
    this.manifest.days[compactDate] = record;
    this.save();
    return record;
  }

  /** Drop the day's partial to save space; the record stays, marked `pruned`. */
  prunePartial(compactDate: string): void {
    this.removePartial(this.patchDay(compactDate, { pruned: true }));
  }

  /** The day's log was quarantined: its record and partial go, the quarantine record stays. */
  quarantine(compactDate: string, record: QuarantineRecord): void {
    const previous = this.manifest.days[compactDate];
    delete this.manifest.days[compactDate];
    this.manifest.quarantined[compactDate] = record;
    this.save();
    if (previous) this.removePartial(previous);
  }

  /**
   * Remove the partials no live day record names. The manifest is saved before a partial is
   * removed, so a run killed in between leaves one: after a quarantine (the day forgotten), a
   * rebuild under a new name, or retention (the record marked pruned). Call with the state
   * folder's lock held.
   */
  removeOrphanPartials(): string[] {
    const named = new Set(
      Object.values(this.manifest.days)
        .filter((d) => !d.pruned)
        .map((d) => d.partial),
    );
    const removed: string[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.partialsDir);
    } catch {
      return removed;
    }
    for (const name of names) {
      if (!name.endsWith('.ptp') || named.has(`partials/${name}`)) continue;
      rmSync(join(this.partialsDir, name), { force: true });
      removed.push(name);
    }
    return removed;
  }

  /** A day's partial file, if it has one (a day loaded into ClickHouse has none). */
  private removePartial(record: DayRecord): void {
    if (record.partial !== '') rmSync(join(this.dir, record.partial), { force: true });
  }

  quarantined(): Readonly<Record<string, QuarantineRecord>> {
    return this.manifest.quarantined;
  }

  chart(compactDate: string): ChartRecord | undefined {
    return this.manifest.charts[compactDate];
  }

  charts(): Readonly<Record<string, ChartRecord>> {
    return this.manifest.charts;
  }

  putChart(compactDate: string, record: ChartRecord): void {
    this.manifest.charts[compactDate] = record;
    this.save();
  }

  partialPath(record: DayRecord): string {
    return join(this.dir, record.partial);
  }

  private get manifest(): Manifest {
    return this.file.value;
  }

  private save(): void {
    this.file.save();
  }
}

/** The fields of each record the code relies on, checked when the manifest is read. */
const DAY_FIELDS = {
  date: 'string',
  file: 'string',
  size: 'number',
  mtimeMs: 'number',
  hash: 'string',
  partial: 'string',
  lines: 'number',
  valid: 'number',
  rejected: 'number',
  rejects: 'object',
} as const;
const CHART_FIELDS = {
  date: 'string',
  window: 'number',
  top: 'number',
  inputs: 'object',
  outDir: 'string',
  files: 'object',
} as const;
const QUARANTINE_FIELDS = {
  date: 'string',
  file: 'string',
  size: 'number',
  mtimeMs: 'number',
  reason: 'string',
} as const;

/**
 * The manifest's shape: version 2, or version 1 (before unattended runs, only the days), each
 * table an object. Anything else is set aside and the state rebuilt from the logs: everything in
 * it is derived data.
 */
const MANIFEST_SHAPE = {
  what: 'state manifest',
  empty: emptyManifest,
  check(parsed: unknown): Manifest | Error {
    if (!isRecord(parsed) || !isRecord(parsed.days)) return new Error('no days in manifest');
    if (parsed.version !== 1 && parsed.version !== MANIFEST_VERSION)
      return new Error(`unknown manifest version ${String(parsed.version)}`);
    const v2 = parsed.version === MANIFEST_VERSION;
    const problem =
      checkRecords(parsed.days, 'day', DAY_FIELDS) ??
      (v2 ? checkRecords(parsed.charts ?? {}, 'chart', CHART_FIELDS) : undefined) ??
      (v2 ? checkRecords(parsed.quarantined ?? {}, 'quarantined day', QUARANTINE_FIELDS) : undefined);
    if (problem) return problem;
    // Version 1 (before unattended runs) held only the days.
    if (!v2) return { ...emptyManifest(), days: parsed.days as Manifest['days'] };
    return { ...emptyManifest(), ...(parsed as Partial<Manifest>), version: MANIFEST_VERSION } as Manifest;
  },
};

function emptyManifest(): Manifest {
  return { version: MANIFEST_VERSION, days: {}, charts: {}, quarantined: {} };
}

/** Read the manifest without taking the state over (for `status`): undefined if there is none. */
export function readManifest(dir: string): Manifest | undefined {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return undefined;
  const read = readStateFile(path, MANIFEST_SHAPE);
  if (read.problem !== undefined) {
    throw new PlaytallyError(
      'corrupt_state',
      `state manifest ${path} is unreadable (${read.problem}); the next run sets it aside and rebuilds the state`,
    );
  }
  return read.value;
}

export type { Manifest };
