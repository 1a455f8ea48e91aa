import type { Top50Event } from '../engines/chartEngine.js';
import { type LogLevel, prints } from './sharedOptions.js';

const MB = 1024 * 1024;

/**
 * Renders job events on stderr at `level` (--log-level): a live line per log file on a terminal
 * (bytes done, rows/s), plain one-line notes otherwise (info), warnings (warn), and with debug
 * each log's size as it starts and the merge's time.
 */
export function progressReporter(stream: NodeJS.WriteStream, level: LogLevel): (event: Top50Event) => void {
  const debug = prints(level, 'debug');
  const info = prints(level, 'info');
  const warn = prints(level, 'warn');
  const live = stream.isTTY === true && info;
  let file = '';
  let total = 0;
  let done = 0;
  let rows = 0;
  let started = 0;
  let lastDraw = 0;
  const draw = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - lastDraw < 150) return;
    lastDraw = now;
    const seconds = Math.max(0.001, (now - started) / 1000);
    const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    stream.write(
      `\r\x1b[K  ${file}  ${percent}%  ${(done / MB).toFixed(0)}/${(total / MB).toFixed(0)} MB  ` +
        `${formatRate(rows / seconds)} rows/s`,
    );
  };
  return (event) => {
    switch (event.type) {
      case 'ignored':
        if (warn) stream.write(`playtally: warning: ignoring ${event.file.name}: ${event.file.reason}\n`);
        break;
      case 'missing':
        if (warn)
          stream.write(
            `playtally: warning: ${event.days.length} day(s) missing in the window: ${event.days.join(', ')}\n`,
          );
        break;
      case 'dayStart':
        file = event.file;
        total = event.bytes;
        done = 0;
        rows = 0;
        started = Date.now();
        if (debug) stream.write(`  ${file}: ${event.date}, ${total.toLocaleString('en-US')} bytes\n`);
        if (live) draw(true);
        break;
      case 'progress':
        done += event.bytes;
        rows += event.rows;
        if (live) draw(false);
        break;
      case 'dayDone':
        if (live) stream.write('\r\x1b[K');
        if (info) {
          const what = event.reused
            ? 'reused partial'
            : `parsed ${event.rows.toLocaleString('en-US')} rows in ${(event.ms / 1000).toFixed(1)} s`;
          stream.write(`  ${file}: ${what}\n`);
        }
        break;
      case 'stateRecovered':
        if (warn) stream.write(`playtally: warning: ${event.problem}\n`);
        break;
      case 'rejectRate':
        if (warn) stream.write(`playtally: warning: ${event.warning.message}\n`);
        break;
      case 'damaged':
        if (warn)
          stream.write(
            `playtally: warning: partial of ${event.date} is damaged (${event.problem}); rebuilding it\n`,
          );
        break;
      case 'mergeStart':
        if (info) stream.write(`  merging ${event.days} day(s) in ${event.partitions} partitions\n`);
        break;
      case 'mergeDone':
        if (debug) stream.write(`  merged in ${(event.ms / 1000).toFixed(1)} s\n`);
        break;
    }
  };
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(0)}k`;
  return perSecond.toFixed(0);
}
