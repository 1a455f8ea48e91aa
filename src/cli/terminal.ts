import type { Top50Event } from '../engines/chartEngine.js';
import type { KpiEvent } from '../jobs/kpiJob.js';
import { plural } from '../ops/counts.js';

/**
 * What a person reads on a terminal: short lines, and one live line below them for long work
 * (a log being parsed, the window being merged), redrawn in place and cleared before the next
 * line. `top50`'s progress (progress.ts) and the unattended commands' log (runLogger.ts) both
 * write through it, so every command reads alike.
 */

const REDRAW_MS = 150;
const CLEAR_LINE = '\r\x1b[K';

/** A stream's live line: drawn only on a terminal, at most every 150 ms unless forced. */
export class LiveLine {
  private shown = false;
  private lastDraw = 0;

  constructor(private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {}

  /** Whether there is a terminal to draw on. */
  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  /** Show `text` as the live line (cut to the terminal's width: a wrapped line cannot be redrawn). */
  draw(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    // A terminal that does not say its width (a pty without a size) is taken as 80 columns.
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    this.stream.write(`${CLEAR_LINE}${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    this.shown = true;
  }

  /** Remove the live line, if one is shown. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write(CLEAR_LINE);
    this.shown = false;
  }

  /** Write a whole line above the live line (which the next draw puts back). */
  line(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
  }
}

const MB = 1024 * 1024;

/** The live line of a file being read: `  name  42%  120/300 MB  2.1M rows/s`. */
function readingLine(file: string, done: number, total: number, rows: number, ms: number): string {
  const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
  const perSecond = rows / Math.max(0.001, ms / 1000);
  return `  ${file}  ${percent}%  ${(done / MB).toFixed(0)}/${(total / MB).toFixed(0)} MB  ${rate(perSecond)} rows/s`;
}

/** The live line of the window's merge: `  merging 7 days: 12/20 parts, 3.4 s`. */
function mergingLine(days: number, done: number, total: number, ms: number): string {
  return `  merging ${plural(days, 'day')}: ${done}/${total} parts, ${(ms / 1000).toFixed(1)} s`;
}

function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(0)}k`;
  return perSecond.toFixed(0);
}

/**
 * The live line of the chart job's work, for `top50` (progress.ts) and the unattended log
 * (runLogger.ts) alike: the log being read, from its first bytes (a day whose partial is reused
 * reads none), then the parts of the merge.
 */
export class ChartWork {
  private file = '';
  private total = 0;
  private done = 0;
  private rows = 0;
  private started = 0;
  private days = 0;

  constructor(private readonly live: LiveLine) {}

  follow(event: Top50Event): void {
    switch (event.type) {
      case 'dayStart':
        [this.file, this.total, this.done, this.rows, this.started] = [
          event.file,
          event.bytes,
          0,
          0,
          Date.now(),
        ];
        break;
      case 'progress':
        this.done += event.bytes;
        this.rows += event.rows;
        this.live.draw(readingLine(this.file, this.done, this.total, this.rows, Date.now() - this.started));
        break;
      case 'mergeStart':
        [this.days, this.started] = [event.days, Date.now()];
        break;
      case 'mergeProgress':
        // The first part always: a short merge may end within one redraw interval.
        this.live.draw(
          mergingLine(this.days, event.done, event.total, Date.now() - this.started),
          event.done === 1,
        );
        break;
    }
  }
}

/**
 * The live line of the KPI job's work, for `kpis` (progress.ts) and the KPI step of a run
 * (runLogger.ts): the streams files parsed so far, then the days computed so far, with the time
 * spent, redrawn every half second too so that the time moves while one large file is parsed.
 * `label` starts the line (`kpis: ` in a run's log, where other work shows too).
 */
export class KpiWork {
  private what = '';
  private done = 0;
  private of = 0;
  private started = 0;
  private ticking: NodeJS.Timeout | undefined;

  constructor(
    private readonly live: LiveLine,
    private readonly label = '',
  ) {}

  follow(event: KpiEvent): void {
    if (event.type === 'parseStart') this.start('parsing streams files', event.files);
    else if (event.type === 'daysStart') this.start('computing days', event.days);
    else if (event.type === 'streamsFile' || event.type === 'dayDone') this.done++;
    if (this.of > 0 && this.done < this.of) this.draw();
    else {
      this.of = 0;
      clearInterval(this.ticking);
      this.ticking = undefined;
    }
  }

  private start(what: string, of: number): void {
    [this.what, this.done, this.of, this.started] = [what, 0, of, Date.now()];
    this.ticking ??= setInterval(() => this.draw(), 500).unref();
  }

  private draw(): void {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    this.live.draw(`  ${this.label}${this.what}: ${this.done}/${this.of}, ${seconds} s`, true);
  }
}
