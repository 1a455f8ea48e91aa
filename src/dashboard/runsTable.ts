import { api, errorText, type Run } from './api.js';
import { byId, el, markLoading, setReady, showMessage, table } from './dom.js';
import { count, duration, localTime, plural } from './format.js';

/** Runs shown, newest first. */
const RUNS_SHOWN = 20;

function result(run: Run): HTMLElement {
  const exit = run.error?.exitCode;
  const [kind, text] = !run.ok
    ? ['failed', exit === undefined ? 'failed' : `failed (exit ${exit})`]
    : run.stopped
      ? ['stopped', 'stopped']
      : ['ok', 'ok'];
  return el('span', { class: `badge badge--${kind}`, text });
}

/**
 * The log rows a run's charts came from: those it parsed, and those of the days whose partials it
 * reused (a run that took in nothing new but wrote a week of charts is not "0").
 */
function rowsRead(run: Run): string {
  const reused = run.reused?.days.length ?? 0;
  if (reused === 0) return count(run.totals.rows);
  const reusedRows = `${count(run.reused!.rows)} reused`;
  return run.totals.rows > 0 ? `${count(run.totals.rows)} + ${reusedRows}` : reusedRows;
}

/** Dates as a short list: `2024-03-01 … 2024-03-04 (4)` once there are more than two. */
function dates(list: string[]): string {
  if (list.length === 0) return '–';
  if (list.length <= 2) return list.join(', ');
  return `${list[0]} … ${list[list.length - 1]} (${list.length})`;
}

function notes(run: Run): string {
  const parts: string[] = [];
  if (run.error) parts.push(`${run.error.code}: ${run.error.message}`);
  const reused = run.reused?.days ?? [];
  if (reused.length > 0) parts.push(`reused the partials of ${dates(reused)}`);
  for (const q of run.quarantined) parts.push(`quarantined ${q.file}: ${q.reason}`);
  if (run.missing.length > 0) parts.push(`missing days: ${dates(run.missing)}`);
  if (run.chartsCurrent > 0) parts.push(`${plural(run.chartsCurrent, 'chart date')} already up to date`);
  return parts.join('; ') || '–';
}

/** The run history of run/backfill/watch: when, what it took in, what it wrote, what went wrong. */
export class RunsPanel {
  private readonly container = byId('runs-table');
  /** The latest show(): an older answer still on its way is dropped. */
  private ticket = 0;

  async show(): Promise<void> {
    const ticket = ++this.ticket;
    markLoading(this.container, 'Loading the run history…');
    try {
      const { runs } = await api.runs(RUNS_SHOWN);
      if (ticket !== this.ticket) return;
      if (runs.length === 0) {
        showMessage(
          this.container,
          'empty',
          'No runs yet: runs of `playtally run`, `backfill` or `watch` given --db appear here.',
        );
        return;
      }
      const rows = table(runs, [
        { head: 'Finished', cell: (r) => localTime(r.finishedAt) },
        { head: 'Command', cell: (r) => r.command },
        { head: 'Result', cell: result },
        {
          head: 'Took',
          cell: (r) => duration(Date.parse(r.finishedAt) - Date.parse(r.startedAt)),
          numeric: true,
        },
        { head: 'Logs taken in', cell: (r) => dates(r.days.map((d) => d.date)) },
        { head: 'Charts written', cell: (r) => dates(r.charts) },
        { head: 'Rows', cell: rowsRead, numeric: true },
        { head: 'Rejected', cell: (r) => count(r.totals.rejected), numeric: true },
        { head: 'Notes', cell: notes },
      ]);
      this.container.replaceChildren(el('div', { class: 'table-scroll' }, rows));
      this.container.dataset['runs'] = String(runs.length);
      setReady(this.container);
    } catch (error) {
      if (ticket === this.ticket) showMessage(this.container, 'error', errorText(error));
    }
  }
}
