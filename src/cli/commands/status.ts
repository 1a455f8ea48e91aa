import { join } from 'node:path';
import { Command } from 'commander';
import type { RunRecord } from '../../formats/runHistory.js';
import { plural, thousands } from '../../ops/counts.js';
import { PlaytallyError } from '../../ops/errors.js';
import { type StatusReport, statusReport } from '../../unattended/statusReport.js';
import { positiveIntOption } from '../optionParsers.js';
import { jsonOption } from '../sharedOptions.js';

export function statusCommand(): Command {
  return new Command('status')
    .description('show processed days, missing days, charts, quarantined logs and the last runs')
    .option('--out <dir>', 'output folder (its state folder is <out>/.playtally)')
    .option('--state <dir>', 'state folder (instead of --out)')
    .option('--logs <dir>', 'also list logs in this folder (or s3:// location) that are not processed yet')
    .option('--runs <n>', 'how many recent runs to show', positiveIntOption, 10)
    .addOption(jsonOption('the status report'))
    .addHelpText(
      'after',
      `
Examples:
  playtally status --out /data/charts
  playtally status --state /data/charts/.playtally --logs /data/landing --runs 3 --json`,
    )
    .action(
      async (options: { out?: string; state?: string; logs?: string; runs: number; json?: boolean }) => {
        const stateDir =
          options.state ?? (options.out === undefined ? undefined : join(options.out, '.playtally'));
        if (stateDir === undefined)
          throw new PlaytallyError('usage', "give '--state <dir>' or '--out <dir>'");
        const report = await statusReport(stateDir, options.logs, options.runs);
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
      },
    );
}

const n = thousands;
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/**
 * Columns padded to their widest cell; numbers right-aligned. `note`: a line under a row (a failed
 * run's message), indented under its first column.
 */
function table(
  header: string[],
  rows: string[][],
  right: Set<number>,
  note: (index: number) => string | undefined = () => undefined,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    `  ${cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}\n`;
  return (
    line(header) +
    rows
      .map((r, i) => {
        const under = note(i);
        return line(r) + (under === undefined ? '' : `    ${under}\n`);
      })
      .join('')
  );
}

/** A run's result: ok, stopped, or failed with its exit code (records before exit codes have none). */
function result(r: RunRecord): string {
  if (r.ok) return r.stopped ? 'stopped' : 'ok';
  return r.error?.exitCode === undefined ? 'failed' : `failed (exit ${r.error.exitCode})`;
}

export function renderStatus(s: StatusReport): string {
  let out = `state: ${s.stateDir}\n`;
  out += s.lock
    ? `lock: held by ${s.lock.command} (pid ${s.lock.pid} on ${s.lock.host}, since ${s.lock.startedAt})\n`
    : 'lock: free\n';
  out += `\nprocessed days (${s.days.length}):\n`;
  out +=
    s.days.length === 0
      ? '  none\n'
      : table(
          ['date', 'file', 'rows', 'rejected', 'rate', 'partial', 'log'],
          s.days.map((d) => [
            d.date,
            d.file,
            n(d.rows),
            n(d.rejected),
            pct(d.rejectRate),
            d.partial,
            d.archived ? `archived` : 'in logs folder',
          ]),
          new Set([2, 3, 4]),
        );
  out += `\nmissing days: ${s.missingDays.length === 0 ? 'none' : s.missingDays.join(', ')}\n`;
  if (s.pending.length > 0) out += `not processed yet: ${s.pending.join(', ')}\n`;
  out += `\ncharts: ${plural(s.charts.count, 'date')}${s.charts.count > 0 ? `, ${s.charts.first} .. ${s.charts.last}` : ''}\n`;
  if (s.charts.recent.length > 0) {
    out += table(
      ['date', 'days', 'countries', 'users', 'written'],
      s.charts.recent.map((c) => [c.date, String(c.days), n(c.countries), n(c.users), c.writtenAt]),
      new Set([1, 2, 3]),
    );
  }
  out += `\nquarantined (${s.quarantined.length}):\n`;
  out +=
    s.quarantined.length === 0
      ? '  none\n'
      : table(
          ['date', 'file', 'reason', 'why', 'where'],
          s.quarantined.map((q) => [q.date, q.file, q.reason, q.message, q.movedTo ?? '(not moved yet)']),
          new Set(),
        );
  out += `\nlast runs (${s.runs.length}):\n`;
  out +=
    s.runs.length === 0
      ? '  none\n'
      : table(
          [
            'started',
            'command',
            'result',
            'parsed',
            'reused',
            'rows',
            'rejected',
            'charts',
            'quarantined',
            'archived',
          ],
          s.runs.map((r) => [
            r.startedAt,
            r.command,
            result(r),
            String(r.days.length),
            // The days the charts were written from without parsing them again (earlier runs' partials).
            String(r.reused?.days.length ?? 0),
            n(r.totals.rows),
            r.totals.rows > 0 ? pct(r.totals.rejected / r.totals.rows) : '-',
            String(r.charts.length),
            String(r.quarantined.length),
            String(r.archived.length),
          ]),
          new Set([3, 4, 5, 6, 7, 8, 9]),
          (i) => {
            const error = s.runs[i]!.error;
            return error === undefined ? undefined : `${error.code}: ${error.message}`;
          },
        );
  return out;
}
