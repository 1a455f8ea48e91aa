import { hostname } from 'node:os';
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import type { Top50Event } from '../engines/chartEngine.js';
import type { RunRecord } from '../formats/runHistory.js';
import type { KpiEvent } from '../jobs/kpiJob.js';
import { percent, rejectRate } from '../parse/rejectDiagnosis.js';
import type { RunEvent } from '../unattended/runOptions.js';

export type { Logger };

/**
 * The log of unattended commands, on stdout: one JSON object per line when stdout is not a
 * terminal (for journald, CloudWatch, Loki...), readable coloured lines when it is.
 */
export function createRunLogger(
  level = 'info',
  stream: NodeJS.WriteStream & { fd: number } = process.stdout,
): Logger {
  const options = {
    level,
    base: { pid: process.pid, host: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (stream.isTTY) {
    return pino(
      options,
      pretty({
        destination: stream.fd,
        sync: true,
        colorize: true,
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,host',
      }),
    );
  }
  return pino(options, pino.destination({ fd: stream.fd, sync: true }));
}

const n = (x: number): string => x.toLocaleString('en-US');

/** One log line per event worth a line (per-chunk progress is not; reuse and merges are debug). */
export function logRunEvent(log: Logger, event: RunEvent): void {
  switch (event.type) {
    case 'engine':
      logEngineEvent(log, event.event);
      break;
    case 'noLogs':
      log.warn({ event: 'no_logs', logsDir: event.logsDir }, `no logs in ${event.logsDir} yet`);
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
          ? `all ${event.current} chart date(s) are current`
          : `${event.dates.length} chart date(s) to write (${event.current} current)`,
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
        `charts ${event.date}: ${n(event.countries)} countries, ${n(event.users)} users in ${(event.ms / 1000).toFixed(1)} s`,
      );
      break;
    case 'stored':
      log.info(
        { event: 'stored', dates: event.dates, users: event.users, ms: event.ms },
        `results store: loaded ${event.dates.join(', ')} (${n(event.users)} user charts) in ${(event.ms / 1000).toFixed(1)} s`,
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
        `kpis: ${s.days.length} day(s) written (${s.daysCurrent} already current), ${s.filesParsed} streams file(s) parsed, ` +
          `${s.archived.length} archived, ${s.errorFiles.length} set aside`,
      );
      break;
    }
    case 'kpisStored':
      log.info(
        { event: 'kpis_stored', dates: event.dates, ms: event.ms },
        `results store: loaded the KPIs of ${event.dates.join(', ')} in ${(event.ms / 1000).toFixed(1)} s`,
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
  switch (event.type) {
    case 'catalog':
      log.debug(
        { event: 'kpis_catalog', kind: event.kind, files: event.files, accepted: event.accepted },
        `kpis: ${event.kind}: ${n(event.accepted)} rows from ${event.files} file(s)`,
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
        `kpis: parsed streams/${event.file}: ${n(event.rows)} rows in ${(event.ms / 1000).toFixed(1)} s`,
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
        `kpis ${event.date}: ${n(event.genres)} genre rows, ${n(event.counted)} streams counted`,
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
}

function logEngineEvent(log: Logger, event: Top50Event): void {
  switch (event.type) {
    case 'ignored':
      log.warn(
        { event: 'ignored', file: event.file.name, reason: event.file.reason },
        `ignoring ${event.file.name}: ${event.file.reason}`,
      );
      break;
    case 'missing':
      log.warn(
        { event: 'missing_days', days: event.days },
        `${event.days.length} day(s) missing in the window: ${event.days.join(', ')}`,
      );
      break;
    case 'dayDone':
      if (!event.reused) {
        log.info(
          { event: 'day_parsed', date: event.date, rows: event.rows, ms: event.ms },
          `parsed ${event.date}: ${n(event.rows)} rows in ${(event.ms / 1000).toFixed(1)} s`,
        );
      } else log.debug({ event: 'day_reused', date: event.date }, `reused the partial of ${event.date}`);
      break;
    case 'mergeStart':
      log.debug(
        { event: 'merge_start', days: event.days, partitions: event.partitions },
        `merging ${event.days} day(s) in ${event.partitions} partitions`,
      );
      break;
    case 'mergeDone':
      log.debug({ event: 'merge_done', ms: event.ms }, `merged in ${(event.ms / 1000).toFixed(1)} s`);
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
    default:
      break;
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
    `${record.stopped ? 'stopped' : 'done'}: ${record.days.length} log(s) parsed (${n(record.totals.rows)} rows, ${rate} rejected), ` +
      (record.rebuilt.length > 0 ? `${record.rebuilt.length} partial(s) rebuilt from their logs, ` : '') +
      `${record.charts.length} chart date(s) written, ${record.quarantined.length} quarantined, ` +
      `${record.archived.length} archived, ${record.pruned.length} pruned` +
      (record.missing.length > 0 ? `; missing days: ${record.missing.join(', ')}` : '') +
      kpisPart(record),
  );
}

/** The KPI step's part of the closing line, when the run has one. */
function kpisPart(record: RunRecord): string {
  const k = record.kpis;
  if (k === undefined) return '';
  if ('skipped' in k) return '; kpis skipped';
  return `; kpis: ${k.days.length} day(s) written, ${k.filesParsed} file(s) parsed`;
}
