/** MurmurHash3's finaliser (fmix32): a 32-bit avalanche of a 32-bit integer. */
export function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit mix of an id (an integer up to 2^53 - 1). Partitions are `hash & (P - 1)` with P a
 * power of two, so the partitions of a day split with P = 128 nest inside those of P = 64: the
 * window merge can combine days that were partitioned differently.
 */
export function hashId(id: number): number {
  let h: number;
  if (id < 4294967296) h = id | 0;
  else h = (id >>> 0) ^ Math.imul(Math.floor(id / 4294967296), 0x9e3779b1);
  // murmur3 fmix32, written out: this is the partitioning hot path.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
