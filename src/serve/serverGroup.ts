import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, PlaytallyError } from '../ops/errors.js';
import { type RunningServer, type ServerOptions, startServer } from './server.js';

const WORKER = fileURLToPath(new URL('./serverWorker.js', import.meta.url));

/**
 * The API server in this process (`workers` = 1) or in `workers` processes sharing one listening
 * socket (node:cluster): on a 2-core machine under 100 concurrent connections, one process was
 * the limit (see docs/BENCHMARKS.md, serve). Each process opens its own read-only connection;
 * SQLite in WAL mode serves any number of readers.
 */
export async function startServers(options: ServerOptions, workers: number): Promise<RunningServer> {
  if (workers <= 1) return startServer(options);
  cluster.setupPrimary({ exec: WORKER, args: [], silent: false });
  const forked: Worker[] = [];
  const urls: Promise<string>[] = [];
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork({ PLAYTALLY_SERVER_OPTIONS: JSON.stringify(options) });
    // When every worker fails (a port in use), the first failure stops the others, whose IPC
    // channel may then be written to after it closed (EPIPE): expected, and not a crash.
    worker.on('error', () => {});
    forked.push(worker);
    urls.push(
      new Promise<string>((resolveUrl, reject) => {
        worker.on('message', (message: { type?: string; url?: string; code?: string; message?: string }) => {
          if (message?.type === 'listening' && message.url) resolveUrl(message.url);
          if (message?.type === 'failed') {
            const code = message.code as ErrorCode | undefined;
            reject(code ? new PlaytallyError(code, message.message ?? '') : new Error(message.message));
          }
        });
        worker.once('exit', (code) =>
          reject(new Error(`server worker exited with code ${code} before listening`)),
        );
      }),
    );
  }
  let url: string;
  try {
    url = (await Promise.all(urls))[0]!;
  } catch (error) {
    for (const worker of forked) if (!worker.isDead()) worker.process.kill();
    throw error;
  }
  return {
    url,
    close: async () => {
      await Promise.all(
        forked.map(
          (worker) =>
            new Promise<void>((done) => {
              if (worker.isDead()) return done();
              worker.once('exit', () => done());
              worker.send({ type: 'close' });
            }),
        ),
      );
    },
  };
}
