import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoTable } from '../../src/cloud/dynamoTable.js';
import { readKpiDay } from '../../src/formats/kpiFiles.js';
import { parseDay } from '../../src/ops/dates.js';
import { cliAsync, requireBuiltCli, runFolders } from '../support/cliRuns.js';
import { type Dynalite, startDynalite } from '../support/dynaliteServer.js';
import { kpiFolder } from '../support/kpiLanding.js';
import { day, TempDirs } from '../support/tempDirs.js';

/**
 * The DynamoDB sink through the built CLI, against dynalite started on loopback by this file and
 * reached the way a deployment reaches DynamoDB (the standard AWS variables): `kpis --sink`
 * (a missing table, --create-table, usage errors), `kpis query`, and `run --sink` / `top50 --sink`
 * for the country charts. The sink in-process: test/integration/dynamoSink.test.ts.
 */

const temp = new TempDirs();
let dynamo: Dynalite;

beforeAll(async () => {
  requireBuiltCli();
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.close();
  temp.cleanup();
});

/** The environment a CLI child reaches dynalite with: the standard AWS variables. */
const awsEnv = (): Record<string, string> => dynamo.env();

describe('kpis --sink and kpis query through the CLI', () => {
  it('a missing table is exit 4 before any work; --create-table creates it; query answers', async () => {
    const { landing } = await kpiFolder(temp, 'day', 7);
    const out = temp.make('playtally-dyn-cli-out-');
    const name = `cli-${process.pid}`;
    const run = (args: string[]) => cliAsync(args, { env: awsEnv() });
    const base = ['kpis', '--landing', landing, '--out', out, '--no-archive', '--sink', `dynamodb://${name}`];

    const missing = await run(base);
    expect(missing.status).toBe(4);
    expect(missing.stderr).toContain(`DynamoDB table ${name} does not exist: create it with --create-table`);

    const created = await run([...base, '--create-table']);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stderr).toContain(`DynamoDB table ${name} created`);
    expect(created.stderr).toMatch(/4 KPI days written to DynamoDB/);

    const again = await run([...base, '--create-table']);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`DynamoDB table ${name} exists`);
    expect(again.stderr).toContain('0 KPI days written to DynamoDB');

    const text = await run(['kpis', 'query', '--sink', `dynamodb://${name}`, '--date', '20240201']);
    expect(text.status, text.stderr).toBe(0);
    const files = readKpiDay(out, parseDay('20240201')!);
    expect(text.stdout).toContain(`1. ${files.topGenres[0]!.genre} (`);
    const json = await run([
      'kpis',
      'query',
      '--sink',
      `dynamodb://${name}`,
      '--date',
      '2024-02-01',
      '--genre',
      'pop',
      '--json',
    ]);
    expect(json.status, json.stderr).toBe(0);
    const answer = JSON.parse(json.stdout) as { genres: { genre: string; top3: unknown }[] };
    const pop = files.genres.find((g) => g.genre === 'pop')!;
    expect(answer.genres).toEqual([expect.objectContaining({ genre: 'pop', top3: pop.top3 })]);

    const none = await run(['kpis', 'query', '--sink', `dynamodb://${name}`, '--date', '2023-01-01']);
    expect(none.status).toBe(3);
    expect(none.stderr).toContain(`${name} holds no genre KPIs of 2023-01-01`);
  });

  it('usage errors are exit 2: a sink that is not dynamodb://, --create-table without --sink', async () => {
    const { landing } = await kpiFolder(temp, 'day', 9);
    const out = temp.make('playtally-dyn-cli-usage-');
    const bad = await cliAsync(['kpis', '--landing', landing, '--out', out, '--sink', 's3://x'], {
      env: awsEnv(),
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--sink must be dynamodb://TABLE');
    const noSink = await cliAsync(['kpis', '--landing', landing, '--out', out, '--create-table'], {
      env: awsEnv(),
    });
    expect(noSink.status).toBe(2);
    expect(noSink.stderr).toContain('--create-table is for --sink dynamodb://TABLE');
    // Both stopped before any work: no KPI file was written.
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('the country charts in the sink', () => {
  it('run --sink writes every chart date; a run with nothing new writes nothing; top50 --sink too', async () => {
    const f = runFolders(temp, 'playtally-dyn-run-', day('2024-01-01'), 3, { rows: 3_000, seed: 4 });
    const name = `charts-${process.pid}`;
    const sinkArgs = ['--sink', `dynamodb://${name}`];
    const first = await cliAsync(['run', '--logs', f.logs, '--out', f.out, ...sinkArgs, '--create-table'], {
      env: awsEnv(),
    });
    expect(first.status, first.stderr).toBe(0);
    const done = first.stdout.split('\n').find((l) => l.includes('"sink_written"'));
    expect(JSON.parse(done!).dates).toEqual(['2024-01-01', '2024-01-02', '2024-01-03']);
    const table = new DynamoTable(name, dynamo.client);
    for (const date of ['2024-01-01', '2024-01-02', '2024-01-03']) {
      const items = await table.query(`CHART#${date}`, 'COUNTRY#');
      const file = readFileSync(join(f.out, `country_top50_${date.replaceAll('-', '')}.txt`), 'utf8');
      const lines = file.split('\n').filter((l) => l !== '');
      expect(items.map((i) => i.country!.S)).toEqual(lines.map((l) => l.slice(0, 2)));
      // Each country's songs are the file's, in order.
      expect(
        items.map(
          (i) => `${i.country!.S}|${i.songs!.L!.map((x) => `${x.M!.sng_id!.N}:${x.M!.plays!.N}`).join(',')}`,
        ),
      ).toEqual(lines);
    }
    const again = await cliAsync(['run', '--logs', f.logs, '--out', f.out, ...sinkArgs], { env: awsEnv() });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('"sink_written"');

    const out = temp.make('playtally-dyn-top50-');
    const top = await cliAsync(['top50', '--logs', f.logs, '--out', out, ...sinkArgs, '--quiet'], {
      env: awsEnv(),
    });
    expect(top.status, top.stderr).toBe(0);
    // The same date, the same charts: the items are the same, rewritten.
    expect((await table.query('CHART#2024-01-03', 'COUNTRY#')).length).toBeGreaterThan(0);
  });
});
