import { isoDay } from '../ops/dates.js';
import type { FileReport, RowExample } from '../parse/catalogs.js';
import { describeRejects, exampleOf, mainReason, percent, rejectRate } from '../parse/rejectDiagnosis.js';
import type { DayStreamCounts } from './genreKpis.js';

/**
 * A loud note in a KPI run: a streams file with more rejected rows than `--max-reject-rate`
 * allows, or a day on which more unique streams than that have a track in no songs file.
 * Printed on stderr, listed in the `--json` summary and in the quality report of each day it
 * concerns.
 */
export interface KpiRejectWarning {
  kind: 'reject_rate';
  /** A streams file's own rejects, or a day's streams rejected on the join with the songs. */
  scope: 'file' | 'day';
  /** YYYY-MM-DD: the day, or the day the file has most rows on ('' when it has no valid row). */
  date: string;
  /** The streams file (scope file), or the file of the example (scope day). */
  file: string | null;
  rate: number;
  maxRate: number;
  reason: string;
  example: { record: number | null; text: string } | null;
  message: string;
}

/** The warning for a streams file whose share of rejected rows is above `maxRate`, if it is. */
export function fileRejectWarning(
  file: { file: string; report: FileReport; examples: RowExample[]; days: { day: number; rows: number }[] },
  maxRate: number,
): KpiRejectWarning | undefined {
  const { report } = file;
  const tally = {
    rows: report.rows,
    rejected: report.rows - report.accepted,
    byReason: report.rejects,
    examples: file.examples.map((e) => ({ line: e.record, reason: e.reason, text: e.text })),
  };
  const rate = rejectRate(tally);
  if (!(rate > maxRate)) return undefined;
  const reason = mainReason(tally.byReason)!;
  const example = exampleOf(file, reason);
  const main = [...file.days].sort((a, b) => b.rows - a.rows || a.day - b.day)[0];
  const date = main === undefined ? '' : isoDay(main.day);
  return {
    kind: 'reject_rate',
    scope: 'file',
    date,
    file: file.file,
    rate,
    maxRate,
    reason,
    example: example === undefined ? null : { record: example.record, text: example.text },
    message: `streams/${file.file}${date ? ` (${date})` : ' (no valid row)'}: ${describeRejects(tally, { maxRate, unit: 'record' })}`,
  };
}

/**
 * The warning for a day on which the share of unique streams whose track is in no songs file is
 * above `maxRate`, if it is; `example` finds one such track (read only when the warning is due).
 */
export function unknownTrackWarning(
  day: number,
  streams: DayStreamCounts,
  maxRate: number,
  example: () => { file: string; track: string } | undefined,
): KpiRejectWarning | undefined {
  const unique = streams.rows - streams.duplicates;
  const rate = rejectRate({ rows: unique, rejected: streams.unknownTrack });
  if (!(rate > maxRate)) return undefined;
  const found = example();
  return {
    kind: 'reject_rate',
    scope: 'day',
    date: isoDay(day),
    file: found?.file ?? null,
    rate,
    maxRate,
    reason: 'unknown_track',
    example: found === undefined ? null : { record: null, text: found.track },
    message:
      `${isoDay(day)}: ${percent(rate)} of ${unique.toLocaleString('en-US')} unique streams have a track in no ` +
      `songs file (unknown_track, above --max-reject-rate ${percent(maxRate)})` +
      (found ? `, e.g. track ${found.track} in streams/${found.file}` : '') +
      '; they are not counted: is the songs catalogue complete?',
  };
}

/** The key a warning is told apart by (a file's warning concerns every day the file is on). */
export function warningKey(w: KpiRejectWarning): string {
  return w.scope === 'file' ? `file:${w.file}` : `day:${w.date}`;
}
