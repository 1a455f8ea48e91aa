import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFailed } from 'vitest';
import type { RunRecord } from '../../src/formats/runHistory.js';
import { startServer } from '../../src/serve/server.js';
import { ResultsStore } from '../../src/store/resultsStore.js';
import {
  ARTIFACTS,
  chartFile,
  DASHBOARD_DIR,
  haveChromium,
  NEWEST,
  PHONE,
  requireChromiumInCi,
  songsOf,
  useDashboardFixture,
} from '../support/dashboardBrowser.js';

/**
 * The dashboard in a real browser (test/support/dashboardBrowser.ts: Debian's Chromium over a
 * store filled from generated logs and KPI drops): what it draws is checked against the chart
 * files and the API's answers. Screenshots of a laptop and a phone screen go to test-artifacts/.
 * Its address (shareable links, Back) is dashboard.url.browser.test.ts.
 */

requireChromiumInCi('integration/dashboard.browser.test');

/** The movement marker the dashboard draws for an API movement. */
function marker(movement: { kind: string; by?: number }): string {
  const texts: Record<string, string> = { new: 'NEW', 're-entry': 'RE', same: '=' };
  if (movement.kind === 'up') return `▲${movement.by}`;
  if (movement.kind === 'down') return `▼${movement.by}`;
  return texts[movement.kind]!;
}

describe.skipIf(!haveChromium)('dashboard in Chromium', () => {
  const fixture = useDashboardFixture();
  const { apiJson, openPage, dashboard, ariaLabels, drawnSongs, pageErrors, temp } = fixture;

  it("draws the newest date's chart of a country: every song of the chart file, with its movement", async () => {
    const page = await dashboard();
    expect(await page.inputValue('#date-select')).toBe(NEWEST);
    const country = await page.inputValue('#country-select');
    expect(country).toBe('US');
    const file = chartFile(fixture.outDir, 'country', NEWEST);
    const expected = songsOf(file.get(country)!);
    expect(expected.length).toBe(50);
    expect(await drawnSongs(page)).toEqual(expected);

    const moved = await apiJson<{
      previousDate: string;
      songs: { movement: { kind: string; by?: number } }[];
    }>(`/api/charts/country/${country}/movement?date=${NEWEST}`);
    expect(moved.previousDate).toBe('2024-03-05');
    const markers = await page.locator('#country-chart g.movement text').allTextContents();
    expect(markers).toEqual(moved.songs.map((s) => marker(s.movement)));
    expect(markers.some((m) => m.startsWith('▲'))).toBe(true);
    expect(markers.some((m) => m.startsWith('▼'))).toBe(true);
    expect(await page.textContent('#country-caption')).toContain('Movement against 2024-03-05');
    // Every country with a chart that day is offered.
    const offered = await page
      .locator('#country-select option')
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('value')));
    expect(offered).toEqual([...file.keys()]);
  });

  it("picking another country draws that country's songs", async () => {
    const page = await dashboard();
    const file = chartFile(fixture.outDir, 'country', NEWEST);
    // The other country with the longest chart (the generator's second market or so).
    const [other] = [...file.entries()]
      .filter(([cc]) => cc !== 'US')
      .sort((a, b) => songsOf(b[1]).length - songsOf(a[1]).length)[0]!;
    await page.selectOption('#country-select', other);
    await page.waitForSelector(`#country-chart[data-state="ready"][data-country="${other}"]`);
    expect(await drawnSongs(page)).toEqual(songsOf(file.get(other)!));
    expect(await page.textContent('#country-caption')).toMatch(/top \d+ songs/);
  });

  it('changing the date draws that date (and no movement on the first date, which has no day before)', async () => {
    const page = await dashboard();
    await page.selectOption('#date-select', '2024-03-03');
    await page.waitForSelector('#country-chart[data-state="ready"][data-date="2024-03-03"]');
    expect(await drawnSongs(page)).toEqual(
      songsOf(chartFile(fixture.outDir, 'country', '2024-03-03').get('US')!),
    );
    expect(await page.locator('#country-chart g.movement text').count()).toBeGreaterThan(0);

    await page.selectOption('#date-select', '2024-03-01');
    await page.waitForSelector('#country-chart[data-state="ready"][data-date="2024-03-01"]');
    expect(await drawnSongs(page)).toEqual(
      songsOf(chartFile(fixture.outDir, 'country', '2024-03-01').get('US')!),
    );
    expect(await page.locator('#country-chart g.movement text').count()).toBe(0);
    expect(await page.textContent('#country-caption')).toContain('movement is not shown');
  });

  it("looks a user up: the table holds the user chart file's line; unknown users and dropped dates are said so", async () => {
    const page = await dashboard();
    const users = chartFile(fixture.outDir, 'user', NEWEST);
    // The user with the longest chart.
    const [user, line] = [...users.entries()].sort((a, b) => songsOf(b[1]).length - songsOf(a[1]).length)[0]!;
    await page.fill('#user-input', user);
    await page.click('#user-form button[type="submit"]');
    await page.waitForSelector(`#user-chart[data-state="ready"][data-user="${user}"]`);
    const cells = await page
      .locator('#user-chart table tbody tr')
      .evaluateAll((rows) =>
        rows.map((row) => [...row.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())),
      );
    expect(cells.map(([rank]) => rank)).toEqual(cells.map((_, i) => String(i + 1)));
    expect(cells.map(([, song, plays]) => `${song}:${plays!.replace(/,/g, '')}`).join(',')).toBe(line);
    expect(await page.textContent('#user-chart caption')).toContain(
      `User ${user}: top ${cells.length} songs`,
    );

    // The date's user charts are dropped from the store (only the newest 3 dates keep them).
    await page.selectOption('#date-select', '2024-03-01');
    await page.waitForSelector('#user-chart[data-state="error"]');
    expect(await page.textContent('#user-chart')).toContain('not kept');

    await page.selectOption('#date-select', NEWEST);
    await page.fill('#user-input', '987654321');
    await page.click('#user-form button[type="submit"]');
    await page.waitForSelector('#user-chart[data-state="error"]');
    expect(await page.textContent('#user-chart')).toContain(`no chart for user 987654321 on ${NEWEST}`);
  });

  it('draws the genre KPIs of the day, a genre day by day, and the top 5 genres over time', async () => {
    const page = await dashboard();
    await page.waitForSelector('#genre-charts[data-state="ready"]');
    await page.waitForSelector('#genre-series[data-state="ready"]');
    await page.waitForSelector('#top-genres[data-state="ready"]');
    const kpis = await apiJson<{ genres: { genre: string; listenCount: number }[] }>(
      `/api/kpis/genres?date=${NEWEST}`,
    );
    const shown = Math.min(10, kpis.genres.length);
    expect(shown).toBeGreaterThan(3);
    const figures = page.locator('#genre-charts figure.metric');
    expect(await figures.count()).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(await figures.nth(i).locator('g.genre-bars rect').count()).toBe(shown);
    }
    const busiest = [...kpis.genres].sort(
      (a, b) => b.listenCount - a.listenCount || (a.genre < b.genre ? -1 : 1),
    )[0]!;
    const listenBars = await ariaLabels(
      page,
      '#genre-charts figure[data-metric="listenCount"] g.genre-bars rect',
    );
    expect(listenBars[0]).toBe(`${busiest.genre}: ${busiest.listenCount.toLocaleString('en-US')}`);

    // The genre selector starts on the day's busiest genre; its series covers the 30 days to the date.
    expect(await page.inputValue('#genre-select')).toBe(busiest.genre);
    const series = await apiJson<{ days: unknown[] }>(
      `/api/kpis/genres/${busiest.genre}?from=2024-02-06&to=${NEWEST}`,
    );
    expect(await page.locator('#genre-series g.series-dots circle').count()).toBe(3 * series.days.length);

    const top = await apiJson<{ days: unknown[] }>(`/api/kpis/top-genres?from=2024-02-06&to=${NEWEST}`);
    expect(top.days.length).toBeGreaterThanOrEqual(25);
    expect(await page.locator('#top-genres g.top-genre-cells rect').count()).toBe(top.days.length);

    // Another genre.
    const second = await page.locator('#genre-select option').nth(1).getAttribute('value');
    await page.selectOption('#genre-select', second!);
    await page.waitForSelector(`#genre-series[data-state="ready"][data-genre="${second}"]`);
    expect(await page.locator('#genre-series g.series-dots circle').count()).toBeGreaterThan(0);
  });

  it('shows rejected rows by reason per day and the run history', async () => {
    const page = await dashboard();
    await page.waitForSelector('#quality-chart[data-state="ready"]');
    await page.waitForSelector('#runs-table[data-state="ready"]');
    const quality = await apiJson<{ days: { date: string; rejectedByReason: Record<string, number> }[] }>(
      `/api/quality/days?from=2024-02-06&to=${NEWEST}`,
    );
    expect(quality.days.length).toBe(6);
    const segments = quality.days.reduce(
      (sum, d) => sum + Object.values(d.rejectedByReason).filter((n) => n > 0).length,
      0,
    );
    expect(await page.locator('#quality-chart g.quality-bars rect').count()).toBe(segments);
    const days = await page.locator('#quality-table tbody tr td:first-child').allTextContents();
    expect(days).toEqual(quality.days.map((d) => d.date).reverse());

    const rows = page.locator('#runs-table tbody tr');
    expect(await rows.count()).toBe(3);
    expect(await page.locator('#runs-table .badge--ok').count()).toBe(2);
    expect(await page.locator('#runs-table .badge--failed').count()).toBe(1);
    // The failed run, newest: marked, with its exit code and its message.
    const { runs } = await apiJson<{ runs: RunRecord[] }>('/api/runs');
    const failed = runs[0]!;
    expect(failed).toMatchObject({ ok: false, error: { code: 'logs_not_found', exitCode: 3 } });
    const cells = (row: number) =>
      rows
        .nth(row)
        .locator('td')
        .evaluateAll((tds) =>
          Object.fromEntries(tds.map((td) => [td.getAttribute('data-label'), td.textContent])),
        );
    const failedRow = await cells(0);
    expect(failedRow['Result']).toBe('failed (exit 3)');
    expect(await rows.first().locator('.badge--failed').count()).toBe(1);
    expect(failedRow['Notes']).toContain(`logs_not_found: ${failed.error!.message}`);
    expect(failedRow['Notes']).toContain('no-such-folder');
    // The second run parsed two days and wrote its charts from the first four days' partials too:
    // its rows say so, instead of counting only what it parsed.
    const second = runs[1]!;
    expect(second.reused!.days).toEqual(['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04']);
    const secondRow = await cells(1);
    const n = (x: number) => x.toLocaleString('en-US');
    expect(secondRow['Rows']).toBe(`${n(second.totals.rows)} + ${n(second.reused!.rows)} reused`);
    expect(secondRow['Notes']).toContain('reused the partials of 2024-03-01 … 2024-03-04 (4)');
  });

  it('fits a phone screen, and saves screenshots of a laptop and a phone', async () => {
    const desktop = await dashboard();
    await desktop.waitForSelector('#runs-table[data-state="ready"]');
    await desktop.waitForSelector('#quality-chart[data-state="ready"]');
    await desktop.waitForSelector('#genre-series[data-state="ready"]');
    await desktop.fill('#user-input', [...chartFile(fixture.outDir, 'user', NEWEST).keys()][0]!);
    await desktop.click('#user-form button[type="submit"]');
    await desktop.waitForSelector('#user-chart[data-state="ready"]');
    // Laptop: the panels side by side.
    const country = await desktop.locator('#country-panel').boundingBox();
    const user = await desktop.locator('#user-panel').boundingBox();
    expect(user!.x).toBeGreaterThan(country!.x + country!.width - 1);
    await desktop.screenshot({ path: join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true });

    const phone = await dashboard(PHONE, { isMobile: true, deviceScaleFactor: 2 });
    await phone.waitForSelector('#runs-table[data-state="ready"]');
    await phone.waitForSelector('#quality-chart[data-state="ready"]');
    await phone.waitForSelector('#genre-series[data-state="ready"]');
    // One column, nothing wider than the screen (wide tables scroll inside their panel).
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    const countryBox = await phone.locator('#country-panel').boundingBox();
    const userBox = await phone.locator('#user-panel').boundingBox();
    expect(userBox!.y).toBeGreaterThan(countryBox!.y + countryBox!.height - 1);
    const chartBox = await phone.locator('#country-chart svg').boundingBox();
    expect(chartBox!.width).toBeLessThanOrEqual(PHONE.width);
    expect(chartBox!.width).toBeGreaterThan(PHONE.width * 0.8);
    await phone.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    expect(statSync(join(ARTIFACTS, 'dashboard-phone.png')).size).toBeGreaterThan(10_000);
  });

  it('asks for the token when the API wants one, keeps it for the tab, and takes one from #token=', async () => {
    // This test has timed out in CI under load, passing alone: if it fails, say how far it got.
    const t0 = Date.now();
    const steps: string[] = [];
    const step = (what: string): void => {
      steps.push(`+${Date.now() - t0} ms ${what}`);
    };
    onTestFailed(() => {
      process.stderr.write(`token test, steps done before the failure:\n  ${steps.join('\n  ')}\n`);
    });
    const guarded = await startServer({
      dbPath: fixture.dbPath,
      host: '127.0.0.1',
      port: 0,
      token: 'sesame',
      dashboardDir: DASHBOARD_DIR,
    });
    try {
      step('open');
      const page = await openPage(guarded.url + '/');
      step('opened');
      await page.waitForSelector('#token-form:not([hidden])');
      expect(await page.textContent('#token-message')).toContain('Authorization: Bearer <token> required');
      await page.fill('#token-input', 'wrong');
      await page.click('#token-form button[type="submit"]');
      step('wrong submitted');
      await page.waitForSelector('#token-form:not([hidden])');
      await page.waitForFunction("/not valid/.test(document.getElementById('token-message').textContent)");
      step('not valid shown');
      await page.fill('#token-input', 'sesame');
      await page.click('#token-form button[type="submit"]');
      step('sesame submitted');
      await page.waitForSelector('#country-chart[data-state="ready"]');
      step('ready');
      expect(await page.isHidden('#token-form')).toBe(true);
      // Kept for the tab: a reload needs no token.
      await page.reload();
      step('reloaded');
      await page.waitForSelector('#country-chart[data-state="ready"]');
      expect(await page.isHidden('#token-form')).toBe(true);

      step('open linked');
      const linked = await openPage(guarded.url + '/#token=sesame');
      step('linked opened');
      await linked.waitForSelector('#runs-table[data-state="ready"]');
      await linked.waitForSelector('#country-chart[data-state="ready"]');
      expect(new URL(linked.url()).hash).toBe('');
      step('linked ready');
    } finally {
      await guarded.close();
      step('closed');
    }
  });

  it('says so when the store is empty', async () => {
    const emptyDb = join(temp.make('playtally-dashboard-empty-'), 'empty.db');
    ResultsStore.open(emptyDb).close();
    const empty = await startServer({
      dbPath: emptyDb,
      host: '127.0.0.1',
      port: 0,
      dashboardDir: DASHBOARD_DIR,
    });
    try {
      const page = await openPage(empty.url + '/');
      await page.waitForSelector('#country-chart[data-state="empty"]');
      expect(await page.textContent('#country-chart')).toContain('No charts yet');
      await page.waitForSelector('#genre-charts[data-state="empty"]');
      expect(await page.textContent('#genre-charts')).toContain('No genre KPIs yet');
      await page.waitForSelector('#runs-table[data-state="empty"]');
      expect(await page.textContent('#runs-table')).toContain('No runs yet');
      expect(await page.textContent('#status')).toContain('empty');
    } finally {
      await empty.close();
    }
  });

  it('is served under a Content-Security-Policy (a violation would be a console error above)', async () => {
    for (const path of ['/', '/assets/dashboard.js', '/api/dates']) {
      const response = await fetch(fixture.server.url + path);
      expect(response.headers.get('content-security-policy'), path).toMatch(/default-src 'self'/);
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
    }
  });

  it('raised no page errors (CSP violations included)', () => {
    expect(pageErrors).toEqual([]);
  });
});
