import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { MAX_EXAMPLES } from '../engine/dayPartial.js';
import { isoDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';
import { COUNTRY_CODES } from '../parse/countries.js';
import { ListenParser } from '../parse/listenParser.js';
import {
  emptyRejectCounts,
  exampleText,
  REJECT_REASONS,
  type RejectCounts,
  type RejectExample,
} from '../parse/rejects.js';
import type { LogFile } from '../sources/logFiles.js';
import { type ClickHouseCluster, sqlDate } from './cluster.js';
import { shardOf } from './listenTables.js';

/** What loading a day found: the same figures the embedded engine records for a day. */
export interface LoadedDay {
  date: string;
  file: string;
  lines: number;
  valid: number;
  rejected: number;
  rejects: RejectCounts;
  examples: RejectExample[];
}

/** Rows written to a shard's insert stream at a time. */
const FLUSH_CHARS = 1 << 20;

/**
 * Load one day's log into the cluster, replacing the day: its partition is dropped on every shard,
 * then the log is parsed by playtally's own parser (so rejects are counted exactly as the embedded
 * engine counts them) and its valid rows are streamed, as TabSeparated, into `listens_local` of
 * their user's shard, one streamed insert per shard. Reading holds back while a shard's stream is
 * full, so memory holds a chunk of the log and a buffer per shard, whatever the day's size.
 */
export async function loadListenDay(cluster: ClickHouseCluster, log: LogFile): Promise<LoadedDay> {
  const date = isoDay(log.day);
  const table = `${cluster.database}.listens_local`;
  await cluster.onEach(`ALTER TABLE ${table} DROP PARTITION ${sqlDate(date)}`);

  const streams = cluster.shards.map(() => new PassThrough());
  const inserts = cluster.shards.map((shard, i) =>
    shard.insert({ table, values: streams[i]!, format: 'TabSeparated' }),
  );
  // An insert that fails ends its stream: stop feeding and report that failure.
  let failure: unknown;
  for (const insert of inserts) insert.catch((error) => (failure ??= error));

  const pending = cluster.shards.map(() => '');
  const shards = cluster.shards.length;
  const prefix = `${date}\t`;
  const examples: RejectExample[] = [];
  const parser = new ListenParser({
    onBatch: (batch) => {
      for (let i = 0; i < batch.length; i++) {
        const user = batch.users[i]!;
        const s = shardOf(user, shards);
        pending[s] += `${prefix}${user}\t${batch.songs[i]}\t${COUNTRY_CODES[batch.countries[i]!]}\n`;
      }
    },
    onReject: (reason, line, bytes) => {
      if (examples.length < MAX_EXAMPLES) {
        examples.push({ line, reason: REJECT_REASONS[reason]!, text: exampleText(bytes) });
      }
    },
  });
  const flush = async (force: boolean): Promise<void> => {
    for (let s = 0; s < shards; s++) {
      if (pending[s]!.length === 0 || (!force && pending[s]!.length < FLUSH_CHARS)) continue;
      const ok = streams[s]!.write(pending[s]!);
      pending[s] = '';
      if (!ok) await waitForDrain(streams[s]!, () => failure);
    }
  };

  const source: Readable = log.compressed
    ? createReadStream(log.path).pipe(createGunzip())
    : createReadStream(log.path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of source) {
      if (failure !== undefined) throw failure;
      parser.push(chunk as Buffer);
      await flush(false);
    }
    parser.end();
    await flush(true);
  } catch (error) {
    // An insert that failed first is the cause; ending the others now makes them fail too.
    const insertFailure = failure;
    for (const stream of streams) stream.destroy();
    await Promise.allSettled(inserts);
    // The day's partition stays dropped and the state does not record it: the next run loads it.
    const e = error as NodeJS.ErrnoException;
    if (insertFailure === undefined && e.code?.startsWith('Z_')) {
      // The same error as the embedded engine's for a damaged gzip log (exit 3; run/watch quarantine it).
      throw new PlaytallyError('unreadable_log', `${log.path} is not a readable gzip file (${e.message})`, {
        path: log.path,
        file: log.name,
      });
    }
    throw insertFailure ?? error;
  }
  for (const stream of streams) stream.end();
  await Promise.all(inserts);

  const rejects = emptyRejectCounts();
  let rejected = 0;
  REJECT_REASONS.forEach((reason, i) => {
    rejects[reason] = parser.rejects[i]!;
    rejected += parser.rejects[i]!;
  });
  return { date, file: log.name, lines: parser.lines, valid: parser.valid, rejected, rejects, examples };
}

function waitForDrain(stream: PassThrough, failed: () => unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      const error = failed();
      if (error !== undefined) reject(error);
      else resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}
