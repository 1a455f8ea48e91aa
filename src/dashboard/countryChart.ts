import * as Plot from '@observablehq/plot';
import { api, type CountryMovement, errorText, type MovedSong } from './api.js';
import { drawSized } from './charts.js';
import { byId, fillSelect, markLoading, setReady, showMessage } from './dom.js';
import { count, countryName, plural } from './format.js';
import { DEFAULT_COUNTRY, type ViewReport } from './viewState.js';

/** A movement as the marker drawn left of the song: its text, a colour and words for screen readers. */
export function movementMarker(song: MovedSong): { text: string; color: string; words: string } {
  const m = song.movement;
  if (m === null) return { text: '', color: 'currentColor', words: 'movement unknown' };
  switch (m.kind) {
    case 'up':
      return { text: `▲${m.by}`, color: 'var(--up)', words: `up ${m.by}` };
    case 'down':
      return { text: `▼${m.by}`, color: 'var(--down)', words: `down ${m.by}` };
    case 'new':
      return { text: 'NEW', color: 'var(--new)', words: 'new' };
    case 're-entry':
      return { text: 'RE', color: 'var(--reentry)', words: 're-entry' };
    case 'same':
      return { text: '=', color: 'var(--same)', words: 'same rank' };
  }
}

/** Width of the movement column, then of the `rank. song` labels, left of the bars. */
const MARKER_COLUMN = 38;
const LABEL_COLUMN = 96;
const ROW_HEIGHT = 19;

function chartFigure(chart: CountryMovement, width: number): Element {
  const songs = chart.songs;
  const songAt = new Map(songs.map((s) => [s.rank, s.song]));
  const marginLeft = MARKER_COLUMN + LABEL_COLUMN;
  return Plot.plot({
    width,
    height: songs.length * ROW_HEIGHT + 42,
    marginLeft,
    marginRight: 52,
    marginTop: 34,
    marginBottom: 6,
    style: { fontSize: '12px' },
    x: { axis: 'top', grid: true, label: 'plays in the window →', nice: true, ticks: width < 500 ? 3 : 6 },
    y: {
      domain: songs.map((s) => s.rank),
      label: null,
      tickSize: 0,
      tickFormat: (rank: number) => `${rank}. ${songAt.get(rank)}`,
      padding: 0.18,
    },
    marks: [
      Plot.barX(songs, {
        x: 'plays',
        y: 'rank',
        fill: 'var(--accent)',
        className: 'country-bars',
        ariaLabel: (s: MovedSong) =>
          `${s.rank}. song ${s.song}: ${count(s.plays)} plays, ${movementMarker(s).words}`,
        title: (s: MovedSong) =>
          `#${s.rank} song ${s.song}\n${count(s.plays)} plays\n${movementMarker(s).words}` +
          (s.previousRank === null ? '' : ` (was #${s.previousRank})`),
      }),
      Plot.text(songs, {
        x: 'plays',
        y: 'rank',
        text: (s: MovedSong) => count(s.plays),
        dx: 4,
        textAnchor: 'start',
        fill: 'currentColor',
        className: 'country-plays',
        ariaHidden: 'true',
      }),
      Plot.text(
        songs.filter((s) => s.movement !== null),
        {
          y: 'rank',
          frameAnchor: 'left',
          dx: -marginLeft + 2,
          textAnchor: 'start',
          text: (s: MovedSong) => movementMarker(s).text,
          fill: (s: MovedSong) => movementMarker(s).color,
          fontWeight: 700,
          className: 'movement',
          ariaLabel: (s: MovedSong) => movementMarker(s).words,
        },
      ),
      Plot.ruleX([0]),
    ],
  });
}

/** A country's chart on the chosen date: bars of plays with each song's movement since the day before. */
export class CountryPanel {
  private readonly select = byId<HTMLSelectElement>('country-select');
  private readonly chart = byId('country-chart');
  private readonly caption = byId('country-caption');
  private readonly dropped = byId('country-dropped');
  /** The selector and the markers' legend, hidden while there is no chart to pick or read. */
  private readonly chrome = [byId('country-field'), byId('country-legend')];
  private date: string | undefined;
  /** The country shown (or being loaded). */
  private country: string | undefined;
  /** Answers to an older request than the newest are dropped. */
  private ticket = 0;

  /** `report` hears of a country picked here, and of a wanted one the date has no chart for. */
  constructor(private readonly report: ViewReport) {
    this.select.addEventListener('change', () => {
      this.country = this.select.value;
      this.report(this.country, 'chosen');
      void this.loadChart();
    });
  }

  /**
   * The chart of `wanted` on `date` (undefined: the default country, US or the date's first).
   * A wanted country without a chart that day is reported as dropped and the default is shown.
   */
  async show(date: string | undefined, chartDates: string[], wanted: string | undefined): Promise<void> {
    const ticket = ++this.ticket;
    this.date = date;
    this.caption.textContent = '';
    this.dropped.textContent = '';
    const charted = date !== undefined && chartDates.includes(date);
    for (const node of this.chrome) node.hidden = !charted;
    if (!charted) {
      fillSelect(this.select, []);
      showMessage(
        this.chart,
        'empty',
        chartDates.length === 0
          ? 'No charts yet: load some with `playtally load --charts <dir>` or a run given --db.'
          : `No charts for ${date}. The newest chart date is ${chartDates[0]}.`,
      );
      return;
    }
    markLoading(this.chart, 'Loading the chart…');
    try {
      const { countries } = await api.countries(date);
      if (ticket !== this.ticket) return;
      const known = wanted !== undefined && countries.includes(wanted);
      if (wanted !== undefined && !known && countries.length > 0) this.report(undefined, 'dropped');
      this.country = known ? wanted : countries.includes(DEFAULT_COUNTRY) ? DEFAULT_COUNTRY : countries[0];
      fillSelect(
        this.select,
        countries.map((cc) => [cc, `${cc} · ${countryName(cc)}`]),
        this.country,
      );
      if (this.country === undefined) {
        showMessage(this.chart, 'empty', `No country has a chart on ${date}.`);
        return;
      }
    } catch (error) {
      if (ticket === this.ticket) showMessage(this.chart, 'error', errorText(error));
      return;
    }
    await this.loadChart();
  }

  private async loadChart(): Promise<void> {
    const ticket = ++this.ticket;
    const { date, country } = this;
    if (date === undefined || country === undefined) return;
    markLoading(this.chart, `Loading ${country}…`);
    try {
      const chart = await api.movement(country, date);
      if (ticket !== this.ticket) return;
      this.render(chart, chart.window);
    } catch (error) {
      if (ticket !== this.ticket) return;
      this.caption.textContent = '';
      this.dropped.textContent = '';
      showMessage(this.chart, 'error', errorText(error));
    }
  }

  private render(chart: CountryMovement, span: { from: string; to: string }): void {
    const plays = chart.songs.reduce((sum, s) => sum + s.plays, 0);
    this.caption.textContent =
      `${countryName(chart.country)}: top ${plural(chart.songs.length, 'song')}, ${count(plays)} plays, over ${span.from} – ${span.to}. ` +
      (chart.previousDate === null
        ? 'No chart is stored for the day before, so movement is not shown.'
        : `Movement against ${chart.previousDate}.`);
    this.dropped.textContent =
      chart.dropped.length === 0
        ? ''
        : `Left the chart since ${chart.previousDate}: ` +
          chart.dropped
            .slice(0, 10)
            .map((d) => `song ${d.song} (was #${d.previousRank})`)
            .join(', ') +
          (chart.dropped.length > 10 ? ` and ${chart.dropped.length - 10} more.` : '.');
    this.chart.dataset['country'] = chart.country;
    this.chart.dataset['date'] = chart.date;
    this.chart.dataset['songs'] = String(chart.songs.length);
    drawSized(this.chart, (width) => chartFigure(chart, width));
    setReady(this.chart);
  }
}
