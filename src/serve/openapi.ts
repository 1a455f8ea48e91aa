/**
 * The API's OpenAPI 3.1 document, served at /openapi.json and /api/openapi.json. Written by hand
 * next to the routes (src/serve/app.ts), and the API's one table of routes: its paths are the
 * routes the app checks requests against (src/serve/routes.ts: the query parameters each takes,
 * any other being a 400) and the list `serve --help` prints. A test checks that every route here
 * answers and every API route is here.
 */
const dateQuery = (description: string) => ({
  name: 'date',
  in: 'query',
  required: false,
  description: `${description} YYYY-MM-DD or YYYYMMDD.`,
  schema: { type: 'string', example: '2024-01-07' },
});
const rangeQuery = [
  {
    name: 'from',
    in: 'query',
    required: false,
    description: 'First day (default: 29 days before `to`).',
    schema: { type: 'string' },
  },
  {
    name: 'to',
    in: 'query',
    required: false,
    description: 'Last day (default: the newest stored day).',
    schema: { type: 'string' },
  },
];
const cc = {
  name: 'cc',
  in: 'path',
  required: true,
  description: 'ISO 3166-1 alpha-2 country code (either case).',
  schema: { type: 'string', example: 'FR' },
};
const errors = {
  '400': {
    description:
      'A parameter is not valid, or is not one the route takes (an unknown query parameter); `parameter` names it.',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '401': {
    description: 'The server runs with --token and the request has no valid `Authorization: Bearer <token>`.',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '404': {
    description: 'The store holds nothing for that key or date.',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '405': {
    description:
      'A known path asked with another method than GET or HEAD; the `Allow` header lists the methods it answers.',
    headers: { Allow: { schema: { type: 'string', example: 'GET, HEAD' } } },
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '421': {
    description: 'The Host is not a name of this server (see --allowed-hosts).',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '431': {
    description: 'The request line and headers are over 16 KB.',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '500': {
    description: 'The store failed under the request; the server goes on.',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '503': {
    description: 'The store cannot be read now (a fault of the machine, such as an I/O error); try again.',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
};
function json(schema: unknown) {
  return { 'application/json': { schema } };
}
function ok(description: string, schema: unknown) {
  return { '200': { description, content: json(schema) }, ...errors };
}
const chartSong = {
  type: 'object',
  properties: { rank: { type: 'integer' }, song: { type: 'integer' }, plays: { type: 'integer' } },
};
const window = { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' } } };

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'playtally API',
    version: '1',
    description:
      'Read-only access to the results store: 7-day top-50 charts per country and per user, genre KPIs, data quality and run history.',
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'Only when the server runs with --token.' },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error', 'message'],
        properties: {
          error: {
            type: 'string',
            enum: [
              'bad_parameter',
              'not_found',
              'unauthorized',
              'method_not_allowed',
              'internal',
              'unavailable',
              'misdirected',
              'request_too_large',
              'bad_request',
            ],
          },
          message: { type: 'string' },
          parameter: { type: 'string' },
        },
      },
      ChartSong: chartSong,
      GenreKpi: {
        type: 'object',
        properties: {
          date: { type: 'string' },
          hour: {
            type: ['integer', 'null'],
            description: 'null for a whole day; 0-23 with hour granularity',
          },
          genre: { type: 'string' },
          listenCount: { type: 'integer' },
          uniqueListeners: { type: 'integer' },
          totalListeningMs: { type: 'integer' },
          avgListeningMsPerListener: {
            type: 'number',
            description:
              'totalListeningMs / uniqueListeners, rounded half up to 2 decimals: the value of the KPI file, as a number (`1234.50` there is 1234.5 here)',
            example: 1234.5,
          },
          top3: {
            type: 'array',
            items: { type: 'object', properties: { track: { type: 'string' }, plays: { type: 'integer' } } },
          },
        },
      },
      Run: {
        type: 'object',
        description:
          'A run of run, backfill or a watch step, as in <state>/runs.jsonl (docs/FORMATS.md, "The state folder"): failed runs too, with their error.',
        required: ['id', 'command', 'startedAt', 'finishedAt', 'ok', 'stopped', 'days', 'charts', 'totals'],
        properties: {
          id: { type: 'string' },
          command: { type: 'string', enum: ['run', 'backfill', 'watch'] },
          startedAt: { type: 'string', format: 'date-time' },
          finishedAt: { type: 'string', format: 'date-time' },
          ok: { type: 'boolean' },
          stopped: { type: 'boolean', description: 'a signal stopped it after a step (ok, exit 0)' },
          error: {
            type: 'object',
            description: 'Only when the run failed.',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', description: 'a playtally error code, or internal (a bug)' },
              message: { type: 'string' },
              exitCode: {
                type: 'integer',
                description:
                  "the failure's exit code (2 to 5, 1 for a bug); absent in runs of older releases",
              },
            },
          },
          logsDir: { type: 'string' },
          outDir: { type: 'string' },
          days: {
            type: 'array',
            description: 'the logs parsed in this run',
            items: {
              type: 'object',
              properties: {
                date: { type: 'string' },
                file: { type: 'string' },
                rows: { type: 'integer' },
                valid: { type: 'integer' },
                rejected: { type: 'integer' },
                rejectRate: { type: 'number' },
              },
            },
          },
          charts: { type: 'array', items: { type: 'string' }, description: 'chart dates written' },
          chartsCurrent: { type: 'integer' },
          rebuilt: { type: 'array', items: { type: 'string' } },
          reused: {
            type: 'object',
            description:
              "the days the charts written came from without being parsed in this run (earlier runs' partials), and their log rows; absent in runs of older releases",
            properties: { days: { type: 'array', items: { type: 'string' } }, rows: { type: 'integer' } },
          },
          quarantined: { type: 'array', items: { type: 'object' } },
          archived: { type: 'array', items: { type: 'string' } },
          pruned: { type: 'array', items: { type: 'string' } },
          missing: { type: 'array', items: { type: 'string' } },
          totals: {
            type: 'object',
            description: 'rows of the logs parsed in this run',
            properties: {
              rows: { type: 'integer' },
              valid: { type: 'integer' },
              rejected: { type: 'integer' },
            },
          },
          kpis: { type: 'object', description: 'with --kpis-landing: the KPI step (or why it was skipped)' },
        },
      },
    },
  },
  security: [{ bearer: [] }, {}],
  paths: {
    '/healthz': {
      get: {
        summary: 'Liveness: the store is readable',
        security: [],
        responses: ok('ok', { type: 'object' }),
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics: request counts and latencies, last run time, rows and result',
        responses: {
          '200': {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          ...errors,
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document (also at /api/openapi.json)',
        responses: ok('OpenAPI document', { type: 'object' }),
      },
    },
    '/api/openapi.json': {
      get: {
        summary: 'This document (also at /openapi.json)',
        responses: ok('OpenAPI document', { type: 'object' }),
      },
    },
    '/api/dates': {
      get: {
        summary: 'Dates with results, newest first',
        responses: ok('dates by kind', {
          type: 'object',
          properties: {
            charts: { type: 'array', items: { type: 'string' } },
            userCharts: {
              type: 'array',
              items: { type: 'string' },
              description: 'dates whose user charts are kept',
            },
            kpis: { type: 'array', items: { type: 'string' } },
            logDays: { type: 'array', items: { type: 'string' } },
          },
        }),
      },
    },
    '/api/charts/country': {
      get: {
        summary: 'Countries with a chart on a date',
        parameters: [dateQuery('Chart date (default: the newest).')],
        responses: ok('countries', {
          type: 'object',
          properties: { date: { type: 'string' }, countries: { type: 'array', items: { type: 'string' } } },
        }),
      },
    },
    '/api/charts/country/{cc}': {
      get: {
        summary: "A country's top 50 over the 7 days ending on the date",
        parameters: [cc, dateQuery('Chart date (default: the newest).')],
        responses: ok('chart', {
          type: 'object',
          properties: {
            date: { type: 'string' },
            country: { type: 'string' },
            window,
            songs: { type: 'array', items: chartSong },
          },
        }),
      },
    },
    '/api/charts/country/{cc}/movement': {
      get: {
        summary:
          "Each song's rank change against the previous day's chart: new, re-entry, up N, down N, same",
        parameters: [cc, dateQuery('Chart date (default: the newest).')],
        responses: ok(
          'movement; `movement` and `previousDate` are null when the previous day has no stored chart',
          {
            type: 'object',
            properties: {
              date: { type: 'string' },
              country: { type: 'string' },
              window,
              previousDate: { type: ['string', 'null'] },
              songs: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    ...chartSong.properties,
                    previousRank: { type: ['integer', 'null'] },
                    movement: {
                      type: ['object', 'null'],
                      properties: {
                        kind: { type: 'string', enum: ['new', 're-entry', 'up', 'down', 'same'] },
                        by: { type: 'integer' },
                      },
                    },
                  },
                },
              },
              dropped: {
                type: 'array',
                items: { type: 'object' },
                description: 'songs of the previous chart no longer in it',
              },
            },
          },
        ),
      },
    },
    '/api/charts/user/{id}': {
      get: {
        summary: "A user's top 50 over the 7 days ending on the date (kept for the newest dates only)",
        parameters: [
          {
            name: 'id',
            in: 'path',
            required: true,
            description: 'User id: decimal digits, at most 2^53-1.',
            schema: { type: 'string' },
          },
          dateQuery('Chart date (default: the newest).'),
        ],
        responses: ok('chart', {
          type: 'object',
          properties: {
            date: { type: 'string' },
            user: { type: 'integer' },
            window,
            songs: { type: 'array', items: chartSong },
          },
        }),
      },
    },
    '/api/kpis/genres': {
      get: {
        summary: 'Genre KPIs and top genres of a day',
        parameters: [dateQuery('Day (default: the newest).')],
        responses: ok('KPIs', {
          type: 'object',
          properties: {
            date: { type: 'string' },
            granularity: { type: 'string', enum: ['day', 'hour'] },
            genres: { type: 'array', items: { $ref: '#/components/schemas/GenreKpi' } },
            topGenres: { type: 'array', items: { type: 'object' } },
          },
        }),
      },
    },
    '/api/kpis/genres/{genre}': {
      get: {
        summary: "One genre's KPIs per day over a range",
        parameters: [
          { name: 'genre', in: 'path', required: true, schema: { type: 'string' } },
          ...rangeQuery,
        ],
        responses: ok('series', {
          type: 'object',
          properties: {
            genre: { type: 'string' },
            from: { type: 'string' },
            to: { type: 'string' },
            days: { type: 'array', items: { $ref: '#/components/schemas/GenreKpi' } },
          },
        }),
      },
    },
    '/api/kpis/top-genres': {
      get: {
        summary: 'The top 5 genres of each day over a range',
        parameters: rangeQuery,
        responses: ok('series', {
          type: 'object',
          properties: { days: { type: 'array', items: { type: 'object' } } },
        }),
      },
    },
    '/api/quality': {
      get: {
        summary: "A date's data quality: the listen log's rejects, the chart and KPI quality reports",
        parameters: [dateQuery('Date (default: the newest chart date).')],
        responses: ok('reports (each null when not stored)', { type: 'object' }),
      },
    },
    '/api/quality/days': {
      get: {
        summary: 'Listen-log days over a range: rows, valid, rejected by reason',
        parameters: rangeQuery,
        responses: ok('days', { type: 'object' }),
      },
    },
    '/api/runs': {
      get: {
        summary: 'The newest runs of run/backfill/watch, newest first',
        parameters: [
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 1000, default: 20 },
          },
        ],
        responses: ok('runs, failed ones included', {
          type: 'object',
          properties: { runs: { type: 'array', items: { $ref: '#/components/schemas/Run' } } },
        }),
      },
    },
  },
} as const;
