import { api, type ChartSong, errorText } from './api.js';
import { byId, el, markLoading, setReady, showMessage, table } from './dom.js';
import { count } from './format.js';

/** User ids are decimal digits up to 2^53-1 (the API says so too; this only saves a request). */
const USER_ID = /^\d{1,16}$/;

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

  constructor() {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.user = this.input.value.trim();
      void this.lookUp();
    });
    showMessage(this.result, 'empty', 'Enter a user id to see that user’s top 50.');
  }

  show(date: string | undefined, userChartDates: string[]): void {
    this.date = date;
    this.hint.textContent =
      userChartDates.length === 0
        ? 'No user charts are stored yet.'
        : `User charts are kept for the newest chart dates only: ${userChartDates.join(', ')}.`;
    if (this.user !== undefined) void this.lookUp();
  }

  private async lookUp(): Promise<void> {
    const ticket = ++this.ticket;
    const { user, date } = this;
    if (user === undefined) return;
    if (!USER_ID.test(user)) {
      showMessage(this.result, 'error', `“${user}” is not a user id: a user id is decimal digits.`);
      return;
    }
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
        `User ${chart.user}: top ${chart.songs.length} songs, ${count(plays)} plays over ${chart.window.from} – ${chart.window.to}`,
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
