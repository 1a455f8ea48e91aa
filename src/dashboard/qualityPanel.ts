import * as Plot from '@observablehq/plot';
import { REJECT_REASONS } from '../parse/rejects.js';
import { api, errorText, type LogDay } from './api.js';
import { dayBandTicks, drawSized } from './charts.js';
import { byId, el, markLoading, setReady, showMessage, table } from './dom.js';
import { addDays, count, percent, plural } from './format.js';
import { SERIES_DAYS } from './genreKpis.js';

interface RejectBar {
  date: string;
  reason: string;
  rows: number;
}

/** Rejected rows per day, stacked by reason, with a colour per reason (in the parser's order). */
function rejectsFigure(bars: RejectBar[], days: string[], reasons: string[], width: number): Element {
  return Plot.plot({
    width,
    height: 240,
    marginLeft: 48,
    marginRight: 12,
    style: { fontSize: '12px' },
    x: { domain: days, label: null, padding: 0.15, tickSize: 0, ...dayBandTicks(days, width - 60) },
    y: { grid: true, label: '↑ rejected rows', nice: true, ticks: 5, tickFormat: '~s' },
    color: { legend: true, domain: reasons, scheme: 'observable10' },
    marks: [
      Plot.barY(bars, {
        x: 'date',
        y: 'rows',
        fill: 'reason',
        className: 'quality-bars',
        ariaLabel: (b: RejectBar) => `${b.date}: ${count(b.rows)} ${b.reason}`,
        title: (b: RejectBar) => `${b.date}\n${b.reason}: ${count(b.rows)} rows`,
      }),
      Plot.ruleY([0]),
    ],
  });
}

/** The listen logs' quality over the 30 days ending on the chosen date: rejects by reason, per day. */
export class QualityPanel {
  private readonly caption = byId('quality-caption');
  private readonly chart = byId('quality-chart');
  private readonly days = byId('quality-table');
  private ticket = 0;

  async show(date: string | undefined, logDays: string[]): Promise<void> {
    const ticket = ++this.ticket;
    this.caption.textContent = '';
    if (date === undefined || logDays.length === 0) {
      showMessage(this.chart, 'empty', 'No listen-log days recorded yet.');
      this.days.replaceChildren();
      return;
    }
    const from = addDays(date, -(SERIES_DAYS - 1));
    markLoading(this.chart, 'Loading data quality…');
    try {
      const answer = await api.qualityDays(from, date);
      if (ticket !== this.ticket) return;
      this.render(answer.days, from, date);
    } catch (error) {
      if (ticket !== this.ticket) return;
      showMessage(this.chart, 'error', errorText(error));
      this.days.replaceChildren();
    }
  }

  private render(days: LogDay[], from: string, to: string): void {
    if (days.length === 0) {
      showMessage(this.chart, 'empty', `No listen-log days from ${from} to ${to}.`);
      this.days.replaceChildren();
      return;
    }
    const rows = days.reduce((sum, d) => sum + d.rows, 0);
    const rejected = days.reduce((sum, d) => sum + d.rejected, 0);
    this.caption.textContent =
      `${plural(days.length, 'log day')} from ${days[0]!.date} to ${days[days.length - 1]!.date}: ` +
      `${count(rejected)} of ${count(rows)} rows rejected (${percent(rejected, rows)}).`;
    const seen = new Set(days.flatMap((d) => Object.keys(d.rejectedByReason)));
    const reasons = [
      ...REJECT_REASONS.filter((r) => seen.has(r)),
      ...[...seen].filter((r) => !(REJECT_REASONS as readonly string[]).includes(r)).sort(),
    ];
    const bars: RejectBar[] = days.flatMap((d) =>
      reasons
        .filter((reason) => (d.rejectedByReason[reason] ?? 0) > 0)
        .map((reason) => ({ date: d.date, reason, rows: d.rejectedByReason[reason]! })),
    );
    if (bars.length === 0) {
      showMessage(this.chart, 'empty', 'No rejected rows: every row of these days was valid.');
    } else {
      drawSized(this.chart, (width) =>
        rejectsFigure(
          bars,
          days.map((d) => d.date),
          reasons,
          width,
        ),
      );
      this.chart.dataset['bars'] = String(bars.length);
      setReady(this.chart);
    }
    const newestFirst = [...days].reverse();
    this.days.replaceChildren(
      el(
        'div',
        { class: 'table-scroll' },
        table(newestFirst, [
          { head: 'Day', cell: (d) => d.date },
          { head: 'Rows', cell: (d) => count(d.rows), numeric: true },
          { head: 'Rejected', cell: (d) => count(d.rejected), numeric: true },
          { head: 'Rate', cell: (d) => percent(d.rejected, d.rows), numeric: true },
          {
            head: 'Most common reasons',
            cell: (d) =>
              Object.entries(d.rejectedByReason)
                .filter(([, n]) => n > 0)
                .sort((a, b) => b[1] - a[1])
                .slice(0, 3)
                .map(([reason, n]) => `${reason} ${count(n)}`)
                .join(', ') || '–',
          },
        ]),
      ),
    );
  }
}
