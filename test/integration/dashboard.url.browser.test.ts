import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { COUNTRY_CODES } from '../../src/parse/countries.js';
import { startServer } from '../../src/serve/server.js';
import {
  ARTIFACTS,
  chartFile,
  DASHBOARD_DIR,
  DESKTOP,
  haveChromium,
  NEWEST,
  PHONE,
  requireChromiumInCi,
  songsOf,
  useDashboardFixture,
} from '../support/dashboardBrowser.js';

/**
 * The dashboard's address in Chromium (issue 18): a link `/?date=&country=&user=&genre=` opens that
 * view; every choice on the page is written to the address as a history entry, so Back and Forward
 * walk through the views and a reload keeps the view; what the address holds that the page cannot
 * show is dropped from it, and the default is shown. Screenshots of a linked view at laptop and
 * phone widths, light and dark, go to test-artifacts/.
 */

requireChromiumInCi('integration/dashboard.url.browser.test');

/** A date with user charts kept (the newest three), other than the newest. */
const LINKED_DATE = '2024-03-05';
const PICKED_DATE = '2024-03-04';

describe.skipIf(!haveChromium)('dashboard address in Chromium', () => {
  const fixture = useDashboardFixture();
  const { apiJson, openPage, dashboard, drawnSongs, pageErrors } = fixture;

  /** The genres of a day in the dashboard's order (most listens first), as its genre selector offers them. */
  async function genresOf(date: string): Promise<string[]> {
    const day = await apiJson<{ genres: { genre: string; listenCount: number }[] }>(
      `/api/kpis/genres?date=${date}`,
    );
    const listens = new Map<string, number>();
    for (const g of day.genres) listens.set(g.genre, (listens.get(g.genre) ?? 0) + g.listenCount);
    return [...listens].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([genre]) => genre);
  }

  /** The country with the longest chart on `date` after US (a view that is not the default). */
  function otherCountry(date: string): string {
    return [...chartFile(fixture.outDir, 'country', date).entries()]
      .filter(([cc]) => cc !== 'US')
      .sort((a, b) => songsOf(b[1]).length - songsOf(a[1]).length)[0]![0];
  }

  /** An ISO 3166-1 code without a chart on any of `dates`: well formed, but not in the store. */
  function absentCountry(...dates: string[]): string {
    const charted = new Set(dates.flatMap((date) => [...chartFile(fixture.outDir, 'country', date).keys()]));
    return COUNTRY_CODES.find((cc) => !charted.has(cc))!;
  }

  /** The user with the longest chart on `date`. */
  function someUser(date: string): string {
    return [...chartFile(fixture.outDir, 'user', date).entries()].sort(
      (a, b) => songsOf(b[1]).length - songsOf(a[1]).length,
    )[0]![0];
  }

  /** `?date=...` in the dashboard's order of parameters. */
  function query(view: { date?: string; country?: string; user?: string; genre?: string }): string {
    const params = new URLSearchParams();
    for (const key of ['date', 'country', 'user', 'genre'] as const) {
      if (view[key] !== undefined) params.set(key, view[key]);
    }
    const text = params.toString();
    return text === '' ? '' : `?${text}`;
  }

  /** Wait until the address's query string is `search`. */
  async function addressIs(page: Page, search: string): Promise<void> {
    await page.waitForFunction(`location.search === ${JSON.stringify(search)}`);
    expect(new URL(page.url()).search).toBe(search);
  }

  /** The view the page shows (pickers and drawn panels), once every panel that depends on it is drawn. */
  async function shown(
    page: Page,
    expected: { date: string; country: string; user?: string; genre: string },
  ) {
    const { date, country, user, genre } = expected;
    await page.waitForSelector(
      `#country-chart[data-state="ready"][data-country="${country}"][data-date="${date}"]`,
    );
    await page.waitForSelector(`#genre-charts[data-state="ready"][data-date="${date}"]`);
    await page.waitForSelector(`#genre-series[data-state="ready"][data-genre="${genre}"]`);
    if (user === undefined) await page.waitForSelector('#user-chart[data-state="empty"]');
    else
      await page.waitForSelector(`#user-chart[data-state="ready"][data-user="${user}"][data-date="${date}"]`);

    expect(await page.inputValue('#date-select')).toBe(date);
    expect(await page.inputValue('#country-select')).toBe(country);
    expect(await page.inputValue('#genre-select')).toBe(genre);
    expect(await page.inputValue('#user-input')).toBe(user ?? '');
    // What is drawn is that view: the country's chart file line of that date, the user's line.
    expect(await drawnSongs(page)).toEqual(songsOf(chartFile(fixture.outDir, 'country', date).get(country)!));
    if (user === undefined) {
      expect(await page.textContent('#user-chart')).toContain('Enter a user id');
    } else {
      const cells = await page
        .locator('#user-chart table tbody tr')
        .evaluateAll((rows) =>
          rows.map((row) => [...row.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())),
        );
      expect(cells.map(([, song, plays]) => `${song}:${plays!.replace(/,/g, '')}`).join(',')).toBe(
        chartFile(fixture.outDir, 'user', date).get(user),
      );
    }
  }

  it('a link opens exactly its view: date, country, user and genre, and the address stays as given', async () => {
    const country = otherCountry(LINKED_DATE);
    const user = someUser(LINKED_DATE);
    const genres = await genresOf(LINKED_DATE);
    const genre = genres[2]!; // not the day's busiest, which is the default
    const search = query({ date: LINKED_DATE, country, user, genre });

    const page = await dashboard(DESKTOP, {}, `/${search}`);
    await shown(page, { date: LINKED_DATE, country, user, genre });
    expect(await page.locator('#genre-series g.series-dots circle').count()).toBeGreaterThan(0);
    await addressIs(page, search);

    // A reload opens the same view.
    await page.reload();
    await shown(page, { date: LINKED_DATE, country, user, genre });
    await addressIs(page, search);
    // Opening a link made no history entry of its own: Back leaves the dashboard.
    await page.goBack();
    expect(page.url()).toBe('about:blank');
  });

  it('every choice is written to the address as a history entry; Back and Forward walk the views', async () => {
    const page = await dashboard();
    const entries = (): Promise<number> => page.evaluate('history.length');
    const opened = await entries();
    const newestGenres = await genresOf(NEWEST);
    const pickedGenres = await genresOf(PICKED_DATE);
    await shown(page, { date: NEWEST, country: 'US', genre: newestGenres[0]! });
    await addressIs(page, '');

    // Date, country, user, genre: one entry each.
    await page.selectOption('#date-select', PICKED_DATE);
    await addressIs(page, query({ date: PICKED_DATE }));
    await shown(page, { date: PICKED_DATE, country: 'US', genre: pickedGenres[0]! });

    const country = otherCountry(PICKED_DATE);
    await page.selectOption('#country-select', country);
    await addressIs(page, query({ date: PICKED_DATE, country }));
    await shown(page, { date: PICKED_DATE, country, genre: pickedGenres[0]! });

    const user = someUser(PICKED_DATE);
    await page.fill('#user-input', user);
    await page.click('#user-form button[type="submit"]');
    await addressIs(page, query({ date: PICKED_DATE, country, user }));
    await shown(page, { date: PICKED_DATE, country, user, genre: pickedGenres[0]! });

    const genre = pickedGenres[1]!;
    await page.selectOption('#genre-select', genre);
    const full = query({ date: PICKED_DATE, country, user, genre });
    await addressIs(page, full);
    await shown(page, { date: PICKED_DATE, country, user, genre });
    expect(await entries()).toBe(opened + 4);

    // Back, one choice at a time, to the page as it opened.
    await page.goBack();
    await addressIs(page, query({ date: PICKED_DATE, country, user }));
    await shown(page, { date: PICKED_DATE, country, user, genre: pickedGenres[0]! });
    await page.goBack();
    await addressIs(page, query({ date: PICKED_DATE, country }));
    await shown(page, { date: PICKED_DATE, country, genre: pickedGenres[0]! });
    await page.goBack();
    await addressIs(page, query({ date: PICKED_DATE }));
    await shown(page, { date: PICKED_DATE, country: 'US', genre: pickedGenres[0]! });
    await page.goBack();
    await addressIs(page, '');
    await shown(page, { date: NEWEST, country: 'US', genre: newestGenres[0]! });

    // Forward to the last view, which a reload keeps.
    for (let i = 0; i < 4; i++) await page.goForward();
    await addressIs(page, full);
    await shown(page, { date: PICKED_DATE, country, user, genre });
    await page.reload();
    await addressIs(page, full);
    await shown(page, { date: PICKED_DATE, country, user, genre });

    // Clearing the user field is a choice too; the date kept when the person picks the newest date.
    await page.fill('#user-input', '');
    await page.click('#user-form button[type="submit"]');
    await addressIs(page, query({ date: PICKED_DATE, country, genre }));
    await page.selectOption('#date-select', NEWEST);
    await addressIs(page, query({ date: NEWEST, country, genre }));
    await shown(page, { date: NEWEST, country, genre });
  });

  it('ignores what it cannot read: the default view is shown and the address loses it', async () => {
    const newestGenres = await genresOf(NEWEST);
    const defaults = { date: NEWEST, country: 'US', genre: newestGenres[0]! };

    // Malformed values, and a parameter of another name.
    const garbage = '/?date=2024-13-45&country=Z9&user=abc&genre=%00&foo=bar';
    const page = await dashboard(DESKTOP, {}, garbage);
    await shown(page, defaults);
    await addressIs(page, '');
    // The corrections rewrote the entry the link opened, and made none: Back leaves the dashboard.
    await page.goBack();
    expect(page.url()).toBe('about:blank');

    // Well formed, but not in the store: a date, a country (an ISO code without a chart), a genre.
    const absent = absentCountry(NEWEST, PICKED_DATE);
    const unknown = await dashboard(DESKTOP, {}, `/?date=2023-01-01&country=${absent}&genre=no-such-genre`);
    await shown(unknown, defaults);
    await addressIs(unknown, '');
    expect(await unknown.textContent('#status')).toContain(
      'Nothing is stored for 2023-01-01: showing 2024-03-06',
    );

    // A country or genre that a date has no data for is dropped with the date still kept.
    const kept = await dashboard(DESKTOP, {}, `/?date=${PICKED_DATE}&country=${absent}&genre=no-such-genre`);
    await shown(kept, { date: PICKED_DATE, country: 'US', genre: (await genresOf(PICKED_DATE))[0]! });
    await addressIs(kept, query({ date: PICKED_DATE }));

    // The API's other spellings are read and written the dashboard's way.
    const country = otherCountry(PICKED_DATE);
    const spelled = await dashboard(DESKTOP, {}, `/?country=${country.toLowerCase()}&date=20240304`);
    await addressIs(spelled, query({ date: PICKED_DATE, country }));
    await shown(spelled, { date: PICKED_DATE, country, genre: (await genresOf(PICKED_DATE))[0]! });
  });

  it('a link with a #token= opens its view, and the token leaves the address but the view stays', async () => {
    const guarded = await startServer({
      dbPath: fixture.dbPath,
      host: '127.0.0.1',
      port: 0,
      token: 'sesame',
      dashboardDir: DASHBOARD_DIR,
    });
    try {
      const country = otherCountry(LINKED_DATE);
      const search = query({ date: LINKED_DATE, country });
      const page = await openPage(`${guarded.url}/${search}#token=sesame`);
      await page.waitForSelector(
        `#country-chart[data-state="ready"][data-country="${country}"][data-date="${LINKED_DATE}"]`,
      );
      expect(await page.isHidden('#token-form')).toBe(true);
      expect(new URL(page.url()).hash).toBe('');
      await addressIs(page, search);
    } finally {
      await guarded.close();
    }
  });

  it('saves screenshots of a linked view on a laptop and a phone, light and dark', async () => {
    const country = otherCountry(LINKED_DATE);
    const user = someUser(LINKED_DATE);
    const genre = (await genresOf(LINKED_DATE))[1]!;
    const path = `/${query({ date: LINKED_DATE, country, user, genre })}`;
    for (const [name, viewport, options] of [
      ['desktop', DESKTOP, {}],
      ['phone', PHONE, { isMobile: true, deviceScaleFactor: 2 }],
    ] as const) {
      const page = await dashboard(viewport, options, path);
      await shown(page, { date: LINKED_DATE, country, user, genre });
      await page.waitForSelector('#top-genres[data-state="ready"]');
      await page.waitForSelector('#quality-chart[data-state="ready"]');
      await page.waitForSelector('#runs-table[data-state="ready"]');
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width);
      const background: Record<string, string> = {};
      for (const colorScheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme });
        background[colorScheme] = await page.evaluate<string>(
          'getComputedStyle(document.documentElement).backgroundColor',
        );
        const file = join(ARTIFACTS, `dashboard-link-${name}-${colorScheme}.png`);
        await page.screenshot({ path: file, fullPage: true });
        expect(statSync(file).size).toBeGreaterThan(10_000);
      }
      // The dark screenshot is dark: the page's background follows the colour scheme.
      expect(background['dark']).not.toBe(background['light']);
      expect(background['dark']).toBe('rgb(16, 20, 25)');
      // Drawing again for the scheme left the view as it was.
      await addressIs(page, path.slice(1));
    }
  });

  it('raised no page errors (CSP violations included)', () => {
    expect(pageErrors).toEqual([]);
  });
});
