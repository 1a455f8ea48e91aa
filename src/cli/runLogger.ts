import { hostname } from 'node:os';
import type { Logger, pino as Pino } from 'pino';
import type { Top50Event } from '../engines/chartEngine.js';
import type { RunRecord } from '../formats/runHistory.js';
import type { KpiEvent } from '../jobs/kpiJob.js';
import { plural, thousands } from '../ops/counts.js';
import { onDemand } from '../ops/onDemand.js';
import { percent, rejectRate } from '../parse/rejectDiagnosis.js';
import type { RunEvent } from '../unattended/runOptions.js';
import { beforeDataNote, gapWarning, threadsCutNote } from './progress.js';
import type { LogFormat } from './sharedOptions.js';
import { ChartWork, KpiWork, LiveLine } from './terminal.js';

export type { Logger };

/**
 * pino, loaded by the first logger made: only the unattended commands and `serve` log through it,
 * and loading it cost every command's start about 30 ms.
 */
const pinoPackage = onDemand<{ pino: typeof Pino }>('pino');

/**
 * The log of unattended commands and `serve`: one JSON object per line when the stream is not a
 * terminal (for journald, CloudWatch, Loki...), short lines like `top50`'s when it is; `format`
 * forces one. `clock`: each pretty line starts with the time (for long-running commands).
 */
export function createRunLogger(
  level = 'info',
  stream: NodeJS.WriteStream & { fd: number } = process.stdout,
  { format, clock = false }: { format?: LogFormat; clock?: boolean } = {},
): Logger {
  const { pino } = pinoPackage();
  const options = {
    level,
    base: { pid: process.pid, host: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if ((format ?? (stream.isTTY ? 'pretty' : 'json')) === 'pretty') {
    return pino(options, new TerminalLog(stream, { fields: level === 'debug', clock }));
  }
  return pino(options, pino.destination({ fd: stream.fd, sync: true }));
}

/** The events whose line closes a run or a step: printed like top50's summary, `playtally: ...`. */
const SUMMARY_EVENTS = new Set(['run_done', 'kpis_done', 'watch_started', 'watch_stopped']);

/**
 * pino's destination on a terminal: each entry as one line, its message only (the fields too at
 * --log-level debug), warnings and errors prefixed as every command prefixes them; a live line
 * below the last line for long work (`liveLineOf`).
 */
class TerminalLog {
  readonly live: LiveLine;
  /** What the live line shows: the log being read and the merge, the KPI step's files and days. */
  readonly chartWork: ChartWork;
  readonly kpiWork: KpiWork;

  constructor(
    stream: NodeJS.WriteStream,
    private readonly options: { fields: boolean; clock: boolean },
  ) {
    this.live = new LiveLine(stream);
    this.chartWork = new ChartWork(this.live);
    this.kpiWork = new KpiWork(this.live, 'kpis: ');
  }

  write(line: string): void {
    const entry = JSON.parse(line) as Record<string, unknown>;
    // A failure that ends the command: its error boundary says it on stderr, once.
    if (entry.event === 'failed' && entry.final === true) return;
    const {
      level,
      time,
      msg,
      pid: _pid,
      host: _host,
      ...fields
    } = entry as {
      level: number;
      time: string;
      msg?: string;
      [field: string]: unknown;
    };
    const prefix =
      level >= 50
        ? 'playtally: error: '
        : level >= 40
          ? 'playtally: warning: '
          : SUMMARY_EVENTS.has(String(fields.event))
            ? 'playtally: '
            : '  ';
    const clock = this.options.clock ? `${new Date(time).toTimeString().slice(0, 8)} ` : '';
    const detail = this.options.fields && Object.keys(fields).length > 0 ? `  ${JSON.stringify(fields)}` : '';
    this.live.line(`${clock}${prefix}${msg ?? ''}${detail}`);
  }
}

/** The terminal a logger writes to, for its live line; undefined for JSON lines or below info. */
function terminalOf(log: Logger): TerminalLog | undefined {
  const destination = (log as unknown as Record<symbol, unknown>)[pinoPackage().pino.symbols.streamSym];
  return destination instanceof TerminalLog && log.isLevelEnabled('info') ? destination : undefined;
}

const n = thousands;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * One log line per event worth a line: a log taken in, a chart date written, a file quarantined
 * or archived, a warning; per-chunk progress is the live line on a terminal, reuse and the merge
 * are debug.
 */
export function logRunEvent(log: Logger, event: RunEvent): void {
  switch (event.type) {
    case 'engine':
      logEngineEvent(log, event.event);
      break;
    case 'noLogs':
      if (event.waiting.length > 0) {
        log.info(
          { event: 'waiting', logsDir: event.logsDir, files: event.waiting },
          `no log ready yet: ${event.waiting.join(', ')} ${event.waiting.length === 1 ? 'is' : 'are'} waiting out --settle`,
        );
      } else log.warn({ event: 'no_logs', logsDir: event.logsDir }, `no logs in ${event.logsDir} yet`);
      break;
    case 'waiting':
      log.info(
        { event: 'waiting', files: event.files },
        `${plural(event.files.length, 'log')} waiting out --settle (taken in by a later run): ${event.files.join(', ')}`,
      );
      break;
    case 'quarantined': {
      const r = event.record;
      log.warn(
        {
          event: 'quarantined',
          date: r.date,
          file: r.file,
          reason: r.reason,
          movedTo: r.movedTo,
          reasonFile: r.reasonFile,
        },
        `quarantined ${r.file}: ${r.message}`,
      );
      break;
    }
    case 'chartsDue':
      log.info(
        { event: 'charts_due', dates: event.dates, current: event.current },
        event.dates.length === 0
          ? `every chart date is current (${n(event.current)})`
          : `${plural(event.dates.length, 'chart date')} to write` +
              (event.current > 0 ? `, ${n(event.current)} already up to date` : ''),
      );
      break;
    case 'chartsWritten':
      log.info(
        {
          event: 'charts_written',
          date: event.date,
          countries: event.countries,
          users: event.users,
          ms: event.ms,
        },
        `charts ${event.date}: ${plural(event.countries, 'country', 'countries')}, ${plural(event.users, 'user')} in ${seconds(event.ms)}`,
      );
      break;
    case 'stored':
      log.info(
        { event: 'stored', dates: event.dates, users: event.users, ms: event.ms },
        `results store: loaded ${event.dates.join(', ')} (${plural(event.users, 'user chart')}) in ${seconds(event.ms)}`,
      );
      break;
    case 'storeSkipped':
      log.warn(
        { event: 'store_skipped', error: event.message },
        `results store: not loaded: ${event.message}`,
      );
      break;
    case 'unavailable':
      log.warn(
        { event: 'log_unavailable', date: event.date, file: event.file },
        `${event.file} is gone (neither in the logs folder nor archived, and its partial was pruned): left out`,
      );
      break;
    case 'archived':
      log.info(
        { event: 'archived', date: event.date, file: event.file, to: event.to },
        `archived ${event.file}`,
      );
      break;
    case 'pruned':
      log.info({ event: 'pruned', date: event.date }, `pruned the partial of ${event.date}`);
      break;
    case 'retry':
      log.warn(
        {
          event: 'retry',
          step: event.step,
          attempt: event.attempt,
          delayMs: event.delayMs,
          error: event.error,
        },
        `${event.step}: ${event.error}; retrying in ${event.delayMs} ms`,
      );
      break;
    case 'kpis':
      logKpiEvent(log, event.event);
      break;
    case 'kpisDone': {
      const s = event.summary;
      log.info(
        {
          event: 'kpis_done',
          days: s.days.map((d) => d.date),
          current: s.daysCurrent,
          parsed: s.filesParsed,
          archived: s.archived.length,
          errorFiles: s.errorFiles.length,
        },
        `kpis: ${plural(s.days.length, 'day')} written${s.daysCurrent > 0 ? ` (${n(s.daysCurrent)} already up to date)` : ''}, ` +
          `${plural(s.filesParsed, 'streams file')} parsed, ${n(s.archived.length)} archived, ${n(s.errorFiles.length)} set aside`,
      );
      break;
    }
    case 'kpisStored':
      log.info(
        { event: 'kpis_stored', dates: event.dates, ms: event.ms },
        `results store: loaded the KPIs of ${event.dates.join(', ')} in ${seconds(event.ms)}`,
      );
      break;
    case 'kpisSkipped':
      log.warn({ event: 'kpis_skipped', error: event.message }, `kpis: skipped this run: ${event.message}`);
      break;
    case 'stopped':
      log.info({ event: 'stopping' }, 'stop requested: stopping after the current step');
      break;
  }
}

/** The KPI step of a run (`--kpis-landing`): a line per file parsed, set aside or archived, and per day written. */
function logKpiEvent(log: Logger, event: KpiEvent): void {
  const terminal = terminalOf(log);
  switch (event.type) {
    case 'catalog':
      log.debug(
        { event: 'kpis_catalog', kind: event.kind, files: event.files, accepted: event.accepted },
        `kpis: ${event.kind}: ${plural(event.accepted, 'row')} from ${plural(event.files, 'file')}`,
      );
      break;
    case 'threadsCut':
      log.info(
        {
          event: 'kpis_threads_cut',
          threads: event.threads,
          asked: event.asked,
          memoryBytes: event.memoryBytes,
        },
        `kpis: ${threadsCutNote(event)}`,
      );
      break;
    case 'streamsFile':
      log.info(
        {
          event: 'kpis_file_parsed',
          file: event.file,
          rows: event.rows,
          accepted: event.accepted,
          ms: event.ms,
        },
        `kpis: parsed streams/${event.file}: ${plural(event.rows, 'row')} in ${seconds(event.ms)}`,
      );
      break;
    case 'errorFile':
      log.warn(
        {
          event: 'kpis_file_set_aside',
          kind: event.file.kind,
          file: event.file.file,
          movedTo: event.movedTo,
        },
        `kpis: set aside ${event.file.kind}/${event.file.file}: ${event.file.message}`,
      );
      break;
    case 'dayDone':
      log.info(
        { event: 'kpis_day_written', date: event.date, genres: event.genres, counted: event.counted },
        `kpis ${event.date}: ${plural(event.genres, 'genre row')}, ${plural(event.counted, 'stream')} counted`,
      );
      break;
    case 'stateRecovered':
      log.warn({ event: 'kpis_state_recovered', problem: event.problem }, event.problem);
      break;
    case 'rejectRate': {
      const { date, file, rate, maxRate, reason } = event.warning;
      log.warn({ event: 'kpis_reject_rate', date, file, rate, maxRate, reason }, event.warning.message);
      break;
    }
    case 'archiveNote':
      log.info(
        { event: 'kpis_archive_note', archiveDir: event.archiveDir, gitCheckout: event.gitCheckout },
        `kpis: once the KPIs of its days are written, each streams file is moved to ${event.archiveDir.replace(/\/$/, '')}/YYYYMMDD/`,
      );
      break;
    case 'archived':
      log.info(
        { event: 'kpis_archived', file: event.file, to: event.to },
        `kpis: archived streams/${event.file}`,
      );
      break;
  }
  // After the line the event wrote, which cleared the live line.
  terminal?.kpiWork.follow(event);
}

function logEngineEvent(log: Logger, event: Top50Event): void {
  const terminal = terminalOf(log);
  terminal?.chartWork.follow(event);
  switch (event.type) {
    case 'ignored':
      log.warn(
        { event: 'ignored', file: event.file.name, reason: event.file.reason },
        `ignoring ${event.file.name}: ${event.file.reason}`,
      );
      break;
    case 'missing':
      log.warn({ event: 'missing_days', days: event.days }, gapWarning(event.days));
      break;
    case 'beforeData':
      log.info(
        { event: 'window_before_data', date: event.date, days: event.days, firstDay: event.firstDay },
        beforeDataNote(event),
      );
      break;
    case 'dayDone':
      if (!event.reused) {
        log.info(
          { event: 'day_parsed', date: event.date, rows: event.rows, ms: event.ms },
          `parsed ${event.date}: ${plural(event.rows, 'row')} in ${seconds(event.ms)}`,
        );
      } else {
        terminal?.live.clear();
        log.debug({ event: 'day_reused', date: event.date }, `reused the partial of ${event.date}`);
      }
      break;
    case 'threadsCut':
      log.info(
        { event: 'threads_cut', threads: event.threads, asked: event.asked, memoryBytes: event.memoryBytes },
        threadsCutNote(event),
      );
      break;
    case 'mergeStart':
      log.debug(
        { event: 'merge_start', days: event.days, partitions: event.partitions },
        `merging ${plural(event.days, 'day')} in ${plural(event.partitions, 'partition')}`,
      );
      break;
    case 'mergeDone':
      terminal?.live.clear();
      log.debug({ event: 'merge_done', ms: event.ms }, `merged in ${seconds(event.ms)}`);
      break;
    case 'damaged':
      log.warn(
        { event: 'partial_damaged', date: event.date, problem: event.problem },
        `partial of ${event.date} damaged: rebuilding`,
      );
      break;
    case 'stateRecovered':
      log.warn({ event: 'state_recovered', problem: event.problem }, event.problem);
      break;
    case 'rejectRate': {
      const { date, file, rate, maxRate, reason } = event.warning;
      log.warn({ event: 'reject_rate', date, file, rate, maxRate, reason }, event.warning.message);
      break;
    }
  }
}

/** The closing line of a run. */
export function logRunDone(log: Logger, record: RunRecord): void {
  const rate = percent(rejectRate(record.totals));
  log.info(
    {
      event: 'run_done',
      run: record.id,
      stopped: record.stopped,
      parsed: record.days.length,
      rebuilt: record.rebuilt,
      charts: record.charts,
      quarantined: record.quarantined.length,
      archived: record.archived.length,
      pruned: record.pruned.length,
      missing: record.missing,
      totals: record.totals,
      ...(record.kpis ? { kpis: record.kpis } : {}),
    },
    `${record.stopped ? 'stopped' : 'done'}: ${plural(record.days.length, 'log')} parsed (${n(record.totals.rows)} rows, ${rate} rejected), ` +
      (record.rebuilt.length > 0
        ? `${plural(record.rebuilt.length, 'partial')} rebuilt from their logs, `
        : '') +
      `${plural(record.charts.length, 'chart date')} written, ${n(record.quarantined.length)} quarantined, ` +
      `${n(record.archived.length)} archived, ${n(record.pruned.length)} pruned` +
      (record.missing.length > 0 ? `; no log for ${record.missing.join(', ')}` : '') +
      kpisPart(record),
  );
}

/** The KPI step's part of the closing line, when the run has one. */
function kpisPart(record: RunRecord): string {
  const k = record.kpis;
  if (k === undefined) return '';
  if ('skipped' in k) return '; kpis skipped';
  return `; kpis: ${plural(k.days.length, 'day')} written, ${plural(k.filesParsed, 'file')} parsed`;
}
