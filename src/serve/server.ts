import { existsSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { PlaytallyError } from '../ops/errors.js';
import { packageRoot } from '../ops/packageRoot.js';
import { ResultsReader } from '../store/resultsReader.js';
import { createApp } from './app.js';
import { hostChecker } from './hostCheck.js';
import { SECURITY_HEADERS } from './responseHeaders.js';
import { userChartFastPath } from './userChartFastPath.js';

/** Where `npm run build` puts the dashboard bundle (scripts/build-dashboard.mjs). */
export const DASHBOARD_DIR = join(packageRoot(), 'dist', 'dashboard');

/** How long close() lets requests in flight finish before it ends their connections. */
const CLOSE_GRACE_MS = 2_000;

export interface ServerOptions {
  dbPath: string;
  host: string;
  port: number;
  token?: string;
  dashboardDir?: string;
  /** More Host names to answer besides the bound address (see hostCheck.ts). */
  allowedHosts?: string[];
}

export interface RunningServer {
  url: string;
  /** Stop accepting connections, end idle ones (busy ones within 2 s), and close the store. */
  close(): Promise<void>;
}

/** Serve the API and the dashboard over the store at `dbPath` until `close()`. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const reader = ResultsReader.open(options.dbPath);
  const dashboardDir = options.dashboardDir ?? DASHBOARD_DIR;
  const { app, metrics } = createApp({
    reader,
    token: options.token,
    dashboardDir: existsSync(dashboardDir) ? dashboardDir : undefined,
  });
  let server: Server;
  try {
    server = await new Promise<Server>((resolveListening, reject) => {
      const fastPath = userChartFastPath(reader, metrics, options.token);
      const viaApp = getRequestListener(app.fetch);
      const hostAllowed = hostChecker(options.host, options.allowedHosts);
      const s = createServer((request, response) => {
        if (!hostAllowed(request.headers.host)) {
          answerMisdirected(response, request.headers.host!);
          return;
        }
        // The fast path answers only what it found; anything it cannot (a miss, a bad parameter,
        // the store failing under it) goes to the app, whose error handler answers every fault
        // with JSON. An exception must not escape a request listener: it would end the process,
        // and every connection and the watcher of `serve --watch` with it.
        let answered = false;
        try {
          answered = fastPath(request, response);
        } catch {
          answered = response.headersSent;
        }
        if (!answered) void viaApp(request, response);
      });
      s.on('clientError', answerClientError);
      s.once('error', reject);
      s.listen(options.port, options.host, () => resolveListening(s));
    });
  } catch (error) {
    reader.close();
    throw cannotListen(options.host, options.port, error as NodeJS.ErrnoException);
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((done) => {
        // A socket a browser opened ahead of a request it never sent counts as busy, not idle,
        // and would hold close() open until the request timeout (300 s): requests in flight get
        // CLOSE_GRACE_MS to finish, then every connection is ended.
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          reader.close();
          done();
        });
        // Keep-alive connections would hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}

/**
 * A failed listen as one sentence naming the address and what to do: a port in use, an address
 * not of this machine, a port below 1024 without the privilege. Not a usage error (the command
 * line may be right, and another process in the way): a place `serve` cannot use, exit 4. The
 * system's code (EADDRINUSE) stays in the cause, for --log-level debug.
 */
export function cannotListen(host: string, port: number, error: NodeJS.ErrnoException): PlaytallyError {
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const what: Record<string, string> = {
    EADDRINUSE: `another process is listening on port ${port}; stop it, or give another --port (--port 0 takes any free one)`,
    EADDRNOTAVAIL: `${host} is not an address of this machine; give --host one of its addresses (127.0.0.1, or 0.0.0.0 for all)`,
    EACCES: `no permission to listen on port ${port} (ports below 1024 need privileges); give --port 1024 or above`,
    ENOTFOUND: `no address found for the host name ${host}; give --host an address of this machine`,
    EAI_AGAIN: `the host name ${host} could not be resolved now; give --host an address of this machine`,
  };
  const reason = what[error.code ?? ''] ?? error.message;
  return new PlaytallyError(
    'cannot_listen',
    `cannot listen on ${address}: ${reason}`,
    { host, port },
    { cause: error },
  );
}

/**
 * A request Node refuses before any route sees it (a URL or headers over 16 KB, a malformed
 * request line): answered in JSON like every other error, not with Node's empty body.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (error as { code?: string }).code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = JSON.stringify(
    tooLarge
      ? { error: 'request_too_large', message: 'the request line and headers are over 16 KB' }
      : { error: 'bad_request', message: 'not a valid HTTP request' },
  );
  const headers = Object.entries({
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    ...SECURITY_HEADERS,
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status}\r\n${headers}\r\n${body}`);
}

/** A request for a name this server is not (DNS rebinding, or a missing --allowed-hosts): 421. */
function answerMisdirected(response: ServerResponse, host: string): void {
  const body = JSON.stringify({
    error: 'misdirected',
    message: `this server does not answer for Host ${JSON.stringify(host.slice(0, 100))}: add the name with --allowed-hosts`,
  });
  response.writeHead(421, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...SECURITY_HEADERS,
  });
  response.end(body);
}
