import { join, resolve } from 'node:path';
import {
  type DayRecord,
  logIdentity,
  parsedUnderCurrentRule,
  type QuarantineRecord,
  type StateStore,
} from '../formats/manifest.js';
import { rejectTally } from '../formats/qualityReport.js';
import { newRunRecord, type RunRecord } from '../formats/runHistory.js';
import { ChartSession, windowOf } from '../jobs/chartJob.js';
import { archive, clearInterruptedMoves, movedBefore } from '../jobs/landing.js';
import { compactDay, isoDay, parseDay } from '../ops/dates.js';
import type { PlaytallyError } from '../ops/errors.js';
import { overlappedSteps } from '../ops/overlappedSteps.js';
import { withRetry } from '../ops/retry.js';
import { ROW_RULE_VERSION } from '../parse/listenParser.js';
import {
  DEFAULT_MAX_REJECT_RATE,
  describeRejects,
  LISTEN_LAYOUT,
  rejectRate as rejectRateOf,
} from '../parse/rejectDiagnosis.js';
import {
  folderLocation,
  inFolder,
  isS3,
  requireInputFolder,
  requireSameKind,
  statFile,
  subfolder,
} from '../sources/locations.js';
import { type LogFile, scanLogs } from '../sources/logFiles.js';
import { type ChartSettings, chartIsCurrent, everyChartHas, missingDays } from './chartCoverage.js';
import { runKpiStep } from './kpiStep.js';
import { quarantineLog } from './quarantine.js';
import type { RunEvent, RunOptions } from './runOptions.js';
import { keepRun, leaveOut } from './runRecords.js';

/**
 * One unattended run: bring every new or changed log into a partial (quarantining the ones with
 * too many rejected lines, or unreadable), write the charts of every date whose window changed
 * (or, for a backfill, every date asked for), then archive the logs and prune the partials no
 * chart needs any more. Idempotent: a second run with nothing new does nothing. Every run is
 * recorded (runs.jsonl, and the store given), failed ones too, whatever they fail on
 * (unattended/runRecords.ts); the caller holds the state folder's lock.
 */
export async function runOnce(options: RunOptions): Promise<RunRecord> {
  const started = new Date();
  const emit = options.onRunEvent ?? (() => {});
  const logsDir = folderLocation(options.logsDir);
  const outDir = resolve(options.outDir);
  const stateDir = resolve(options.stateDir ?? join(outDir, '.playtally'));
  const record = newRunRecord({
    id: `${started.toISOString()}-${process.pid}`,
    command: options.command,
    startedAt: started.toISOString(),
    logsDir,
    outDir,
  });
  const parsed = new Set<string>();
  let session: ChartSession | undefined;
  let run: Run | undefined;
  let failure: unknown;
  try {
    session = await ChartSession.open({
      ...options,
      onEvent: (event) => {
        if (event.type === 'dayDone' && !event.reused) parsed.add(event.date);
        emit({ type: 'engine', event });
      },
    });
    await requireInputFolder(logsDir);
    run = new Run(options, session, logsDir, record, emit);
    await run.go();
    if (!record.stopped) {
      // The charts' worker threads end before the KPI step starts its own: both at once held
      // their buffers together (a run of 7 x 2M rows and 30M stream rows peaked at 573 MB at the
      // default budget, and past --memory 256MB).
      await session.close();
      await runKpiStep(options, session.outDir, record, emit);
    }
    record.ok = true;
  } catch (error) {
    failure = error;
  }
  const taken = new Set(record.days.map((d) => d.date));
  record.rebuilt = [...parsed].filter((date) => !taken.has(date)).sort();
  // The days the charts were written from without being parsed in this run.
  const reused = [...(run?.reusedRows ?? [])].filter(([date]) => !parsed.has(date)).sort();
  record.reused = {
    days: reused.map(([date]) => date),
    rows: reused.reduce((sum, [, rows]) => sum + rows, 0),
  };
  try {
    await session?.close();
  } catch (error) {
    failure ??= error;
  }
  record.finishedAt = new Date().toISOString();
  if (failure !== undefined && options.recordFailure?.(failure) === false) {
    leaveOut(failure);
    throw failure;
  }
  const kept = keepRun(session?.state.dir ?? stateDir, record, options.store, failure);
  if (kept.failure !== undefined) throw kept.failure;
  return record;
}

class Run {
  private readonly state: StateStore;
  private readonly window: number;
  private readonly quarantineDir: string;
  private readonly archiveDir: string | undefined;
  /** Complete logs in the logs folder, by YYYYMMDD. */
  private readonly landed = new Map<string, LogFile>();
  /** Logs in the logs folder still within --settle: left for a later run. */
  private readonly waiting: string[] = [];
  /**
   * The logs in the archive folder when this run listed it, by location: one listing instead of
   * a request per archived day (on S3, a HEAD each) every run.
   */
  private readonly archiveListing = new Map<string, { size: number; mtimeMs: number }>();
  /** The log rows of the days the charts written took from earlier runs' data, by ISO date. */
  readonly reusedRows = new Map<string, number>();

  constructor(
    private readonly options: RunOptions,
    private readonly session: ChartSession,
    private readonly logsDir: string,
    private readonly record: RunRecord,
    private readonly emit: (event: RunEvent) => void,
  ) {
    this.state = session.state;
    this.window = session.window;
    this.quarantineDir = folderLocation(
      options.quarantineDir ?? subfolder(logsDir, isS3(logsDir) ? 'error' : 'quarantine'),
    );
    requireSameKind(logsDir, this.quarantineDir, '--quarantine');
    this.archiveDir = options.archiveDir === undefined ? undefined : folderLocation(options.archiveDir);
    if (this.archiveDir !== undefined) requireSameKind(logsDir, this.archiveDir, '--archive');
  }

  private stopping(): boolean {
    if (!this.options.shouldStop?.()) return false;
    if (!this.record.stopped) this.emit({ type: 'stopped' });
    this.record.stopped = true;
    return true;
  }

  private retry<T>(step: string, run: () => T | Promise<T>): Promise<T> {
    return withRetry(run, {
      onRetry: (error, attempt, delayMs) =>
        this.emit({ type: 'retry', step, attempt, delayMs, error: (error as Error).message }),
    });
  }

  async go(): Promise<void> {
    // A run killed while writing a quarantined log's `.reason.json` leaves its temporary file
    // (a local one: an S3 object is written whole or not at all).
    clearInterruptedMoves([this.quarantineDir, ...(this.archiveDir === undefined ? [] : [this.archiveDir])]);
    // Chart dates written without the store, or whose load failed, are loaded first; a damaged
    // one among them is reported, and does not stop this run from writing and loading its own.
    this.store(undefined, (error) => this.emit({ type: 'storeSkipped', message: error.message }));
    const scan = await this.retry('scan logs', () => scanLogs(this.logsDir));
    for (const file of scan.ignored) this.emit({ type: 'engine', event: { type: 'ignored', file } });
    const isReady = this.options.isReady ?? (() => true);
    for (const log of scan.logs) {
      if (isReady(log)) this.landed.set(compactDay(log.day), log);
      else this.waiting.push(log.name);
    }
    if (this.waiting.length > 0 && this.landed.size > 0) this.emit({ type: 'waiting', files: this.waiting });

    await this.adoptQuarantined();
    // The days overlap as top50's do (overlappedSteps): a day's rows are read while the day
    // before aggregates. A stop asked for lets the days started finish, and starts no other.
    await overlappedSteps([...this.landed.values()], async (log, overlap) => {
      if (!this.stopping()) await this.takeIn(log, overlap);
    });
    if (this.record.stopped) return;
    await this.adoptArchived();
    if (!(await this.takeInUnknownArchived())) return;
    await this.writeDueCharts();
    if (this.stopping()) return;
    if (this.options.syncSink) await this.retry('sink', () => this.options.syncSink!(this.session.outDir));
    if (this.archiveDir !== undefined) await this.archive(this.archiveDir);
    await this.prune();
    this.record.missing = missingDays(this.state);
  }

  /**
   * A landed log: skipped if unchanged since it was processed, else parsed (or quarantined).
   * `overlap`: see ChartEngine.takeIn.
   */
  private async takeIn(log: LogFile, overlap: () => void): Promise<void> {
    const key = compactDay(log.day);
    const quarantined = this.state.quarantined()[key];
    // A log quarantined for its rejects under an older row rule is judged again under this one.
    const judgedUnderOldRule =
      quarantined?.reason === 'reject_rate' && (quarantined.rule ?? 1) < ROW_RULE_VERSION;
    // A log that could not be read, moved away and put back as it was: its fault was the
    // machine's (a permission, a device), which the operator has fixed, so it is read again.
    const putBackAfterReadFault = quarantined?.reason === 'unreadable' && quarantined.movedTo !== undefined;
    if (quarantined && sameFile(quarantined, log) && !judgedUnderOldRule && !putBackAfterReadFault) {
      // A run stopped between recording the quarantine and moving the file: finish the move.
      if (quarantined.movedTo === undefined) await this.quarantine(log, quarantined, true);
      return;
    }
    const known = this.state.day(key);
    if (known && sameFile(known, log) && known.archived === undefined && parsedUnderCurrentRule(known)) {
      // Processed before; checked again, since a run killed between recording a day and
      // quarantining it (or a lower --max-reject-rate) must not let a bad log into the charts.
      await this.quarantineIfBad(log, known);
      return;
    }
    let built: DayRecord;
    try {
      built = (await this.retry(`parse ${log.name}`, () => this.session.partial(log, false, overlap))).record;
    } catch (error) {
      if ((error as PlaytallyError).code !== 'unreadable_log') throw error;
      await this.quarantine(log, {
        ...quarantineBase(log, ''),
        reason: 'unreadable',
        message: (error as Error).message,
      });
      return;
    }
    if (built.archived !== undefined || built.pruned) {
      // The same log landed again: it lives in the logs folder now, with its partial.
      built = this.state.patchDay(key, { archived: undefined, pruned: undefined });
    }
    this.noteTakenIn(built);
    await this.quarantineIfBad(log, built);
  }

  /** A log taken in by this run: its quality figures go into the run record. */
  private noteTakenIn(day: DayRecord): void {
    this.record.days.push({
      date: day.date,
      file: day.file,
      rows: day.lines,
      valid: day.valid,
      rejected: day.rejected,
      rejectRate: rejectRate(day),
    });
    this.record.totals.rows += day.lines;
    this.record.totals.valid += day.valid;
    this.record.totals.rejected += day.rejected;
  }

  private async quarantineIfBad(log: LogFile, built: DayRecord): Promise<void> {
    const rate = rejectRate(built);
    const maxRate = this.options.maxRejectRate ?? DEFAULT_MAX_REJECT_RATE;
    if (rate > maxRate) {
      await this.quarantine(log, {
        ...quarantineBase(log, built.hash),
        reason: 'reject_rate',
        rule: built.rule,
        message: describeRejects(rejectTally(built), { layout: LISTEN_LAYOUT, maxRate }),
        rejectRate: rate,
        rejects: built.rejects,
        examples: built.examples,
      });
    }
  }

  private async quarantine(log: LogFile, record: QuarantineRecord, resume = false): Promise<void> {
    const done = await this.retry(`quarantine ${log.name}`, () =>
      quarantineLog(this.state, log, record, this.quarantineDir, resume),
    );
    await this.retry(`discard ${log.name}`, () => this.session.discard(log.day));
    this.landed.delete(compactDay(log.day));
    this.record.quarantined.push({
      date: done.date,
      file: done.file,
      reason: done.reason,
      message: done.message,
    });
    this.emit({ type: 'quarantined', record: done });
  }

  /** A log that a killed run moved to quarantine before recording where it went. */
  private async adoptQuarantined(): Promise<void> {
    for (const [key, q] of Object.entries(this.state.quarantined())) {
      if (q.movedTo !== undefined || this.landed.has(key)) continue;
      const path = await movedBefore(this.quarantineDir, q.file);
      if (path !== undefined)
        this.state.quarantine(key, { ...q, movedTo: path, reasonFile: `${path}.reason.json` });
    }
  }

  /** A log that a killed run moved to the archive before recording it there. */
  private async adoptArchived(): Promise<void> {
    if (this.archiveDir === undefined) return;
    for (const [key, day] of Object.entries(this.state.days())) {
      if (day.archived !== undefined || this.landed.has(key)) continue;
      const path = await movedBefore(this.archiveDir, day.file, day.size);
      if (path !== undefined) this.state.patchDay(key, { archived: path });
    }
  }

  /**
   * Archived logs the state does not know (the state folder was deleted or lost): parsed again
   * from the archive, so that the charts of their dates are not rewritten without them. Returns
   * false when a stop was requested.
   */
  private async takeInUnknownArchived(): Promise<boolean> {
    if (this.archiveDir === undefined) return true;
    const archived = await this.retry('scan archive', () => scanLogs(this.archiveDir!));
    for (const log of archived.logs) this.archiveListing.set(log.path, log);
    // A day quarantined since stays out: its archived log is an older version.
    const unknown = archived.logs.filter((log) => {
      const key = compactDay(log.day);
      return !this.landed.has(key) && this.state.day(key) === undefined && !this.state.quarantined()[key];
    });
    await overlappedSteps(unknown, async (log, overlap) => {
      if (this.stopping()) return;
      const parse = () => this.session.partial(log, false, overlap);
      const built = (await this.retry(`parse ${log.name}`, parse)).record;
      this.state.patchDay(compactDay(log.day), { archived: log.path });
      this.noteTakenIn(built);
    });
    return !this.record.stopped;
  }

  /** Where a day's data can be had from: its landed log, its archived log, or its partial alone. */
  private async sourceOf(key: string, day: DayRecord): Promise<LogFile | undefined> {
    const landed = this.landed.get(key);
    if (landed) return landed;
    const dayNumber = parseDay(key)!;
    const stat = day.archived === undefined ? undefined : await this.statArchived(day.archived);
    if (day.archived !== undefined && stat !== undefined) {
      return {
        day: dayNumber,
        name: day.file,
        path: day.archived,
        size: stat.size,
        mtimeMs: stat.mtimeMs,
        compressed: day.file.endsWith('.gz'),
      };
    }
    if (await this.session.holds(day)) {
      // The log is gone but its data is kept: the record says what it was built from.
      return {
        day: dayNumber,
        name: day.file,
        path: inFolder(this.logsDir, day.file),
        size: day.size,
        mtimeMs: day.mtimeMs,
        compressed: day.file.endsWith('.gz'),
      };
    }
    return undefined;
  }

  /** An archived log's size and mtime from the run's listing of the archive, or asked for. */
  private async statArchived(location: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    return this.archiveListing.get(location) ?? (await statFile(location));
  }

  /** Every day that can go into a chart, by day number. */
  private async available(): Promise<Map<number, { key: string; day: DayRecord; source: LogFile }>> {
    const out = new Map<number, { key: string; day: DayRecord; source: LogFile }>();
    for (const [key, day] of Object.entries(this.state.days())) {
      const source = await this.sourceOf(key, day);
      if (source) out.set(source.day, { key, day, source });
    }
    return out;
  }

  private async writeDueCharts(): Promise<void> {
    const available = await this.available();
    const days = [...available.keys()].sort((a, b) => a - b);
    if (days.length === 0) {
      this.emit({ type: 'noLogs', logsDir: this.logsDir, waiting: this.waiting });
      return;
    }
    // Dates with charts already written count too: their only logs may have been quarantined since.
    const written = Object.keys(this.state.charts()).map((k) => parseDay(k)!);
    const from = this.options.from ?? Math.min(days[0]!, ...written);
    const to = this.options.to ?? Math.max(days[days.length - 1]!, ...written);
    const due: number[] = [];
    let current = 0;
    for (let date = from; date <= to; date++) {
      const inputs = windowOf(date, this.window).filter((d) => available.has(d));
      // No data for this window: nothing to write, unless charts were written from a log that
      // has been quarantined since (they are rewritten empty, not left standing on bad data).
      if (inputs.length === 0 && this.state.chart(compactDay(date)) === undefined) continue;
      if (this.options.force || !chartIsCurrent(this.state, this.chartSettings(), date, inputs, available))
        due.push(date);
      else current++;
    }
    this.record.chartsCurrent = current;
    this.emit({ type: 'chartsDue', dates: due.map(isoDay), current });
    for (const date of due) {
      if (this.stopping()) return;
      const windowDays = windowOf(date, this.window);
      for (const d of windowDays) {
        const gone = this.state.day(compactDay(d));
        // Processed once, but neither its log nor its partial is left: the chart goes without it.
        if (gone && !available.has(d)) this.emit({ type: 'unavailable', date: gone.date, file: gone.file });
      }
      const logs = windowDays.filter((d) => available.has(d)).map((d) => available.get(d)!.source);
      const summary = await this.retry(`charts ${isoDay(date)}`, () => this.session.writeCharts(date, logs));
      this.record.charts.push(summary.date);
      for (const d of summary.days) if (d.reused) this.reusedRows.set(d.date, d.rows);
      this.emit({
        type: 'chartsWritten',
        date: summary.date,
        countries: summary.outputs.country.rows,
        users: summary.outputs.user.rows,
        ms: summary.elapsedMs,
      });
      this.store([date]);
    }
  }

  /** What a chart written by this run is written with: a chart with other settings is not current. */
  private chartSettings(): ChartSettings {
    return { window: this.window, top: this.session.top, outDir: this.session.outDir };
  }

  /** Sync the results store with the chart files of `days` (default: every chart date in the output folder). */
  private store(days?: number[], onBadDate?: (error: PlaytallyError) => void): void {
    const store = this.options.store;
    if (!store) return;
    const started = Date.now();
    const loaded = store.syncCharts(this.session.outDir, days, onBadDate);
    if (loaded.length > 0) {
      this.emit({
        type: 'stored',
        dates: loaded.map((l) => l.date),
        users: loaded.reduce((sum, l) => sum + (l.userChartsKept ? l.users : 0), 0),
        ms: Date.now() - started,
      });
    }
  }

  private async archive(archiveDir: string): Promise<void> {
    for (const [key, log] of this.landed) {
      const day = this.state.day(key);
      if (!day || !sameFile(day, log) || !everyChartHas(this.state, this.window, key, day)) continue;
      const to = await this.retry(`archive ${log.name}`, () => archive(log.path, archiveDir));
      this.state.patchDay(key, { archived: to });
      this.landed.delete(key);
      this.record.archived.push(day.date);
      this.emit({ type: 'archived', date: day.date, file: log.name, to });
    }
  }

  /** Drop the data of days older than the newest `keepDays`, once no chart to write needs them. */
  private async prune(): Promise<void> {
    if (this.options.keepDays === undefined && this.session.keepsHistory) return;
    const keep = Math.max(this.window, this.options.keepDays ?? this.window);
    const days = Object.keys(this.state.days()).map((k) => parseDay(k)!);
    if (days.length === 0) return;
    const oldestKept = Math.max(...days) - keep + 1;
    for (const [key, day] of Object.entries(this.state.days())) {
      if (day.pruned || parseDay(key)! >= oldestKept || !everyChartHas(this.state, this.window, key, day))
        continue;
      // Only while the log itself is still there to rebuild the partial from, should a chart need it again.
      const log = this.landed.get(key)?.path ?? day.archived;
      if (log === undefined || (await this.statArchived(log)) === undefined) continue;
      await this.session.prune(key);
      this.record.pruned.push(day.date);
      this.emit({ type: 'pruned', date: day.date });
    }
  }
}

function rejectRate(day: DayRecord): number {
  return rejectRateOf(rejectTally(day));
}

function sameFile(known: { file: string; size: number; mtimeMs: number }, log: LogFile): boolean {
  return known.file === log.name && known.size === log.size && known.mtimeMs === log.mtimeMs;
}

function quarantineBase(log: LogFile, hash: string): Omit<QuarantineRecord, 'reason' | 'message'> {
  return { ...logIdentity(log, hash), at: new Date().toISOString() };
}
