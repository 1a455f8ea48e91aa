import { type Context, type Handler, Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { matchedRoutes } from 'hono/route';
import { isoDay, parseDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { ioFailure } from '../ops/ioErrors.js';
import type { ResultsReader } from '../store/resultsReader.js';
import { ApiError, badParameter, notFound } from './apiErrors.js';
import { dashboardRoutes } from './dashboardAssets.js';
import { ServerMetrics } from './metrics.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { countryParam, dateParam, knownParameters, limitParam, userIdParam } from './params.js';
import { API_CACHE_CONTROL, SECURITY_HEADERS } from './responseHeaders.js';
import { ALLOWED_METHODS, apiRoute, DASHBOARD_ROUTES } from './routes.js';

const JSON_TYPE = { 'content-type': 'application/json' };

/** The longest series an answer holds: a year, a leap year's included. */
const MAX_RANGE_DAYS = 366;

export interface AppOptions {
  reader: ResultsReader;
  /** When set, every route but /healthz and the dashboard's static files needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Folder of the built dashboard (index.html and assets); absent: no dashboard routes. */
  dashboardDir?: string;
}

/** A known path asked with another method than GET or HEAD. */
const methodNotAllowed: Handler = (c) =>
  c.json(
    {
      error: 'method_not_allowed',
      message: `${c.req.method} is not allowed on ${c.req.path}: it answers ${ALLOWED_METHODS}`,
    },
    405,
    { allow: ALLOWED_METHODS },
  );

/** GET, or HEAD (answered as GET). */
function isGet(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** The paths whose answers are the API's (`Cache-Control: no-store`, the token when there is one). */
function isApiPath(path: string): boolean {
  return path.startsWith('/api/') || path === '/openapi.json';
}

/**
 * The read-only JSON API over the results store (and the dashboard's files). Every API route is a
 * path of the OpenAPI document (src/serve/routes.ts): a query parameter it does not declare is a
 * 400 before its handler runs, and another method than GET or HEAD on it a 405. Handlers validate
 * their parameters and throw ApiError; one error handler shapes every error answer. Tested
 * in-process with `app.request(path)`.
 */
export function createApp(options: AppOptions): { app: Hono; metrics: ServerMetrics } {
  const { reader } = options;
  const metrics = new ServerMetrics(reader);
  const app = new Hono();
  // The route pattern, not the path: one series per route, whatever ids are asked for. The
  // pattern of the route that matched (or of the 405 of its path), not of a middleware (the
  // metrics' `/*`, the bearer check's `/api/*` on a 401); a path no route matches is undefined.
  const routeOf = (c: Context): { method: string; path: string } | undefined =>
    matchedRoutes(c).findLast((r) => r.method !== 'ALL' || r.handler === methodNotAllowed);

  app.use(async (c, next) => {
    const started = process.hrtime.bigint();
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
    if (isApiPath(c.req.path)) c.res.headers.set('cache-control', API_CACHE_CONTROL);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.observe(c.req.method, routeOf(c)?.path ?? 'unmatched', c.res.status, seconds);
  });
  if (options.token) {
    const auth = bearerAuth({
      token: options.token,
      noAuthenticationHeader: {
        message: { error: 'unauthorized', message: 'Authorization: Bearer <token> required' },
      },
      invalidToken: { message: { error: 'unauthorized', message: 'the bearer token is not valid' } },
      invalidAuthenticationHeader: {
        message: { error: 'unauthorized', message: 'Authorization must be: Bearer <token>' },
      },
    });
    app.use('/api/*', auth);
    app.use('/openapi.json', auth);
    app.use('/metrics', auth);
  }
  // After the token: a request without it learns nothing of the parameters.
  app.use(async (c, next) => {
    const pattern = routeOf(c)?.path;
    const route = pattern !== undefined && isGet(c.req.method) ? apiRoute(pattern) : undefined;
    // Every name of the query string, an empty one too (c.req.queries() leaves `?=1` out).
    if (route) knownParameters(route, new URL(c.req.url).searchParams.keys());
    await next();
  });

  app.onError((error, c) => {
    if (error instanceof ApiError) {
      return c.json(
        {
          error: error.error,
          message: error.message,
          ...(error.parameter !== undefined ? { parameter: error.parameter } : {}),
        },
        error.status,
      );
    }
    // Hono's own HTTP errors (the bearer-auth middleware) carry their response.
    if (typeof (error as { getResponse?: unknown }).getResponse === 'function') {
      return (error as unknown as { getResponse(): Response }).getResponse();
    }
    // An expected fault (the store unusable, the machine's I/O) is one line in the server's log
    // and a 503 to try again; anything else is a bug, logged with its stack, and a 500.
    const fault = error instanceof PlaytallyError ? error : ioFailure(error);
    if (fault !== undefined) {
      process.emitWarning(`playtally serve: ${c.req.method} ${c.req.path}: ${fault.message}`);
      return c.json(
        { error: 'unavailable', message: 'the results store cannot be read now; try again' },
        503,
      );
    }
    process.emitWarning(`playtally serve: ${c.req.method} ${c.req.path}: ${(error as Error).stack ?? error}`);
    return c.json({ error: 'internal', message: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: 'not_found', message: `no route ${c.req.method} ${c.req.path}` }, 404));

  const chartDate = (text: string | undefined): string => {
    const date = dateParam('date', text, reader.latestChartDate());
    if (date === undefined) throw notFound('no charts in the store yet');
    if (!reader.chartDateInfo(date)) throw notFound(`no charts for ${date}`);
    return date;
  };
  const kpiDate = (text: string | undefined): string => {
    const date = dateParam('date', text, reader.latestKpiDate());
    if (date === undefined) throw notFound('no genre KPIs in the store yet');
    return date;
  };
  /** `from`/`to` for series; defaults: the 30 days ending on the newest date of the kind. */
  const range = (from: string | undefined, to: string | undefined, latest: string | undefined) => {
    const end = dateParam('to', to, latest ?? isoDay(Math.floor(Date.now() / 86_400_000)))!;
    const start = dateParam('from', from, isoDay(Math.max(0, parseDay(end)! - 29)))!;
    if (start > end) throw badParameter('from', `${start} is after to=${end}`);
    if (parseDay(end)! - parseDay(start)! >= MAX_RANGE_DAYS) {
      throw badParameter('from', `from=${start} to=${end} is more than ${MAX_RANGE_DAYS} days`);
    }
    return { from: start, to: end };
  };

  app.get('/healthz', (c) => c.json({ ok: true, schemaVersion: reader.schemaVersion() }));
  app.get('/metrics', async (c) =>
    c.body(await metrics.text(), 200, { 'content-type': metrics.contentType() }),
  );
  // At the root too, where tools look for it first.
  app.get('/openapi.json', (c) => c.json(OPENAPI_DOCUMENT));
  app.get('/api/openapi.json', (c) => c.json(OPENAPI_DOCUMENT));

  app.get('/api/dates', (c) => c.json(reader.dates()));

  app.get('/api/charts/country', (c) => {
    const date = chartDate(c.req.query('date'));
    return c.json({ date, countries: reader.countries(date) });
  });

  app.get('/api/charts/country/:cc', (c) => {
    const country = countryParam(c.req.param('cc'));
    const date = chartDate(c.req.query('date'));
    const songs = reader.countryChartOf(date, country);
    if (songs.length === 0) throw notFound(`no chart for ${country} on ${date}`);
    return c.json({ date, country, window: reader.chartDateInfo(date)!.window, songs });
  });

  app.get('/api/charts/country/:cc/movement', (c) => {
    const country = countryParam(c.req.param('cc'));
    const date = chartDate(c.req.query('date'));
    const moved = reader.movement(date, country);
    if (moved.songs.length === 0) throw notFound(`no chart for ${country} on ${date}`);
    return c.json({ date, country, window: reader.chartDateInfo(date)!.window, ...moved });
  });

  app.get('/api/charts/user/:id', (c) => {
    const user = userIdParam(c.req.param('id'));
    const asked = dateParam('date', c.req.query('date'));
    // The hit is one query; the reasons for a miss are looked up only on a miss.
    const found = reader.userChartJson(asked, user);
    if (found !== undefined) return c.body(found, 200, JSON_TYPE);
    const date = chartDate(asked);
    if (!reader.chartDateInfo(date)!.userChartsKept) {
      throw notFound(`user charts of ${date} are not kept in the store (only the newest dates' are)`);
    }
    throw notFound(`no chart for user ${user} on ${date}`);
  });

  app.get('/api/kpis/genres', (c) => {
    const date = kpiDate(c.req.query('date'));
    const day = reader.kpiDay(date);
    if (!day) throw notFound(`no genre KPIs for ${date}`);
    return c.json({ date, ...day });
  });

  app.get('/api/kpis/top-genres', (c) => {
    const { from, to } = range(c.req.query('from'), c.req.query('to'), reader.latestKpiDate());
    return c.json({ from, to, days: reader.topGenresSeries(from, to) });
  });

  app.get('/api/kpis/genres/:genre', (c) => {
    const genre = c.req.param('genre');
    const { from, to } = range(c.req.query('from'), c.req.query('to'), reader.latestKpiDate());
    if (!reader.genreKnown(genre)) throw notFound(`no genre ${JSON.stringify(genre)} in the store`);
    return c.json({ genre, from, to, days: reader.genreSeries(genre, from, to) });
  });

  app.get('/api/quality', (c) => {
    const date = dateParam('date', c.req.query('date'), reader.latestChartDate() ?? reader.latestKpiDate());
    if (date === undefined) throw notFound('no quality reports in the store yet');
    const charts = reader.chartQuality(date);
    const kpis = reader.kpiQuality(date);
    const logDay = reader.logDays(date, date)[0] ?? null;
    if (charts === null && kpis === null && logDay === null) throw notFound(`no quality reports for ${date}`);
    return c.json({ date, logDay, charts, kpis });
  });

  app.get('/api/quality/days', (c) => {
    const { from, to } = range(c.req.query('from'), c.req.query('to'), reader.latestLogDay());
    return c.json({ from, to, days: reader.logDays(from, to) });
  });

  app.get('/api/runs', (c) => c.json({ runs: reader.runs(limitParam(c.req.query('limit'), 20, 1000)) }));

  if (options.dashboardDir) dashboardRoutes(app, options.dashboardDir);

  // Every route is a GET (HEAD is answered as GET, without the body) of the route table; any other
  // method on its path is a 405 (registered last: a GET reaches its route first).
  const paths = new Set<string>();
  for (const route of app.routes.filter((r) => r.method !== 'ALL')) {
    if (route.method !== 'GET') throw new Error(`${route.method} ${route.path}: every route is a GET`);
    if (!apiRoute(route.path) && !DASHBOARD_ROUTES.includes(route.path)) {
      throw new Error(`${route.path}: a route not in the OpenAPI document (src/serve/openapi.ts)`);
    }
    paths.add(route.path);
  }
  for (const path of paths) app.all(path, methodNotAllowed);
  return { app, metrics };
}
