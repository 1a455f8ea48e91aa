import { fmix32 } from '../../partials/hash.js';

/**
 * MurmurHash3 x86_32 of a string's UTF-8 bytes, seed 0: ClickHouse's `murmurHash3_32`. The KPI
 * tables are sharded by it, so playtally writes a user's rows to the shard where the Distributed
 * table's sharding key says they live.
 */
export function murmurHash3_32(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  const n = bytes.length;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = 0;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail > 0) {
    let k = bytes[blocks]!;
    if (tail > 1) k ^= bytes[blocks + 1]! << 8;
    if (tail > 2) k ^= bytes[blocks + 2]! << 16;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  return fmix32(h ^ n);
}
