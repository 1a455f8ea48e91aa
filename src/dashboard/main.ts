import './styles.css';
import {
  type ApiError,
  api,
  type Dates,
  errorText,
  onUnauthorized,
  setToken,
  takeTokenFromUrl,
} from './api.js';
import { CountryPanel } from './countryChart.js';
import { byId, fillSelect } from './dom.js';
import { longDate, plural } from './format.js';
import { GenrePanel } from './genreKpis.js';
import { QualityPanel } from './qualityPanel.js';
import { RunsPanel } from './runsTable.js';
import { TopGenresPanel } from './topGenres.js';
import { UserPanel } from './userLookup.js';
import {
  parseViewState,
  type ViewKey,
  type ViewReport,
  type ViewState,
  viewQuery,
  withView,
} from './viewState.js';

/**
 * The dashboard: one date picked for the whole page, and one panel per question (a country's
 * chart, a user's chart, genre KPIs, the top genres, data quality, the run history), each
 * fetching what it shows from the JSON API of the same server.
 */
const dateSelect = byId<HTMLSelectElement>('date-select');
const status = byId('status');
const tokenForm = byId<HTMLFormElement>('token-form');
const tokenInput = byId<HTMLInputElement>('token-input');
const tokenMessage = byId('token-message');

/**
 * The view shown, as the address says it (viewState.ts): read from it before anything is drawn,
 * written back to it on every change.
 *
 * Push or replace: a person's choice (a date, a country, a user looked up, a genre) is a new
 * history entry (pushState), so Back returns to the view before it and Forward to it again; the
 * page's own corrections (a parameter it cannot read or a parameter of another name, a date the
 * store does not hold, a country or genre the date has no data for) rewrite the current entry
 * (replaceState), so Back never lands on a view that was refused. The issue asked both
 * "replaceState on change" and "the back button works": with replaceState only, Back would leave
 * the dashboard. popstate (Back, Forward) shows the view of the address it lands on.
 */
let view: ViewState = parseViewState(location.search);
/** The date drawn (undefined: none yet, or nothing to draw). */
let shownDate: string | undefined;

function writeAddress(how: 'push' | 'replace'): void {
  const url = location.pathname + viewQuery(view) + location.hash;
  if (url === location.pathname + location.search + location.hash) return;
  if (how === 'push') history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

/** A panel's report on its field of the view: a choice is a history entry, a correction is not. */
function reporter(key: ViewKey): ViewReport {
  return (value, how) => {
    view = withView(view, { [key]: value });
    writeAddress(how === 'chosen' ? 'push' : 'replace');
  };
}

const country = new CountryPanel(reporter('country'));
const user = new UserPanel(reporter('user'));
const genres = new GenrePanel(reporter('genre'));
const topGenres = new TopGenresPanel();
const quality = new QualityPanel();
const runs = new RunsPanel();
let dates: Dates = { charts: [], userCharts: [], kpis: [], logDays: [] };

/** Every date with charts or KPIs, newest first, each saying what it has. */
function dateOptions(d: Dates): [string, string][] {
  const all = [...new Set([...d.charts, ...d.kpis])].sort().reverse();
  return all.map((date) => {
    const kinds = [d.charts.includes(date) ? 'charts' : '', d.kpis.includes(date) ? 'KPIs' : ''].filter(
      Boolean,
    );
    return [date, `${longDate(date)} · ${kinds.join(' + ')}`];
  });
}

function showDate(date: string | undefined): void {
  shownDate = date;
  void country.show(date, dates.charts, view.country);
  user.show(date, dates.userCharts, view.user);
  void genres.show(date, dates.kpis, view.genre);
  void topGenres.show(date, dates.kpis);
  void quality.show(date, dates.logDays);
}

/**
 * The date the view asks for when the store has charts or KPIs for it, else the newest (and the
 * address loses a date it cannot show). Undefined for an empty store.
 */
function viewedDate(): string | undefined {
  const stored = (date: string): boolean => dates.charts.includes(date) || dates.kpis.includes(date);
  const wanted = view.date;
  if (wanted !== undefined && !stored(wanted)) {
    view = withView(view, { date: undefined });
    writeAddress('replace');
  }
  return view.date ?? dates.charts[0] ?? dates.kpis[0];
}

/** The latest load: an older one still on its way (say, sent with a wrong token) must not undo it. */
let loadTicket = 0;

async function load(): Promise<void> {
  const ticket = ++loadTicket;
  status.textContent = 'Loading…';
  void runs.show();
  let loaded: Dates;
  try {
    loaded = await api.dates();
  } catch (error) {
    if (ticket !== loadTicket) return;
    status.textContent = `Cannot load the dates: ${errorText(error)}`;
    status.dataset['state'] = 'error';
    fillSelect(dateSelect, []);
    dates = { charts: [], userCharts: [], kpis: [], logDays: [] };
    showDate(undefined);
    return;
  }
  if (ticket !== loadTicket) return;
  dates = loaded;
  const options = dateOptions(dates);
  const linked = view.date;
  const date = viewedDate();
  fillSelect(dateSelect, options, date);
  status.dataset['state'] = 'ready';
  status.textContent =
    options.length === 0
      ? 'The store is empty: nothing has been loaded yet.'
      : `${plural(dates.charts.length, 'chart date')}, ${plural(dates.kpis.length, 'KPI day')} in the store.` +
        (linked !== undefined && linked !== date ? ` Nothing is stored for ${linked}: showing ${date}.` : '');
  showDate(date);
}

/** Back or Forward: show the view of the address landed on, redrawing only what differs. */
function showAddress(): void {
  const before = view;
  view = parseViewState(location.search);
  writeAddress('replace');
  // Before the dates are loaded (or while the token is asked for), load() shows the view when done.
  if (status.dataset['state'] !== 'ready') return;
  const date = viewedDate();
  if (date !== shownDate) {
    if (date !== undefined) dateSelect.value = date;
    showDate(date);
    return;
  }
  if (view.country !== before.country) void country.show(date, dates.charts, view.country);
  if (view.user !== before.user) user.show(date, dates.userCharts, view.user);
  if (view.genre !== before.genre) void genres.show(date, dates.kpis, view.genre);
}

onUnauthorized((error: ApiError) => {
  tokenMessage.textContent = `The API asks for a token: ${error.message}.`;
  if (tokenForm.hidden) {
    tokenForm.hidden = false;
    tokenInput.focus();
  }
});

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (token === '') return;
  setToken(token);
  tokenInput.value = '';
  tokenForm.hidden = true;
  void load();
});

dateSelect.addEventListener('change', () => {
  view = withView(view, { date: dateSelect.value });
  writeAddress('push');
  showDate(dateSelect.value);
});
addEventListener('popstate', showAddress);

takeTokenFromUrl();
// The address is the view: a parameter it cannot read or of another name leaves it at once.
writeAddress('replace');
void load();
