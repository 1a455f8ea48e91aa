import * as Plot from '@observablehq/plot';
import { api, errorText, type GenreKpi } from './api.js';
import { dayAxis, drawSized } from './charts.js';
import { byId, el, fillSelect, markLoading, setReady, showMessage } from './dom.js';
import { addDays, count, dayTime, hours, plural } from './format.js';
import type { ViewReport } from './viewState.js';

/** Genres drawn in a day's charts (the day's busiest by listen count). */
const TOP_GENRES_SHOWN = 10;
/** Days shown in a genre's series, ending on the chosen date. */
export const SERIES_DAYS = 30;

/** A genre's figures for one day; with KPIs by hour, summed over the hours. */
interface GenreDay {
  genre: string;
  listenCount: number;
  uniqueListeners: number;
  totalListeningMs: number;
  top3: GenreKpi['top3'];
}

interface Metric {
  key: string;
  title: string;
  value: (row: { listenCount: number; uniqueListeners: number; totalListeningMs: number }) => number;
  format: (value: number) => string;
}

const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

function metrics(byHour: boolean): Metric[] {
  return [
    { key: 'listenCount', title: 'Listen count', value: (r) => r.listenCount, format: count },
    {
      key: 'uniqueListeners',
      // Listeners of different hours are not additive: a day by hour shows its busiest hour.
      title: byHour ? 'Unique listeners (busiest hour)' : 'Unique listeners',
      value: (r) => r.uniqueListeners,
      format: count,
    },
    {
      key: 'listeningTime',
      title: 'Listening time (hours)',
      value: (r) => hours(r.totalListeningMs),
      format: (v) => oneDecimal.format(v),
    },
  ];
}

/** One row per genre: a day's rows as they are, or its hours folded into the day. */
function genreDays(rows: GenreKpi[]): GenreDay[] {
  const byGenre = new Map<string, GenreDay>();
  for (const r of rows) {
    const day = byGenre.get(r.genre);
    if (!day) {
      byGenre.set(r.genre, {
        genre: r.genre,
        listenCount: r.listenCount,
        uniqueListeners: r.uniqueListeners,
        totalListeningMs: r.totalListeningMs,
        top3: r.hour === null ? r.top3 : [],
      });
      continue;
    }
    day.listenCount += r.listenCount;
    day.uniqueListeners = Math.max(day.uniqueListeners, r.uniqueListeners);
    day.totalListeningMs += r.totalListeningMs;
  }
  return [...byGenre.values()].sort((a, b) => b.listenCount - a.listenCount || (a.genre < b.genre ? -1 : 1));
}

function dayChart(rows: GenreDay[], metric: Metric, width: number): Element {
  return Plot.plot({
    width,
    height: rows.length * 22 + 40,
    marginLeft: 112,
    marginRight: 48,
    marginTop: 28,
    style: { fontSize: '12px' },
    x: { axis: 'top', grid: true, label: null, nice: true, ticks: Math.max(2, Math.floor(width / 110)) },
    y: { domain: rows.map((r) => r.genre), label: null, tickSize: 0 },
    marks: [
      Plot.barX(rows, {
        x: metric.value,
        y: 'genre',
        fill: 'var(--accent-2)',
        className: 'genre-bars',
        ariaLabel: (r: GenreDay) => `${r.genre}: ${metric.format(metric.value(r))}`,
        title: (r: GenreDay) =>
          `${r.genre}\n${metric.title}: ${metric.format(metric.value(r))}` +
          (r.top3.length === 0
            ? ''
            : `\ntop tracks: ${r.top3.map((t) => `${t.track} (${t.plays})`).join(', ')}`),
      }),
      Plot.text(rows, {
        x: metric.value,
        y: 'genre',
        text: (r: GenreDay) => metric.format(metric.value(r)),
        dx: 4,
        textAnchor: 'start',
        fill: 'currentColor',
        ariaHidden: 'true',
      }),
      Plot.ruleX([0]),
    ],
  });
}

function seriesChart(rows: GenreKpi[], metric: Metric, date: string, width: number): Element {
  const points = rows.map((r) => ({ t: dayTime(r.date, r.hour), v: metric.value(r), r }));
  const byHour = rows.some((r) => r.hour !== null);
  const axis = dayAxis(points[0]!.t, points[points.length - 1]!.t, width - 68);
  return Plot.plot({
    width,
    height: 190,
    marginLeft: 52,
    marginRight: 16,
    marginTop: 18,
    style: { fontSize: '12px' },
    x: { type: 'utc', label: null, ...(byHour ? { ticks: Math.max(2, Math.floor(width / 90)) } : axis) },
    y: { grid: true, label: null, nice: true, zero: true, ticks: 4, tickFormat: '~s' },
    marks: [
      Plot.ruleX([dayTime(date)], { stroke: 'var(--muted)', strokeDasharray: '3,3', ariaHidden: 'true' }),
      Plot.lineY(points, { x: 't', y: 'v', stroke: 'var(--accent-2)', strokeWidth: 2, ariaHidden: 'true' }),
      Plot.dot(points, {
        x: 't',
        y: 'v',
        fill: 'var(--accent-2)',
        r: 3,
        className: 'series-dots',
        ariaLabel: (p: (typeof points)[number]) =>
          `${p.r.date}${p.r.hour === null ? '' : ` ${p.r.hour}:00`}: ${metric.format(p.v)}`,
        title: (p: (typeof points)[number]) =>
          `${p.r.date}${p.r.hour === null ? '' : ` ${String(p.r.hour).padStart(2, '0')}:00`}\n${metric.title}: ${metric.format(p.v)}`,
      }),
    ],
  });
}

/** Fill `container` with one titled, sized figure per metric. */
function metricFigures(
  container: HTMLElement,
  all: Metric[],
  draw: (metric: Metric, width: number) => Element,
): void {
  const cells = all.map((metric) => {
    const plot = el('div', { class: 'chart' });
    const figure = el(
      'figure',
      { class: 'metric', attrs: { 'data-metric': metric.key } },
      el('figcaption', { text: metric.title }),
      plot,
    );
    return { figure, plot, metric };
  });
  container.replaceChildren(...cells.map((c) => c.figure));
  for (const c of cells) drawSized(c.plot, (width) => draw(c.metric, width));
  setReady(container);
}

/**
 * Genre KPIs of the chosen day (listen count, unique listeners, listening time of its busiest
 * genres) and one genre's figures per day over the 30 days ending on it.
 */
export class GenrePanel {
  private readonly caption = byId('genre-caption');
  private readonly dayCharts = byId('genre-charts');
  private readonly select = byId<HTMLSelectElement>('genre-select');
  private readonly series = byId('genre-series');
  private date: string | undefined;
  /** The genre whose series is shown (or being loaded). */
  private genre: string | undefined;
  /**
   * The genre asked for (undefined: the busiest): by show(), or picked while its day loads (the
   * selector still offers the previous day's genres then, and that choice must win).
   */
  private wanted: string | undefined;
  private byHour = false;
  private ticket = 0;
  private seriesTicket = 0;

  /** `report` hears of a genre picked here, and of a wanted one without listens on the date. */
  constructor(private readonly report: ViewReport) {
    this.select.addEventListener('change', () => {
      this.genre = this.wanted = this.select.value;
      this.report(this.genre, 'chosen');
      void this.loadSeries();
    });
  }

  /**
   * The KPIs of `date`, and `wanted`'s series (undefined: the date's busiest genre). A wanted
   * genre without listens that day is reported as dropped and the busiest is shown.
   */
  async show(date: string | undefined, kpiDates: string[], wanted: string | undefined): Promise<void> {
    const ticket = ++this.ticket;
    ++this.seriesTicket;
    this.date = date;
    this.wanted = wanted;
    this.caption.textContent = '';
    if (date === undefined || !kpiDates.includes(date)) {
      const text =
        kpiDates.length === 0
          ? 'No genre KPIs yet: load some with `playtally load --kpis <dir>` or `playtally kpis --db <file>`.'
          : `No genre KPIs for ${date}. The newest KPI day is ${kpiDates[0]}.`;
      showMessage(this.dayCharts, 'empty', text);
      showMessage(this.series, 'empty', 'No genre to show.');
      fillSelect(this.select, []);
      return;
    }
    markLoading(this.dayCharts, 'Loading genre KPIs…');
    try {
      const day = await api.kpiDay(date);
      if (ticket !== this.ticket) return;
      this.byHour = day.granularity === 'hour';
      const rows = genreDays(day.genres);
      if (rows.length === 0) {
        showMessage(this.dayCharts, 'empty', `No listens counted on ${date}.`);
        showMessage(this.series, 'empty', 'No genre to show.');
        fillSelect(this.select, []);
        return;
      }
      const shown = rows.slice(0, TOP_GENRES_SHOWN);
      this.caption.textContent =
        (shown.length === rows.length
          ? `${date}: ${plural(rows.length, 'genre')} by listen count`
          : `${date}: the ${shown.length} busiest of ${plural(rows.length, 'genre')} by listen count`) +
        (this.byHour ? ' (KPIs by hour, summed over the day).' : '.');
      metricFigures(this.dayCharts, metrics(this.byHour), (metric, width) => dayChart(shown, metric, width));
      this.dayCharts.dataset['date'] = date;
      this.dayCharts.dataset['genres'] = String(shown.length);
      const asked = this.wanted;
      const known = asked !== undefined && rows.some((r) => r.genre === asked);
      if (asked !== undefined && !known) {
        this.wanted = undefined;
        this.report(undefined, 'dropped');
      }
      this.genre = known ? asked : rows[0]!.genre;
      fillSelect(
        this.select,
        rows.map((r) => [r.genre, r.genre]),
        this.genre,
      );
    } catch (error) {
      if (ticket !== this.ticket) return;
      showMessage(this.dayCharts, 'error', errorText(error));
      showMessage(this.series, 'empty', 'No genre to show.');
      return;
    }
    await this.loadSeries();
  }

  private async loadSeries(): Promise<void> {
    const ticket = ++this.seriesTicket;
    const { date, genre } = this;
    if (date === undefined || genre === undefined) return;
    const from = addDays(date, -(SERIES_DAYS - 1));
    markLoading(this.series, `Loading ${genre}…`);
    try {
      const { days } = await api.genreSeries(genre, from, date);
      if (ticket !== this.seriesTicket) return;
      if (days.length === 0) {
        showMessage(this.series, 'empty', `No KPIs for ${genre} from ${from} to ${date}.`);
        return;
      }
      metricFigures(this.series, metrics(false), (metric, width) => seriesChart(days, metric, date, width));
      this.series.dataset['genre'] = genre;
      this.series.dataset['points'] = String(days.length);
    } catch (error) {
      if (ticket === this.seriesTicket) showMessage(this.series, 'error', errorText(error));
    }
  }
}
