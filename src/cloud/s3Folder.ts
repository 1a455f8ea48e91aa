import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { PlaytallyError } from '../ops/errors.js';
import { awsError, guarded } from './awsErrors.js';

/** An object directly under an S3 folder (a prefix ending in `/`). */
export interface S3Entry {
  key: string;
  /** The key's last part. */
  name: string;
  size: number;
  mtimeMs: number;
  etag: string;
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
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
    if (!m) throw new PlaytallyError('usage', `not an s3://bucket/prefix location: ${JSON.stringify(uri)}`);
    this.bucket = m[1]!;
    const prefix = m[2] ?? '';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  static defaultClient(): S3Client {
    // The SDK's Node 22 notice: said once in the README, not on every command (see DynamoTable).
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

  /** The folder `sub` under this one (`archive/20240101`, say). */
  child(sub: string): S3Folder {
    return new S3Folder(`s3://${this.bucket}/${this.prefix}${sub.replace(/^\/+|\/+$/g, '')}/`, this.client);
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
          etag: (o.ETag ?? '').replaceAll('"', ''),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** An object's bytes as a stream: read as they arrive, never held whole. */
  async read(name: string): Promise<Readable> {
    const answer = await this.guard(`read ${name} in`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + name })),
    );
    return answer.Body as Readable;
  }

  /**
   * Move an object into folder `to` (archive, error): copied first, deleted once the copy is
   * there, so a failure in between leaves it in both places, never in neither. An object of the
   * same name already there is kept as `<name>.replaced-<timestamp>`, as with local files:
   * nothing is overwritten. Resolves to the new location.
   */
  async moveTo(name: string, to: S3Folder): Promise<string> {
    const target = to.prefix + name;
    if (await this.exists(to, target)) {
      const taken = `${target}.replaced-${new Date().toISOString().replaceAll(':', '-')}`;
      await this.copy(to.bucket, target, to.bucket, taken);
      await this.guard(`delete ${target} in`, () =>
        this.client.send(new DeleteObjectCommand({ Bucket: to.bucket, Key: target })),
      );
    }
    await this.copy(this.bucket, this.prefix + name, to.bucket, target);
    await this.guard(`delete ${name} in`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + name })),
    );
    return `s3://${to.bucket}/${target}`;
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

  private async exists(folder: S3Folder, key: string): Promise<boolean> {
    try {
      await folder.client.send(new HeadObjectCommand({ Bucket: folder.bucket, Key: key }));
      return true;
    } catch (error) {
      const e = error as Error & { $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) return false;
      throw this.failure(error, `look for ${key} in`);
    }
  }

  /** A request whose failure becomes a clear error naming the location (exit 3). */
  private guard<T>(what: string, request: () => Promise<T>): Promise<T> {
    return guarded('source_unavailable', `${what} ${this.uri}`, { location: this.uri }, request);
  }

  private failure(error: unknown, what: string): PlaytallyError {
    return awsError('source_unavailable', `${what} ${this.uri}`, { location: this.uri }, error);
  }
}
