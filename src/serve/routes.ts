import { OPENAPI_DOCUMENT } from './openapi.js';

/**
 * The routes the server answers, in one table: the API's are the paths of its OpenAPI document
 * (src/serve/openapi.ts), so the parameters a route takes are declared once, where clients read
 * them. The app refuses any other query parameter with those names (src/serve/app.ts), the
 * user-chart fast path reads none that is not declared here (src/serve/userChartFastPath.ts), and
 * `serve --help` lists these (src/cli/commands/serve.ts). Every route answers GET and HEAD; another
 * method on a known path is a 405.
 */
export interface ApiRoute {
  /** The path as the app registers it (`/api/charts/country/:cc`). */
  readonly pattern: string;
  /** The path as the OpenAPI document writes it (`/api/charts/country/{cc}`). */
  readonly documentPath: string;
  /** The query parameters it takes, in the document's order. */
  readonly query: readonly string[];
}

type DocumentPaths = Record<string, { get: { parameters?: readonly { name: string; in: string }[] } }>;

export const API_ROUTES: readonly ApiRoute[] = Object.entries(OPENAPI_DOCUMENT.paths as DocumentPaths).map(
  ([documentPath, item]) => ({
    pattern: documentPath.replace(/\{(\w+)\}/g, ':$1'),
    documentPath,
    query: (item.get.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
  }),
);

const BY_PATTERN = new Map(API_ROUTES.map((route) => [route.pattern, route]));

/** The API route registered as `pattern`, or undefined (the dashboard's, or no route). */
export function apiRoute(pattern: string): ApiRoute | undefined {
  return BY_PATTERN.get(pattern);
}

/** The dashboard's routes (src/serve/dashboardAssets.ts), when it is built: its page and its files. */
export const DASHBOARD_ROUTES: readonly string[] = ['/', '/assets/:name'];

/** The methods every route answers (HEAD as GET does, without the body): the `Allow` of a 405. */
export const ALLOWED_METHODS = 'GET, HEAD';

/**
 * The routes as `serve --help` lists them, one a line: the dashboard's, then the API's in the
 * document's order with the query parameters each takes (`/api/runs?limit=`).
 */
export function routeLines(): string[] {
  return [
    `${DASHBOARD_ROUTES.join(', ')} (the dashboard and its files)`,
    ...API_ROUTES.map(
      (r) => `${r.pattern}${r.query.length === 0 ? '' : `?${r.query.map((name) => `${name}=`).join('&')}`}`,
    ),
  ];
}
