import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../ops/atomicFile.js';
import { compactDay, isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import {
  DEFAULT_MAX_REJECT_RATE,
  describeRejects,
  exampleOf,
  LISTEN_LAYOUT,
  layoutHint,
  mainReason,
  rejectRate,
} from '../parse/rejectDiagnosis.js';
import {
  emptyRejectCounts,
  REJECT_REASONS,
  type RejectCounts,
  type RejectExample,
} from '../parse/rejects.js';
import type { DayRecord } from './manifest.js';

export interface DayQuality {
  date: string;
  file: string;
  /** Rows read: valid and rejected. A header line naming the columns is not one (see `header`). */
  rows: number;
  /** 1 when the log's first line was a header (`sng_id|user_id|country`), else 0. */
  header: number;
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
  /** Days of the window whose share of rejected rows is above the threshold. */
  warnings: RejectRateWarning[];
  generatedAt: string;
}

/** A log day with more rejected rows than `--max-reject-rate` allows: loud, never silent. */
export interface RejectRateWarning {
  kind: 'reject_rate';
  date: string;
  file: string;
  rate: number;
  maxRate: number;
  /** The reason most rows were rejected for, and the first line rejected for it. */
  reason: string;
  example: RejectExample | null;
  /** What the rejected lines look like, when it is a known layout problem (another delimiter...). */
  hint: string | null;
  message: string;
}

export function qualityReportName(day: number): string {
  return `quality_${compactDay(day)}.json`;
}

/** What a day's quality comes from, whichever engine parsed it. */
export type DayFigures = Pick<
  DayRecord,
  'date' | 'file' | 'lines' | 'header' | 'valid' | 'rejected' | 'rejects' | 'examples'
>;

export function dayQuality(record: DayFigures): DayQuality {
  return {
    date: record.date,
    file: record.file,
    rows: record.lines,
    header: record.header ?? 0,
    valid: record.valid,
    rejected: record.rejected,
    rejectedByReason: record.rejects,
    examples: record.examples,
  };
}

/** The day's rejects as the diagnosis reads them. */
export function rejectTally(record: DayFigures): {
  rows: number;
  rejected: number;
  byReason: RejectCounts;
  examples: RejectExample[];
} {
  return {
    rows: record.lines,
    rejected: record.rejected,
    byReason: record.rejects,
    examples: record.examples,
  };
}

/** The warning for a day whose share of rejected rows is above `maxRate`, if it is. */
export function rejectRateWarning(record: DayFigures, maxRate: number): RejectRateWarning | undefined {
  const tally = rejectTally(record);
  const rate = rejectRate(tally);
  if (!(rate > maxRate)) return undefined;
  const reason = mainReason(tally.byReason)!;
  return {
    kind: 'reject_rate',
    date: record.date,
    file: record.file,
    rate,
    maxRate,
    reason,
    example: exampleOf(tally, reason) ?? null,
    hint: layoutHint(tally.examples, LISTEN_LAYOUT) ?? null,
    message: `${record.date} (${record.file}): ${describeRejects(tally, { layout: LISTEN_LAYOUT, maxRate })}`,
  };
}

/** Build the window's quality report from the days' records. */
export function buildQualityReport(
  day: number,
  windowDays: number[],
  records: Map<number, DayFigures>,
  maxRejectRate = DEFAULT_MAX_REJECT_RATE,
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
    warnings: windowDays.flatMap((d) => {
      const record = records.get(d);
      const warning = record && rejectRateWarning(record, maxRejectRate);
      return warning ? [warning] : [];
    }),
    generatedAt: new Date().toISOString(),
  };
}

export function writeQualityReport(outDir: string, report: QualityReport, day: number): string {
  const path = join(outDir, qualityReportName(day));
  writeFileAtomic(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/** The quality report of `date` as written, checked to be that date's report. */
export function readQualityReport(path: string, date: string): QualityReport {
  let report: QualityReport;
  try {
    report = JSON.parse(readFileSync(path, 'utf8')) as QualityReport;
  } catch (error) {
    throw new PlaytallyError(
      'bad_result_file',
      `${path}: not a JSON quality report (${(error as Error).message})`,
      { path },
    );
  }
  if (report?.date !== date || !report.window || !Array.isArray(report.days)) {
    throw new PlaytallyError('bad_result_file', `${path}: not the quality report of ${date}`, { path });
  }
  return report;
}
