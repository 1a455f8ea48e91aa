import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { logHasher } from './contentHash.js';
import { openFile } from './locations.js';

/**
 * A log that cannot be cut into units by byte offset is read as one stream on the main thread and
 * cut into chunks of whole lines that the workers parse in parallel: a gzip log (decompressed on
 * the way), and any log on S3 (read as it arrives, never downloaded first). Chunks are cut after a
 * newline, so every line lies inside one chunk; only a line longer than a whole chunk (garbage:
 * the limit is 1,024 bytes) spans several, and then each later chunk is told to skip the tail of
 * that line, exactly as a plain log's unit skips the line begun before it.
 */
export const GZIP_CHUNK_BYTES = 8 * 1024 * 1024;

export interface GzipChunk {
  index: number;
  bytes: Uint8Array;
  /** The chunk starts inside a line that an earlier chunk began and counted. */
  skipFirstLine: boolean;
}

export interface GzipStreamResult {
  /** Content hash of the file as stored (the value contentHash gives; sources/contentHash.ts). */
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
 * Hand the lines of the log read from `source` (decompressed first when `gzip`) to `onChunk` in
 * chunks of about `chunkBytes`, in order. `onChunk` may return a promise to hold the stream back
 * (the caller's bound on chunks in flight); `onSourceBytes` reports progress through the stored
 * bytes. The content hash is the one a local file of the same bytes has.
 */
export async function streamLogChunks(
  source: Readable,
  options: { gzip: boolean; label: string },
  onChunk: (chunk: GzipChunk) => void | Promise<void>,
  onSourceBytes: (bytes: number) => void = () => {},
  chunkBytes = GZIP_CHUNK_BYTES,
): Promise<GzipStreamResult> {
  const hash = await logHasher(options.gzip);
  let lines: AsyncIterable<Buffer> = source;
  if (options.gzip) {
    // The stored bytes are hashed and counted as they go into gunzip.
    source.on('data', (data) => {
      hash.update(data as Buffer);
      onSourceBytes((data as Buffer).length);
    });
    const gunzip = createGunzip();
    source.on('error', (error) => gunzip.destroy(error));
    source.pipe(gunzip);
    lines = gunzip;
  }

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
    for await (const piece of lines) {
      if (!options.gzip) {
        hash.update(piece);
        onSourceBytes(piece.length);
      }
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
      throw new GzipInputError(options.label, `${options.label} is not a readable gzip file (${e.message})`);
    }
    throw error;
  }
  // The last chunk, and always at least one so that an empty file still yields a parse result.
  if (filled > 0 || index === 0) await emit(buffer.subarray(0, filled), false);
  return { hash: hash.digest(), chunks: index, uncompressedBytes: total };
}

/**
 * An estimate of a gzip log's decompressed size, to plan partitions before the first byte is
 * read: the size the gzip trailer records (exact for a single member under 4 GiB, otherwise
 * modulo 2^32; read from the file's last 4 bytes, a ranged GET on S3) or eight times the
 * compressed size, whichever is larger. Listen logs compress about 3 to 5 times, so the second
 * figure errs towards more partitions, the safe side.
 */
export async function estimateGzipSize(location: string, size: number): Promise<number> {
  let trailer = 0;
  if (size >= 18) {
    const tail: Buffer[] = [];
    for await (const piece of await openFile(location, { start: size - 4, end: size })) tail.push(piece);
    const last = Buffer.concat(tail);
    if (last.length === 4) trailer = last.readUInt32LE(0);
  }
  return Math.max(trailer, size * 8);
}
