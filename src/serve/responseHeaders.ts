/**
 * The headers of every answer, the app's and the user-chart fast path's alike (one list, so the
 * two stay byte-identical). The dashboard loads its script and styles from `/assets/` and draws
 * SVG with inline style attributes (Observable Plot), hence `style-src 'unsafe-inline'`; no other
 * origin, frame, plugin or form target is allowed.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * API answers change when a run loads a date: never stored by a browser or a proxy (the store is
 * local and an answer costs a query; a stale chart would be worse than the request).
 */
export const API_CACHE_CONTROL = 'no-store';

/** The headers of a JSON answer of the API. */
export const API_HEADERS: Readonly<Record<string, string>> = {
  ...SECURITY_HEADERS,
  'cache-control': API_CACHE_CONTROL,
};
