import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { PlaytallyError } from '../../ops/errors.js';
import { isLoopback } from '../../serve/hostCheck.js';
import { routeLines } from '../../serve/routes.js';
import type * as ServerGroup from '../../serve/serverGroup.js';
import { onStopSignals } from '../../unattended/stopSignals.js';
import { portOption, positiveIntOption } from '../optionParsers.js';
import { createRunLogger } from '../runLogger.js';
import { logFormatOption, logLevelOf, withVerbosityOptions } from '../sharedOptions.js';
import { DEFAULT_DB, dbOption } from '../storeOptions.js';
import {
  unattended,
  type WatchCliOptions,
  watchLoop,
  withRunDestinations,
  withRunFolders,
  withRunJobOptions,
  withWatchOptions,
} from './unattended.js';

interface ServeCliOptions extends WatchCliOptions {
  host: string;
  allowedHosts?: string[];
  port: number;
  token?: string;
  allowUnauthenticated?: boolean;
  watch?: boolean;
  workers: number;
}

export function serveCommand(): Command {
  const db = dbOption();
  db.description = `the results store (default: ${DEFAULT_DB})`;
  const command = new Command('serve')
    .description('serve the JSON API and the dashboard over the results store (read-only)')
    .addOption(db);
  withRunFolders(command)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .addOption(
      new Option('--port <port>', 'port to listen on (0: any free port)').argParser(portOption).default(8080),
    )
    .addOption(
      new Option(
        '--token <token>',
        'require Authorization: Bearer <token> on /api, /openapi.json and /metrics',
      ).env('PLAYTALLY_TOKEN'),
    )
    .option('--allow-unauthenticated', 'listen on a non-loopback address without --token')
    .option(
      '--allowed-hosts <names>',
      'more Host names to answer, comma-separated (a DNS name or proxy in front); others get 421',
      (value: string) =>
        value
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== ''),
    )
    .addOption(
      new Option(
        '--workers <n>',
        'server processes sharing the port (node:cluster; the watcher stays in one)',
      )
        .argParser(positiveIntOption)
        .default(1),
    )
    .option('--watch', 'also watch --logs and write charts into --out and the store, in this process');
  withRunDestinations(withWatchOptions(withRunJobOptions(command)), { db: false });
  withVerbosityOptions(command).addOption(logFormatOption());
  // The shared watch options, described as they apply here.
  for (const option of command.options) {
    if (option.long === '--logs')
      option.description = 'with --watch (required): the landing folder of logs (or s3://bucket/prefix)';
    if (option.long === '--out') option.description = 'with --watch (required): the folder for chart files';
    if (option.long === '--engine') option.description = `with --watch: ${option.description}`;
  }
  return command
    .addHelpText(
      'after',
      `
The store is --db (default: ${DEFAULT_DB}, or $PLAYTALLY_DB), written by runs given --db and by
\`playtally load\`. The server only reads it; a run loading a date in another process is seen
whole once it commits.

Routes, each answering GET and HEAD (with --token, all but the dashboard's and /healthz need
it; the OpenAPI document at /openapi.json describes the API's; /metrics is Prometheus text):
${routeLines()
  .map((line) => `  ${line}`)
  .join('\n')}

With --watch, the options of \`playtally watch\` apply (--logs and --out are then required).
No store at --db (without --watch) is exit 3; a store it cannot open, or a --host or --port it
cannot listen on (a port in use), exit 4.

Examples:
  playtally serve --db /data/playtally.db
  playtally serve --watch --logs /data/landing --out /data/charts --db /data/playtally.db`,
    )
    .action(async (options: ServeCliOptions) => {
      options.db = resolve(options.db ?? DEFAULT_DB);
      if (!isLoopback(options.host) && !options.token && !options.allowUnauthenticated) {
        throw new PlaytallyError(
          'usage',
          `--host ${options.host} is not a loopback address: give --token (or $PLAYTALLY_TOKEN), ` +
            'or --allow-unauthenticated to serve without one',
        );
      }
      if (options.watch) {
        await unattended('watch', options, async (log, stop, outputs) => {
          const server = await startServers(serverOptions(options, options.db!), options.workers);
          log.info(
            { event: 'listening', url: server.url, db: options.db },
            `serving ${server.url} (store ${options.db})`,
          );
          try {
            await watchLoop(options, log, stop, outputs);
          } finally {
            await server.close();
          }
        });
        return;
      }
      if (!existsSync(options.db)) {
        throw new PlaytallyError(
          'store_not_found',
          `no results store at ${options.db}: create it with \`playtally load --db ${options.db} ...\` ` +
            'or a run given --db, or give --watch',
        );
      }
      const log = createRunLogger(logLevelOf(options), process.stdout, {
        format: options.logFormat,
        clock: true,
      });
      const server = await startServers(serverOptions(options, options.db), options.workers);
      log.info(
        { event: 'listening', url: server.url, db: options.db },
        `serving ${server.url} (store ${options.db})`,
      );
      const stop = onStopSignals((signal) => log.info({ event: 'signal', signal }, `${signal}: stopping`));
      await stop.stopped;
      await server.close();
      stop.dispose();
      log.info({ event: 'stopped' }, 'stopped');
    });
}

function serverOptions(options: ServeCliOptions, db: string) {
  return {
    dbPath: db,
    host: options.host,
    port: options.port,
    token: options.token,
    allowedHosts: options.allowedHosts,
  };
}

/**
 * The HTTP servers, their modules loaded only when serving: they were about 0.1 s of the start of
 * every command, a third of it (`playtally --version`).
 */
const startServers: typeof ServerGroup.startServers = async (...args) =>
  (await import('../../serve/serverGroup.js')).startServers(...args);
