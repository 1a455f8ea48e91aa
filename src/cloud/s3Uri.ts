import { PlaytallyError } from '../ops/errors.js';

/**
 * An `s3://bucket/prefix` location taken apart, without loading the AWS SDK (the workers and the
 * local-only commands never need it). The prefix is '' or ends in '/': a folder.
 */
export function parseS3Uri(uri: string): { bucket: string; prefix: string; uri: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new PlaytallyError('usage', `not an s3://bucket/prefix location: ${JSON.stringify(uri)}`);
  const bucket = m[1]!;
  const rest = m[2] ?? '';
  const prefix = rest === '' || rest.endsWith('/') ? rest : `${rest}/`;
  return { bucket, prefix, uri: `s3://${bucket}/${prefix}` };
}
