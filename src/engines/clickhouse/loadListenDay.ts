import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isoDay } from '../../ops/dates.js';
import { COUNTRY_CODES } from '../../parse/countries.js';
import { ListenParser } from '../../parse/listenParser.js';
import {
  emptyRejectCounts,
  exampleText,
  MAX_EXAMPLES,
  REJECT_REASONS,
  type RejectCounts,
  type RejectExample,
} from '../../parse/rejects.js';
import { openFile } from '../../sources/locations.js';
import { type LogFile, logReadFailure } from '../../sources/logFiles.js';
import { type ClickHouseCluster, sqlDay } from './cluster.js';
import { shardOf } from './listenTables.js';
import { ShardInserts } from './shardInserts.js';

/** What loading a day found: the same figures the embedded engine records for a day. */
export interface LoadedDay {
  date: string;
  file: string;
  lines: number;
  header: number;
  valid: number;
  rejected: number;
  rejects: RejectCounts;
  examples: RejectExample[];
}

/**
 * Load one day's log into the cluster, replacing the day: its partition is dropped on every shard,
 * then the log is parsed by playtally's own parser (so rejects are counted exactly as the embedded
 * engine counts them) and its valid rows are streamed, as TabSeparated, into `listens_local` of
 * their user's shard, one streamed insert per shard (ShardInserts): memory holds a chunk of the log
 * and a buffer per shard, whatever the day's size.
 */
export async function loadListenDay(cluster: ClickHouseCluster, log: LogFile): Promise<LoadedDay> {
  const date = isoDay(log.day);
  const table = `${cluster.database}.listens_local`;
  await cluster.onEach(`ALTER TABLE ${table} DROP PARTITION ${sqlDay(log.day)}`);

  const inserts = new ShardInserts(cluster, table);
  const shards = cluster.shards.length;
  const prefix = Buffer.from(`${log.day}\t`);
  const countries = COUNTRY_CODES.map((code) => Buffer.from(code));
  const examples: RejectExample[] = [];
  const parser = new ListenParser({
    onBatch: (batch) => {
      for (let i = 0; i < batch.length; i++) {
        const user = batch.users[i]!;
        inserts
          .shard(shardOf(user, shards))
          .bytes(prefix)
          .number(user)
          .tab()
          .number(batch.songs[i]!)
          .tab()
          .bytes(countries[batch.countries[i]!]!)
          .newline();
      }
    },
    onReject: (reason, line, bytes) => {
      if (examples.length < MAX_EXAMPLES) {
        examples.push({ line, reason: REJECT_REASONS[reason]!, text: exampleText(bytes) });
      }
    },
  });
  // Read as it arrives, from a local file or S3; a read failure ends the gunzip with it.
  const stored = await openFile(log.path);
  let source: Readable = stored;
  if (log.compressed) {
    const gunzip = createGunzip();
    stored.on('error', (error) => gunzip.destroy(error));
    source = stored.pipe(gunzip);
  }
  try {
    for await (const chunk of source) {
      parser.push(chunk as Buffer);
      await inserts.flush();
    }
    parser.end();
    await inserts.end();
  } catch (error) {
    // An insert that failed first is the cause; ending the others now makes them fail too.
    const insertFailure = await inserts.abort();
    // The day's partition stays dropped and the state does not record it: the next run loads it.
    // Else a damaged gzip or an unreadable file: the same error as the embedded engine's (exit 3;
    // run/watch quarantine it).
    throw insertFailure ?? logReadFailure(error, log);
  }

  const rejects = emptyRejectCounts();
  let rejected = 0;
  REJECT_REASONS.forEach((reason, i) => {
    rejects[reason] = parser.rejects[i]!;
    rejected += parser.rejects[i]!;
  });
  return {
    date,
    file: log.name,
    lines: parser.lines,
    header: parser.header,
    valid: parser.valid,
    rejected,
    rejects,
    examples,
  };
}
