import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { PlaytallyError } from '../ops/errors.js';
import { replacedStamp } from '../ops/fileMoves.js';
import { awsError, guarded } from './awsErrors.js';
import { parseS3Uri } from './s3Uri.js';

/** An object directly under an S3 folder (a prefix ending in `/`). */
export interface S3Entry {
  key: string;
  /** The key's last part. */
  name: string;
  size: number;
  mtimeMs: number;
}

/**
 * A folder of an S3 bucket, `s3://bucket/prefix`: the landing place of the logs and CSV drops, with
 * `archive/` and `error/` under it. Credentials, region and endpoint come from the standard AWS
 * configuration (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3` for an S3-compatible store, which is
 * then addressed path-style). Checksums are computed and checked only where S3 requires them: a
 * streamed upload with the SDK's default checksums is sent in aws-chunked framing, which some
 * S3-compatible stores (s3rver, older MinIO) store as part of the object.
 */
export class S3Folder {
  readonly bucket: string;
  /** '' or ending in '/'. */
  readonly prefix: string;

  constructor(
    uri: string,
    readonly client: S3Client = S3Folder.defaultClient(),
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Uri(uri));
  }

  private static shared: S3Client | undefined;

  /** The folder at `uri` with the process's one client (its connections are reused across folders). */
  static at(uri: string): S3Folder {
    S3Folder.shared ??= S3Folder.defaultClient();
    return new S3Folder(uri, S3Folder.shared);
  }

  /** Close the process's client and its kept-alive connections (a worker thread leaving). */
  static closeShared(): void {
    S3Folder.shared?.destroy();
    S3Folder.shared = undefined;
  }

  static defaultClient(): S3Client {
    // The SDK's Node 22 notice: said once in docs/AWS.md, not on every command (see DynamoTable).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const custom = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    return new S3Client({
      forcePathStyle: custom !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get uri(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  /** The objects directly in this folder (not in its subfolders), in key order, every page read. */
  async list(pageSize = 1000): Promise<S3Entry[]> {
    const entries: S3Entry[] = [];
    let token: string | undefined;
    do {
      const page = await this.guard('list', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix,
            Delimiter: '/',
            MaxKeys: pageSize,
            ContinuationToken: token,
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        const name = o.Key!.slice(this.prefix.length);
        if (name === '') continue; // the folder's own marker object
        entries.push({
          key: o.Key!,
          name,
          size: o.Size ?? 0,
          mtimeMs: o.LastModified?.getTime() ?? 0,
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** An object's size and modification time, or undefined when there is no such object. */
  async stat(name: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + name }),
      );
      return { size: head.ContentLength ?? 0, mtimeMs: head.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (notFound(error)) return undefined;
      throw this.failure(error, `look for ${name} in`);
    }
  }

  /**
   * An object's bytes as a stream: read as they arrive, never held whole. `range` reads bytes
   * [start, end) only (a ranged GET).
   */
  async read(name: string, range?: { start: number; end: number }): Promise<Readable> {
    const answer = await this.guard(`read ${name} in`, () =>
      this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + name,
          Range: range === undefined ? undefined : `bytes=${range.start}-${range.end - 1}`,
        }),
      ),
    );
    return answer.Body as Readable;
  }

  /** Write a small text object (a `.reason.json`): one PUT, so it is there whole or not at all. */
  async putText(name: string, text: string): Promise<void> {
    await this.guard(`write ${name} in`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + name,
          Body: text,
          ContentType: 'application/json',
        }),
      ),
    );
  }

  /** Is there an object `name` in this folder? */
  async has(name: string): Promise<boolean> {
    return (await this.stat(name)) !== undefined;
  }

  /**
   * Rename object `name` to `<name>.replaced-<UTC timestamp>` (copy, then delete), as a local file
   * set aside is; returns the new name.
   */
  async setAside(name: string): Promise<string> {
    const stamp = replacedStamp();
    let aside = `${name}.replaced-${stamp}`;
    for (let n = 2; await this.has(aside); n++) aside = `${name}.replaced-${stamp}-${n}`;
    await this.rename(name, aside);
    return aside;
  }

  /** Rename an object within this folder: copied, then the old key deleted. */
  async rename(name: string, newName: string): Promise<void> {
    await this.copy(this.bucket, this.prefix + name, this.bucket, this.prefix + newName);
    await this.delete(name);
  }

  /**
   * One listing request, to learn early that the bucket is there and the credentials may list it
   * (a wrong bucket, region, endpoint or key fails here, before any work).
   */
  async probe(): Promise<void> {
    await this.guard('list', () =>
      this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, Delimiter: '/', MaxKeys: 1 }),
      ),
    );
  }

  private async delete(name: string): Promise<void> {
    await this.guard(`delete ${name} in`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + name })),
    );
  }

  /**
   * Move an object into folder `to` (archive, error): copied first, deleted once the copy is
   * there, so a failure in between leaves it in both places, never in neither. An object of the
   * same name already there is kept as `<name>.replaced-<timestamp>`, as with local files:
   * nothing is overwritten. Resolves to the new location.
   */
  async moveTo(name: string, to: S3Folder): Promise<string> {
    if (await to.has(name)) await to.setAside(name);
    await this.copy(this.bucket, this.prefix + name, to.bucket, to.prefix + name);
    await this.delete(name);
    return `s3://${to.bucket}/${to.prefix}${name}`;
  }

  private async copy(fromBucket: string, fromKey: string, toBucket: string, toKey: string): Promise<void> {
    await this.guard(`copy ${fromKey} in`, () =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: toBucket,
          Key: toKey,
          CopySource: `${fromBucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`,
        }),
      ),
    );
  }

  /** A request whose failure becomes a clear error naming the location (exit 3). */
  private guard<T>(what: string, request: () => Promise<T>): Promise<T> {
    return guarded('source_unavailable', `${what} ${this.uri}`, { location: this.uri }, request);
  }

  private failure(error: unknown, what: string): PlaytallyError {
    return awsError('source_unavailable', `${what} ${this.uri}`, { location: this.uri }, error);
  }
}

function notFound(error: unknown): boolean {
  const e = error as Error & { $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}
