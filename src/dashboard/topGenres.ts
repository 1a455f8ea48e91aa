import * as Plot from '@observablehq/plot';
import { api, errorText, type TopGenre } from './api.js';
import { drawSized } from './charts.js';
import { byId, markLoading, setReady, showMessage } from './dom.js';
import { addDays, count, plural } from './format.js';
import { SERIES_DAYS } from './genreKpis.js';

const ROW_HEIGHT = 34;
const FONT_PX = 11;

/** A row of the grid: the day, or the day and hour for KPIs by hour. */
function rowKey(r: TopGenre): string {
  return r.hour === null ? r.date : `${r.date} ${String(r.hour).padStart(2, '0')}h`;
}

/**
 * The top 5 genres of each day as a grid: a row per day (oldest first), a column per rank, each
 * cell naming its genre and listen count. A genre keeps its colour across days, which is what
 * lets the eye follow it over time.
 */
function gridFigure(rows: TopGenre[], width: number): Element {
  const keys = [...new Set(rows.map(rowKey))];
  const genres = [...new Set(rows.map((r) => r.genre))];
  const marginLeft = rows.some((r) => r.hour !== null) ? 100 : 84;
  const cellWidth = (width - marginLeft - 4) / 5;
  return Plot.plot({
    width,
    height: keys.length * ROW_HEIGHT + 30,
    marginLeft,
    marginRight: 4,
    marginTop: 26,
    marginBottom: 4,
    style: { fontSize: `${FONT_PX}px` },
    x: { domain: [1, 2, 3, 4, 5], axis: 'top', label: null, tickSize: 0, tickFormat: (r: number) => `#${r}` },
    y: { domain: keys, label: null, tickSize: 0 },
    color: { type: 'categorical', domain: genres, scheme: 'observable10' },
    marks: [
      Plot.cell(rows, {
        x: 'rank',
        y: rowKey,
        fill: 'genre',
        fillOpacity: 0.38,
        inset: 1.5,
        rx: 4,
        className: 'top-genre-cells',
        ariaLabel: (r: TopGenre) => `${rowKey(r)} #${r.rank}: ${r.genre}, ${count(r.listenCount)} listens`,
        title: (r: TopGenre) => `${rowKey(r)}, #${r.rank}\n${r.genre}: ${count(r.listenCount)} listens`,
      }),
      Plot.text(rows, {
        x: 'rank',
        y: rowKey,
        text: (r: TopGenre) => `${r.genre}\n${count(r.listenCount)}`,
        fill: 'currentColor',
        lineHeight: 1.1,
        lineWidth: Math.max(3, (cellWidth - 6) / (FONT_PX * 0.6)) * 0.6,
        textOverflow: 'ellipsis',
        className: 'top-genre-labels',
        ariaHidden: 'true',
      }),
    ],
  });
}

/** The top 5 genres of each day over the 30 days ending on the chosen date. */
export class TopGenresPanel {
  private readonly caption = byId('top-genres-caption');
  private readonly chart = byId('top-genres');
  private ticket = 0;

  async show(date: string | undefined, kpiDates: string[]): Promise<void> {
    const ticket = ++this.ticket;
    this.caption.textContent = '';
    if (date === undefined || kpiDates.length === 0) {
      showMessage(this.chart, 'empty', 'No genre KPIs yet.');
      return;
    }
    const from = addDays(date, -(SERIES_DAYS - 1));
    markLoading(this.chart, 'Loading the top genres…');
    try {
      const answer = await api.topGenres(from, date);
      if (ticket !== this.ticket) return;
      // KPIs by hour would make 24 rows a day: those show the chosen day's hours only.
      const byHour = answer.days.some((r) => r.hour !== null);
      const rows = byHour ? answer.days.filter((r) => r.date === date) : answer.days;
      if (rows.length === 0) {
        showMessage(this.chart, 'empty', `No top genres from ${byHour ? date : from} to ${date}.`);
        return;
      }
      const periods = new Set(rows.map(rowKey)).size;
      this.caption.textContent = byHour
        ? `Each hour of ${date}: its 5 genres with the most listens.`
        : `Each day from ${rows[0]!.date} to ${rows[rows.length - 1]!.date} (${plural(periods, 'day')}): its 5 genres with the most listens.`;
      drawSized(this.chart, (width) => gridFigure(rows, width));
      this.chart.dataset['cells'] = String(rows.length);
      setReady(this.chart);
    } catch (error) {
      if (ticket === this.ticket) showMessage(this.chart, 'error', errorText(error));
    }
  }
}
