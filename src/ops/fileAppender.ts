import { closeSync, constants, openSync } from 'node:fs';
import { FLUSH_BYTES, flushData, writeAll } from './fileIo.js';
import { WASM_PAGE_BYTES } from './wasmKernel.js';

/**
 * A large file written once, front to back: the user chart, 1 GB of text for 2M users. Its bytes
 * go to the disk around the page cache (O_DIRECT) where the file system takes that, in chunks of
 * CHUNK_BYTES from an aligned staging buffer, one chunk written while the next fills. Through the
 * page cache, each GB written took 1.3 to 1.6 s of system CPU on these VMs, where a page the
 * kernel has not used lately costs its first touch (docs/BENCHMARKS.md, "The user chart around
 * the page cache"); a direct write of a GB takes about 0.1 s of it. Nothing reads the file back
 * soon enough to gain from its pages being cached (the results store loads it row by row, at a
 * small fraction of the disk's speed).
 *
 * Where the file system refuses O_DIRECT (some network file systems, older tmpfs: open or a write
 * fails with EINVAL) the chunks go through the page cache. The last, partial chunk always does (a
 * direct write takes whole blocks), and the file is flushed to disk every FLUSH_BYTES as it is
 * written (flushEvery). The caller's descriptor stays the file's: it is flushed, closed and
 * renamed by the caller (ops/atomicFile.ts), after `finish`.
 */
export class FileAppender {
  private direct: number | undefined;
  private readonly staging: [Uint8Array, Uint8Array];
  private filling = 0;
  private filled = 0;
  /** Where the next chunk goes in the file: the bytes handed to writes so far. */
  private position = 0;
  private writing: Promise<void> = Promise.resolve();
  private flushing: Promise<void> = Promise.resolve();
  private unflushed = 0;

  /**
   * `fd`: the file, opened for writing and empty; `path`: its name, opened again for the direct
   * writes. `cached`: write through the page cache only (tests of that path).
   */
  constructor(
    private readonly fd: number,
    path: string,
    { cached = false }: { cached?: boolean } = {},
  ) {
    this.direct = cached ? undefined : openDirect(path);
    // A WebAssembly memory starts on a page boundary (it is mapped, not allocated from the heap),
    // and a chunk is a whole number of pages: a direct write's buffer, length and offset must be
    // multiples of the device's block size.
    const memory = new WebAssembly.Memory({ initial: (2 * CHUNK_BYTES) / WASM_PAGE_BYTES });
    this.staging = [
      new Uint8Array(memory.buffer, 0, CHUNK_BYTES),
      new Uint8Array(memory.buffer, CHUNK_BYTES, CHUNK_BYTES),
    ];
  }

  /** Whether the chunks go around the page cache (false once a direct write was refused). */
  get isDirect(): boolean {
    return this.direct !== undefined;
  }

  /** Append `bytes` (copied: the caller may reuse them once this resolves). */
  async append(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; ) {
      const chunk = this.staging[this.filling]!;
      const n = Math.min(CHUNK_BYTES - this.filled, bytes.length - at);
      chunk.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === CHUNK_BYTES) await this.writeChunk();
    }
  }

  /** Every byte appended is written; returns the file's length. */
  async finish(): Promise<number> {
    await this.writing;
    await this.flushing;
    const tail = this.staging[this.filling]!.subarray(0, this.filled);
    await writeAll(this.fd, tail, this.position);
    this.position += tail.length;
    this.filled = 0;
    this.closeDirect();
    return this.position;
  }

  /**
   * After a failure: the writes and flush still running settled (the caller's descriptor is not
   * closed under them), the direct descriptor let go. `finish` does it otherwise.
   */
  async abandon(): Promise<void> {
    await this.writing.catch(() => {});
    await this.flushing.catch(() => {});
    this.closeDirect();
  }

  /** The full chunk written (in the background), once the one before it is. */
  private async writeChunk(): Promise<void> {
    await this.writing;
    const chunk = this.staging[this.filling]!;
    const position = this.position;
    this.position += CHUNK_BYTES;
    this.filling = 1 - this.filling;
    this.filled = 0;
    this.writing = this.writeAt(chunk, position);
    // A failure is told by the next append or by finish, which await it.
    this.writing.catch(() => {});
  }

  private async writeAt(chunk: Uint8Array, position: number): Promise<void> {
    if (this.direct !== undefined) {
      try {
        await writeAll(this.direct, chunk, position);
        this.flushEvery(chunk.length);
        return;
      } catch (error) {
        // Refused (EINVAL: the file system takes no direct writes, or not of these blocks): this
        // chunk and the rest go through the page cache. A short direct write leaves an unaligned
        // remainder, refused the same way; writing the whole chunk again is harmless.
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
        this.closeDirect();
      }
    }
    await writeAll(this.fd, chunk, position);
    this.flushEvery(chunk.length);
  }

  /**
   * A flush to disk started every FLUSH_BYTES written, one at a time, running while the next
   * chunks are written: the commit's fsync has only the tail left (without, it was 0.8 s for the
   * 1 GB chart through the page cache; 0.2 s written directly, the disk's own cache then flushed).
   */
  private flushEvery(written: number): void {
    this.unflushed += written;
    if (this.unflushed < FLUSH_BYTES) return;
    this.unflushed = 0;
    this.flushing = this.flushing.then(() => flushData(this.fd));
    this.flushing.catch(() => {});
  }

  private closeDirect(): void {
    if (this.direct === undefined) return;
    try {
      closeSync(this.direct);
    } catch {
      // already closed
    }
    this.direct = undefined;
  }
}

/** Bytes a direct write takes at once (a whole number of WebAssembly pages, hence of blocks). */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/** `path` opened again for direct writes, or undefined where the platform or file system has none. */
function openDirect(path: string): number | undefined {
  const { O_DIRECT } = constants;
  if (O_DIRECT === undefined) return undefined;
  try {
    return openSync(path, constants.O_WRONLY | O_DIRECT);
  } catch {
    return undefined;
  }
}
