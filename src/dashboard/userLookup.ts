import { api, type ChartSong, errorText } from './api.js';
import { byId, el, markLoading, setReady, showMessage, table } from './dom.js';
import { count, plural } from './format.js';
import { type ViewReport, viewUser } from './viewState.js';

const PROMPT = 'Enter a user id to see that user’s top 50.';

/** Look up one user's top 50 on the chosen date: a table of rank, song and plays. */
export class UserPanel {
  private readonly form = byId<HTMLFormElement>('user-form');
  private readonly input = byId<HTMLInputElement>('user-input');
  private readonly hint = byId('user-hint');
  private readonly result = byId('user-chart');
  private date: string | undefined;
  /** The user shown, looked up again when the date changes. */
  private user: string | undefined;
  private ticket = 0;

  /** `report` hears of the user looked up here (undefined: the field cleared, or not a user id). */
  constructor(private readonly report: ViewReport) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      // User ids are decimal digits up to 2^53-1 (the API says so too; this only saves a request).
      this.user = viewUser(text);
      this.report(this.user, 'chosen');
      if (this.user !== undefined) {
        this.input.value = this.user;
        void this.lookUp();
        return;
      }
      ++this.ticket;
      if (text === '') showMessage(this.result, 'empty', PROMPT);
      else
        showMessage(
          this.result,
          'error',
          `“${text}” is not a user id: a user id is decimal digits, at most 2^53-1.`,
        );
    });
    showMessage(this.result, 'empty', PROMPT);
  }

  /** `wanted`'s chart on `date` (undefined: no lookup; a user id kept from before is looked up again). */
  show(date: string | undefined, userChartDates: string[], wanted: string | undefined): void {
    this.date = date;
    this.hint.textContent =
      userChartDates.length === 0
        ? 'No user charts are stored yet.'
        : `User charts are kept for the newest chart dates only: ${userChartDates.join(', ')}.`;
    if (wanted !== this.user) {
      this.user = wanted;
      this.input.value = wanted ?? '';
      if (wanted === undefined) {
        ++this.ticket;
        showMessage(this.result, 'empty', PROMPT);
      }
    }
    if (this.user !== undefined) void this.lookUp();
  }

  private async lookUp(): Promise<void> {
    const ticket = ++this.ticket;
    const { user, date } = this;
    if (user === undefined) return;
    if (date === undefined) {
      showMessage(this.result, 'empty', 'Pick a chart date first.');
      return;
    }
    markLoading(this.result, `Looking up user ${user} on ${date}…`);
    try {
      const chart = await api.userChart(user, date);
      if (ticket !== this.ticket) return;
      const plays = chart.songs.reduce((sum, s) => sum + s.plays, 0);
      const most = Math.max(...chart.songs.map((s) => s.plays));
      const rows = table<ChartSong>(
        chart.songs,
        [
          { head: 'Rank', cell: (s) => String(s.rank), numeric: true },
          { head: 'Song', cell: (s) => String(s.song), numeric: true },
          {
            head: 'Plays',
            numeric: true,
            cell: (s) =>
              el(
                'span',
                { class: 'inline-bar' },
                el('span', {
                  class: 'inline-bar-fill',
                  attrs: { style: `width:${(100 * s.plays) / most}%` },
                }),
                el('span', { class: 'inline-bar-value', text: count(s.plays) }),
              ),
          },
        ],
        `User ${chart.user}: top ${plural(chart.songs.length, 'song')}, ${count(plays)} plays over ${chart.window.from} – ${chart.window.to}`,
      );
      this.result.replaceChildren(el('div', { class: 'table-scroll table-scroll--tall' }, rows));
      this.result.dataset['user'] = String(chart.user);
      this.result.dataset['date'] = chart.date;
      setReady(this.result);
    } catch (error) {
      if (ticket === this.ticket) showMessage(this.result, 'error', errorText(error));
    }
  }
}
