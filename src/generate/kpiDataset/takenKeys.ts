import { mix32 } from '../random.js';

/**
 * Bits per row of a day in the sets of keys taken: a small set stays in cache, and the rows drawn
 * again for a false positive (about 1 in 5) cost less than cache misses.
 */
const BITS_PER_ROW = 4;

interface KeyBits {
  bits: Int32Array;
  used: number;
}

/**
 * The (user, track, UTC second) keys the stream rows have taken, per UTC day, so that a row can
 * be drawn again rather than repeat a key by chance: the only repeats are then the duplicates
 * counted as dirt. One bit per hash of a key (a bitset of 4 to 8 bits per row): a key equal to a
 * taken one always finds its bit set; a different key finds it set up to a fifth of the time, and
 * is only drawn again.
 */
export class TakenKeys {
  private readonly days = new Map<number, KeyBits>();
  private readonly keyBits: number;
  private readonly keyLimit: number;
  // The set of the last UTC day asked for: rows of a file are mostly on its own day.
  private lastDay = Number.NaN;
  private lastBits: KeyBits = { bits: new Int32Array(1), used: 0 };

  constructor(rowsPerDay: number) {
    this.keyBits = Math.min(30, Math.max(16, Math.ceil(Math.log2(rowsPerDay * BITS_PER_ROW + 1))));
    this.keyLimit = 2 ** (this.keyBits - 1);
  }

  /** Forget the keys of UTC days before `utcDay`: no row written from now on can have them. */
  forgetBefore(utcDay: number): void {
    for (const day of [...this.days.keys()]) if (day < utcDay) this.days.delete(day);
    this.lastDay = Number.NaN;
  }

  /** Take the key (user, track, second of a UTC day); false when it was taken already. */
  claim(utcDay: number, second: number, user: number, track: number): boolean {
    let table = this.lastBits;
    if (utcDay !== this.lastDay) {
      let found = this.days.get(utcDay);
      if (!found) this.days.set(utcDay, (found = { bits: new Int32Array(2 ** (this.keyBits - 5)), used: 0 }));
      this.lastDay = utcDay;
      this.lastBits = table = found;
    }
    // Half the bits set (far more rows on one UTC day than planned): keys are no longer taken.
    if (table.used > this.keyLimit) return true;
    const hash = mix32(
      Math.imul(user, 0x9e3779b1) ^
        Math.imul(track + 0x632be5ab, 0x85ebca77) ^
        Math.imul(second + 1, 0xc2b2ae3d),
    );
    const i = hash >>> (32 - this.keyBits);
    const word = table.bits[i >>> 5]!;
    const bit = 1 << (i & 31);
    if ((word & bit) !== 0) return false;
    table.bits[i >>> 5] = word | bit;
    table.used++;
    return true;
  }
}
