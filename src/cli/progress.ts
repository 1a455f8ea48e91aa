import type { Top50Event } from '../engines/chartEngine.js';
import type { KpiEvent } from '../jobs/kpiJob.js';
import { plural } from '../ops/counts.js';
import { type LogLevel, prints } from './sharedOptions.js';
import { ChartWork, KpiWork, LiveLine } from './terminal.js';

/** The warning of a gap in the data: days between logs that have none. */
export function gapWarning(days: string[]): string {
  return `no log for ${days.join(', ')}: ${days.length === 1 ? 'that day is' : 'those days are'} left out of the charts`;
}

/** The note of a window that starts before the first log. */
export function beforeDataNote(event: { date: string; days: number; firstDay: string }): string {
  return `the window of ${event.date} starts ${plural(event.days, 'day')} before the first log (${event.firstDay}): the data starts there`;
}

/** The note of a memory budget that holds fewer worker threads than asked for. */
export function threadsCutNote(event: { threads: number; asked: number; memoryBytes: number }): string {
  const mb = Math.round(event.memoryBytes / (1024 * 1024));
  return `--memory ${mb}MB holds ${plural(event.threads, 'worker thread')}: running ${event.threads} of the ${event.asked} asked for`;
}

/**
 * Renders job events on stderr at `level` (--log-level): a live line on a terminal while a log
 * is read (bytes done, rows/s) and while the window is merged (parts done), a line per log read,
 * warnings (warn), and with debug each log's size as it starts and the merge's time.
 */
export function progressReporter(stream: NodeJS.WriteStream, level: LogLevel): (event: Top50Event) => void {
  const debug = prints(level, 'debug');
  const info = prints(level, 'info');
  const warn = prints(level, 'warn');
  const live = new LiveLine(stream);
  const work = live.enabled && info ? new ChartWork(live) : undefined;
  return (event) => {
    work?.follow(event);
    switch (event.type) {
      case 'ignored':
        if (warn) live.line(`playtally: warning: ignoring ${event.file.name}: ${event.file.reason}`);
        break;
      case 'missing':
        if (warn) live.line(`playtally: warning: ${gapWarning(event.days)}`);
        break;
      case 'beforeData':
        if (info) live.line(`  ${beforeDataNote(event)}`);
        break;
      case 'threadsCut':
        if (info) live.line(`  ${threadsCutNote(event)}`);
        break;
      case 'dayStart':
        if (debug) live.line(`  ${event.file}: ${event.date}, ${event.bytes.toLocaleString('en-US')} bytes`);
        break;
      case 'dayDone':
        if (info) {
          const what = event.reused
            ? 'reused partial'
            : `parsed ${plural(event.rows, 'row')} in ${(event.ms / 1000).toFixed(1)} s`;
          live.line(`  ${event.file}: ${what}`);
        } else live.clear();
        break;
      case 'stateRecovered':
        if (warn) live.line(`playtally: warning: ${event.problem}`);
        break;
      case 'rejectRate':
        if (warn) live.line(`playtally: warning: ${event.warning.message}`);
        break;
      case 'damaged':
        if (warn)
          live.line(
            `playtally: warning: partial of ${event.date} is damaged (${event.problem}); rebuilding it`,
          );
        break;
      case 'mergeStart':
        if (debug)
          live.line(`  merging ${plural(event.days, 'day')} in ${plural(event.partitions, 'partition')}`);
        break;
      case 'mergeDone':
        if (debug) live.line(`  merged in ${(event.ms / 1000).toFixed(1)} s`);
        else live.clear();
        break;
    }
  };
}

/**
 * The KPI job's live line on a terminal (at info): the streams files parsed so far, then the days
 * computed so far, with the time spent; cleared for every line `lines` writes, then redrawn.
 */
export function withKpiProgress(
  stream: NodeJS.WriteStream,
  level: LogLevel,
  lines: (event: KpiEvent) => void,
): (event: KpiEvent) => void {
  const live = new LiveLine(stream);
  if (!live.enabled || !prints(level, 'info')) return lines;
  const work = new KpiWork(live);
  return (event) => {
    live.clear();
    lines(event);
    work.follow(event);
  };
}
