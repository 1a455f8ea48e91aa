import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type S3rverProcess, startS3rver } from '../../bench/s3rverProcess.js';
import { S3Folder } from '../../src/cloud/s3Folder.js';
import { moveFileWithReason, subfolder } from '../../src/sources/locations.js';
import { s3Keys, s3Object } from '../support/s3Bucket.js';
import { TempDirs } from '../support/tempDirs.js';

/**
 * S3 locations against s3rver, an S3 implementation started on loopback by this file (so it runs
 * everywhere, CI included). s3rver takes only the credentials S3RVER/S3RVER, and stores the
 * aws-chunked framing of an upload sent with the SDK's default checksums as part of the object:
 * the client is made with checksums only when required, as playtally's is. Moves on S3 keep
 * every file set aside. The commands with their inputs on S3: test/e2e/s3Sources.test.ts.
 */

const temp = new TempDirs();
let server: S3rverProcess;
let client: S3Client;
const BUCKET = 'landing';

beforeAll(async () => {
  server = await startS3rver(temp.make('playtally-s3rver-'), [BUCKET]);
  client = server.client();
});
afterAll(async () => {
  client?.destroy();
  await server?.stop();
  temp.cleanup();
});

async function put(key: string, body: Buffer | string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

async function text(folder: S3Folder, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await folder.read(name)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('S3Folder', () => {
  it('parses s3://bucket/prefix and refuses anything else', () => {
    const f = new S3Folder('s3://landing/drops/streams', client);
    expect([f.bucket, f.prefix, f.uri]).toEqual(['landing', 'drops/streams/', 's3://landing/drops/streams/']);
    expect(new S3Folder('s3://landing', client).prefix).toBe('');
    expect(subfolder(f.uri, 'archive/20240101')).toBe('s3://landing/drops/streams/archive/20240101/');
    for (const bad of ['s3:/landing', 'http://landing/x', 's3://UPPER/x', 's3://a/x']) {
      expect(() => new S3Folder(bad, client), bad).toThrow('not an s3://bucket/prefix location');
    }
  });

  it('lists the objects directly in the folder, every page, in key order', async () => {
    const names = Array.from({ length: 23 }, (_, i) => `listen-202401${String(i + 1).padStart(2, '0')}.log`);
    for (const name of [...names].reverse()) await put(`logs/${name}`, name);
    await put('logs/archive/listen-20231231.log', 'archived');
    await put('logsmore/listen-20240101.log', 'another folder');
    const listed = await new S3Folder('s3://landing/logs/', client).list(5);
    expect(listed.map((e) => e.name)).toEqual(names);
    expect(listed[0]).toMatchObject({ key: 'logs/listen-20240101.log', size: names[0]!.length });
    expect(listed[0]!.mtimeMs).toBeGreaterThan(Date.now() - 600_000);
  });

  it('reads an object as a stream of its exact bytes; a streamed upload stores no chunk framing', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    // Streamed, as an upload of a large file is: with the SDK's default checksums this body
    // would go out in aws-chunked framing, which s3rver keeps as part of the object.
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'big/blob.bin',
        Body: Readable.from([bytes.subarray(0, 1_000_000), bytes.subarray(1_000_000)]),
        ContentLength: bytes.length,
      }),
    );
    const folder = new S3Folder('s3://landing/big', client);
    const got = await text(folder, 'blob.bin');
    expect(got.length).toBe(bytes.length);
    expect(got.equals(bytes)).toBe(true);
  });

  it('moves copy-then-delete, keeping an object of the same name as .replaced-<timestamp>', async () => {
    const landing = new S3Folder('s3://landing/move', client);
    const archive = new S3Folder(subfolder(landing.uri, 'archive/20240105'), client);
    await put('move/listen-20240105.log', 'first');
    expect(await landing.moveTo('listen-20240105.log', archive)).toBe(
      's3://landing/move/archive/20240105/listen-20240105.log',
    );
    expect((await landing.list()).map((e) => e.name)).toEqual([]);
    await put('move/listen-20240105.log', 'second');
    await landing.moveTo('listen-20240105.log', archive);
    const archived = await archive.list();
    expect(archived).toHaveLength(2);
    expect(archived[0]!.name).toBe('listen-20240105.log');
    expect(archived[1]!.name).toMatch(/^listen-20240105\.log\.replaced-\d{8}T\d{6}/);
    expect((await text(archive, 'listen-20240105.log')).toString()).toBe('second');
    expect((await text(archive, archived[1]!.name)).toString()).toBe('first');
  });

  it('a bucket that does not exist is a clear error naming the location', async () => {
    await expect(new S3Folder('s3://no-such-bucket/x', client).list()).rejects.toMatchObject({
      code: 'source_unavailable',
      message: expect.stringContaining('cannot list s3://no-such-bucket/x/'),
    });
  });
});

/** Every key under `prefix`, relative to it, sorted. */
const keys = (prefix: string): Promise<string[]> => s3Keys(client, BUCKET, prefix);
const object = (key: string): Promise<Buffer> => s3Object(client, BUCKET, key);

// Last: it sets the AWS variables of this process for playtally's own S3 client.
describe('moves on S3', () => {
  it('a file set aside twice keeps both earlier copies and their reasons, renamed .replaced-<timestamp>', async () => {
    Object.assign(process.env, server.env()); // this process's own S3 client reads them on first use
    const prefix = 'moves/';
    const root = `s3://${BUCKET}/${prefix}`;
    for (let i = 1; i <= 3; i++) {
      await client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}bad.csv`, Body: `version ${i}` }),
      );
      const done = await moveFileWithReason(`${root}bad.csv`, `${root}error/`, { version: i });
      expect(done).toEqual({
        movedTo: `${root}error/bad.csv`,
        reasonFile: `${root}error/bad.csv.reason.json`,
      });
    }
    const left = await keys(prefix);
    expect(left).toHaveLength(6);
    expect(left.filter((k) => !k.includes('.replaced-'))).toEqual([
      'error/bad.csv',
      'error/bad.csv.reason.json',
    ]);
    const asides = left.filter((k) => k.includes('.replaced-') && !k.endsWith('.reason.json'));
    expect(asides).toHaveLength(2);
    for (const aside of asides) {
      expect(aside).toMatch(/^error\/bad\.csv\.replaced-\d{8}T\d{6}(\.\d+)?Z(-\d+)?$/);
      // Each copy set aside has its own reason beside it, under the same new name.
      const version = (await object(prefix + aside)).toString();
      const reason = JSON.parse((await object(`${prefix}${aside}.reason.json`)).toString()) as {
        version: number;
      };
      expect(version).toBe(`version ${reason.version}`);
    }
    expect((await object(`${prefix}error/bad.csv`)).toString()).toBe('version 3');
  });
});
