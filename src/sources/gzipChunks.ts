import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { hashFileSync } from '../ops/fileIo.js';

/**
 * A gzip log cannot be cut into units by byte offset, so it is decompressed as a stream on the
 * main thread and cut into chunks of whole lines that the workers parse in parallel. Chunks are
 * cut after a newline, so every line lies inside one chunk; only a line longer than a whole
 * chunk (garbage: the limit is 1,024 bytes) spans several, and then each later chunk is told to
 * skip the tail of that line, exactly as a plain log's unit skips the line begun before it.
 */
export const GZIP_CHUNK_BYTES = 8 * 1024 * 1024;

export interface GzipChunk {
  index: number;
  bytes: Uint8Array;
  /** The chunk starts inside a line that an earlier chunk began and counted. */
  skipFirstLine: boolean;
}

export interface GzipStreamResult {
  /** Content hash of the compressed file (see hashGzipFile). */
  hash: string;
  chunks: number;
  uncompressedBytes: number;
}

export class GzipInputError extends Error {
  override readonly name = 'GzipInputError';
  readonly code = 'GZIP_INVALID';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const NEWLINE = 10;

/** The bytes of a chunk its parser reads: all of them, or those after the first newline. */
export function chunkLines(bytes: Uint8Array, skipFirstLine: boolean): Uint8Array {
  if (!skipFirstLine) return bytes;
  const newline = bytes.indexOf(NEWLINE);
  return newline < 0 ? bytes.subarray(bytes.length) : bytes.subarray(newline + 1);
}

/**
 * Stream `path` through gunzip and hand its lines to `onChunk` in chunks of about `chunkBytes`,
 * in order. `onChunk` may return a promise to hold the stream back (the caller's bound on chunks
 * in flight); `onCompressedBytes` reports progress through the file.
 */
export async function streamGzipChunks(
  path: string,
  onChunk: (chunk: GzipChunk) => void | Promise<void>,
  onCompressedBytes: (bytes: number) => void = () => {},
  chunkBytes = GZIP_CHUNK_BYTES,
): Promise<GzipStreamResult> {
  const hash = gzipHasher();
  const source = createReadStream(path, { highWaterMark: 1024 * 1024 });
  source.on('data', (data) => {
    hash.update(data as Buffer);
    onCompressedBytes((data as Buffer).length);
  });
  const gunzip = createGunzip();
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);

  let buffer = Buffer.allocUnsafe(chunkBytes);
  let filled = 0;
  let index = 0;
  let skipFirstLine = false;
  let total = 0;
  const emit = async (bytes: Uint8Array, tailContinues: boolean): Promise<void> => {
    const chunk: GzipChunk = { index: index++, bytes, skipFirstLine };
    skipFirstLine = tailContinues;
    await onChunk(chunk);
  };
  try {
    for await (const piece of gunzip as AsyncIterable<Buffer>) {
      total += piece.length;
      let at = 0;
      while (at < piece.length) {
        const n = Math.min(piece.length - at, buffer.length - filled);
        piece.copy(buffer, filled, at, at + n);
        filled += n;
        at += n;
        if (filled < buffer.length) continue;
        const lastNewline = buffer.lastIndexOf(NEWLINE);
        const next = Buffer.allocUnsafe(chunkBytes);
        if (lastNewline < 0) {
          await emit(buffer, true);
          filled = 0;
        } else {
          const rest = buffer.length - lastNewline - 1;
          buffer.copy(next, 0, lastNewline + 1);
          await emit(buffer.subarray(0, lastNewline + 1), false);
          filled = rest;
        }
        buffer = next;
      }
    }
  } catch (error) {
    source.destroy();
    const e = error as NodeJS.ErrnoException;
    if (e.code?.startsWith('Z_')) {
      throw new GzipInputError(path, `${path} is not a readable gzip file (${e.message})`);
    }
    throw error;
  }
  // The last chunk, and always at least one so that an empty file still yields a parse result.
  if (filled > 0 || index === 0) await emit(buffer.subarray(0, filled), false);
  return { hash: hash.digest(), chunks: index, uncompressedBytes: total };
}

interface GzipHasher {
  update(data: Uint8Array): void;
  digest(): string;
}

const GZIP_HASH_PREFIX = 'playtally-gz-v1:';

/** sha256 over the compressed bytes, in a namespace of its own (plain logs hash by units). */
function gzipHasher(): GzipHasher {
  const h = createHash('sha256');
  h.update(GZIP_HASH_PREFIX);
  return { update: (data) => h.update(data), digest: () => h.digest('hex') };
}

/** Content hash of a gzip log without decompressing it (same value as streamGzipChunks returns). */
export function hashGzipFile(path: string): string {
  return hashFileSync(path, GZIP_HASH_PREFIX);
}

/**
 * An estimate of a gzip log's decompressed size, to plan partitions before the first byte is
 * read: the size the gzip trailer records (exact for a single member under 4 GiB, otherwise
 * modulo 2^32) or eight times the compressed size, whichever is larger. Listen logs compress
 * about 3 to 5 times, so the second figure errs towards more partitions, the safe side.
 */
export function estimateGzipSize(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let trailer = 0;
    if (size >= 18) {
      const last = Buffer.alloc(4);
      readSync(fd, last, 0, 4, size - 4);
      trailer = last.readUInt32LE(0);
    }
    return Math.max(trailer, size * 8);
  } finally {
    closeSync(fd);
  }
}
