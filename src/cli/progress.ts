import type { Top50Event } from '../engines/chartEngine.js';
import type { KpiEvent } from '../jobs/kpiJob.js';
import { plural } from '../ops/counts.js';
import { type LogLevel, prints } from './sharedOptions.js';
import { LiveLine, mergingLine, readingLine } from './terminal.js';

/** The warning of a gap in the data: days between logs that have none. */
export function gapWarning(days: string[]): string {
  return `no log for ${days.join(', ')}: ${days.length === 1 ? 'that day is' : 'those days are'} left out of the charts`;
}

/** The note of a window that starts before the first log. */
export function beforeDataNote(event: { date: string; days: number; firstDay: string }): string {
  return `the window of ${event.date} starts ${plural(event.days, 'day')} before the first log (${event.firstDay}): the data starts there`;
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
  const showLive = live.enabled && info;
  let file = '';
  let total = 0;
  let done = 0;
  let rows = 0;
  let started = 0;
  let mergeDays = 0;
  return (event) => {
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
      case 'dayStart':
        file = event.file;
        total = event.bytes;
        done = 0;
        rows = 0;
        started = Date.now();
        // Drawn from the first bytes read: a day whose partial is reused reads none.
        if (debug) live.line(`  ${file}: ${event.date}, ${total.toLocaleString('en-US')} bytes`);
        break;
      case 'progress':
        done += event.bytes;
        rows += event.rows;
        if (showLive) live.draw(readingLine(file, done, total, rows, Date.now() - started));
        break;
      case 'dayDone':
        if (info) {
          const what = event.reused
            ? 'reused partial'
            : `parsed ${plural(event.rows, 'row')} in ${(event.ms / 1000).toFixed(1)} s`;
          live.line(`  ${file}: ${what}`);
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
        mergeDays = event.days;
        started = Date.now();
        if (debug)
          live.line(`  merging ${plural(event.days, 'day')} in ${plural(event.partitions, 'partition')}`);
        break;
      case 'mergeProgress':
        if (showLive)
          live.draw(mergingLine(mergeDays, event.done, event.total, Date.now() - started), event.done === 1);
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
  let what = '';
  let done = 0;
  let of = 0;
  let started = 0;
  // Redrawn every half second too, so that the time moves while one large file is parsed.
  let ticking: NodeJS.Timeout | undefined;
  const draw = (): void =>
    live.draw(`  ${what}: ${done}/${of}, ${((Date.now() - started) / 1000).toFixed(1)} s`, true);
  const start = (step: string, total: number): void => {
    [what, done, of, started] = [step, 0, total, Date.now()];
    ticking ??= setInterval(draw, 500).unref();
  };
  return (event) => {
    live.clear();
    lines(event);
    if (event.type === 'parseStart') start('parsing streams files', event.files);
    else if (event.type === 'daysStart') start('computing days', event.days);
    else if (event.type === 'streamsFile' || event.type === 'dayDone') done++;
    if (of > 0 && done < of) draw();
    else {
      of = 0;
      clearInterval(ticking);
      ticking = undefined;
    }
  };
}
