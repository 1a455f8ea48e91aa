import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

/** A CRC-32 (zlib's: the polynomial of gzip and PNG) of `bytes`, continued from `initial`. */
export type Crc32 = (bytes: Uint8Array, initial?: number) => number;

let chosen: Crc32 | undefined;

/**
 * The CRC-32 every checksum of our files is (a partial's blocks and segments, a KPI partial's):
 * `@node-rs/crc32`'s, which uses the CPU's carry-less multiply (8 to 12 GB/s here, against 4 to 5
 * for Node.js's zlib.crc32, the same values: docs/BENCHMARKS.md, "Checksums with the CPU's
 * carry-less multiply"); zlib's where that package's prebuilt binary is missing for the platform.
 * A daily run checks about 1.2 GB of partials as it reads them. Loaded at the first checksum, not
 * at every command's start.
 */
export function crc32(bytes: Uint8Array, initial?: number): number {
  chosen ??= nativeCrc32() ?? zlibCrc32;
  return chosen(bytes, initial);
}

function nativeCrc32(): Crc32 | undefined {
  try {
    return (createRequire(import.meta.url)('@node-rs/crc32') as { crc32: Crc32 }).crc32;
  } catch {
    return undefined;
  }
}

/** The function `crc32` uses (for tests: the native one where its binary is installed). */
export function crc32Implementation(): Crc32 {
  crc32(new Uint8Array(0));
  return chosen!;
}
