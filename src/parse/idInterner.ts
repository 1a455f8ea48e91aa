/**
 * Names end to end as their UTF-8 bytes, and where each ends: name i is `bytes[ends[i - 1],
 * ends[i])` (from 0 for the first). How a partial keeps its file's ids and a range sends its own:
 * a file of 3.3M rows with 1.5M users decoded them to strings on its worker, wrote them as JSON,
 * and the main thread parsed that JSON and encoded the strings again to merge them, 2 to 3 s of
 * the main thread a file while the workers waited for it.
 */
export interface NameList {
  bytes: Uint8Array;
  ends: Uint32Array;
}

/** The names as a NameList. */
export function nameListOf(names: readonly string[]): NameList {
  const ends = new Uint32Array(names.length);
  let at = 0;
  names.forEach((name, i) => {
    at += Buffer.byteLength(name, 'utf8');
    ends[i] = at;
  });
  return { bytes: Buffer.from(names.join(''), 'utf8'), ends };
}

/** Where name i of the list starts in its bytes (it ends at `ends[i]`). */
export function nameStart(list: NameList, i: number): number {
  return i === 0 ? 0 : list.ends[i - 1]!;
}

/** Every name of the list, decoded. */
export function namesOf(list: NameList): string[] {
  const text = Buffer.from(list.bytes.buffer, list.bytes.byteOffset, list.bytes.byteLength);
  return Array.from(list.ends, (end, i) => text.toString('utf8', nameStart(list, i), end));
}

/**
 * Ids (user ids, track ids) numbered 0, 1, 2... in order of first appearance, looked up by their
 * UTF-8 bytes: the streams' hot path interns a field straight from the input chunk, with no string
 * per row (a Map of strings made one string and one hash of it per row, two thirds of a streams
 * file's parse). The names come back as strings only for the ids there are, once, or as bytes
 * (nameList), never decoded.
 *
 * Equal text is equal bytes: a field that is not plain ASCII is interned through its decoded text
 * (`id`), so two invalid UTF-8 sequences that both decode to U+FFFD are one id, as they are
 * one string.
 */
export class IdInterner implements Numbering {
  /** Every name's bytes, end to end. */
  private arena = new Uint8Array(1 << 16);
  /** The arena as a DataView (made anew with it): a long name's words are compared from it. */
  private arenaView = viewOf(this.arena);
  private used = 0;
  /**
   * Per id: where its bytes end in the arena (names are laid in order of id, so a name starts where
   * the one before it ends). 4 bytes a name: with its start and length, and its hash kept for the
   * table's growth, it was 12.
   */
  private ends = new Int32Array(1024);
  /**
   * Open addressing, linear probing, at most three quarters full (MAX_LOAD). Slot s is SLOT
   * numbers from SLOT * s: (id + 1) * 32 + the length (31 for 31 bytes and more; 0 for an empty
   * slot), and the name's first INLINE_WORDS * 4 bytes as words, zero-padded. A name of up to 12
   * bytes (user ids) is matched in its slot alone, a longer one (Spotify's 22-byte track ids) with
   * a look at the arena. 16 bytes a slot: with 32 (the hash and 24 bytes of the name), a file of 1.5M users grew
   * its table to 128 MB, and its growth (fresh pages faulted, about 11 us each) was the largest
   * part of the parse's time.
   */
  private table = new Int32Array(SLOT * MIN_SLOTS);
  /** The table's slots, any number from MIN_SLOTS (a name's home slot: see MIN_SLOTS). */
  private slots = MIN_SLOTS;
  /** `slots / 2^30`: a 30-bit hash times this is its home slot. */
  private scale = MIN_SLOTS / HASH_RANGE;
  /** The words of the name being looked up (one at a time), for the probe and its slot. */
  private readonly words = new Int32Array(HASHED_WORDS);
  /** The names decoded by `name`, kept for the next call (a day's top tracks, asked again). */
  private readonly decoded = new Map<number, string>();
  /** idsOfSpans' hashes of a batch, and their names' words. */
  private batchHashes = new Int32Array(0);
  private batchWords = new Int32Array(0);
  /** What idsOfSpans' last pass of reads saw: kept, so that the compiler keeps the reads. */
  readsSeen = 0;
  size = 0;

  /**
   * The id of the name `bytes[start, end)`, taken as UTF-8 (numbered now if it is new). `view`: a
   * DataView over exactly `bytes`, kept by a caller that looks up many names in one buffer (a
   * catalogue's rows, a chunk at a time): made for each lookup, it was 5% of reading a songs file
   * of 1M tracks.
   */
  idOf(bytes: Uint8Array, start: number, end: number, view?: DataView): number {
    return this.lookup(bytes, start, end, false, true, view);
  }

  /** The id of a name given as text. */
  id(name: string): number {
    return this.textId(name, true);
  }

  /** Whether the name given as text has an id (none is added). */
  has(name: string): boolean {
    return this.textId(name, false) >= 0;
  }

  /** The id of a name given as text: found, added, or -1 (not here, and not to be added). */
  private textId(name: string, add: boolean): number {
    const bytes = Buffer.from(name, 'utf8');
    return this.lookup(bytes, 0, bytes.length, true, add);
  }

  /**
   * The ids of a list of names (a partial's, a range's), looked up by their bytes a batch at a time
   * (idsOfSpans, whose reads of the table's slots overlap): no string a name. With `add` false,
   * a name not here is -1 and nothing is added (a membership test against a catalogue).
   */
  idsOfList(list: NameList, add = true): Int32Array {
    const count = list.ends.length;
    // An empty table is sized for the names at once. Into a table that has names, most of these
    // are usually there already (the partials of a day's files share most of their users and
    // tracks), so it grows only as new ones come: sized for all of them, it was regrown to twice
    // what it needed, a fresh 8 MB table and 50,000 names moved for the second partial of 10M rows.
    if (add && this.size === 0) this.reserve(count);
    const ids = new Int32Array(count);
    const starts = new Int32Array(NAMES_BATCH);
    const ends = new Int32Array(NAMES_BATCH);
    for (let from = 0; from < count; from += NAMES_BATCH) {
      const n = Math.min(NAMES_BATCH, count - from);
      for (let k = 0; k < n; k++) {
        const i = from + k;
        starts[k] = nameStart(list, i);
        ends[k] = list.ends[i]!;
      }
      this.idsOfSpans(list.bytes, starts, ends, n, ids.subarray(from, from + n), add);
    }
    return ids;
  }

  /**
   * The names of ids `from` on, as a NameList of their own bytes (a copy: the arena moves as it
   * grows): what a partial keeps, and what a range sends to be merged, without decoding a name.
   */
  nameList(from = 0): NameList {
    const count = Math.max(0, this.size - from);
    const base = count === 0 ? 0 : this.start(from);
    const ends = new Uint32Array(count);
    for (let k = 0; k < count; k++) ends[k] = this.ends[from + k]! - base;
    return { bytes: this.arena.slice(base, base + (count === 0 ? 0 : ends[count - 1]!)), ends };
  }

  /**
   * Every name as a NameList of views into this interner, not a copy: valid until a name is added.
   * What a parsed file's partial is written from: a copy was 20 MB a worker at 1.5M users, made as
   * the two workers finished their files together, the peak of the parse.
   */
  nameListView(): NameList {
    return {
      bytes: this.arena.subarray(0, this.used),
      ends: new Uint32Array(this.ends.buffer, this.ends.byteOffset, this.size),
    };
  }

  forEachName(from: number, visit: (bytes: Uint8Array, start: number, end: number) => void): void {
    const arena = this.arena;
    for (let id = from; id < this.size; id++) visit(arena, this.start(id), this.ends[id]!);
  }

  /**
   * The arena cut to the names' bytes: an interner done growing (a catalogue) gives back the room
   * it kept to grow, up to half its arena (14 MB of 32 at 2M users). Names can still be added.
   */
  trim(): void {
    if (this.arena.length > this.used) this.setArena(this.arena.slice(0, this.used));
  }

  /**
   * No names, the memory kept for the next ones: a worker parses file after file into the same
   * interners. Fresh ones a file left the last file's (about 70 MB at 1.5M users) to the worker's
   * garbage collector, which ran late in a busy worker: they were still held as the next file's
   * grew, the parse's peak.
   */
  clear(): void {
    this.size = 0;
    this.used = 0;
    this.table.fill(0);
    this.decoded.clear();
  }

  /**
   * Room for `more` names without growing the table as they come: a catalogue of 2M users grew its
   * table from 32 to 64 MB as it was read, both held while the names moved (and up to 0.6 s of the
   * main thread's time in all its growths).
   */
  reserve(more: number): void {
    const needed = Math.ceil((this.size + more) / MAX_LOAD);
    if (needed > this.slots) this.rehash(needed);
  }

  /** Name of id `id`, decoded once and kept. */
  name(id: number): string {
    let name = this.decoded.get(id);
    if (name === undefined) {
      name = this.text(id);
      this.decoded.set(id, name);
    }
    return name;
  }

  /**
   * Name of id `id`, decoded anew and not kept: for a pass over many names once (the KPI run's
   * tracks looked up in the songs catalogue), whose strings kept were as large again as the
   * catalogue's own (8 MB at 200,000 tracks).
   */
  text(id: number): string {
    if (!(id >= 0 && id < this.size)) throw new RangeError(`no name numbered ${id}`);
    return Buffer.from(this.arena.buffer, this.arena.byteOffset, this.used).toString(
      'utf8',
      this.start(id),
      this.ends[id]!,
    );
  }

  /** Every name, by id (decoded anew). */
  get names(): string[] {
    return Array.from({ length: this.size }, (_, id) => this.text(id));
  }

  /**
   * The ids of `count` names given as spans of one buffer, in order: `ids[k]` is idOf(bytes,
   * starts[k], ends[k]), and new names are numbered in that order. Faster than one by one on a
   * table larger than the cache: the names are hashed, then their slots read in a pass whose reads
   * do not wait for each other, and the probes of the last pass find their slots in the cache. One by one, each probe waited for its slot from memory (about 125 ns on a 4 MB table
   * here, against 5 ns a read in a pass).
   */
  idsOfSpans(
    bytes: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    count: number,
    ids: Int32Array | Uint32Array,
    add = true,
  ): void {
    if (this.batchHashes.length < count) {
      this.batchHashes = new Int32Array(count);
      this.batchWords = new Int32Array(HASHED_WORDS * count);
    }
    const hashes = this.batchHashes;
    const words = this.batchWords;
    const table = this.table;
    const scale = this.scale;
    const view = viewOf(bytes);
    for (let k = 0; k < count; k++)
      hashes[k] = this.hashOf(bytes, view, starts[k]!, ends[k]!, false, words, HASHED_WORDS * k);
    // A loop of reads alone: the processor has many of them in flight at once (read after each
    // hash, a few).
    let seen = 0;
    for (let k = 0; k < count; k++) seen |= table[SLOT * ((hashes[k]! * scale) | 0)]!;
    this.readsSeen = seen;
    for (let k = 0; k < count; k++) {
      const h = hashes[k]!;
      ids[k] =
        h < 0
          ? this.textLookup(bytes, starts[k]!, ends[k]!, add)
          : this.probe(bytes, starts[k]!, ends[k]!, h, words, HASHED_WORDS * k, add);
    }
  }

  /**
   * The hot path, written out: the name's first 24 bytes as six words (zero-padded), a 30-bit
   * hash of them and of any bytes after (one multiply a word; murmur3's finalizer; 30 bits keep it
   * a small integer to V8), then the probe, which compares slots word by word (the first three). A
   * name with a byte past ASCII is looked up by its decoded text, unless `anyBytes` (it is that
   * text's bytes).
   */
  private lookup(
    bytes: Uint8Array,
    start: number,
    end: number,
    anyBytes: boolean,
    add = true,
    view = viewOf(bytes),
  ): number {
    const words = this.words;
    const h = this.hashOf(bytes, view, start, end, anyBytes, words, 0);
    return h < 0 ? this.textLookup(bytes, start, end, add) : this.probe(bytes, start, end, h, words, 0, add);
  }

  /** A name with a byte past ASCII, by its decoded text (-1 if it is not here and not to be added). */
  private textLookup(bytes: Uint8Array, start: number, end: number, add: boolean): number {
    return this.textId(Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8', start), add);
  }

  /**
   * The name's hash (30 bits), its first INLINE_WORDS words put in `words` from `at`; -1 for a
   * name with a byte past ASCII, unless `anyBytes`.
   */
  private hashOf(
    bytes: Uint8Array,
    view: DataView,
    start: number,
    end: number,
    anyBytes: boolean,
    words: Int32Array,
    at: number,
  ): number {
    const length = end - start;
    // A whole word in one load from the view; the last, partial one from its bytes (tailWord).
    const w0 = start + 4 <= end ? view.getInt32(start, true) : tailWord(bytes, start, end);
    const w1 = start + 8 <= end ? view.getInt32(start + 4, true) : tailWord(bytes, start + 4, end);
    const w2 = start + 12 <= end ? view.getInt32(start + 8, true) : tailWord(bytes, start + 8, end);
    const w3 = start + 16 <= end ? view.getInt32(start + 12, true) : tailWord(bytes, start + 12, end);
    const w4 = start + 20 <= end ? view.getInt32(start + 16, true) : tailWord(bytes, start + 16, end);
    const w5 = start + 24 <= end ? view.getInt32(start + 20, true) : tailWord(bytes, start + 20, end);
    words[at] = w0;
    words[at + 1] = w1;
    words[at + 2] = w2;
    words[at + 3] = w3;
    words[at + 4] = w4;
    words[at + 5] = w5;
    let high = w0 | w1 | w2 | w3 | w4 | w5;
    // Only the words that hold bytes of the name are mixed in (the length tells the rest).
    let h = mix(length, w0);
    if (length > 4) h = mix(h, w1);
    if (length > 8) h = mix(h, w2);
    if (length > 12) h = mix(h, w3);
    if (length > 16) h = mix(h, w4);
    if (length > 20) h = mix(h, w5);
    for (let i = start + HASHED_WORD_BYTES; i < end; i++) {
      const c = bytes[i]!;
      high |= c;
      h = Math.imul(h ^ c, 0x01000193);
    }
    if ((high & 0x80808080) !== 0 && !anyBytes) return -1;
    return finalHash(h);
  }

  private setArena(arena: Uint8Array<ArrayBuffer>): void {
    this.arena = arena;
    this.arenaView = viewOf(arena);
  }

  /** Where name `id`'s bytes start in the arena. */
  private start(id: number): number {
    return id === 0 ? 0 : this.ends[id - 1]!;
  }

  /**
   * The id of the name `bytes[start, end)`, of hash `h` and words `words[at, at + 3)`: found, or
   * added (-1 if it is not here and not to be added).
   */
  private probe(
    bytes: Uint8Array,
    start: number,
    end: number,
    h: number,
    words: Int32Array,
    at: number,
    add = true,
  ): number {
    const length = end - start;
    const w0 = words[at]!;
    const w1 = words[at + 1]!;
    const w2 = words[at + 2]!;
    const tag = length < 31 ? length : 31;
    const table = this.table;
    const slots = this.slots;
    for (let slot = (h * this.scale) | 0; ; slot = slot + 1 === slots ? 0 : slot + 1) {
      const s = SLOT * slot;
      const entry = table[s]!;
      if (entry === 0) return add ? this.add(bytes, start, end, s, words, at) : -1;
      if ((entry & 31) !== tag || table[s + 1] !== w0 || table[s + 2] !== w1 || table[s + 3] !== w2) continue;
      const id = (entry >>> 5) - 1;
      if (length <= INLINE_BYTES) return id;
      const from = this.start(id);
      if (this.ends[id]! - from !== length) continue;
      // The rest: its hashed words against the arena's, then any bytes past them.
      const arenaView = this.arenaView;
      let i = INLINE_BYTES;
      while (
        i + 4 <= length &&
        i < HASHED_WORD_BYTES &&
        arenaView.getInt32(from + i, true) === words[at + (i >> 2)]
      )
        i += 4;
      const arena = this.arena;
      while (i < length && arena[from + i] === bytes[start + i]) i++;
      if (i === length) return id;
    }
  }

  private add(
    bytes: Uint8Array,
    start: number,
    end: number,
    at: number,
    words: Int32Array,
    wordsAt: number,
  ): number {
    const id = this.size++;
    const length = end - start;
    if (this.used + length > this.arena.length) {
      const arena = new Uint8Array(Math.max(this.arena.length * 2, this.used + length));
      arena.set(this.arena.subarray(0, this.used));
      this.setArena(arena);
    }
    const arena = this.arena;
    const used = this.used;
    // A short name byte by byte: a subarray of a Buffer a name (a FastBuffer made) was about 60
    // ns of the 2M users catalogue's 400 ns a new name.
    if (length <= SHORT_COPY) for (let k = 0; k < length; k++) arena[used + k] = bytes[start + k]!;
    else arena.set(bytes.subarray(start, end), used);
    if (id === this.ends.length) this.ends = grown(this.ends);
    this.used += length;
    this.ends[id] = this.used;
    const table = this.table;
    table[at] = (id + 1) * 32 + (length < 31 ? length : 31);
    for (let k = 0; k < INLINE_WORDS; k++) table[at + 1 + k] = words[wordsAt + k]!;
    if (this.size > MAX_LOAD * this.slots) this.rehash(this.slots * 2);
    return id;
  }

  /**
   * The table grown to `slots` slots. The old one is read in order: a name's home slot grows with
   * its hash (MIN_SLOTS) and linear probing keeps the slots in that order, so the new one is written
   * in order too.
   */
  private rehash(slots: number): void {
    const old = this.table;
    const table = new Int32Array(SLOT * slots);
    const scale = slots / HASH_RANGE;
    const arenaView = this.arenaView;
    for (let s = 0; s < old.length; s += SLOT) {
      const entry = old[s]!;
      if (entry === 0) continue;
      // A name's hash again: from its slot alone when the slot holds the whole name (user ids),
      // from the arena otherwise.
      const length = entry & 31;
      let h: number;
      if (length <= INLINE_BYTES) {
        h = mix(length, old[s + 1]!);
        if (length > 4) h = mix(h, old[s + 2]!);
        if (length > 8) h = mix(h, old[s + 3]!);
        h = finalHash(h);
      } else {
        const id = (entry >>> 5) - 1;
        h = this.hashOf(this.arena, arenaView, this.start(id), this.ends[id]!, true, this.words, 0);
      }
      let slot = (h * scale) | 0;
      while (table[SLOT * slot] !== 0) slot = slot + 1 === slots ? 0 : slot + 1;
      for (let k = 0; k < SLOT; k++) table[SLOT * slot + k] = old[s + k]!;
    }
    this.table = table;
    this.slots = slots;
    this.scale = scale;
  }
}

/** What numbers a run's names: an IdInterner, or one extended by the names it lacks. */
export interface Numbering {
  readonly size: number;
  /** The ids of a list of names, each numbered now if it is new. */
  idsOfList(list: NameList): Int32Array;
  /** Each name of ids `from` on, in order of id, as its bytes `bytes[start, end)` (not copied). */
  forEachName(from: number, visit: (bytes: Uint8Array, start: number, end: number) => void): void;
  name(id: number): string;
}

/**
 * The numbering of a finished interner (read only: never added to), extended by the names it
 * lacks: its names keep their ids, 0 to `base.size - 1`, and a name it lacks is numbered from
 * `base.size` on, in order of first appearance. How the KPI engine numbers a run's users: by the
 * users catalogue's own ids, so that a user below `base.size` is a known one, with no second
 * table of the millions of users a day has (about 120 MB at 2M users).
 */
export class ExtendedInterner implements Numbering {
  /** The names the base lacks, numbered from 0 here (from base.size outside). */
  private readonly added = new IdInterner();
  private readonly baseSize: number;

  constructor(readonly base: IdInterner) {
    this.baseSize = base.size;
  }

  get size(): number {
    return this.baseSize + this.added.size;
  }

  idsOfList(list: NameList): Int32Array {
    // Numbers handed out would mean another name if the base had grown since.
    if (this.base.size !== this.baseSize) throw new Error('the interner under an ExtendedInterner grew');
    const ids = this.base.idsOfList(list, false);
    for (let i = 0; i < ids.length; i++)
      if (ids[i]! < 0)
        ids[i] = this.baseSize + this.added.idOf(list.bytes, nameStart(list, i), list.ends[i]!);
    return ids;
  }

  forEachName(from: number, visit: (bytes: Uint8Array, start: number, end: number) => void): void {
    if (from < this.baseSize) this.base.forEachName(from, visit);
    this.added.forEachName(Math.max(0, from - this.baseSize), visit);
  }

  name(id: number): string {
    return id < this.baseSize ? this.base.name(id) : this.added.name(id - this.baseSize);
  }
}

/**
 * The most names a table holds for its slots before it grows. At a half, a file of 1.5M users
 * (streams) had a table of 64 MB, 32 MB at three quarters; the longer probes cost no time that
 * 5 interleaved runs of kpis could show, at 50K users or at 2M (docs/BENCHMARKS.md).
 */
const MAX_LOAD = 0.75;

/**
 * The fewest slots of a table. A name's home slot is `floor(hash * slots / 2^30)` (its 30-bit hash
 * scaled to the table), so a table may have any number of slots, not only a power of two: one
 * sized for the names it will hold (a catalogue of 2M users: 2.67M slots, 43 MB, where the next
 * power of two was 4M slots, 64 MB). From 2^11 slots up the scaled hash stays below `slots`
 * whatever the rounding of the product.
 */
const MIN_SLOTS = 2048;
const HASH_RANGE = 2 ** 30;

/** Names idsOfList looks up at once (as a streams chunk's rows: see idsOfSpans). */
const NAMES_BATCH = 1024;

/** The longest name add copies byte by byte (longer ones in one `set`). */
const SHORT_COPY = 32;

/** Words of a name kept in its slot: 12 bytes. */
const INLINE_WORDS = 3;
/** Words of a name hashed a word at a time (HASHED_WORD_BYTES). */
const HASHED_WORDS = 6;
const INLINE_BYTES = 4 * INLINE_WORDS;
/** Numbers a slot: the id and length, the inline words. */
const SLOT = 1 + INLINE_WORDS;
/** The bytes of a name hashed a word at a time (the rest a byte at a time). */
const HASHED_WORD_BYTES = 24;

/**
 * A DataView over exactly `bytes`: hashOf reads a name's whole words from it, one load a word,
 * where four byte loads and their shifts made the streams parser alone about a tenth slower (3.3M
 * rows: 847 to 870 against 763 to 814 ms). Made once a batch or an arena: made for each probe it
 * was slower than the bytes.
 */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The 0 to 3 bytes of `bytes` from `at` that are before `end` (zeros for the others), little-endian. */
function tailWord(bytes: Uint8Array, at: number, end: number): number {
  if (at >= end) return 0;
  let word = bytes[at]!;
  if (at + 1 < end) word |= bytes[at + 1]! << 8;
  if (at + 2 < end) word |= bytes[at + 2]! << 16;
  return word;
}

/** murmur3's finalizer, to 30 bits (a small integer to V8). */
function finalHash(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff;
}

function mix(h: number, word: number): number {
  const m = Math.imul(h ^ word, 0x5bd1e995);
  return m ^ (m >>> 15);
}

function grown(values: Int32Array): Int32Array<ArrayBuffer> {
  const out = new Int32Array(values.length * 2);
  out.set(values);
  return out;
}
