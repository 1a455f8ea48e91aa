import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type S3rverProcess, startS3rver } from '../../bench/s3rverProcess.js';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { clickhouseArgs, haveClickHouse, requireClickHouse, TestDatabases } from '../support/clickhouse.js';
import { cliAsync, parseEvents, requireBuiltCli, runDone, spawnCli } from '../support/cliRuns.js';
import { kpiLanding, kpiOutputs } from '../support/kpiLanding.js';
import { s3Keys, s3Object } from '../support/s3Bucket.js';
import { day, logName, TempDirs } from '../support/tempDirs.js';

/**
 * The commands with their inputs on S3 through the built CLI, against s3rver started on loopback
 * by this file (so it runs everywhere, CI included), reached the way a deployment reaches S3: the
 * standard AWS variables, with AWS_ENDPOINT_URL for an S3-compatible store. Each command's output
 * from S3 is compared byte for byte with the same command's output from a local copy of the same
 * inputs; archive and quarantine are checked as objects moved under the archive/ and error/
 * prefixes. S3 locations and moves in-process: test/integration/s3Folder.test.ts.
 */

requireClickHouse('e2e/s3Sources.test (its --engine clickhouse case)');

const temp = new TempDirs();
const databases = new TestDatabases('playtally_s3');
let server: S3rverProcess;
let client: S3Client;
const BUCKET = 'landing';
const FIRST = day('2024-05-01');
let prefixes = 0;

beforeAll(async () => {
  requireBuiltCli();
  server = await startS3rver(temp.make('playtally-s3src-'), [BUCKET]);
  client = server.client();
});
afterAll(async () => {
  await databases.dropAll();
  client?.destroy();
  await server?.stop();
  temp.cleanup();
});

/** The environment of a CLI child: the standard AWS variables, pointing at s3rver. */
const awsEnv = (): Record<string, string> => server.env();

/** A prefix of its own for each test. */
function newPrefix(name: string): string {
  return `${name}-${prefixes++}/`;
}

/** Upload every file under `dir` (subfolders too) to `prefix`, keeping the relative paths. */
async function upload(dir: string, prefix: string): Promise<void> {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const key = prefix + path.slice(dir.length + 1);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(path) }));
  }
}

/** Every key under `prefix`, relative to it, sorted. */
const keys = (prefix: string): Promise<string[]> => s3Keys(client, BUCKET, prefix);
const object = (key: string): Promise<Buffer> => s3Object(client, BUCKET, key);

/** The chart and quality files of an output folder, the quality report without its times and paths. */
function chartOutputs(out: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(out)
    .filter((n) => !n.startsWith('.'))
    .sort()) {
    const text = readFileSync(join(out, name), 'utf8');
    files[name] = name.endsWith('.json')
      ? text
          .replace(/"(generatedAt|builtAt|logsDir|path|file)": "[^"]*"/g, '')
          .replace(/"(buildMs|elapsedMs)": \d+/g, '')
      : text;
  }
  return files;
}

/** Five days of logs, one of them gzipped. */
function fiveDays(): string {
  const logs = temp.make('playtally-s3src-logs-');
  generateLogs({ dir: logs, start: FIRST, days: 5, rows: 3_000, users: 300, songs: 200, seed: 11 });
  const plain = join(logs, logName(FIRST + 2));
  writeFileSync(`${plain}.gz`, gzipSync(readFileSync(plain)));
  rmSync(plain);
  return logs;
}

describe('top50 --logs s3://', () => {
  it('writes the same charts as from a local folder, plain and gzip logs streamed', async () => {
    const logs = fiveDays();
    const prefix = newPrefix('top50');
    await upload(logs, prefix);

    const localOut = temp.make('playtally-s3src-local-');
    const local = await cliAsync(['top50', '--logs', logs, '--out', localOut, '--window', '5']);
    expect(local.status, local.stderr).toBe(0);
    const s3Out = temp.make('playtally-s3src-out-');
    const remote = await cliAsync(
      ['top50', '--logs', `s3://${BUCKET}/${prefix}`, '--out', s3Out, '--window', '5'],
      {
        env: awsEnv(),
      },
    );
    expect(remote.status, remote.stderr).toBe(0);
    expect(chartOutputs(s3Out)).toEqual(chartOutputs(localOut));
    const manifest = JSON.parse(readFileSync(join(s3Out, '.playtally', 'manifest.json'), 'utf8')) as {
      days: Record<string, { hash: string }>;
    };
    const localManifest = JSON.parse(readFileSync(join(localOut, '.playtally', 'manifest.json'), 'utf8')) as {
      days: Record<string, { hash: string }>;
    };
    // The content hash of a streamed object is the hash of the same local file.
    for (const [key, d] of Object.entries(localManifest.days)) expect(manifest.days[key]!.hash).toBe(d.hash);

    // Nothing changed: the second run reuses every day's partial without reading an object.
    const again = await cliAsync(
      ['top50', '--logs', `s3://${BUCKET}/${prefix}`, '--out', s3Out, '--window', '5'],
      {
        env: awsEnv(),
      },
    );
    expect(again.status, again.stderr).toBe(0);
    expect(chartOutputs(s3Out)).toEqual(chartOutputs(localOut));
  });

  it('an unreachable bucket is exit 3 naming it, before anything is written', async () => {
    const out = join(temp.make('playtally-s3src-none-'), 'out');
    const r = await cliAsync(['top50', '--logs', 's3://no-such-bucket/logs/', '--out', out], {
      env: awsEnv(),
    });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain('s3://no-such-bucket/logs/');
  });
});

describe('run --logs s3://', () => {
  it('archives into archive/ and quarantines into error/ by copy-then-delete, with the same charts as a local run', async () => {
    const logs = temp.make('playtally-s3src-runlogs-');
    generateLogs({ dir: logs, start: FIRST, days: 4, rows: 2_000, users: 200, songs: 150, seed: 5 });
    const BAD = FIRST + 4;
    generateLogs({
      dir: logs,
      start: BAD,
      days: 1,
      rows: 2_000,
      users: 200,
      songs: 150,
      seed: 6,
      corruptRate: 0.3,
    });
    const badBytes = readFileSync(join(logs, logName(BAD)));
    const prefix = newPrefix('run');
    await upload(logs, prefix);
    const root = `s3://${BUCKET}/${prefix}`;

    const localLogs = temp.make('playtally-s3src-runlocal-');
    for (const name of readdirSync(logs))
      writeFileSync(join(localLogs, name), readFileSync(join(logs, name)));
    const localOut = temp.make('playtally-s3src-runlocalout-');
    const local = await cliAsync(['run', '--logs', localLogs, '--out', localOut, '--window', '3']);
    expect(local.status, local.stderr).toBe(0);

    const out = temp.make('playtally-s3src-runout-');
    const args = ['run', '--logs', root, '--out', out, '--window', '3', '--archive', `${root}archive/`];
    const first = await cliAsync(args, { env: awsEnv() });
    expect(first.status, first.stderr).toBe(0);
    const done = runDone(first);
    expect(done.quarantined).toBe(1);
    // Days 0 and 1 have every chart that needs them (dates up to 3, the newest good day); days 2
    // and 3 wait for the charts of dates 4 and 5, which need logs not landed yet.
    expect(done.archived).toBe(2);
    expect(chartOutputs(out)).toEqual(chartOutputs(localOut));

    // Days 0 and 1 are in archive/, the bad one in error/ with its reason.
    const logNames = [0, 1].map((i) => logName(FIRST + i));
    expect(await keys(prefix)).toEqual(
      [
        ...logNames.map((n) => `archive/${n}`),
        logName(FIRST + 2),
        logName(FIRST + 3),
        `error/${logName(BAD)}`,
        `error/${logName(BAD)}.reason.json`,
      ].sort(),
    );
    expect(await object(`${prefix}error/${logName(BAD)}`)).toEqual(badBytes);
    const reason = JSON.parse((await object(`${prefix}error/${logName(BAD)}.reason.json`)).toString()) as {
      reason: string;
      rejectRate: number;
    };
    expect(reason.reason).toBe('reject_rate');
    expect(reason.rejectRate).toBeGreaterThan(0.05);
    for (const n of logNames)
      expect(await object(`${prefix}archive/${n}`)).toEqual(readFileSync(join(logs, n)));
    const manifest = JSON.parse(readFileSync(join(out, '.playtally', 'manifest.json'), 'utf8')) as {
      days: Record<string, { archived?: string }>;
      quarantined: Record<string, { movedTo?: string }>;
    };
    expect(manifest.days[logNames[0]!.slice(7, 15)]!.archived).toBe(`${root}archive/${logNames[0]}`);
    expect(manifest.quarantined[logName(BAD).slice(7, 15)]!.movedTo).toBe(`${root}error/${logName(BAD)}`);

    // A second run has nothing to do; a run with the state folder lost takes the archived logs
    // back in from archive/ and writes the same charts.
    const second = await cliAsync(args, { env: awsEnv() });
    expect(second.status, second.stderr).toBe(0);
    expect(runDone(second)).toMatchObject({ parsed: 0, charts: [], archived: 0, quarantined: 0 });
    // status lists the logs on S3 that no run has taken in yet.
    const later = temp.make('playtally-s3src-later-');
    generateLogs({ dir: later, start: FIRST + 6, days: 1, rows: 500, users: 50, songs: 40, seed: 9 });
    await upload(later, prefix);
    const status = await cliAsync(['status', '--out', out, '--logs', root, '--json'], { env: awsEnv() });
    expect(status.status, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { pending: string[] }).pending).toEqual([logName(FIRST + 6)]);
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${prefix}${logName(FIRST + 6)}` }));
    const fresh = temp.make('playtally-s3src-runfresh-');
    const rebuilt = await cliAsync(
      ['run', '--logs', root, '--out', fresh, '--window', '3', '--archive', `${root}archive/`],
      {
        env: awsEnv(),
      },
    );
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    const withoutBad = chartOutputs(fresh);
    // The bad day is unknown to this state (its log is in error/), so only its charts differ.
    for (const name of Object.keys(withoutBad).filter((n) => !n.includes('quality'))) {
      if (name.includes(logName(BAD).slice(7, 15))) continue;
      expect(withoutBad[name], name).toBe(chartOutputs(out)[name]);
    }
  });

  it('refuses outputs or state on S3 (exit 2), creating no local folder named s3:', async () => {
    const cwd = temp.make('playtally-s3src-cwd-');
    const out = join(temp.make('playtally-s3src-o-'), 'out');
    const logs = `s3://${BUCKET}/nothing/`;
    for (const args of [
      ['top50', '--logs', logs, '--out', `s3://${BUCKET}/charts/`],
      ['run', '--logs', logs, '--out', out, '--state', `s3://${BUCKET}/state/`],
      ['kpis', '--landing', logs, '--out', `s3://${BUCKET}/kpis/`],
    ]) {
      const r = await cliAsync(args, { env: awsEnv(), cwd });
      expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('outputs and state are local folders');
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('refuses a local --archive for logs on S3 (exit 2) before any work', async () => {
    const out = join(temp.make('playtally-s3src-mixed-'), 'out');
    const r = await cliAsync(
      [
        'run',
        '--logs',
        `s3://${BUCKET}/mixed/`,
        '--out',
        out,
        '--archive',
        temp.make('playtally-s3src-arch-'),
      ],
      { env: awsEnv() },
    );
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('--archive');
    expect(r.stderr).toContain('must be an s3:// location');
  });

  it('watch takes in a log uploaded while it polls', async () => {
    const logs = temp.make('playtally-s3src-watchlogs-');
    generateLogs({ dir: logs, start: FIRST, days: 2, rows: 1_000, users: 100, songs: 80, seed: 8 });
    const prefix = newPrefix('watch');
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `${prefix}${logName(FIRST)}`,
        Body: readFileSync(join(logs, logName(FIRST))),
      }),
    );
    const out = temp.make('playtally-s3src-watchout-');
    const child = spawnCli(
      [
        'watch',
        '--logs',
        `s3://${BUCKET}/${prefix}`,
        '--out',
        out,
        '--window',
        '2',
        '--poll-interval',
        '300ms',
      ],
      { env: awsEnv() },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const waitFor = async (date: string): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (!parseEvents(stdout).some((e) => e.event === 'charts_written' && e.date === date)) {
        if (Date.now() > deadline) throw new Error(`no charts for ${date}:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await waitFor('2024-05-01');
      await client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `${prefix}${logName(FIRST + 1)}`,
          Body: readFileSync(join(logs, logName(FIRST + 1))),
        }),
      );
      await waitFor('2024-05-02');
    } finally {
      const exited = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await exited;
    }
    expect(readdirSync(out).filter((n) => n.includes('20240502')).length).toBeGreaterThan(0);
  });
});

describe.runIf(haveClickHouse)('run --engine clickhouse --logs s3://', () => {
  it('loads the streamed logs into the cluster and writes the charts of a local embedded run', async () => {
    const logs = fiveDays();
    const prefix = newPrefix('clickhouse');
    await upload(logs, prefix);
    const localOut = temp.make('playtally-s3src-chlocal-');
    const local = await cliAsync(['run', '--logs', logs, '--out', localOut, '--window', '3']);
    expect(local.status, local.stderr).toBe(0);
    const out = temp.make('playtally-s3src-chout-');
    const r = await cliAsync(
      [
        'run',
        '--logs',
        `s3://${BUCKET}/${prefix}`,
        '--out',
        out,
        '--window',
        '3',
        ...clickhouseArgs(databases.next()),
      ],
      { env: awsEnv() },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(runDone(r).charts).toHaveLength(5);
    const charts = (o: string) =>
      Object.fromEntries(Object.entries(chartOutputs(o)).filter(([name]) => name.endsWith('.txt')));
    expect(Object.keys(charts(out))).toHaveLength(10);
    expect(charts(out)).toEqual(charts(localOut));
  });
});

describe('kpis --landing s3://', () => {
  it('writes the same KPI files as from a local folder; bad files go to error/<kind>/ and done ones to archive/', async () => {
    const landing = kpiLanding(temp, 21, 400);
    writeFileSync(join(landing, 'songs', 'zz-binary.csv'), Buffer.from([0, 1, 2, 0xff, 0, 7, 0, 0]));
    writeFileSync(join(landing, 'streams', 'zz-nocolumns.csv'), 'a,b,c\n1,2,3\n');
    const prefix = newPrefix('kpis');
    await upload(landing, prefix);
    const streams = readdirSync(join(landing, 'streams')).filter((n) => n !== 'zz-nocolumns.csv');

    const localOut = temp.make('playtally-s3src-kpilocal-');
    const local = await cliAsync(['kpis', '--landing', landing, '--out', localOut, '--no-archive']);
    expect(local.status, local.stderr).toBe(0);
    const out = temp.make('playtally-s3src-kpiout-');
    const args = ['kpis', '--landing', `s3://${BUCKET}/${prefix}`, '--out', out];
    const first = await cliAsync(args, { env: awsEnv() });
    expect(first.status, first.stderr).toBe(0);
    expect(kpiOutputs(out)).toEqual(kpiOutputs(localOut));

    const after = await keys(prefix);
    expect(after.filter((k) => k.startsWith('error/'))).toEqual([
      'error/songs/zz-binary.csv',
      'error/songs/zz-binary.csv.reason.json',
      'error/streams/zz-nocolumns.csv',
      'error/streams/zz-nocolumns.csv.reason.json',
    ]);
    const reason = JSON.parse(
      (await object(`${prefix}error/streams/zz-nocolumns.csv.reason.json`)).toString(),
    ) as {
      reason: string;
    };
    expect(reason.reason).toBe('missing_columns');
    // Every streams file left streams/ for archive/YYYYMMDD/, its bytes unchanged.
    expect(after.filter((k) => k.startsWith('streams/'))).toEqual([]);
    const archived = after.filter((k) => k.startsWith('archive/'));
    expect(archived.map((k) => k.split('/')[2]).sort()).toEqual([...streams].sort());
    for (const k of archived) {
      expect(k).toMatch(/^archive\/\d{8}\//);
      expect(await object(prefix + k)).toEqual(readFileSync(join(landing, 'streams', k.split('/')[2]!)));
    }

    // Run again: nothing to parse or write, the files stay where they are.
    const again = await cliAsync(args, { env: awsEnv() });
    expect(again.status, again.stderr).toBe(0);
    expect(kpiOutputs(out)).toEqual(kpiOutputs(localOut));
    expect(await keys(prefix)).toEqual(after);
  });
});
