import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { ListenGenerator } from '../../src/generate/listenGenerator.js';
import { runKpis } from '../../src/jobs/kpiJob.js';
import { compactDay } from '../../src/ops/dates.js';
import { type RunningServer, startServer } from '../../src/serve/server.js';
import { ResultsStore } from '../../src/store/resultsStore.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import { day, TempDirs } from './tempDirs.js';

/**
 * The dashboard in a real browser, shared by the browser test files: Debian's Chromium, driven by
 * playwright-core, loads the built dashboard (dist/dashboard) from startServer over a store filled
 * from generated logs and KPI drops. Screenshots go to test-artifacts/ (not in git).
 */

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DASHBOARD_DIR = join(ROOT, 'dist', 'dashboard');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
export const DESKTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** The store's six chart dates are 2024-03-01..06 (user charts kept for 04..06); KPIs for the same days. */
export const FIRST_DAY = day('2024-03-01');
export const NEWEST = '2024-03-06';
export const haveChromium = existsSync(CHROMIUM);

/**
 * Say that a browser test file is skipped without Chromium; under CI=true, fail instead (call at
 * the top level of the file).
 */
export function requireChromiumInCi(file: string): void {
  if (!haveChromium && process.env.CI !== 'true') {
    process.stderr.write(
      `${file}: skipped, ${CHROMIUM} is absent (install it with \`apt-get install -y chromium\`)\n`,
    );
  }
  describe.runIf(!haveChromium && process.env.CI === 'true')('dashboard in Chromium, in CI', () => {
    it('has Chromium to run in', () => {
      throw new Error(`${CHROMIUM} is absent: .ci/run installs it (apt-get install -y chromium)`);
    });
  });
}

/** `key|sng:n,sng:n` lines of a chart file, by key. */
export function chartFile(dir: string, kind: 'country' | 'user', date: string): Map<string, string> {
  const text = readFileSync(join(dir, `${kind}_top50_${compactDay(day(date))}.txt`), 'utf8');
  const lines = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const bar = line.indexOf('|');
    lines.set(line.slice(0, bar), line.slice(bar + 1));
  }
  return lines;
}

/** The song ids of a chart line, in rank order. */
export function songsOf(line: string): string[] {
  return line.split(',').map((entry) => entry.slice(0, entry.indexOf(':')));
}

/** Fails the test when the built dashboard is missing or older than its source. */
function requireBuiltDashboard(): void {
  const index = join(DASHBOARD_DIR, 'index.html');
  if (!existsSync(index)) throw new Error(`${index} is missing: run \`npm run build\` first`);
  const built = statSync(index).mtimeMs;
  const source = join(ROOT, 'src', 'dashboard');
  const newer = readdirSync(source).filter((name) => statSync(join(source, name)).mtimeMs > built);
  if (newer.length > 0) {
    throw new Error(`dist/dashboard is older than src/dashboard/${newer[0]}: run \`npm run build\` first`);
  }
}

/** The store, server and browser of one test file, and the helpers its tests read pages with. */
export interface DashboardFixture {
  readonly temp: TempDirs;
  /** The chart files the store was loaded from. */
  readonly outDir: string;
  readonly dbPath: string;
  readonly server: RunningServer;
  readonly browser: Browser;
  /** Uncaught errors and console errors of every page (a CSP violation is one); check them last. */
  readonly pageErrors: string[];
  /** GET an API route of the test server, as JSON (200 expected). */
  apiJson<T>(path: string): Promise<T>;
  /** A new browser context (closed after the file) at `url`. */
  openPage(
    url: string,
    viewport?: { width: number; height: number },
    options?: { isMobile?: boolean; deviceScaleFactor?: number; colorScheme?: 'light' | 'dark' },
  ): Promise<Page>;
  /** The dashboard at `path` of the test server, with its country chart drawn. */
  dashboard(
    viewport?: { width: number; height: number },
    options?: { isMobile?: boolean; deviceScaleFactor?: number; colorScheme?: 'light' | 'dark' },
    path?: string,
  ): Promise<Page>;
  ariaLabels(page: Page, selector: string): Promise<string[]>;
  /** The song ids of the drawn country chart, in rank order (from the bars' labels `3. song 123: ...`). */
  drawnSongs(page: Page): Promise<string[]>;
}

/**
 * Register beforeAll/afterAll that build the store (two runs of generated logs over six days and
 * a failed run; KPIs for the same six days), start a server over it and launch Chromium. Call it
 * inside the file's describe; the fixture's fields are set once beforeAll has run.
 */
export function useDashboardFixture(): DashboardFixture {
  const temp = new TempDirs();
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let outDir = '';
  let dbPath = '';
  let server: RunningServer | undefined;
  let browser: Browser | undefined;

  const fixture: DashboardFixture = {
    temp,
    pageErrors,
    get outDir() {
      return outDir;
    },
    get dbPath() {
      return dbPath;
    },
    get server() {
      if (!server) throw new Error('dashboard fixture: no server before beforeAll');
      return server;
    },
    get browser() {
      if (!browser) throw new Error('dashboard fixture: no browser before beforeAll');
      return browser;
    },
    async apiJson<T>(path: string): Promise<T> {
      const response = await fetch(fixture.server.url + path);
      expect(response.status, path).toBe(200);
      return (await response.json()) as T;
    },
    async openPage(url, viewport = DESKTOP, options = {}) {
      const context = await fixture.browser.newContext({ viewport, ...options });
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(`${url}: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && !/status of 40[14]/.test(message.text())) {
          pageErrors.push(`${url}: console: ${message.text()}`);
        }
      });
      await page.goto(url);
      return page;
    },
    async dashboard(viewport = DESKTOP, options = {}, path = '/') {
      const page = await fixture.openPage(fixture.server.url + path, viewport, options);
      await page.waitForSelector('#country-chart[data-state="ready"]');
      return page;
    },
    async ariaLabels(page, selector) {
      return page
        .locator(selector)
        .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('aria-label') ?? ''));
    },
    async drawnSongs(page) {
      return (await fixture.ariaLabels(page, '#country-chart g.country-bars rect')).map((label) => {
        const match = /^\d+\. song (\d+):/.exec(label);
        if (!match) throw new Error(`bar label ${JSON.stringify(label)}`);
        return match[1]!;
      });
    },
  };

  beforeAll(async () => {
    requireBuiltDashboard();
    const dir = temp.make('playtally-dashboard-');
    const logsDir = join(dir, 'logs');
    mkdirSync(logsDir);
    outDir = join(dir, 'out');
    dbPath = join(dir, 'results.db');
    const store = ResultsStore.open(dbPath);
    try {
      // Two runs (4 days, then 2 more) and a failed one: six chart dates and a run history.
      const logs = new ListenGenerator({
        rows: 12_000,
        users: 400,
        songs: 3_000,
        corruptRate: 0.01,
        seed: 7,
      });
      const run = (logs: string) => runOnce({ logsDir: logs, outDir, command: 'run', store, threads: 1 });
      for (let i = 0; i < 4; i++) logs.writeDay(logsDir, FIRST_DAY + i);
      await run(logsDir);
      for (let i = 4; i < 6; i++) logs.writeDay(logsDir, FIRST_DAY + i);
      await run(logsDir);
      await expect(run(join(dir, 'no-such-folder'))).rejects.toThrow();

      const landing = join(dir, 'landing');
      generateKpiDataset({
        dir: landing,
        start: FIRST_DAY,
        days: 6,
        streamsPerDay: 3_000,
        filesPerDay: 2,
        songs: 400,
        users: 1_000,
        seed: 3,
      });
      const kpiOut = join(dir, 'kpi-out');
      await runKpis({ landingDir: landing, outDir: kpiOut, archive: false, threads: 1 });
      store.syncKpis(kpiOut);
    } finally {
      store.close();
    }
    server = await startServer({ dbPath, host: '127.0.0.1', port: 0, dashboardDir: DASHBOARD_DIR });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.close();
    temp.cleanup();
  });

  return fixture;
}
