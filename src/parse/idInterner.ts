/**
 * Ids (user ids, track ids) numbered 0, 1, 2... in order of first appearance, looked up by their
 * UTF-8 bytes: the streams' hot path interns a field straight from the input chunk, with no string
 * per row (a Map of strings made one string and one hash of it per row, two thirds of a streams
 * file's parse). The names come back as strings only for the ids there are, once.
 *
 * Equal text is equal bytes: a field that is not plain ASCII is interned through its decoded text
 * (`id`), so two invalid UTF-8 sequences that both decode to U+FFFD are one id, as they are
 * one string.
 */
export class IdInterner {
  /** Every name's bytes, end to end. */
  private arena = new Uint8Array(1 << 16);
  private used = 0;
  /** Per id: where its bytes start in the arena, and their length (at 2 * id and 2 * id + 1). */
  private spans = new Int32Array(2048);
  /**
   * Open addressing, linear probing, kept at most half full. Slot s is 4 numbers from 4 * s: the
   * hash, (id + 1) * 16 + the length (15 for 15 bytes and more; 0 for an empty slot), and the
   * first 8 bytes of the name (zero-padded). A name of up to 8 bytes is found without a look at
   * the arena, a longer one with one: on a table larger than the cache, each look is a miss.
   */
  private table = new Int32Array(8192);
  private mask = 2047;
  private decoded: string[] = [];
  size = 0;

  /** The id of the name `bytes[start, end)`, taken as UTF-8 (numbered now if it is new). */
  idOf(bytes: Uint8Array, start: number, end: number): number {
    const h = hashBytes(bytes, start, end);
    // hashBytes marks a name with a byte past ASCII: it is looked up by its decoded text.
    if (h === NOT_ASCII)
      return this.id(Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8', start));
    return this.find(bytes, start, end, h);
  }

  /** The id of a name given as text. */
  id(name: string): number {
    const bytes = Buffer.from(name, 'utf8');
    return this.find(bytes, 0, bytes.length, hashBytes(bytes, 0, bytes.length, true));
  }

  /** Name of id `id`. */
  name(id: number): string {
    while (this.decoded.length <= id) {
      const k = this.decoded.length;
      const start = this.spans[2 * k]!;
      this.decoded.push(
        Buffer.from(this.arena.buffer, 0, this.used).toString('utf8', start, start + this.spans[2 * k + 1]!),
      );
    }
    return this.decoded[id]!;
  }

  /** Every name, by id. */
  get names(): string[] {
    if (this.size > 0) this.name(this.size - 1);
    return this.decoded;
  }

  private find(bytes: Uint8Array, start: number, end: number, h: number): number {
    const length = end - start;
    const w0 = wordAt(bytes, start, end);
    const w1 = wordAt(bytes, start + 4, end);
    const tag = length < 15 ? length : 15;
    const table = this.table;
    const mask = this.mask;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const at = 4 * slot;
      const entry = table[at + 1]!;
      if (entry === 0) return this.add(bytes, start, end, h, slot, w0, w1, tag);
      if (table[at] !== h || (entry & 15) !== tag || table[at + 2] !== w0 || table[at + 3] !== w1) continue;
      const id = (entry >>> 4) - 1;
      if (length <= 8) return id;
      if (this.spans[2 * id + 1] !== length) continue;
      const from = this.spans[2 * id]!;
      const arena = this.arena;
      let i = 8;
      while (i < length && arena[from + i] === bytes[start + i]) i++;
      if (i === length) return id;
    }
  }

  private add(
    bytes: Uint8Array,
    start: number,
    end: number,
    h: number,
    slot: number,
    w0: number,
    w1: number,
    tag: number,
  ): number {
    const id = this.size++;
    const length = end - start;
    if (this.used + length > this.arena.length) {
      const arena = new Uint8Array(Math.max(this.arena.length * 2, this.used + length));
      arena.set(this.arena.subarray(0, this.used));
      this.arena = arena;
    }
    this.arena.set(bytes.subarray(start, end), this.used);
    if (2 * id === this.spans.length) this.spans = grown(this.spans);
    this.spans[2 * id] = this.used;
    this.spans[2 * id + 1] = length;
    this.used += length;
    const at = 4 * slot;
    this.table[at] = h;
    this.table[at + 1] = (id + 1) * 16 + tag;
    this.table[at + 2] = w0;
    this.table[at + 3] = w1;
    if (this.size * 2 > this.mask) this.rehash();
    return id;
  }

  private rehash(): void {
    const old = this.table;
    const mask = this.mask * 2 + 1;
    const table = new Int32Array(4 * (mask + 1));
    for (let s = 0; s < old.length; s += 4) {
      if (old[s + 1] === 0) continue;
      let slot = old[s]! & mask;
      while (table[4 * slot + 1] !== 0) slot = (slot + 1) & mask;
      table.set(old.subarray(s, s + 4), 4 * slot);
    }
    this.table = table;
    this.mask = mask;
  }
}

/** The 4 bytes from `at` (those before `end`; zeros after it) as one little-endian int32. */
function wordAt(bytes: Uint8Array, at: number, end: number): number {
  if (at + 4 <= end)
    return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
  let word = 0;
  for (let k = 0; at + k < end; k++) word |= bytes[at + k]! << (8 * k);
  return word;
}

/** What hashBytes returns for bytes past ASCII (when not asked to take them): no hash is this. */
const NOT_ASCII = -1;

/**
 * A 32-bit hash of `bytes[start, end)`, four bytes a step (one multiply per word, not per byte,
 * then murmur3's finalizer to spread the bits over the table's mask). NOT_ASCII for bytes past
 * ASCII unless `anyBytes`.
 */
function hashBytes(bytes: Uint8Array, start: number, end: number, anyBytes = false): number {
  let h = (end - start) | 0;
  let high = 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const word = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    high |= word;
    h = Math.imul(h ^ word, 0x5bd1e995);
    h ^= h >>> 15;
  }
  for (; i < end; i++) {
    const c = bytes[i]!;
    high |= c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if ((high & 0x80808080) !== 0 && !anyBytes) return NOT_ASCII;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  // 30 bits: a small integer to V8 (a larger one passed between functions is a heap number).
  return h & 0x3fffffff;
}

function grown(values: Int32Array): Int32Array<ArrayBuffer> {
  const out = new Int32Array(values.length * 2);
  out.set(values);
  return out;
}
