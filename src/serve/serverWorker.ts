import { type ServerOptions, startServer } from './server.js';

/**
 * Entry point of one server process of `serve --workers N` (forked by serverGroup.ts through
 * node:cluster, which shares the listening socket between them). Options come in the
 * PLAYTALLY_SERVER_OPTIONS environment variable; the worker reports its URL, and closes when
 * its primary asks or goes away.
 */
const options = JSON.parse(process.env.PLAYTALLY_SERVER_OPTIONS ?? '{}') as ServerOptions;
let server: Awaited<ReturnType<typeof startServer>>;
try {
  server = await startServer(options);
} catch (error) {
  // The primary reports it as its own error (a port in use, a store it cannot open).
  const e = error as Error & { code?: string };
  process.send?.({ type: 'failed', code: e.code, message: e.message }, () => process.exit(1));
  await new Promise(() => {});
}
process.send?.({ type: 'listening', url: server!.url });
let closing = false;
const close = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await server!.close();
  process.exit(0);
};
process.on('message', (message: { type?: string }) => {
  if (message?.type === 'close') void close();
});
process.on('disconnect', () => void close());
// The primary handles signals; a signal sent to the whole process group must not kill a worker
// mid-answer, so it only starts the same orderly close.
process.on('SIGINT', () => void close());
process.on('SIGTERM', () => void close());
