import { join } from 'node:path';
import { writeFileAtomic } from '../ops/atomicFile.js';
import { compactDay, isoDay } from '../ops/dates.js';
import type { DayRecord } from '../ops/stateStore.js';
import {
  emptyRejectCounts,
  REJECT_REASONS,
  type RejectCounts,
  type RejectExample,
} from '../parse/rejects.js';

export interface DayQuality {
  date: string;
  file: string;
  rows: number;
  valid: number;
  rejected: number;
  rejectedByReason: RejectCounts;
  examples: RejectExample[];
}

export interface QualityReport {
  date: string;
  window: { from: string; to: string; days: number; present: string[]; missing: string[] };
  /** The log of `date` itself, or null when that day is missing. */
  day: DayQuality | null;
  /** Every log day in the window, oldest first. */
  days: DayQuality[];
  totals: { rows: number; valid: number; rejected: number; rejectedByReason: RejectCounts };
  generatedAt: string;
}

export function qualityReportName(day: number): string {
  return `quality_${compactDay(day)}.json`;
}

/** What a day's quality comes from, whichever engine parsed it. */
export type DayFigures = Pick<
  DayRecord,
  'date' | 'file' | 'lines' | 'valid' | 'rejected' | 'rejects' | 'examples'
>;

export function dayQuality(record: DayFigures): DayQuality {
  return {
    date: record.date,
    file: record.file,
    rows: record.lines,
    valid: record.valid,
    rejected: record.rejected,
    rejectedByReason: record.rejects,
    examples: record.examples,
  };
}

/** Build the window's quality report from the days' records. */
export function buildQualityReport(
  day: number,
  windowDays: number[],
  records: Map<number, DayFigures>,
): QualityReport {
  const days = windowDays.filter((d) => records.has(d)).map((d) => dayQuality(records.get(d)!));
  const totals = { rows: 0, valid: 0, rejected: 0, rejectedByReason: emptyRejectCounts() };
  for (const d of days) {
    totals.rows += d.rows;
    totals.valid += d.valid;
    totals.rejected += d.rejected;
    for (const reason of REJECT_REASONS) totals.rejectedByReason[reason] += d.rejectedByReason[reason];
  }
  const own = records.get(day);
  return {
    date: isoDay(day),
    window: {
      from: isoDay(windowDays[0]!),
      to: isoDay(windowDays[windowDays.length - 1]!),
      days: windowDays.length,
      present: windowDays.filter((d) => records.has(d)).map(isoDay),
      missing: windowDays.filter((d) => !records.has(d)).map(isoDay),
    },
    day: own ? dayQuality(own) : null,
    days,
    totals,
    generatedAt: new Date().toISOString(),
  };
}

export function writeQualityReport(outDir: string, report: QualityReport, day: number): string {
  const path = join(outDir, qualityReportName(day));
  writeFileAtomic(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
