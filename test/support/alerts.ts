import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Children } from './cliRuns.js';

/**
 * What the failure alerts of the unattended commands meet: a local webhook server that records
 * each alert, and a state folder lock held by another live process.
 */

/** One request the alert server received. */
export interface Received {
  method: string;
  url: string;
  contentType: string;
  /** The JSON body. */
  body: Record<string, unknown>;
}

/**
 * A local HTTP server at `url` (path `/hook`) recording each request in `received` and answering
 * it with the next status of `answers` (200 once they are used up). Close it with closeServer.
 */
export async function alertServer(
  answers: number[] = [],
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (s: string) => (body += s));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: String(req.headers['content-type']),
        body: JSON.parse(body) as Record<string, unknown>,
      });
      res.statusCode = answers.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, server };
}

/** Close `server` and its open connections; resolves once it is closed. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The pid of a process that keeps running until `children` are stopped (at the end of the test). */
export function liveProcess(children: Children): number {
  const child = children.add(spawn('sleep', ['30'], { stdio: 'ignore' }));
  return child.pid!;
}

/** Write the lock file of `state` (made if missing) as held by `pid` on this host. */
export function writeLockFile(state: string, pid: number, host = hostname()): void {
  mkdirSync(state, { recursive: true });
  const owner = { pid, host, command: 'playtally run', startedAt: new Date().toISOString() };
  writeFileSync(join(state, 'lock'), `${JSON.stringify(owner)}\n`);
}
