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
import { longDate } from './format.js';
import { GenrePanel } from './genreKpis.js';
import { QualityPanel } from './qualityPanel.js';
import { RunsPanel } from './runsTable.js';
import { TopGenresPanel } from './topGenres.js';
import { UserPanel } from './userLookup.js';

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

const country = new CountryPanel();
const user = new UserPanel();
const genres = new GenrePanel();
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
  void country.show(date, dates.charts);
  user.show(date, dates.userCharts);
  void genres.show(date, dates.kpis);
  void topGenres.show(date, dates.kpis);
  void quality.show(date, dates.logDays);
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
  const current = dateSelect.value;
  const preferred = options.some(([d]) => d === current) ? current : (dates.charts[0] ?? dates.kpis[0]);
  fillSelect(dateSelect, options, preferred);
  status.dataset['state'] = 'ready';
  status.textContent =
    options.length === 0
      ? 'The store is empty: nothing has been loaded yet.'
      : `${dates.charts.length} chart dates, ${dates.kpis.length} KPI days in the store.`;
  showDate(options.length === 0 ? undefined : dateSelect.value);
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

dateSelect.addEventListener('change', () => showDate(dateSelect.value));

takeTokenFromUrl();
void load();
