import { fmix32 } from '../partials/hash.js';
/**
 * sfc32: a small, fast, well-tested 32-bit PRNG (PractRand-clean), seeded from four words. The
 * generator must be deterministic for a seed, so Math.random is never used.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...seed: number[]) {
    this.a = mix32(seed[0] ?? 0x9e3779b9);
    this.b = mix32((seed[1] ?? 0) ^ 0x243f6a88);
    this.c = mix32((seed[2] ?? 0) ^ 0xb7e15162);
    this.d = 1;
    for (let i = 0; i < 16; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** A 32-bit avalanche of an integer (murmur3 fmix32). */
export const mix32 = fmix32;

/** A bijection of [0, 2^bits) (bits <= 32): odd multiplications and xor-shifts, masked. */
export function permute(x: number, bits: number, key: number): number {
  const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
  const shift = bits >>> 1;
  let v = (x ^ key) & mask;
  v = Math.imul(v, 0x2c1b3c6d | 1) & mask;
  v ^= v >>> shift;
  v = Math.imul(v, 0x297a2d39 | 1) & mask;
  v ^= v >>> shift;
  return v >>> 0;
}

/** One element of `list`, uniformly. */
export function pick<T>(list: readonly T[], random: Random): T {
  return list[random.below(list.length)]!;
}

/** A standard normal deviate (Box-Muller): two draws, the first one for the radius. */
export function gaussian(random: Random): number {
  const u = 1 - random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
}

/** 0..n-1 in a seeded random order (Fisher-Yates): element i is the rank of item i. */
export function shuffled(n: number, random: Random): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = random.below(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
