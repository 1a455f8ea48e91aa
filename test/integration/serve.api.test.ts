import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRunRecord, type RunRecord } from '../../src/formats/runHistory.js';
import { isoDay } from '../../src/ops/dates.js';
import { createApp } from '../../src/serve/app.js';
import { OPENAPI_DOCUMENT } from '../../src/serve/openapi.js';
import { API_ROUTES } from '../../src/serve/routes.js';
import { startServer } from '../../src/serve/server.js';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import { ResultsReader } from '../../src/store/resultsReader.js';
import { ResultsStore } from '../../src/store/resultsStore.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * Contract of the HTTP API (src/serve/app.ts), in-process through `app.request`: over a store
 * loaded from chart, quality and KPI files written by hand, every route answers what the files
 * say (movement worked out by hand), every 400 names its parameter, every miss is a JSON 404,
 * the token guards /api and /metrics, /metrics counts requests by route pattern, and the OpenAPI
 * document and the routes agree.
 */

const temp = new TempDirs();
afterAll(() => temp.cleanup());

// Three consecutive chart dates; the first has no chart the day before.
const D1 = '2024-01-05';
const D2 = '2024-01-06';
const D3 = '2024-01-07';
const compact = (iso: string) => iso.replaceAll('-', '');

const COUNTRY: Record<string, string> = {
  [D1]: 'FR|100:50,200:40,300:30,400:20\nUS|600:9,601:8\n',
  [D2]: 'FR|200:60,100:55,500:25,300:10,700:5\nUS|601:9\n',
  [D3]: 'FR|500:70,200:60,400:50,600:40,700:35,100:30\nGB|900:1\nUS|601:12,602:3\n',
};
const USER: Record<string, string> = {
  [D1]: '7|100:3\n42|500:1\n',
  [D2]: '7|100:4,200:1\n42|500:2\n',
  [D3]: '7|200:5,100:4\n42|500:3,600:1\n9007199254740991|100:1\n',
};

/** A listen-log day's figures: log day 2024-01-0N has 1000+N rows, N rejected. */
function logDay(date: string) {
  const n = Number(date.slice(-2));
  return {
    date,
    file: `listen-${compact(date)}.log`,
    rows: 1000 + n,
    valid: 1000,
    rejected: n,
    rejectedByReason: { bad_id: n - 1, empty: 1 },
    examples: [],
  };
}
const LOG_DAYS = [
  '2024-01-01',
  '2024-01-02',
  '2024-01-03',
  '2024-01-04',
  '2024-01-05',
  '2024-01-06',
  '2024-01-07',
];

function qualityReport(date: string) {
  const window = Array.from({ length: 7 }, (_, i) => isoDay(day(date) - 6 + i));
  const present = window.filter((d) => LOG_DAYS.includes(d));
  const days = present.map(logDay);
  return {
    date,
    window: {
      from: window[0],
      to: date,
      days: 7,
      present,
      missing: window.filter((d) => !present.includes(d)),
    },
    day: logDay(date),
    days,
    totals: {
      rows: days.reduce((n, d) => n + d.rows, 0),
      valid: days.reduce((n, d) => n + d.valid, 0),
      rejected: days.reduce((n, d) => n + d.rejected, 0),
      rejectedByReason: {},
    },
    generatedAt: `${date}T06:00:00.000Z`,
  };
}

// Genre KPIs: D2 by day, D3 by hour. Genre names that need URL encoding; a track id with a colon.
const GENRE_KPIS: Record<string, string> = {
  [D2]:
    'date,genre,listen_count,unique_listeners,total_listening_ms,avg_listening_ms_per_listener,top3_tracks\n' +
    '2024-01-06,café,3,2,600001,300000.50,t1:2;t2:1\n' +
    '2024-01-06,hip hop,10,4,2000000,500000.00,t3:5;t:4:3;t5:2\n' +
    '2024-01-06,r/b,2,1,400,400.00,t7:2\n' +
    '2024-01-06,"rock, roll",1,1,100,100.00,t6:1\n',
  [D3]:
    'date,hour,genre,listen_count,unique_listeners,total_listening_ms,avg_listening_ms_per_listener,top3_tracks\n' +
    '2024-01-07,00,hip hop,4,2,800,400.00,t3:4\n' +
    '2024-01-07,13,hip hop,6,3,1201,400.33,t3:3;t5:3\n' +
    '2024-01-07,13,café,1,1,200,200.00,t1:1\n',
};
const TOP_GENRES: Record<string, string> = {
  [D2]: 'date,rank,genre,listen_count\n2024-01-06,1,hip hop,10\n2024-01-06,2,café,3\n2024-01-06,3,r/b,2\n2024-01-06,4,"rock, roll",1\n',
  [D3]: 'date,hour,rank,genre,listen_count\n2024-01-07,00,1,hip hop,4\n2024-01-07,13,1,hip hop,6\n2024-01-07,13,2,café,1\n',
};
const kpiQuality = (date: string) => ({ date, rows: 42, duplicates: 1, unknownTracks: 2 });

function run(id: string, finishedAt: string, rows: number, ok: boolean): RunRecord {
  return {
    ...newRunRecord({ id, command: 'run', startedAt: finishedAt, logsDir: '/landing', outDir: '/charts' }),
    finishedAt,
    ok,
    totals: { rows, valid: rows, rejected: 0 },
  };
}
const RUN_OLD = run('r-old', '2024-01-06T03:00:00.000Z', 6000, false);
const RUN_NEW = run('r-new', '2024-01-07T03:00:00.000Z', 7000, true);

let dbPath = '';
let reader: ResultsReader;
let app: Hono;

beforeAll(() => {
  const charts = temp.make('playtally-api-charts-');
  for (const date of [D1, D2, D3]) {
    writeFileSync(join(charts, `country_top50_${compact(date)}.txt`), COUNTRY[date]!);
    writeFileSync(join(charts, `user_top50_${compact(date)}.txt`), USER[date]!);
    writeFileSync(join(charts, `quality_${compact(date)}.json`), JSON.stringify(qualityReport(date)));
  }
  const kpis = temp.make('playtally-api-kpis-');
  for (const date of [D2, D3]) {
    writeFileSync(join(kpis, `genre_kpis_${compact(date)}.csv`), GENRE_KPIS[date]!);
    writeFileSync(join(kpis, `top_genres_${compact(date)}.csv`), TOP_GENRES[date]!);
    writeFileSync(join(kpis, `kpi_quality_${compact(date)}.json`), JSON.stringify(kpiQuality(date)));
  }
  dbPath = join(temp.make('playtally-api-db-'), 'results.db');
  // User charts kept for the two newest dates: D1's are not kept.
  const store = ResultsStore.open(dbPath, { userChartDates: 2 });
  store.syncCharts(charts);
  store.syncKpis(kpis);
  store.addRun(RUN_OLD);
  store.addRun(RUN_NEW);
  store.close();
  reader = ResultsReader.open(dbPath);
  app = createApp({ reader }).app;
});
afterAll(() => reader?.close());

async function get(path: string, target: Hono = app, headers: Record<string, string> = {}) {
  const res = await target.request(path, { headers });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, text, body: type.includes('json') ? JSON.parse(text) : undefined, res };
}

// biome-ignore lint/suspicious/noExplicitAny: a JSON answer, checked with toEqual
async function ok(path: string, target: Hono = app): Promise<any> {
  const r = await get(path, target);
  expect(r.status, `${path}: ${r.text}`).toBe(200);
  expect(r.type).toMatch(/application\/json/);
  return r.body;
}

/** A 400 naming `parameter` in both `parameter` and `message`. */
async function badParameter(path: string, parameter: string, target: Hono = app): Promise<void> {
  const r = await get(path, target);
  expect(r.status, `${path}: ${r.text}`).toBe(400);
  expect(r.body).toMatchObject({ error: 'bad_parameter', parameter });
  expect(r.body.message).toContain(parameter);
}

/** A JSON 404 whose message matches `says`. */
async function notFound(path: string, says: RegExp, target: Hono = app): Promise<void> {
  const r = await get(path, target);
  expect(r.status, `${path}: ${r.text}`).toBe(404);
  expect(r.body.error).toBe('not_found');
  expect(r.body.message).toMatch(says);
  expect(r.body.parameter).toBeUndefined();
}

const song = (rank: number, s: number, plays: number) => ({ rank, song: s, plays });

/** A value of each path parameter that the store answers, and of each query parameter. */
const EXAMPLES: Record<string, string> = { cc: 'fr', id: '42', genre: 'hip%20hop', name: 'app.js' };
const QUERY_EXAMPLES: Record<string, string> = { date: D3, from: D2, to: D3, limit: '1' };
/** A route pattern (`/api/charts/country/:cc`) as a path this store answers. */
const example = (pattern: string) => pattern.replace(/:(\w+)/g, (_, name: string) => EXAMPLES[name]!);

/** An app over the store with a dashboard folder: index.html and assets/app.js. */
function appWithDashboard(token?: string): Hono {
  const dir = temp.make('playtally-api-dash-');
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>playtally</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  return createApp({ reader, token, dashboardDir: dir }).app;
}

describe('health and dates', () => {
  it('/healthz answers ok with the schema version', async () => {
    expect(await ok('/healthz')).toEqual({ ok: true, schemaVersion: SCHEMA_VERSION });
  });

  it('/api/dates lists each kind of date, newest first', async () => {
    expect(await ok('/api/dates')).toEqual({
      charts: [D3, D2, D1],
      userCharts: [D3, D2],
      kpis: [D3, D2],
      logDays: [...LOG_DAYS].reverse(),
    });
  });
});

describe('country charts', () => {
  it('/api/charts/country lists the countries of the newest date, or of ?date= in either form', async () => {
    expect(await ok('/api/charts/country')).toEqual({ date: D3, countries: ['FR', 'GB', 'US'] });
    expect(await ok('/api/charts/country?date=2024-01-05')).toEqual({ date: D1, countries: ['FR', 'US'] });
    expect(await ok('/api/charts/country?date=20240105')).toEqual({ date: D1, countries: ['FR', 'US'] });
    await notFound('/api/charts/country?date=2024-01-04', /no charts for 2024-01-04/);
    await badParameter('/api/charts/country?date=2024-02-30', 'date');
    await badParameter('/api/charts/country?date=yesterday', 'date');
  });

  it('/api/charts/country/:cc answers the file row, any case of code, any form of date', async () => {
    const fr3 = {
      date: D3,
      country: 'FR',
      window: { from: '2024-01-01', to: D3 },
      songs: [
        song(1, 500, 70),
        song(2, 200, 60),
        song(3, 400, 50),
        song(4, 600, 40),
        song(5, 700, 35),
        song(6, 100, 30),
      ],
    };
    expect(await ok('/api/charts/country/FR')).toEqual(fr3);
    expect(await ok('/api/charts/country/fr')).toEqual(fr3);
    expect(await ok('/api/charts/country/Fr?date=2024-01-07')).toEqual(fr3);
    const us1 = {
      date: D1,
      country: 'US',
      // D1's window starts before the first log day: the quality report's window is kept as is.
      window: { from: '2023-12-30', to: D1 },
      songs: [song(1, 600, 9), song(2, 601, 8)],
    };
    expect(await ok('/api/charts/country/us?date=2024-01-05')).toEqual(us1);
    expect(await ok('/api/charts/country/us?date=20240105')).toEqual(us1);
    expect((await ok('/api/charts/country/gb')).songs).toEqual([song(1, 900, 1)]);
  });

  it('/api/charts/country/:cc: 404 for a country without a chart or not a country, 400 for a malformed code', async () => {
    await notFound('/api/charts/country/de', /no chart for DE on 2024-01-07/);
    await notFound('/api/charts/country/gb?date=2024-01-06', /no chart for GB on 2024-01-06/);
    await notFound('/api/charts/country/zz', /no country ZZ/);
    await notFound('/api/charts/country/fr?date=2023-12-01', /no charts for 2023-12-01/);
    for (const cc of ['f1', 'fra', 'f', '%C3%A9t']) await badParameter(`/api/charts/country/${cc}`, 'cc');
    await badParameter('/api/charts/country/fr?date=2024-1-5', 'date');
  });
});

describe('movement', () => {
  const moved = (
    rank: number,
    s: number,
    plays: number,
    previousRank: number | null,
    movement: Record<string, unknown> | null,
  ) => ({ rank, song: s, plays, previousRank, movement });

  it('against the day before: up N, down N, same, new, re-entry (this country only), dropped', async () => {
    expect(await ok('/api/charts/country/fr/movement')).toEqual({
      date: D3,
      country: 'FR',
      window: { from: '2024-01-01', to: D3 },
      previousDate: D2,
      songs: [
        moved(1, 500, 70, 3, { kind: 'up', by: 2 }),
        moved(2, 200, 60, 1, { kind: 'down', by: 1 }),
        // In FR's chart on D1, not on D2.
        moved(3, 400, 50, null, { kind: 're-entry' }),
        // In US's chart on D1, never in FR's: new in FR.
        moved(4, 600, 40, null, { kind: 'new' }),
        moved(5, 700, 35, 5, { kind: 'same' }),
        moved(6, 100, 30, 2, { kind: 'down', by: 4 }),
      ],
      dropped: [{ song: 300, previousRank: 4, previousPlays: 10 }],
    });
    expect(await ok('/api/charts/country/FR/movement?date=20240106')).toEqual({
      date: D2,
      country: 'FR',
      window: { from: '2023-12-31', to: D2 },
      previousDate: D1,
      songs: [
        moved(1, 200, 60, 2, { kind: 'up', by: 1 }),
        moved(2, 100, 55, 1, { kind: 'down', by: 1 }),
        moved(3, 500, 25, null, { kind: 'new' }),
        moved(4, 300, 10, 3, { kind: 'down', by: 1 }),
        moved(5, 700, 5, null, { kind: 'new' }),
      ],
      dropped: [{ song: 400, previousRank: 4, previousPlays: 20 }],
    });
    expect(await ok('/api/charts/country/us/movement?date=2024-01-06')).toMatchObject({
      previousDate: D1,
      songs: [moved(1, 601, 9, 2, { kind: 'up', by: 1 })],
      dropped: [{ song: 600, previousRank: 1, previousPlays: 9 }],
    });
    expect(await ok('/api/charts/country/us/movement')).toMatchObject({
      songs: [moved(1, 601, 12, 1, { kind: 'same' }), moved(2, 602, 3, null, { kind: 'new' })],
      dropped: [],
    });
  });

  it('a country absent the day before: every song new, nothing dropped', async () => {
    expect(await ok('/api/charts/country/gb/movement?date=2024-01-07')).toEqual({
      date: D3,
      country: 'GB',
      window: { from: '2024-01-01', to: D3 },
      previousDate: D2,
      songs: [moved(1, 900, 1, null, { kind: 'new' })],
      dropped: [],
    });
  });

  it('without a chart the day before: previousDate null, movement unknown', async () => {
    expect(await ok('/api/charts/country/fr/movement?date=2024-01-05')).toEqual({
      date: D1,
      country: 'FR',
      window: { from: '2023-12-30', to: D1 },
      previousDate: null,
      songs: [
        moved(1, 100, 50, null, null),
        moved(2, 200, 40, null, null),
        moved(3, 300, 30, null, null),
        moved(4, 400, 20, null, null),
      ],
      dropped: [],
    });
  });

  it('404 for a country without a chart that date; 400 for bad parameters', async () => {
    await notFound('/api/charts/country/gb/movement?date=2024-01-06', /no chart for GB/);
    await notFound('/api/charts/country/fr/movement?date=2024-01-08', /no charts for 2024-01-08/);
    await badParameter('/api/charts/country/g8/movement', 'cc');
    await badParameter('/api/charts/country/fr/movement?date=07-01-2024', 'date');
  });
});

describe('user charts', () => {
  it('answers a user of a kept date, the newest by default', async () => {
    expect(await ok('/api/charts/user/42')).toEqual({
      date: D3,
      user: 42,
      window: { from: '2024-01-01', to: D3 },
      songs: [song(1, 500, 3), song(2, 600, 1)],
    });
    expect(await ok('/api/charts/user/7?date=20240106')).toEqual({
      date: D2,
      user: 7,
      window: { from: '2023-12-31', to: D2 },
      songs: [song(1, 100, 4), song(2, 200, 1)],
    });
    // 2^53-1 goes through exactly.
    const big = await get('/api/charts/user/9007199254740991');
    expect(big.status).toBe(200);
    expect(big.text).toContain('"user":9007199254740991');
    expect(big.body.songs).toEqual([song(1, 100, 1)]);
  });

  it('404 for an unknown user, a date whose user charts are not kept, a date not stored', async () => {
    await notFound('/api/charts/user/8', /no chart for user 8 on 2024-01-07/);
    await notFound('/api/charts/user/9007199254740991?date=2024-01-06', /no chart for user 9007199254740991/);
    await notFound('/api/charts/user/42?date=2024-01-05', /user charts of 2024-01-05 are not kept/);
    await notFound('/api/charts/user/42?date=2024-01-01', /no charts for 2024-01-01/);
  });

  it('400 for an id that is not a user id, naming id', async () => {
    for (const id of ['abc', '-1', '9007199254740992', '1.5', '1e3', '12345678901234567'])
      await badParameter(`/api/charts/user/${id}`, 'id');
    await badParameter('/api/charts/user/42?date=2024-13-01', 'date');
  });
});

describe('genre KPIs', () => {
  const kpi = (
    date: string,
    hour: number | null,
    genre: string,
    listenCount: number,
    uniqueListeners: number,
    totalListeningMs: number,
    avg: number,
    top3: [string, number][],
  ) => ({
    date,
    hour,
    genre,
    listenCount,
    uniqueListeners,
    totalListeningMs,
    avgListeningMsPerListener: avg,
    top3: top3.map(([track, plays]) => ({ track, plays })),
  });
  const HIP_HOP = [
    kpi(D2, null, 'hip hop', 10, 4, 2000000, 500000, [
      ['t3', 5],
      ['t:4', 3],
      ['t5', 2],
    ]),
    kpi(D3, 0, 'hip hop', 4, 2, 800, 400, [['t3', 4]]),
    kpi(D3, 13, 'hip hop', 6, 3, 1201, 400.33, [
      ['t3', 3],
      ['t5', 3],
    ]),
  ];

  it('/api/kpis/genres: a day as the CSV says it (newest by default; day and hour granularity)', async () => {
    expect(await ok('/api/kpis/genres')).toEqual({
      date: D3,
      granularity: 'hour',
      genres: [HIP_HOP[1], kpi(D3, 13, 'café', 1, 1, 200, 200, [['t1', 1]]), HIP_HOP[2]],
      topGenres: [
        { date: D3, hour: 0, rank: 1, genre: 'hip hop', listenCount: 4 },
        { date: D3, hour: 13, rank: 1, genre: 'hip hop', listenCount: 6 },
        { date: D3, hour: 13, rank: 2, genre: 'café', listenCount: 1 },
      ],
    });
    const d2 = await ok('/api/kpis/genres?date=20240106');
    expect(d2).toEqual(await ok('/api/kpis/genres?date=2024-01-06'));
    expect(d2.granularity).toBe('day');
    expect(d2.genres).toEqual([
      kpi(D2, null, 'café', 3, 2, 600001, 300000.5, [
        ['t1', 2],
        ['t2', 1],
      ]),
      HIP_HOP[0],
      kpi(D2, null, 'r/b', 2, 1, 400, 400, [['t7', 2]]),
      kpi(D2, null, 'rock, roll', 1, 1, 100, 100, [['t6', 1]]),
    ]);
    expect(
      d2.topGenres.map((t: { rank: number; genre: string; hour: null }) => [t.rank, t.genre, t.hour]),
    ).toEqual([
      [1, 'hip hop', null],
      [2, 'café', null],
      [3, 'r/b', null],
      [4, 'rock, roll', null],
    ]);
    await notFound('/api/kpis/genres?date=2024-01-05', /no genre KPIs for 2024-01-05/);
    await badParameter('/api/kpis/genres?date=2024-01-32', 'date');
  });

  it('avgListeningMsPerListener is a JSON number, the value of the 2-decimal text of the file', async () => {
    for (const date of [D2, D3]) {
      const r = await get(`/api/kpis/genres?date=${date}`);
      // In the bytes sent: a number, never a quoted string.
      expect(r.text).not.toMatch(/"avgListeningMsPerListener":"/);
      // Each one prints back as the file's cell: "300000.50" is 300000.5, "400.33" is 400.33.
      const cells = GENRE_KPIS[date]!.trim()
        .split('\n')
        .slice(1)
        .map((line) => /,(\d+\.\d\d),[^,]*$/.exec(line)![1]!);
      const numbers = r.body.genres.map(
        (g: { avgListeningMsPerListener: unknown }) => g.avgListeningMsPerListener,
      );
      expect(numbers.every((n: unknown) => typeof n === 'number')).toBe(true);
      expect(numbers.map((n: number) => n.toFixed(2)).sort()).toEqual([...cells].sort());
    }
    expect((await get('/api/kpis/genres?date=2024-01-06')).text).toContain(
      '"avgListeningMsPerListener":300000.5,',
    );
    expect((await get('/api/kpis/genres/hip%20hop')).text).toContain('"avgListeningMsPerListener":400.33,');
    // The OpenAPI document says so.
    expect(OPENAPI_DOCUMENT.components.schemas.GenreKpi.properties.avgListeningMsPerListener.type).toBe(
      'number',
    );
  });

  it('/api/kpis/genres/:genre: a series from..to, URL-encoded names, 404 for an unknown genre', async () => {
    expect(await ok('/api/kpis/genres/hip%20hop?from=2024-01-06&to=2024-01-07')).toEqual({
      genre: 'hip hop',
      from: D2,
      to: D3,
      days: HIP_HOP,
    });
    // Defaults: to = the newest KPI day, from = 29 days before.
    expect(await ok('/api/kpis/genres/hip%20hop')).toEqual({
      genre: 'hip hop',
      from: '2023-12-09',
      to: D3,
      days: HIP_HOP,
    });
    expect((await ok('/api/kpis/genres/hip%20hop?from=20240107')).days).toEqual(HIP_HOP.slice(1));
    expect((await ok('/api/kpis/genres/hip%20hop?to=2024-01-06')).days).toEqual(HIP_HOP.slice(0, 1));
    expect((await ok('/api/kpis/genres/hip%20hop?from=2023-01-01&to=2023-01-31')).days).toEqual([]);
    expect((await ok('/api/kpis/genres/caf%C3%A9')).days.map((d: { date: string }) => d.date)).toEqual([
      D2,
      D3,
    ]);
    expect((await ok('/api/kpis/genres/r%2Fb')).days).toEqual([
      kpi(D2, null, 'r/b', 2, 1, 400, 400, [['t7', 2]]),
    ]);
    expect((await ok(`/api/kpis/genres/${encodeURIComponent('rock, roll')}`)).genre).toBe('rock, roll');
    await notFound('/api/kpis/genres/jazz', /no genre "jazz"/);
    await notFound('/api/kpis/genres/Hip%20Hop', /no genre "Hip Hop"/);
  });

  it('/api/kpis/genres/:genre: from after to is a 400 naming from; bad dates name their parameter', async () => {
    await badParameter('/api/kpis/genres/hip%20hop?from=2024-01-07&to=2024-01-06', 'from');
    await badParameter('/api/kpis/genres/hip%20hop?from=2024-01-40', 'from');
    await badParameter('/api/kpis/genres/hip%20hop?to=soon', 'to');
  });

  it('/api/kpis/top-genres: each day of from..to by date, hour, rank', async () => {
    const all = await ok('/api/kpis/top-genres?from=2024-01-06&to=2024-01-07');
    expect(all.from).toBe(D2);
    expect(all.to).toBe(D3);
    expect(
      all.days.map(
        (t: { date: string; hour: number | null; rank: number; genre: string; listenCount: number }) => [
          t.date,
          t.hour,
          t.rank,
          t.genre,
          t.listenCount,
        ],
      ),
    ).toEqual([
      [D2, null, 1, 'hip hop', 10],
      [D2, null, 2, 'café', 3],
      [D2, null, 3, 'r/b', 2],
      [D2, null, 4, 'rock, roll', 1],
      [D3, 0, 1, 'hip hop', 4],
      [D3, 13, 1, 'hip hop', 6],
      [D3, 13, 2, 'café', 1],
    ]);
    expect(await ok('/api/kpis/top-genres')).toEqual({ ...all, from: '2023-12-09' });
    expect((await ok('/api/kpis/top-genres?from=2024-01-07&to=2024-01-07')).days).toHaveLength(3);
    await badParameter('/api/kpis/top-genres?from=2024-01-08&to=2024-01-07', 'from');
    await badParameter('/api/kpis/top-genres?to=2024-02-30', 'to');
  });
});

describe('quality', () => {
  it('/api/quality: the log day, the chart report and the KPI report of a date', async () => {
    const { generatedAt: _, ...d3 } = qualityReport(D3);
    const newest = await ok('/api/quality');
    expect(newest).toMatchObject({ date: D3, charts: d3, kpis: kpiQuality(D3) });
    const { examples: __, ...figures } = logDay(D3);
    expect(newest.logDay).toEqual(figures);
    expect(newest.charts).toEqual(qualityReport(D3));
    expect(await ok('/api/quality?date=20240106')).toEqual({
      date: D2,
      logDay: (({ examples: ___, ...f }) => f)(logDay(D2)),
      charts: qualityReport(D2),
      kpis: kpiQuality(D2),
    });
    // A log day with no chart or KPI of its own.
    expect(await ok('/api/quality?date=2024-01-02')).toEqual({
      date: '2024-01-02',
      logDay: (({ examples: ___, ...f }) => f)(logDay('2024-01-02')),
      charts: null,
      kpis: null,
    });
    await notFound('/api/quality?date=2024-02-01', /no quality reports for 2024-02-01/);
    await badParameter('/api/quality?date=2024-00-01', 'date');
  });

  it('/api/quality/days: the log days of from..to, oldest first', async () => {
    const strip = (d: string) => (({ examples: _, ...f }) => f)(logDay(d));
    expect(await ok('/api/quality/days?from=2024-01-02&to=20240104')).toEqual({
      from: '2024-01-02',
      to: '2024-01-04',
      days: ['2024-01-02', '2024-01-03', '2024-01-04'].map(strip),
    });
    // Default: the 30 days ending on the newest log day.
    expect(await ok('/api/quality/days')).toEqual({ from: '2023-12-09', to: D3, days: LOG_DAYS.map(strip) });
    await badParameter('/api/quality/days?from=2024-01-05&to=2024-01-04', 'from');
    await badParameter('/api/quality/days?from=x', 'from');
  });
});

describe('runs', () => {
  it('/api/runs: newest first, ?limit=; a bad limit is a 400 naming limit', async () => {
    expect(await ok('/api/runs')).toEqual({ runs: [RUN_NEW, RUN_OLD] });
    expect(await ok('/api/runs?limit=1')).toEqual({ runs: [RUN_NEW] });
    expect(await ok('/api/runs?limit=1000')).toEqual({ runs: [RUN_NEW, RUN_OLD] });
    for (const limit of ['0', '-1', '1001', 'ten', '1.5', '99999999'])
      await badParameter(`/api/runs?limit=${limit}`, 'limit');
  });
});

describe('errors', () => {
  it('an unknown path is a JSON 404, whatever the method', async () => {
    for (const path of [
      '/nope',
      '/api/nope',
      '/api/charts',
      '/api/charts/user/',
      '/api/charts/country/fr/extra',
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.body).toEqual({ error: 'not_found', message: `no route GET ${path}` });
      const post = await app.request(path, { method: 'POST' });
      expect(post.status, path).toBe(404);
      expect(post.headers.get('allow'), path).toBeNull();
      expect(await post.json()).toEqual({ error: 'not_found', message: `no route POST ${path}` });
    }
  });

  it('a fault of the machine under a request is a 503 to try again; a bug is a 500; neither leaks its detail', async () => {
    // The reader's dates() fails as the store's disk would, then as a bug would.
    const failing = (error: Error) =>
      createApp({
        reader: new Proxy(reader, {
          get: (target, key) =>
            key === 'dates'
              ? () => {
                  throw error;
                }
              : Reflect.get(target, key),
        }),
      }).app;
    const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const device = await failing(eio).request('/api/dates');
      expect(device.status).toBe(503);
      expect(await device.json()).toEqual({
        error: 'unavailable',
        message: 'the results store cannot be read now; try again',
      });
      const bug = await failing(new TypeError('x is undefined')).request('/api/dates');
      expect(bug.status).toBe(500);
      expect(await bug.json()).toEqual({ error: 'internal', message: 'internal error' });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    // The server's log: the fault in one line, the bug with its stack.
    expect(warnings.find((w) => w.includes('EIO'))).toMatch(
      /^playtally serve: GET \/api\/dates: cannot read .*\(EIO\)$/,
    );
    expect(warnings.find((w) => w.includes('TypeError'))).toMatch(/\n\s+at /);
  });

  it('an empty store answers 404 (not an error) where a date is needed, and empty lists elsewhere', async () => {
    const empty = join(temp.make('playtally-api-empty-'), 'empty.db');
    ResultsStore.open(empty).close();
    const emptyReader = ResultsReader.open(empty);
    try {
      const e = createApp({ reader: emptyReader }).app;
      await notFound('/api/charts/country', /no charts in the store yet/, e);
      await notFound('/api/charts/country/fr', /no charts in the store yet/, e);
      await notFound('/api/charts/country/fr/movement', /no charts in the store yet/, e);
      await notFound('/api/charts/user/42', /no charts in the store yet/, e);
      await notFound('/api/kpis/genres', /no genre KPIs in the store yet/, e);
      await notFound('/api/kpis/genres/pop', /no genre "pop"/, e);
      await notFound('/api/quality', /no quality reports in the store yet/, e);
      expect(await ok('/api/dates', e)).toEqual({ charts: [], userCharts: [], kpis: [], logDays: [] });
      expect(await ok('/api/runs', e)).toEqual({ runs: [] });
      expect((await ok('/api/quality/days?from=2024-01-01&to=2024-01-31', e)).days).toEqual([]);
      expect((await ok('/api/kpis/top-genres?from=2024-01-01&to=2024-01-31', e)).days).toEqual([]);
      const metrics = await get('/metrics', e);
      expect(metrics.status).toBe(200);
      // Before any run or chart, the gauges are absent (not 0, which would read "failed in 1970").
      for (const name of [
        'playtally_last_run_ok',
        'playtally_last_run_rows',
        'playtally_last_run_timestamp_seconds',
        'playtally_latest_chart_date_timestamp_seconds',
      ]) {
        expect(metrics.text).toContain(`# TYPE ${name} gauge`);
        expect(metrics.text).not.toMatch(new RegExp(`^${name} `, 'm'));
      }
    } finally {
      emptyReader.close();
    }
  });
});

describe('unknown query parameters (issue 18)', () => {
  it('?limit=3 on a country chart is a 400 naming it and the parameters the route takes', async () => {
    const r = await get('/api/charts/country/fr?limit=3');
    expect(r.status).toBe(400);
    expect(r.type).toMatch(/application\/json/);
    expect(r.text).toBe(
      '{"error":"bad_parameter","message":"unknown parameter limit: this route takes date","parameter":"limit"}',
    );
  });

  it('every route of the table refuses a parameter it does not declare, and answers with all it declares', async () => {
    expect(API_ROUTES.length).toBe(Object.keys(OPENAPI_DOCUMENT.paths).length);
    for (const route of API_ROUTES) {
      const path = example(route.pattern);
      const refused = await get(`${path}?bogus=1`);
      expect(refused.status, path).toBe(400);
      expect(refused.body, path).toMatchObject({ error: 'bad_parameter', parameter: 'bogus' });
      expect(refused.body.message, path).toMatch(/^unknown parameter bogus: this route takes /);
      for (const name of route.query) expect(refused.body.message, path).toContain(name);
      const all = route.query.map((name) => `${name}=${QUERY_EXAMPLES[name]!}`).join('&');
      const answered = await get(all === '' ? path : `${path}?${all}`);
      expect(answered.status, `${path}?${all}: ${answered.text.slice(0, 200)}`).toBe(200);
    }
  });

  it('names them all (the first in parameter), says when a route takes none, and quotes odd names', async () => {
    const cases: [string, string, string][] = [
      [
        '/api/kpis/top-genres?date=2024-01-07&limit=3&from=2024-01-01',
        'date',
        'unknown parameters date, limit: this route takes from, to',
      ],
      [
        '/api/dates?since=2024-01-01',
        'since',
        'unknown parameter since: this route takes no query parameters',
      ],
      ['/api/runs?limit=2&limit=3&offset=1', 'offset', 'unknown parameter offset: this route takes limit'],
      // Names are case-sensitive: Date is not date.
      ['/api/charts/country?Date=2024-01-07', 'Date', 'unknown parameter Date: this route takes date'],
      ['/api/dates?=1', '', 'unknown parameter "": this route takes no query parameters'],
      ['/api/dates?a%20b=1', 'a b', 'unknown parameter "a b": this route takes no query parameters'],
      ['/healthz?probe=1', 'probe', 'unknown parameter probe: this route takes no query parameters'],
      ['/metrics?x', 'x', 'unknown parameter x: this route takes no query parameters'],
      // Refused before the value of a known one is looked at.
      [
        '/api/charts/country?date=yesterday&day=2024-01-07',
        'day',
        'unknown parameter day: this route takes date',
      ],
      [
        '/api/charts/user/42?date=2024-01-07&limit=3',
        'limit',
        'unknown parameter limit: this route takes date',
      ],
    ];
    for (const [path, parameter, message] of cases) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      expect(r.body, path).toEqual({ error: 'bad_parameter', message, parameter });
    }
    // A known parameter without a value is the default, as before.
    expect((await ok('/api/charts/country?date')).date).toBe(D3);
  });

  it("the dashboard's page keeps its own query string; the token is checked first", async () => {
    const withDash = appWithDashboard('t');
    const page = await get('/?date=2024-03-05&country=FR&user=42&genre=jazz&other=1', withDash);
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/text\/html/);
    // Without the token, nothing is said of the parameters.
    expect((await get('/api/charts/country/fr?limit=3', withDash)).status).toBe(401);
    const r = await get('/api/charts/country/fr?limit=3', withDash, { authorization: 'Bearer t' });
    expect(r.status).toBe(400);
    expect(r.body.parameter).toBe('limit');
  });

  it('is counted in /metrics under the route pattern', async () => {
    const { app: fresh } = createApp({ reader });
    await fresh.request('/api/charts/country/fr?limit=3');
    const t = (await get('/metrics', fresh)).text;
    expect(t).toContain(
      'playtally_http_requests_total{method="GET",route="/api/charts/country/:cc",status="400"} 1\n',
    );
  });
});

describe('other methods (issue 18)', () => {
  const OTHERS = ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

  it('another method on any known path is a 405 with Allow: GET, HEAD and a JSON body', async () => {
    const withDash = appWithDashboard();
    const patterns = [...new Set(withDash.routes.filter((r) => r.method === 'GET').map((r) => r.path))];
    // Every API route and the dashboard's two.
    expect(patterns.sort()).toEqual([...API_ROUTES.map((r) => r.pattern), '/', '/assets/:name'].sort());
    for (const pattern of patterns) {
      const path = example(pattern);
      for (const method of OTHERS) {
        const r = await withDash.request(path, { method });
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.headers.get('allow'), `${method} ${path}`).toBe('GET, HEAD');
        expect(r.headers.get('content-type')).toMatch(/application\/json/);
        expect(r.headers.get('x-content-type-options')).toBe('nosniff');
        expect(await r.json()).toMatchObject({ error: 'method_not_allowed' });
      }
    }
    const r = await app.request('/api/dates', { method: 'POST' });
    expect(await r.json()).toEqual({
      error: 'method_not_allowed',
      message: 'POST is not allowed on /api/dates: it answers GET, HEAD',
    });
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('HEAD answers as GET does, without the body', async () => {
    const withDash = appWithDashboard();
    for (const pattern of [...API_ROUTES.map((r) => r.pattern), '/', '/assets/:name']) {
      const path = example(pattern);
      const viaGet = await withDash.request(path);
      const viaHead = await withDash.request(path, { method: 'HEAD' });
      expect(viaHead.status, path).toBe(viaGet.status);
      expect(viaHead.status, path).toBe(200);
      expect(viaHead.headers.get('content-type'), path).toBe(viaGet.headers.get('content-type'));
      expect(await viaHead.text(), path).toBe('');
    }
    // Refusals too: an unknown parameter, a bad value.
    expect((await app.request('/api/charts/country/fr?limit=3', { method: 'HEAD' })).status).toBe(400);
    expect((await app.request('/api/charts/user/abc', { method: 'HEAD' })).status).toBe(400);
  });

  it('the token is checked first (but /healthz needs none); counted in /metrics under the route pattern', async () => {
    const guarded = createApp({ reader, token: 't' }).app;
    expect((await guarded.request('/api/dates', { method: 'POST' })).status).toBe(401);
    const withToken = await guarded.request('/api/dates', {
      method: 'POST',
      headers: { authorization: 'Bearer t' },
    });
    expect(withToken.status).toBe(405);
    expect((await guarded.request('/healthz', { method: 'DELETE' })).status).toBe(405);
    const { app: fresh } = createApp({ reader });
    await fresh.request('/api/charts/country/fr', { method: 'POST' });
    await fresh.request('/api/nope', { method: 'POST' });
    const t = (await get('/metrics', fresh)).text;
    expect(t).toContain(
      'playtally_http_requests_total{method="POST",route="/api/charts/country/:cc",status="405"} 1\n',
    );
    expect(t).toContain('playtally_http_requests_total{method="POST",route="unmatched",status="404"} 1\n');
  });
});

describe('token', () => {
  const TOKEN = 's3cret-token';
  let guarded: Hono;
  beforeAll(() => {
    guarded = createApp({ reader, token: TOKEN }).app;
  });

  it('/api/* and /metrics need the bearer token; /healthz does not', async () => {
    for (const path of [
      '/api/dates',
      '/api/charts/country/fr',
      '/api/charts/user/42',
      '/api/openapi.json',
      '/openapi.json',
      '/metrics',
    ]) {
      const none = await get(path, guarded);
      expect(none.status, path).toBe(401);
      expect(none.body.error).toBe('unauthorized');
      expect(none.res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const wrong = await get(path, guarded, { authorization: 'Bearer not-the-token' });
      expect(wrong.status, path).toBe(401);
      expect(wrong.body.error).toBe('unauthorized');
      expect(wrong.text).not.toContain(TOKEN);
      // Another scheme is refused too (400 or 401, never the answer).
      const basic = await get(path, guarded, {
        authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
      });
      expect([400, 401], path).toContain(basic.status);
      const right = await get(path, guarded, { authorization: `Bearer ${TOKEN}` });
      expect(right.status, path).toBe(200);
    }
    expect(
      (await get('/api/charts/user/42', guarded, { authorization: `Bearer ${TOKEN}` })).body.songs,
    ).toEqual([song(1, 500, 3), song(2, 600, 1)]);
    expect((await get('/healthz', guarded)).status).toBe(200);
    // The unguarded app needs none.
    expect((await get('/api/dates')).status).toBe(200);
  });
});

describe('metrics', () => {
  /** The value of one sample line of the Prometheus text, or undefined. */
  function sample(text: string, name: string, labels = ''): number | undefined {
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  it('counts the requests made by route pattern and status; last run and chart date from the store', async () => {
    const { app: fresh } = createApp({ reader });
    for (const path of [
      '/api/charts/country/fr',
      '/api/charts/country/FR',
      '/api/charts/country/us',
      '/api/charts/country/de',
      '/api/charts/user/42',
      '/api/charts/user/abc',
      '/api/runs?limit=0',
      '/nope',
      '/api/nope',
    ])
      await fresh.request(path);
    const r = await get('/metrics', fresh);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    const t = r.text;
    const requests = 'playtally_http_requests_total';
    expect(sample(t, requests, '{method="GET",route="/api/charts/country/:cc",status="200"}')).toBe(3);
    expect(sample(t, requests, '{method="GET",route="/api/charts/country/:cc",status="404"}')).toBe(1);
    expect(sample(t, requests, '{method="GET",route="/api/charts/user/:id",status="200"}')).toBe(1);
    expect(sample(t, requests, '{method="GET",route="/api/charts/user/:id",status="400"}')).toBe(1);
    expect(sample(t, requests, '{method="GET",route="/api/runs",status="400"}')).toBe(1);
    expect(sample(t, requests, '{method="GET",route="unmatched",status="404"}')).toBe(2);
    expect(
      sample(
        t,
        'playtally_http_request_duration_seconds_count',
        '{method="GET",route="/api/charts/country/:cc"}',
      ),
    ).toBe(4);
    // One series per route pattern: no path with an id in a label.
    expect(t).not.toMatch(/route="\/api\/charts\/country\/(fr|FR|us|de)"/);
    expect(t).not.toMatch(/route="\/(nope|api\/nope)"/);
    const total = t
      .split('\n')
      .filter((l) => l.startsWith(`${requests}{`))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(total).toBe(9);

    expect(sample(t, 'playtally_last_run_rows')).toBe(7000);
    expect(sample(t, 'playtally_last_run_ok')).toBe(1);
    expect(sample(t, 'playtally_last_run_timestamp_seconds')).toBe(Date.parse(RUN_NEW.finishedAt) / 1000);
    expect(sample(t, 'playtally_latest_chart_date_timestamp_seconds')).toBe(
      Date.parse(`${D3}T00:00:00Z`) / 1000,
    );

    // The scrape itself is counted at the next scrape.
    const again = (await get('/metrics', fresh)).text;
    expect(sample(again, requests, '{method="GET",route="/metrics",status="200"}')).toBe(1);
  });

  it('a run stored after the server started shows at the next scrape', async () => {
    const { app: fresh } = createApp({ reader });
    const store = ResultsStore.open(dbPath);
    const newer = run('r-newer', '2024-01-08T05:30:00.000Z', 8123, false);
    try {
      store.addRun(newer);
      const t = (await get('/metrics', fresh)).text;
      expect(sample(t, 'playtally_last_run_rows')).toBe(8123);
      expect(sample(t, 'playtally_last_run_ok')).toBe(0);
      expect(sample(t, 'playtally_last_run_timestamp_seconds')).toBe(Date.parse(newer.finishedAt) / 1000);
    } finally {
      store.db.prepare('DELETE FROM runs WHERE id = ?').run(newer.id);
      store.close();
    }
    expect(sample((await get('/metrics', fresh)).text, 'playtally_last_run_rows')).toBe(7000);
  });
});

describe('OpenAPI document', () => {
  it('is served at /api/openapi.json and at /openapi.json, the same document', async () => {
    expect(await ok('/api/openapi.json')).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
    expect(await ok('/openapi.json')).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
    expect((await get('/openapi.json')).res.headers.get('cache-control')).toBe('no-store');
  });

  it("lists every refusal the routes answer, and every error code they send in the Error schema's enum", () => {
    for (const [path, item] of Object.entries(
      OPENAPI_DOCUMENT.paths as Record<string, { get: { responses: Record<string, unknown> } }>,
    )) {
      for (const status of ['400', '401', '405', '500', '503'])
        expect(item.get.responses, path).toHaveProperty(status);
    }
    const codes: readonly string[] = OPENAPI_DOCUMENT.components.schemas.Error.properties.error.enum;
    for (const code of [
      'bad_parameter',
      'not_found',
      'unauthorized',
      'method_not_allowed',
      'internal',
      'unavailable',
    ])
      expect(codes).toContain(code);
  });

  it('every path of the document answers 200, and names its path parameters', async () => {
    const paths = Object.entries(
      OPENAPI_DOCUMENT.paths as Record<
        string,
        { get?: { parameters?: readonly { name: string; in: string }[] } }
      >,
    );
    expect(paths.length).toBeGreaterThanOrEqual(14);
    for (const [path, item] of paths) {
      expect(item.get, path).toBeDefined();
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      const declared = (item.get!.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      expect(declared.sort(), path).toEqual(names.sort());
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => EXAMPLES[name]!);
      const r = await get(url);
      expect(r.status, `${url}: ${r.text.slice(0, 200)}`).toBe(200);
    }
  });

  it('every route the app registers (but the dashboard) is in the document', () => {
    const documented = new Set(Object.keys(OPENAPI_DOCUMENT.paths));
    const routes = app.routes.filter(
      (r) => r.method !== 'ALL' && !r.path.startsWith('/assets') && r.path !== '/',
    );
    expect(routes.length).toBeGreaterThanOrEqual(14);
    for (const r of routes) {
      expect(r.method).toBe('GET');
      expect(documented, r.path).toContain(r.path.replace(/:(\w+)/g, '{$1}'));
    }
    expect(routes.length).toBe(documented.size);
  });
});

// A dashboard folder, when given, is served at / and /assets/<name> without a token.
describe('dashboard files', () => {
  it('serves index.html and its assets, and 404s an unknown asset', async () => {
    const dir = temp.make('playtally-api-dash-');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>playtally</title>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    const withDash = createApp({ reader, token: 't', dashboardDir: dir }).app;
    const index = await get('/', withDash);
    expect(index.status).toBe(200);
    expect(index.type).toMatch(/text\/html/);
    expect(index.text).toBe('<!doctype html><title>playtally</title>');
    const js = await get('/assets/app.js', withDash);
    expect(js.status).toBe(200);
    expect(js.type).toMatch(/javascript/);
    expect(js.text).toBe('console.log(1)');
    expect((await get('/assets/missing.js', withDash)).status).toBe(404);
    expect((await get('/assets/..%2Findex.html', withDash)).status).toBe(404);
  });
});

// A browser opens sockets ahead of requests it may never send; Node counts them as busy, so
// close() waited for its request timeout (300 s) and the dashboard test timed out in CI.
describe('closing the server', () => {
  it('ends, within its grace, a connection that never sent a request, and answers nothing after', async () => {
    const server = await startServer({ dbPath, host: '127.0.0.1', port: 0 });
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const started = Date.now();
    await server.close();
    await ended;
    const ms = Date.now() - started;
    expect(ms).toBeGreaterThanOrEqual(1_500);
    expect(ms).toBeLessThan(10_000);
    await expect(fetch(`${server.url}/api/health`)).rejects.toThrow();
  });
});
