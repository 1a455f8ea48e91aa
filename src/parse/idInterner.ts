import { alignTo, kernelInstance, pagesFor, WASM_MAX_PAGES } from '../ops/wasmKernel.js';
import { WASM_BASE64 } from './idInterner.wasm.js';

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
 *
 * The table, the names' bytes and their ends live in a WebAssembly memory of the interner's own,
 * and its lookups are a kernel's (idInterner.as.ts, compiled by `npm run build:wasm`): open
 * addressing with linear probing, at most three quarters full (MAX_LOAD); a slot holds the id and
 * length and the name's first bytes, so that a name that fits (user ids) is matched in its slot
 * alone, a longer one with a look at the arena: a table of long names of up to WIDE_SLOTS_MAX
 * slots has wide slots, 32 bytes holding 24 (Spotify's 22-byte track ids fit), any other narrow
 * slots of 16 bytes holding 12 (user ids; a large table, whose memory counts). The
 * same table in JavaScript spent most of a streams file's parse in the checks V8 makes at every
 * typed-array access (docs/BENCHMARKS.md, "The ids' table in WebAssembly"). A lookup copies the
 * names' bytes into the kernel's memory first, a batch in one copy. When the table is full, the
 * names are laid in a fresh memory with one twice its size (regrow): a WebAssembly memory cannot
 * shrink, and a table made in place would leave the old one's pages in it.
 */
export class IdInterner implements Numbering {
  private memory!: WebAssembly.Memory;
  private exports!: InternerExports;
  /** Views of the memory, made anew when it grows (which detaches them). */
  private u8!: Uint8Array;
  private i32!: Int32Array;
  /** Whether the table's slots are wide (wideSlotsFor). */
  private wideSlots = false;
  /** The names decoded by `name`, kept for the next call (a day's top tracks, asked again). */
  private readonly decoded = new Map<number, string>();

  constructor() {
    this.regrow(INITIAL_INPUT_BYTES, INITIAL_IDS, INITIAL_ARENA_BYTES, MIN_SLOTS);
  }

  /** The bytes of the interner's memory (its table, names, ends and a batch's room). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** How many names there are (the next new one's id). */
  get size(): number {
    return this.state(S_SIZE);
  }

  /**
   * The id of the name `bytes[start, end)`, taken as UTF-8 (numbered now if it is new).
   */
  idOf(bytes: Uint8Array, start: number, end: number): number {
    return this.lookupOne(bytes, start, end, false, true, 0);
  }

  /** The id of a name given as text. */
  id(name: string): number {
    return this.textId(name, true, 0);
  }

  /** Whether the name given as text has an id (none is added). */
  has(name: string): boolean {
    return this.textId(name, false, 0) >= 0;
  }

  /**
   * The ids of a list of names (a partial's, a range's), looked up by their bytes a batch at a time
   * (idsOfSpans): no string a name. With `add` false, a name not here is -1 and nothing is added
   * (a membership test against a catalogue).
   */
  idsOfList(list: NameList, add = true): Int32Array {
    const count = list.ends.length;
    // An empty table is sized for the names at once. Into a table that has names, most of these
    // are usually there already (the partials of a day's files share most of their users and
    // tracks), so it grows only as new ones come: sized for all of them, it was regrown to twice
    // what it needed, a fresh 8 MB table and 50,000 names moved for the second partial of 10M rows.
    if (add && this.size === 0) this.reserve(count);
    const ids = new Int32Array(count);
    const starts = new Int32Array(BATCH);
    const ends = new Int32Array(BATCH);
    for (let from = 0; from < count; from += BATCH) {
      const n = Math.min(BATCH, count - from);
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
   * The names of ids `from` on, as a NameList of their own bytes (a copy: the memory moves as it
   * grows): what a partial keeps, and what a range sends to be merged, without decoding a name.
   */
  nameList(from = 0): NameList {
    const count = Math.max(0, this.size - from);
    const base = count === 0 ? 0 : this.start(from);
    const ends = new Uint32Array(count);
    const endsAt = this.state(S_ENDS_AT) >> 2;
    for (let k = 0; k < count; k++) ends[k] = this.i32[endsAt + from + k]! - base;
    const arenaAt = this.state(S_ARENA_AT);
    const bytes = this.u8.slice(arenaAt + base, arenaAt + base + (count === 0 ? 0 : ends[count - 1]!));
    return { bytes, ends };
  }

  /**
   * Every name as a NameList of views into this interner's memory, not a copy: valid until a name
   * is added (a growth of the memory detaches them). What a parsed file's partial is written from:
   * a copy was 20 MB a worker at 1.5M users, made as the two workers finished their files
   * together, the peak of the parse.
   */
  nameListView(): NameList {
    const arenaAt = this.state(S_ARENA_AT);
    return {
      bytes: this.u8.subarray(arenaAt, arenaAt + this.state(S_USED)),
      ends: new Uint32Array(this.memory.buffer, this.state(S_ENDS_AT), this.size),
    };
  }

  forEachName(from: number, visit: (bytes: Uint8Array, start: number, end: number) => void): void {
    const arenaAt = this.state(S_ARENA_AT);
    const endsAt = this.state(S_ENDS_AT) >> 2;
    for (let id = from; id < this.size; id++)
      visit(this.u8, arenaAt + this.start(id), arenaAt + this.i32[endsAt + id]!);
  }

  /**
   * The memory cut to the names (their ends, their bytes and the table): an interner done
   * growing (a catalogue) gives back the room it kept to grow, up to half its arena (14 MB of 32
   * at 2M users), once its old memory is collected. Names can still be added.
   */
  trim(): void {
    this.regrow(INITIAL_INPUT_BYTES, Math.max(1, this.size), this.state(S_USED), this.state(S_SLOTS));
  }

  /**
   * No names, the memory kept for the next ones: a worker parses file after file into the same
   * interners. Fresh ones a file left the last file's (about 70 MB at 1.5M users) to the worker's
   * garbage collector, which ran late in a busy worker: they were still held as the next file's
   * grew, the parse's peak.
   */
  clear(): void {
    this.exports.clear();
    this.decoded.clear();
  }

  /**
   * Room for `more` names without growing the table as they come: a catalogue of 2M users grew its
   * table from 32 to 64 MB as it was read, both held while the names moved (and up to 0.6 s of the
   * main thread's time in all its growths).
   *
   * With `withBytes`, when the table grows for them, room for their ids and bytes is made in the
   * same fresh memory: the kernel grows those regions in place, each time moving the regions above
   * them, the table among them (a catalogue of 2M users read in 1.16 s, 0.95 s with that room, and
   * its peak 16 MB lower). A parse worker's interner, cleared for each file, is not sized so: its
   * peak at 2M users was 25 MB higher with that room (docs/BENCHMARKS.md).
   */
  reserve(more: number, withBytes = false): void {
    const size = this.size;
    const slots = Math.ceil((size + more) / MAX_LOAD);
    if (slots <= this.state(S_SLOTS)) return;
    if (!withBytes) {
      this.growTable(slots);
      return;
    }
    const used = this.state(S_USED);
    // The names to come as long as the ones so far, on average.
    const bytes = used + Math.ceil(more * (size > 0 ? used / size : NAME_BYTES_ABOUT));
    this.regrow(
      this.state(S_INPUT_CAP),
      Math.max(this.state(S_ENDS_CAP), size + more),
      Math.max(this.state(S_ARENA_CAP), bytes),
      slots,
    );
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
    const arenaAt = this.state(S_ARENA_AT);
    return Buffer.from(this.memory.buffer, arenaAt, this.state(S_USED)).toString(
      'utf8',
      this.start(id),
      this.i32[(this.state(S_ENDS_AT) >> 2) + id]!,
    );
  }

  /** Every name, by id (decoded anew). */
  get names(): string[] {
    return Array.from({ length: this.size }, (_, id) => this.text(id));
  }

  /**
   * The ids of `count` names given as spans of one buffer, in order: `ids[k]` is idOf(bytes,
   * starts[k], ends[k]), and new names are numbered in that order. A batch's bytes are copied into
   * the kernel's memory in one go, then hashed, their slots read in a pass whose reads do not
   * wait for each other (one by one, each probe waited for its slot from memory: about 125 ns on a
   * 4 MB table, against 5 ns a read in a pass), and probed.
   */
  idsOfSpans(
    bytes: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    count: number,
    ids: Int32Array | Uint32Array,
    add = true,
  ): void {
    for (let from = 0; from < count; from += BATCH) {
      const n = Math.min(BATCH, count - from);
      // The spans copied in, the range of bytes they cover found, copied in, and the spans moved
      // there: each a copy or a loop of the kernel's (the same loops here cost more than the lookups
      // of a batch of user ids that the table has in the cache).
      this.i32.set(starts.subarray(from, from + n), STARTS);
      this.i32.set(ends.subarray(from, from + n), ENDS);
      this.exports.spanRange(n);
      const low = this.state(S_LOW);
      const length = this.state(S_HIGH) - low;
      if (length > this.state(S_INPUT_CAP)) this.call(() => this.exports.reserveInput(length));
      this.u8.set(bytes.subarray(low, low + length), INPUT_AT);
      this.exports.shiftSpans(n, INPUT_AT - low);
      this.lookUp(0, n, false, add, length);
      ids.set(this.i32.subarray(IDS, IDS + n), from);
    }
  }

  /**
   * Spans `from` to `to` of the kernel's batch looked up, their ids at IDS: a name with a byte
   * past ASCII by its decoded text (unless `anyBytes`: it is that text's bytes), the table grown
   * when it is full. `inputUsed`: the batch's bytes in the input region, which a name looked up
   * by its text is put after.
   */
  private lookUp(from: number, to: number, anyBytes: boolean, add: boolean, inputUsed: number): void {
    this.exports.hashSpans(from, to, anyBytes ? 1 : 0);
    // this.exports, not a copy: a table grown is another instance.
    let k = this.call(() => this.exports.probeSpans(from, to, add ? 1 : 0));
    while (k < to) {
      if (this.i32[HASHES + k]! < 0) {
        const start = this.i32[STARTS + k]!;
        const text = Buffer.from(this.memory.buffer).toString('utf8', start, this.i32[ENDS + k]!);
        const id = this.textId(text, add, inputUsed);
        this.i32[IDS + k] = id;
        k++;
      } else {
        this.growTable(2 * this.state(S_SLOTS));
      }
      k = this.call(() => this.exports.probeSpans(k, to, add ? 1 : 0));
    }
  }

  /** The id of a name given as text: found, added, or -1 (not here, and not to be added). */
  private textId(name: string, add: boolean, inputUsed: number): number {
    const bytes = Buffer.from(name, 'utf8');
    return this.lookupOne(bytes, 0, bytes.length, true, add, inputUsed);
  }

  /** One name looked up (span BATCH), its bytes put at `inputUsed` in the input region. */
  private lookupOne(
    bytes: Uint8Array,
    start: number,
    end: number,
    anyBytes: boolean,
    add: boolean,
    inputUsed: number,
  ): number {
    const length = end - start;
    if (inputUsed + length > this.state(S_INPUT_CAP))
      this.call(() => this.exports.reserveInput(inputUsed + length));
    const at = INPUT_AT + inputUsed;
    const u8 = this.u8;
    // A short name byte by byte: a subarray a name (an object made) costs more than the copy.
    if (length <= SHORT_COPY) for (let k = 0; k < length; k++) u8[at + k] = bytes[start + k]!;
    else u8.set(bytes.subarray(start, end), at);
    this.i32[STARTS + BATCH] = at;
    this.i32[ENDS + BATCH] = at + length;
    this.lookUp(BATCH, BATCH + 1, anyBytes, add, inputUsed + length);
    return this.i32[IDS + BATCH]!;
  }

  /** A call into the kernel that may grow its memory: the views made anew if it did. */
  private call<T>(f: () => T): T {
    let result: T;
    try {
      result = f();
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError)
        throw new RangeError(`the names do not fit in a 4 GiB WebAssembly memory (${error.message})`);
      throw error;
    }
    if (this.u8.byteLength === 0) this.views();
    return result;
  }

  private views(): void {
    this.u8 = new Uint8Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  private state(word: number): number {
    return this.i32[word]!;
  }

  /** Where name `id`'s bytes start in the arena. */
  private start(id: number): number {
    return id === 0 ? 0 : this.i32[(this.state(S_ENDS_AT) >> 2) + id - 1]!;
  }

  /** The table grown to `slots` slots (a fresh memory: see regrow). */
  private growTable(slots: number): void {
    this.regrow(this.state(S_INPUT_CAP), this.state(S_ENDS_CAP), this.state(S_ARENA_CAP), slots);
  }

  /**
   * The names laid in a fresh memory: an input region of `inputBytes`, room for `idCap` ids and
   * `arenaBytes` of names (at least the ones there are), a table of `slots` slots (filled anew
   * from the names by the kernel's `adopt`). The batch's spans, hashes and input bytes go along
   * (a batch may stop for the table to grow, and go on after). The old memory is let go.
   */
  private regrow(inputBytes: number, idCap: number, arenaBytes: number, slots: number): void {
    const old = this.memory === undefined ? undefined : { u8: this.u8, i32: this.i32 };
    const size = old === undefined ? 0 : old.i32[S_SIZE]!;
    const used = old === undefined ? 0 : old.i32[S_USED]!;
    const endsAt = INPUT_AT + inputBytes;
    const arenaAt = endsAt + 4 * idCap;
    // On a cache line, as the kernel's adopt lays it (lineUp).
    const tableAt = alignTo(arenaAt + arenaBytes, 64);
    // A table of the same slots (trim: the other regions cut) is copied, not filled anew: its
    // slots hold ids and bytes, no addresses (trimming 2M users filled 43 MB again, 0.5 s).
    const copied = old !== undefined && old.i32[S_SLOTS] === slots;
    const wide = copied ? this.wideSlots : wideSlotsFor(slots, size, used);
    const slotBytes = wide ? WIDE_SLOT_BYTES : NARROW_SLOT_BYTES;
    const bytes = tableAt + slotBytes * slots + 64;
    // An id is 27 bits in a slot (its entry is (id + 1) * 32 + the length).
    if (slots >= 2 ** 27) throw new RangeError(`the names do not fit in a table of ${slots} slots`);
    const memory = new WebAssembly.Memory({
      initial: pagesFor(bytes, `${size} names`),
      maximum: WASM_MAX_PAGES,
    });
    const exports = kernelInstance<InternerExports>(WASM_BASE64, memory);
    if (exports.INPUT_AT.value !== INPUT_AT || exports.BATCH.value !== BATCH)
      throw new Error('idInterner.wasm.ts does not match idInterner.ts: run npm run build:wasm');
    const u8 = new Uint8Array(memory.buffer);
    if (old !== undefined) {
      const oldInput = old.i32[S_INPUT_CAP]!;
      u8.set(old.u8.subarray(0, INPUT_AT + Math.min(oldInput, inputBytes)));
      const oldEndsAt = old.i32[S_ENDS_AT]!;
      u8.set(old.u8.subarray(oldEndsAt, oldEndsAt + 4 * size), endsAt);
      const oldArenaAt = old.i32[S_ARENA_AT]!;
      u8.set(old.u8.subarray(oldArenaAt, oldArenaAt + used), arenaAt);
    }
    if (copied) {
      const oldTableAt = old.i32[S_TABLE_AT]!;
      u8.set(old.u8.subarray(oldTableAt, oldTableAt + slotBytes * slots), tableAt);
    }
    exports.adopt(
      inputBytes,
      idCap,
      arenaBytes,
      slots,
      wide ? 1 : 0,
      Math.floor(MAX_LOAD * slots),
      size,
      used,
      copied ? 1 : 0,
    );
    this.memory = memory;
    this.exports = exports;
    this.wideSlots = wide;
    this.views();
  }
}

interface InternerExports {
  adopt(
    inputBytes: number,
    idCap: number,
    arenaBytes: number,
    slots: number,
    wideSlots: number,
    maxNames: number,
    names: number,
    bytes: number,
    tableCopied: number,
  ): void;
  clear(): void;
  reserveInput(bytes: number): void;
  spanRange(n: number): void;
  shiftSpans(n: number, shift: number): void;
  hashSpans(from: number, to: number, anyBytes: number): number;
  probeSpans(from: number, to: number, add: number): number;
  BATCH: WebAssembly.Global;
  INPUT_AT: WebAssembly.Global;
}

/** The kernel's layout (idInterner.as.ts), checked against its exports at each memory made. */
const BATCH = 1024;
const SPANS = BATCH + 2;
const HASHED_WORDS = 6;
const STARTS_AT = 64;
/** Int32 indexes of the batch's arrays: starts, ends, ids, hashes. */
const STARTS = STARTS_AT / 4;
const ENDS = STARTS + SPANS;
const IDS = ENDS + SPANS;
const HASHES = IDS + SPANS;
const INPUT_AT = alignTo(STARTS_AT + 4 * 4 * SPANS + 4 * HASHED_WORDS * SPANS, 16);
/** The state's words (idInterner.as.ts's S_ constants). */
const S_SIZE = 0;
const S_USED = 1;
const S_INPUT_CAP = 2;
const S_ENDS_AT = 3;
const S_ENDS_CAP = 4;
const S_ARENA_AT = 5;
const S_ARENA_CAP = 6;
const S_TABLE_AT = 7;
const S_SLOTS = 8;
/** spanRange's answer: where a batch's spans start and end in the caller's bytes. */
const S_LOW = 10;
const S_HIGH = 11;
const NARROW_SLOT_BYTES = 16;
/** The bytes a name is taken to have, for room asked for before any name (reserve). */
const NAME_BYTES_ABOUT = 16;
const WIDE_SLOT_BYTES = 32;
/** A fresh interner's room: bytes of input and of names, and ids. */
const INITIAL_INPUT_BYTES = 1 << 16;
const INITIAL_ARENA_BYTES = 1 << 16;
const INITIAL_IDS = 1024;

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
 * power of two was 4M slots, 64 MB).
 */
const MIN_SLOTS = 2048;

/**
 * Whether a table of `slots` slots for these names (`size` of them, `used` bytes) has wide slots:
 * when its names are longer than a narrow slot holds (12 bytes), on average, and the table is at
 * most WIDE_SLOTS_MAX slots (a table with no names yet, whose names are not known: narrow; it is
 * laid again as it grows). A lookup of a name past the 12 bytes of a narrow slot (a track id of
 * 22) read the arena as well, a second miss: wide slots took a tenth off a streams file's parse
 * and off the KPI run (docs/BENCHMARKS.md). Short names (user ids) gain nothing from them, and a
 * larger table keeps narrow slots: the memory counts (at 2M users wide ones would be 43 MB more a
 * table; the 200,000 tracks of a large catalogue in each parse worker, 4 MB more a worker,
 * against the 512 MB budget).
 */
function wideSlotsFor(slots: number, size: number, used: number): boolean {
  return slots <= WIDE_SLOTS_MAX && size > 0 && used > NARROW_INLINE_BYTES * size;
}

/** The most slots of a table with wide slots (4 MB of them, for up to 98,304 names). */
const WIDE_SLOTS_MAX = 1 << 17;
const NARROW_INLINE_BYTES = 12;

/** The longest name a lookup copies byte by byte (longer ones in one `set`). */
const SHORT_COPY = 32;
