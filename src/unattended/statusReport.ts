import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readManifest } from '../formats/manifest.js';
import { type RunRecord, readRunHistory } from '../formats/runHistory.js';
import { isoDay, parseDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { type LockOwner, readOwner } from '../ops/runLock.js';
import { rejectRate } from '../parse/rejectDiagnosis.js';
import { folderLocation } from '../sources/locations.js';
import { scanLogs } from '../sources/logFiles.js';

export interface StatusReport {
  stateDir: string;
  /** Who holds the state folder now, if anyone. */
  lock: LockOwner | null;
  days: {
    date: string;
    file: string;
    size: number;
    /** The log's content hash (sources/contentHash.ts), as the state recorded it. */
    contentHash: string;
    rows: number;
    valid: number;
    rejected: number;
    rejectRate: number;
    partial: 'present' | 'pruned' | 'missing' | 'clickhouse';
    /** Where the log is: the archive path, or null while in the logs folder. */
    archived: string | null;
    builtAt: string;
  }[];
  /** Days between the first and the newest processed day that have no log (quarantined ones included). */
  missingDays: string[];
  /** Logs in the logs folder not processed yet (only with --logs). */
  pending: string[];
  charts: {
    count: number;
    first: string | null;
    last: string | null;
    recent: { date: string; days: number; countries: number; users: number; writtenAt: string }[];
  };
  quarantined: {
    date: string;
    file: string;
    reason: string;
    message: string;
    movedTo: string | null;
    at: string;
  }[];
  runs: RunRecord[];
}

/** What the state folder says: read only, without taking the lock (a run may be going on). */
export async function statusReport(stateDir: string, logsDir?: string, runs = 10): Promise<StatusReport> {
  const dir = resolve(stateDir);
  if (!existsSync(dir))
    throw new PlaytallyError('usage', `state folder ${dir} does not exist: no run has used it yet`);
  const manifest = readManifest(dir);
  const days = Object.entries(manifest?.days ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, d]) => ({
      date: d.date,
      file: d.file,
      size: d.size,
      contentHash: d.hash,
      rows: d.lines,
      valid: d.valid,
      rejected: d.rejected,
      rejectRate: rejectRate({ rows: d.lines, rejected: d.rejected }),
      partial: d.pruned
        ? ('pruned' as const)
        : d.clickhouse !== undefined
          ? ('clickhouse' as const)
          : existsSync(join(dir, d.partial))
            ? ('present' as const)
            : ('missing' as const),
      archived: d.archived ?? null,
      builtAt: d.builtAt,
    }));
  const have = new Set(days.map((d) => parseDay(d.date)!));
  const numbers = [...have].sort((a, b) => a - b);
  const missingDays: string[] = [];
  for (let d = numbers[0] ?? 0; d < (numbers[numbers.length - 1] ?? 0); d++)
    if (!have.has(d)) missingDays.push(isoDay(d));
  const pending: string[] = [];
  if (logsDir !== undefined) {
    // A local folder that is not there has no pending logs; an S3 location is listed.
    for (const log of (await scanLogs(folderLocation(logsDir))).logs) {
      const known = Object.values(manifest?.days ?? {}).find((d) => d.date === isoDay(log.day));
      if (!known || known.file !== log.name || known.size !== log.size || known.mtimeMs !== log.mtimeMs)
        pending.push(log.name);
    }
  }
  const charts = Object.values(manifest?.charts ?? {}).sort((a, b) => a.date.localeCompare(b.date));
  return {
    stateDir: dir,
    lock: readOwner(join(dir, 'lock')) ?? null,
    days,
    missingDays,
    pending,
    charts: {
      count: charts.length,
      first: charts[0]?.date ?? null,
      last: charts[charts.length - 1]?.date ?? null,
      recent: charts.slice(-7).map((c) => ({
        date: c.date,
        days: Object.keys(c.inputs).length,
        countries: c.rows.country,
        users: c.rows.user,
        writtenAt: c.writtenAt,
      })),
    },
    quarantined: Object.values(manifest?.quarantined ?? {}).map((q) => ({
      date: q.date,
      file: q.file,
      reason: q.reason,
      message: q.message,
      movedTo: q.movedTo ?? null,
      at: q.at,
    })),
    runs: readRunHistory(dir, runs),
  };
}
