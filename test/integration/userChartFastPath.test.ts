import { copyFileSync, truncateSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/serve/app.js';
import { type RunningServer, startServer } from '../../src/serve/server.js';
import { ResultsReader } from '../../src/store/resultsReader.js';
import { ResultsStore } from '../../src/store/resultsStore.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * The user-chart fast path (src/serve/userChartFastPath.ts) answers found charts without the
 * app; the answers must be the app's, byte for byte, and everything else (misses, bad
 * parameters, tokens) must still get the app's documented answers. Compared here over a real
 * server on loopback against `app.request` on the same store.
 */
const temp = new TempDirs();
const TOKEN = 's3cret-token';
let dbPath: string;
let open: RunningServer;
let guarded: RunningServer;
let reader: ResultsReader;
let appOf: ReturnType<typeof createApp>['app'];

const DATES = ['20240106', '20240107'];
const USERS: Record<string, string> = {
  '20240106': '1|10:3,11:2\n7|10:9\n9007199254740991|12:1\n',
  '20240107': '1|11:4,10:3,12:1\n7|10:10,13:2\n42|99999999:1\n9007199254740991|12:2\n',
};

beforeAll(async () => {
  const dir = temp.make('playtally-fastpath-');
  for (const d of DATES) {
    const iso = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`;
    writeFileSync(join(dir, `country_top50_${d}.txt`), 'FR|10:5\n');
    writeFileSync(join(dir, `user_top50_${d}.txt`), USERS[d]!);
    writeFileSync(
      join(dir, `quality_${d}.json`),
      JSON.stringify({
        date: iso,
        window: { from: '2024-01-01', to: iso, days: 7, present: [], missing: [] },
        day: null,
        days: [],
        totals: { rows: 0, valid: 0, rejected: 0, rejectedByReason: {} },
        generatedAt: '2024-01-08T00:00:00.000Z',
      }),
    );
  }
  dbPath = join(dir, 'store.db');
  const store = ResultsStore.open(dbPath, { userChartDates: 1 });
  store.syncCharts(dir);
  store.close();
  reader = ResultsReader.open(dbPath);
  appOf = createApp({ reader }).app;
  open = await startServer({ dbPath, host: '127.0.0.1', port: 0 });
  guarded = await startServer({ dbPath, host: '127.0.0.1', port: 0, token: TOKEN });
});

afterAll(async () => {
  await open?.close();
  await guarded?.close();
  reader?.close();
  temp.cleanup();
});

async function both(path: string, headers: Record<string, string> = {}) {
  const viaServer = await fetch(`${open.url}${path}`, { headers });
  const viaApp = await appOf.request(path, { headers });
  return {
    server: {
      status: viaServer.status,
      body: await viaServer.text(),
      type: viaServer.headers.get('content-type'),
    },
    app: { status: viaApp.status, body: await viaApp.text(), type: viaApp.headers.get('content-type') },
  };
}

describe('user charts through the fast path', () => {
  it('answers found charts with the bytes of the app route, for every date form', async () => {
    const paths = [
      '/api/charts/user/1',
      '/api/charts/user/7',
      '/api/charts/user/42',
      '/api/charts/user/9007199254740991',
      '/api/charts/user/1?date=2024-01-07',
      '/api/charts/user/1?date=20240107',
    ];
    for (const path of paths) {
      const { server, app } = await both(path);
      expect(server.status, path).toBe(200);
      expect(server.body, path).toBe(app.body);
      expect(server.type, path).toBe('application/json');
      expect(JSON.parse(server.body).date).toBe('2024-01-07');
    }
    const one = JSON.parse((await both('/api/charts/user/1')).server.body);
    expect(one.songs).toEqual([
      { rank: 1, song: 11, plays: 4 },
      { rank: 2, song: 10, plays: 3 },
      { rank: 3, song: 12, plays: 1 },
    ]);
    expect(one.window).toEqual({ from: '2024-01-01', to: '2024-01-07' });
  });

  it('leaves misses, bad parameters and other shapes to the app, which answers them as documented', async () => {
    const cases: [string, number][] = [
      ['/api/charts/user/2', 404], // no such user
      ['/api/charts/user/1?date=2024-01-06', 404], // user charts of that date not kept (1 kept date)
      ['/api/charts/user/1?date=2024-01-05', 404], // no charts that day
      ['/api/charts/user/1?date=2024-02-30', 400],
      ['/api/charts/user/9007199254740992', 400],
      ['/api/charts/user/abc', 400],
      // A parameter the route does not declare: the app's 400 naming it (issue 18).
      ['/api/charts/user/1?date=2024-01-07&x=1', 400],
      ['/api/charts/user/1?limit=3', 400],
      ['/api/charts/user/1?Date=2024-01-07', 400],
      ['/api/charts/user/1?date=2024-01-07&', 200], // the same query, another shape: the app answers
    ];
    for (const [path, status] of cases) {
      const { server, app } = await both(path);
      expect(server.status, path).toBe(status);
      expect(server.body, path).toBe(app.body);
    }
  });

  it('refuses an unknown parameter as the app does, naming it', async () => {
    const { server } = await both('/api/charts/user/7?limit=3');
    expect(JSON.parse(server.body)).toEqual({
      error: 'bad_parameter',
      message: 'unknown parameter limit: this route takes date',
      parameter: 'limit',
    });
  });

  it('another method is the 405 of the app; HEAD answers as GET, without the body', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const viaServer = await fetch(`${open.url}/api/charts/user/7`, { method });
      const viaApp = await appOf.request('/api/charts/user/7', { method });
      expect(viaServer.status, method).toBe(405);
      expect(viaServer.headers.get('allow'), method).toBe('GET, HEAD');
      expect(await viaServer.text(), method).toBe(await viaApp.text());
    }
    const head = await fetch(`${open.url}/api/charts/user/7?date=2024-01-07`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(head.headers.get('cache-control')).toBe('no-store');
    expect(await head.text()).toBe('');
  });

  it('with a token: the right bearer gets the chart, a missing or wrong one a 401, another scheme a 400', async () => {
    const get = (headers: Record<string, string>) => fetch(`${guarded.url}/api/charts/user/7`, { headers });
    const ok = await get({ authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { songs: unknown[] }).songs[0]).toEqual({ rank: 1, song: 10, plays: 10 });
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [{ authorization: `Bearer ${TOKEN}x` }, 401],
      // Not the Bearer scheme at all: the app's bearer-auth answers 400 (a malformed header).
      [{ authorization: `Basic ${TOKEN}` }, 400],
    ];
    for (const [headers, status] of cases) {
      const denied = await get(headers);
      expect(denied.status).toBe(status);
      expect(((await denied.json()) as { error: string }).error).toBe('unauthorized');
    }
  });

  it('counts its answers in /metrics under the route pattern', async () => {
    const count = async (): Promise<number> => {
      const text = await (await fetch(`${open.url}/metrics`)).text();
      const m =
        /playtally_http_requests_total\{method="GET",route="\/api\/charts\/user\/:id",status="200"\} (\d+)/.exec(
          text,
        );
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    for (let i = 0; i < 3; i++) expect((await fetch(`${open.url}/api/charts/user/7`)).status).toBe(200);
    expect(await count()).toBe(before + 3);
  });
});

describe('a store failing under the server', () => {
  it('is a 500 JSON answer on the user-chart route, and the server goes on answering', async () => {
    const dir = temp.make('playtally-fastpath-broken-');
    const copy = join(dir, 'store.db');
    copyFileSync(dbPath, copy);
    const server = await startServer({ dbPath: copy, host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`${server.url}/api/charts/user/7`)).status).toBe(200);
      truncateSync(copy, 0);
      for (let i = 0; i < 3; i++) {
        const answer = await fetch(`${server.url}/api/charts/user/7`);
        expect(answer.status).toBe(500);
        expect(await answer.json()).toEqual({ error: 'internal', message: 'internal error' });
      }
    } finally {
      await server.close();
    }
  });
});

describe('HTTP hardening (issue 17, point 9 and part of 10)', () => {
  const HEADERS = [
    'content-security-policy',
    'x-content-type-options',
    'referrer-policy',
    'x-frame-options',
  ] as const;

  it('the fast path and the app send the same security and cache headers; every API answer is no-store', async () => {
    for (const path of ['/api/charts/user/7', '/api/charts/user/2', '/api/dates', '/api/nope']) {
      const viaServer = await fetch(`${open.url}${path}`);
      const viaApp = await appOf.request(path);
      for (const name of [...HEADERS, 'cache-control']) {
        expect(viaServer.headers.get(name), `${path} ${name}`).toBe(viaApp.headers.get(name));
      }
      expect(viaServer.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(viaServer.headers.get('content-security-policy'), path).toMatch(/frame-ancestors 'none'/);
      expect(viaServer.headers.get('cache-control'), path).toBe('no-store');
    }
    // Not an API route: security headers, and no API cache policy.
    const health = await appOf.request('/healthz');
    expect(health.headers.get('x-frame-options')).toBe('DENY');
    expect(health.headers.get('cache-control')).toBeNull();
  });

  it('validates a country code as ASCII before upper-casing it (ß is not SS)', async () => {
    for (const cc of ['%C3%9F', '%C3%9f', 'fr%C4%B0', 'f', 'fra', '1A']) {
      const answer = await appOf.request(`/api/charts/country/${cc}`);
      expect(answer.status, cc).toBe(400);
      expect(((await answer.json()) as { parameter?: string }).parameter, cc).toBe('cc');
    }
    expect((await appOf.request('/api/charts/country/fr')).status).toBe(200);
  });

  it('bounds dates and ranges: 1970-01-01..9999-12-31, at most 366 days a series', async () => {
    const bad: [string, string][] = [
      ['/api/kpis/top-genres?from=0001-01-01&to=9999-12-31', 'from'],
      ['/api/kpis/top-genres?to=0000-01-01', 'to'],
      ['/api/quality/days?from=2023-01-01&to=2024-01-02', 'from'],
      ['/api/charts/country?date=1969-12-31', 'date'],
    ];
    for (const [path, parameter] of bad) {
      const answer = await appOf.request(path);
      expect(answer.status, path).toBe(400);
      expect(((await answer.json()) as { parameter?: string }).parameter, path).toBe(parameter);
    }
    // A leap year's 366 days are one series; the default range of a store near the epoch starts on it.
    expect((await appOf.request('/api/quality/days?from=2024-01-01&to=2024-12-31')).status).toBe(200);
    expect((await appOf.request('/api/quality/days?to=1970-01-05')).status).toBe(200);
  });

  it('a request over 16 KB is a 431 with a JSON body, and the server goes on', async () => {
    const answer = await fetch(`${open.url}/api/charts/user/7?pad=${'x'.repeat(20_000)}`);
    expect(answer.status).toBe(431);
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(await answer.json()).toMatchObject({ error: 'request_too_large' });
    expect((await fetch(`${open.url}/api/charts/user/7`)).status).toBe(200);
  });
});

describe('Host names (issue 17, point 10: DNS rebinding)', () => {
  /** A GET with the Host header set (fetch will not set it). */
  const getWithHost = (url: string, host: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const request = httpGet(url, { headers: { host } }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (s: string) => (body += s));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
    });

  it('a name the loopback server is not gets 421 on every route, the fast path too; its own names are answered', async () => {
    for (const path of ['/api/charts/user/7', '/api/dates', '/']) {
      const refused = await getWithHost(`${open.url}${path}`, 'rebind.evil.example');
      expect(refused.status, path).toBe(421);
      expect(JSON.parse(refused.body), path).toMatchObject({ error: 'misdirected' });
    }
    const port = new URL(open.url).port;
    expect((await getWithHost(`${open.url}/api/charts/user/7`, `localhost:${port}`)).status).toBe(200);
    const named = await startServer({ dbPath, host: '127.0.0.1', port: 0, allowedHosts: ['charts.example'] });
    try {
      expect((await getWithHost(`${named.url}/api/charts/user/7`, 'charts.example')).status).toBe(200);
      expect((await getWithHost(`${named.url}/api/charts/user/7`, 'other.example')).status).toBe(421);
    } finally {
      await named.close();
    }
  });
});
