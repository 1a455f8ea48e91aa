import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { LogFile } from '../../src/sources/logFiles.js';

/** Log contents for the tests of log units and content hashes. */

/** The log at `path` (a local file): its size on disk, unless `size` says how much of it the log is. */
export function logAt(path: string, compressed = false, size = statSync(path).size): LogFile {
  const { mtimeMs } = statSync(path);
  return {
    path,
    name: compressed ? 'listen-20240101.log.gz' : 'listen-20240101.log',
    day: 19723,
    size,
    mtimeMs,
    compressed,
  };
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * A plain log's content hash as builds before version 2 recorded it (src/sources/contentHash.ts):
 * sha256 of each 32 MiB unit, then sha256 of the size and those digests, 64 hex digits.
 */
export function contentHashV1(content: Uint8Array): string {
  const unit = 32 * 1024 * 1024;
  const h = createHash('sha256').update(`playtally-log-v1:${content.length}:`);
  for (let at = 0; at < content.length || at === 0; at += unit)
    h.update(sha256(content.subarray(at, at + unit)));
  return h.digest('hex');
}

/**
 * Lines of many lengths: empty lines, CRLF, a line far longer than any small unit, and lines
 * placed so that some end exactly at multiples of 64 (and so of 1, 2, 16).
 */
export function sampleContent(endWithNewline: boolean): Uint8Array {
  const lines: string[] = [];
  let length = 0;
  const add = (line: string): void => {
    lines.push(line);
    length += line.length + 1;
  };
  for (let i = 0; i < 40; i++) add(`${i * 7919}|${i}|US`);
  // Pad so that the next line ends exactly at a 64-byte boundary.
  const pad = (target: number): void => {
    const need = ((target - ((length + 1) % target)) % target) + 1; // bytes incl. '\n'
    add('9'.repeat(need - 1));
  };
  pad(64);
  add('x'.repeat(150)); // longer than 64-byte units
  pad(64);
  add('');
  add('');
  add('1|2|FR\r');
  add('y'.repeat(300));
  for (let i = 0; i < 30; i++) add('z'.repeat((i * 13) % 23));
  pad(64);
  add('last|line|DE');
  let text = lines.join('\n') + '\n';
  if (!endWithNewline) text = text + 'no|newline|GB';
  return new Uint8Array(Buffer.from(text, 'latin1'));
}
