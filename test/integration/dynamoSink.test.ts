import { existsSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BatchWriteItemCommand,
  CreateTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoTable } from '../../src/cloud/dynamoTable.js';
import { readKpiDay } from '../../src/formats/kpiFiles.js';
import { generateKpiDataset } from '../../src/generate/kpiDataset.js';
import { runKpis } from '../../src/jobs/kpiJob.js';
import { parseDay } from '../../src/ops/dates.js';
import { PlaytallyError } from '../../src/ops/errors.js';
import { readKpiAnswer } from '../../src/sinks/dynamoAnswers.js';
import { chartItems, DynamoSink, kpiItems } from '../../src/sinks/dynamoSink.js';
import { runOnce } from '../../src/unattended/runOnce.js';
import { runFolders } from '../support/cliRuns.js';
import { type Dynalite, startDynalite } from '../support/dynaliteServer.js';
import { kpiFolder } from '../support/kpiLanding.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The DynamoDB sink of the genre KPIs against dynalite, a DynamoDB implementation started on
 * loopback by this file (no server to install, so it runs everywhere, CI included): the items of
 * a day hold exactly the files' figures; a rewritten day leaves exactly its new items; unprocessed
 * items are sent again with backoff; a run whose sink fails archives nothing. `kpis --sink`,
 * `kpis query` and `run --sink` through the CLI: test/e2e/dynamoSink.test.ts.
 */

const temp = new TempDirs();
let dynamo: Dynalite;
let client: DynamoDBClient;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
  client = dynamo.client;
});
afterAll(async () => {
  await dynamo?.close();
  temp.cleanup();
});

async function newTable(): Promise<DynamoTable> {
  const table = new DynamoTable(`kpis-${process.pid}-${tables++}`, client);
  expect(await table.create()).toBe('created');
  return table;
}

/** Every item of a day's partition. */
async function itemsOf(table: DynamoTable, date: string) {
  return table.query(`DATE#${date}`, '');
}

describe('the items of a day', () => {
  it('hold the figures of the files exactly, the average with its two decimals', async () => {
    const { out } = await kpiFolder(temp);
    const files = readKpiDay(out, parseDay('20240201')!);
    const items = kpiItems(files);
    expect(items).toHaveLength(files.genres.length + 2);
    const first = files.genres[0]!;
    const item = items.find((i) => i.sk!.S === `GENRE#${first.genre}`)!;
    expect(item).toMatchObject({
      pk: { S: 'DATE#2024-02-01' },
      date: { S: '2024-02-01' },
      genre: { S: first.genre },
      listen_count: { N: String(first.listenCount) },
      unique_listeners: { N: String(first.uniqueListeners) },
      total_listening_ms: { N: String(first.totalListeningMs) },
      avg_listening_ms_per_listener: { N: first.avgListeningMsPerListener },
    });
    expect(item.top3_tracks!.L!.map((t) => [t.M!.track_id!.S, Number(t.M!.plays!.N)])).toEqual(
      first.top3.map((t) => [t.track, t.plays]),
    );
    const top = items.find((i) => i.sk!.S === 'TOP_GENRES')!;
    expect(top.genres!.L!.map((g) => g.M!.genre!.S)).toEqual(files.topGenres.map((t) => t.genre));
    const dayItem = items.find((i) => i.sk!.S === 'DAY')!;
    expect(dayItem.granularity).toEqual({ S: 'day' });
    expect(Number(dayItem.streams!.M!.counted!.N)).toBeGreaterThan(1_000);
  });
});

describe('DynamoSink', () => {
  it('writes every day; the answers read back are the files; a second sync writes nothing', async () => {
    const table = await newTable();
    const { out, state } = await kpiFolder(temp);
    const sink = new DynamoSink(table, state);
    const written = await sink.syncKpis(out);
    expect(written.map((w) => w.date)).toEqual(['2024-01-31', '2024-02-01', '2024-02-02', '2024-02-03']);
    for (const w of written) {
      const files = readKpiDay(out, parseDay(w.date.replaceAll('-', ''))!);
      expect(await itemsOf(table, w.date)).toHaveLength(files.genres.length + 2);
      const answer = (await readKpiAnswer(table, w.date))!;
      expect(answer.topGenres.map((t) => [t.rank, t.genre, t.listenCount])).toEqual(
        files.topGenres.map((t) => [t.rank, t.genre, t.listenCount]),
      );
      expect(
        answer.genres.map((g) => [
          g.genre,
          g.listenCount,
          g.uniqueListeners,
          g.avgListeningMsPerListener,
          g.top3,
        ]),
      ).toEqual(
        files.genres.map((g) => [
          g.genre,
          g.listenCount,
          g.uniqueListeners,
          g.avgListeningMsPerListener,
          g.top3,
        ]),
      );
    }
    expect(await sink.syncKpis(out)).toEqual([]);
    // Files rewritten (new mtime): written again, the same items, nothing left over.
    const genres = join(out, 'genre_kpis_20240201.csv');
    utimesSync(genres, new Date(), new Date(Date.now() + 5_000));
    const again = await sink.syncKpis(out);
    expect(again).toEqual([{ date: '2024-02-01', items: written[1]!.items, deleted: 0 }]);
  });

  it('a day rewritten at another granularity, or with a genre gone, leaves exactly its new items', async () => {
    const table = await newTable();
    const folder = await kpiFolder(temp, 'day', 5);
    const sink = new DynamoSink(table, folder.state);
    await sink.syncKpis(folder.out);
    // The same landing at hour granularity: the day's items become hourly ones.
    await runKpis({
      landingDir: folder.landing,
      outDir: folder.out,
      granularity: 'hour',
      archive: false,
      threads: 1,
    });
    const hourly = await sink.syncKpis(folder.out);
    const feb1 = hourly.find((w) => w.date === '2024-02-01')!;
    expect(feb1.deleted).toBeGreaterThan(0);
    const items = await itemsOf(table, '2024-02-01');
    expect(items).toHaveLength(feb1.items);
    expect(items.every((i) => i.sk!.S === 'DAY' || i.sk!.S!.includes('#HOUR#'))).toBe(true);
    const answer = (await readKpiAnswer(table, '2024-02-01', 'pop'))!;
    expect(answer.granularity).toBe('hour');
    expect(answer.genres.every((g) => g.genre === 'pop' && g.hour !== null)).toBe(true);
    expect(answer.genres.length).toBeGreaterThan(1);

    // A KPI file edited down to one genre (as a later run with fewer genres writes): the others go.
    const files = readKpiDay(folder.out, parseDay('20240202')!);
    const lines = [
      'date,genre,listen_count,unique_listeners,total_listening_ms,avg_listening_ms_per_listener,top3_tracks',
      '2024-02-02,pop,3,2,3000,1500.00,t1:2;t2:1',
    ];
    writeFileSync(join(folder.out, 'genre_kpis_20240202.csv'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(folder.out, 'top_genres_20240202.csv'),
      'date,rank,genre,listen_count\n2024-02-02,1,pop,3\n',
    );
    expect(files.genres.length).toBeGreaterThan(1);
    const shrunk = await sink.syncKpis(folder.out);
    expect(shrunk.map((w) => w.date)).toEqual(['2024-02-02']);
    const left = await itemsOf(table, '2024-02-02');
    expect(left.map((i) => i.sk!.S).sort()).toEqual(['DAY', 'GENRE#pop', 'TOP_GENRES']);
    const pop = (await readKpiAnswer(table, '2024-02-02', 'pop'))!.genres[0]!;
    expect(pop.avgListeningMsPerListener).toBe('1500.00');
  });

  it('a damaged KPI file is bad_result_file naming it, and nothing of that day is written', async () => {
    const table = await newTable();
    const { out, state } = await kpiFolder(temp);
    writeFileSync(join(out, 'genre_kpis_20240202.csv'), 'not,the,header\n');
    const sink = new DynamoSink(table, state);
    await expect(sink.syncKpis(out)).rejects.toMatchObject({ code: 'bad_result_file' });
    expect(await itemsOf(table, '2024-02-02')).toEqual([]);
    rmSync(join(out, 'genre_kpis_20240202.csv'));
  });
});

describe('DynamoTable.write', () => {
  /**
   * A client whose BatchWriteItem takes only `taken` items of a batch (leaving the others
   * unprocessed) `times` times, then takes whole batches.
   */
  function flakyClient(times: number, taken = 1) {
    const batches: number[] = [];
    let calls = 0;
    const fake = {
      send: async (command: BatchWriteItemCommand) => {
        const requests = command.input.RequestItems!.t!;
        batches.push(requests.length);
        calls++;
        if (calls <= times) return { UnprocessedItems: { t: requests.slice(taken) } };
        return { UnprocessedItems: {} };
      },
      destroy: () => {},
    };
    return { client: fake as unknown as DynamoDBClient, batches };
  }
  const puts = (k: number) =>
    Array.from({ length: k }, (_, i) => ({ PutRequest: { Item: { pk: { S: 'p' }, sk: { S: `s${i}` } } } }));

  it('sends unprocessed items again, in batches of 25, until none is left', async () => {
    const { client: fake, batches } = flakyClient(3);
    await new DynamoTable('t', fake).write(puts(30), 10, 1);
    // 25, then the 24, 23, 22 left unprocessed, then the second batch of 5.
    expect(batches).toEqual([25, 24, 23, 22, 5]);
  });

  it('gives up after the attempts with a clear error naming the table', async () => {
    const { client: fake } = flakyClient(1_000, 0);
    const error = await new DynamoTable('t', fake).write(puts(3), 4, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlaytallyError);
    expect((error as PlaytallyError).code).toBe('sink_unavailable');
    expect((error as Error).message).toContain('unprocessed after 4 attempts');
  });

  it('refuses a table with other keys than pk/sk', async () => {
    const name = `other-${process.pid}`;
    await client.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await expect(new DynamoTable(name, client).check()).rejects.toThrow('not a playtally table');
  });
});

describe('the country charts in the sink', () => {
  it('chartItems hold each country line of the file, songs in rank order', () => {
    const dir = temp.make('playtally-dyn-chart-');
    const path = join(dir, 'country_top50_20240105.txt');
    writeFileSync(path, 'DE|7:3,2:1\nFR|9007199254740991:5,1:5,3:2\n');
    const items = chartItems('2024-01-05', path);
    expect(items.map((i) => [i.pk!.S, i.sk!.S, i.country!.S])).toEqual([
      ['CHART#2024-01-05', 'COUNTRY#DE', 'DE'],
      ['CHART#2024-01-05', 'COUNTRY#FR', 'FR'],
    ]);
    expect(items[1]!.songs!.L!.map((x) => [x.M!.rank!.N, x.M!.sng_id!.N, x.M!.plays!.N])).toEqual([
      ['1', '9007199254740991', '5'],
      ['2', '1', '5'],
      ['3', '3', '2'],
    ]);
    writeFileSync(path, 'FR|1:2\nDE|1:1\n');
    expect(() => chartItems('2024-01-05', path)).toThrow("country not after the previous line's FR");
  });

  it('a run whose sink fails archives no log: a log leaves only once its results are committed', async () => {
    const f = runFolders(temp, 'playtally-dyn-fail-', day('2024-01-01'), 2, { rows: 500, seed: 5 });
    const archive = join(temp.make('playtally-dyn-archive-'), 'archive');
    const run = {
      logsDir: f.logs,
      outDir: f.out,
      command: 'run',
      window: 1,
      threads: 1,
      archiveDir: archive,
    } as const;
    await expect(
      runOnce({
        ...run,
        syncSink: async () => {
          throw new PlaytallyError('sink_unavailable', 'DynamoDB is down');
        },
      }),
    ).rejects.toThrow('DynamoDB is down');
    expect(readdirSync(f.logs).filter((n) => n.endsWith('.log'))).toHaveLength(2);
    expect(existsSync(archive)).toBe(false);
    // Once the sink works, the same run archives them.
    const record = await runOnce({ ...run, syncSink: async () => {} });
    expect(record.archived).toEqual(['2024-01-01', '2024-01-02']);
  });

  it('a kpis run whose sink fails archives no streams file; the next one does', async () => {
    const landing = temp.make('playtally-dyn-kpifail-');
    generateKpiDataset({
      dir: landing,
      start: day('2024-02-01'),
      days: 1,
      streamsPerDay: 500,
      filesPerDay: 2,
      songs: 200,
      users: 80,
      seed: 4,
    });
    const out = temp.make('playtally-dyn-kpifail-out-');
    const streams = readdirSync(join(landing, 'streams'));
    const synced: string[] = [];
    const job = { landingDir: landing, outDir: out, archive: true, threads: 1 };
    await expect(
      runKpis({
        ...job,
        syncSink: async () => {
          throw new PlaytallyError('sink_unavailable', 'DynamoDB is down');
        },
      }),
    ).rejects.toThrow('DynamoDB is down');
    expect(readdirSync(join(landing, 'streams'))).toEqual(streams);
    expect(existsSync(join(landing, 'archive'))).toBe(false);
    const summary = await runKpis({ ...job, syncSink: async (o) => void synced.push(o) });
    expect(synced).toEqual([out]);
    expect(summary.archived).toHaveLength(streams.length);
    expect(readdirSync(join(landing, 'streams'))).toEqual([]);
  });
});
