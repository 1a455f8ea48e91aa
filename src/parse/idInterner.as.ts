/**
 * The table of an IdInterner, in AssemblyScript, compiled to WebAssembly (`npm run build:wasm`
 * writes idInterner.wasm.ts; idInterner.ts loads it and says why it is not JavaScript). The
 * algorithm is idInterner.ts's: names hashed a word at a time, open addressing with linear
 * probing, ids in order of first appearance. The module's memory, which it grows itself:
 *
 *     [0, 64)              the state (STATE: i32 words), which idInterner.ts reads after each call
 *     [64, SPANS_END)      a batch: the spans' starts and ends, their ids, hashes and first words
 *     [INPUT_AT, ...)      the names to look up (the caller's bytes, copied), inputCap bytes
 *     ends                 per id: where its name ends in the arena (i32), endsCap of them
 *     arena                every name's bytes, end to end, arenaCap bytes
 *     table                `slots` slots, each (id + 1) * 32 + the length (31 for 31 bytes and
 *                          more; 0: empty) as an i32, then the name's first bytes: in a narrow
 *                          slot of 16 bytes its first 12 (3 i32 words), in a wide one of 32 bytes
 *                          (from byte 8) its first 24 (3 u64 words); the table starts on a 64-byte
 *                          line, so that no slot straddles two
 *
 * The regions are laid end to end, none with room between them: when the input, the ends or the
 * arena grow, the regions after them move up (the memory grows at the top). The table does not
 * grow here: a batch stops before the name that would fill it past its limit, and idInterner.ts
 * lays the names in a fresh memory with a larger table (`adopt`): a table made here would leave the
 * old one's pages in the memory, which never shrinks.
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

/**
 * Names a batch holds; span BATCH is the one name of a lookup alone, and span BATCH + 1's words
 * are adopt's, which must not write over those of a batch waiting for it.
 */
export const BATCH: i32 = 1024;
const SPANS: usize = <usize>BATCH + 2;
/** Words of a name hashed a word at a time: its first 24 bytes. */
const HASHED_WORDS: i32 = 6;
const HASHED_WORD_BYTES: i32 = 4 * HASHED_WORDS;
/** Bytes of a name kept in a narrow slot and in a wide one. */
const NARROW_INLINE_BYTES: i32 = 12;
const WIDE_INLINE_BYTES: i32 = 24;
/** The table's alignment: a cache line. */
const LINE_BYTES: usize = 64;
const PAGE_BYTES: usize = 65536;

export const STARTS_AT: usize = 64;
export const ENDS_AT: usize = STARTS_AT + 4 * SPANS;
export const IDS_AT: usize = ENDS_AT + 4 * SPANS;
export const HASHES_AT: usize = IDS_AT + 4 * SPANS;
const WORDS_AT: usize = HASHES_AT + 4 * SPANS;
const SCRATCH_WORDS: usize = WORDS_AT + 4 * <usize>HASHED_WORDS * (<usize>BATCH + 1);
/** Where the input region starts (a multiple of 16). */
export const INPUT_AT: usize = (WORDS_AT + 4 * <usize>HASHED_WORDS * SPANS + 15) & ~15;

// The state, kept in globals in a call and written to STATE words when it returns.
let size: i32 = 0;
let used: i32 = 0;
let inputCap: i32 = 0;
let endsAt: usize = 0;
let endsCap: i32 = 0;
let arenaAt: usize = 0;
let arenaCap: i32 = 0;
let tableAt: usize = 0;
let slots: i32 = 0;
/** Whether the table's slots are wide, and their size as a shift (4: 16 bytes, 5: 32). */
let wide: bool = false;
let slotShift: usize = 4;
/** The most names the table holds (its load factor is idInterner.ts's). */
let limit: i32 = 0;

/** The state words (i32) from byte 0: idInterner.ts names them likewise. */
const S_SIZE: usize = 0;
const S_USED: usize = 4;
const S_INPUT_CAP: usize = 8;
const S_ENDS_AT: usize = 12;
const S_ENDS_CAP: usize = 16;
const S_ARENA_AT: usize = 20;
const S_ARENA_CAP: usize = 24;
const S_TABLE_AT: usize = 28;
const S_SLOTS: usize = 32;
const S_LIMIT: usize = 36;
const S_LOW: usize = 40;
const S_HIGH: usize = 44;

function saveState(): void {
  store<i32>(S_SIZE, size);
  store<i32>(S_USED, used);
  store<i32>(S_INPUT_CAP, inputCap);
  store<i32>(S_ENDS_AT, <i32>endsAt);
  store<i32>(S_ENDS_CAP, endsCap);
  store<i32>(S_ARENA_AT, <i32>arenaAt);
  store<i32>(S_ARENA_CAP, arenaCap);
  store<i32>(S_TABLE_AT, <i32>tableAt);
  store<i32>(S_SLOTS, slots);
  store<i32>(S_LIMIT, limit);
}

/** The memory grown to hold `bytes` (unreachable past 4 GiB: the caller throws). */
function ensureMemory(bytes: usize): void {
  const have = <usize>memory.size() * PAGE_BYTES;
  if (bytes <= have) return;
  const pages = <i32>((bytes - have + PAGE_BYTES - 1) / PAGE_BYTES);
  if (memory.grow(pages) < 0) unreachable();
}

function tableBytes(): usize {
  return (<usize>slots) << slotShift;
}

function slotAt(slot: i32): usize {
  return tableAt + ((<usize>slot) << slotShift);
}

function lineUp(at: usize): usize {
  return (at + LINE_BYTES - 1) & ~(LINE_BYTES - 1);
}

/**
 * Lay the regions out and take the names already in the ends and arena (`names` of them, `bytes`
 * of arena): a fresh interner (none), or the names copied into a fresh memory by idInterner.ts,
 * whose ends and arena it put where this lays them (at INPUT_AT + inputBytes, then after endsCap
 * ends). The table, of `tableSlots` slots (wide: of 32 bytes, else 16) holding at most
 * `maxNames`, is filled from the arena; or, `tableCopied`, idInterner.ts has copied the old one
 * there (the same slots: a slot holds no address, so it stays valid where the regions move).
 */
export function adopt(
  inputBytes: i32,
  idCap: i32,
  arenaBytes: i32,
  tableSlots: i32,
  wideSlots: bool,
  maxNames: i32,
  names: i32,
  bytes: i32,
  tableCopied: bool,
): void {
  size = names;
  used = bytes;
  inputCap = inputBytes;
  endsAt = INPUT_AT + <usize>inputBytes;
  endsCap = idCap;
  arenaAt = endsAt + 4 * <usize>idCap;
  arenaCap = arenaBytes;
  tableAt = lineUp(arenaAt + <usize>arenaBytes);
  slots = tableSlots;
  wide = wideSlots;
  slotShift = wide ? 5 : 4;
  limit = maxNames;
  ensureMemory(tableAt + tableBytes() + 64);
  if (!tableCopied) refill();
  saveState();
}

/** The table emptied and filled from the arena, in order of id. */
function refill(): void {
  memory.fill(tableAt, 0, tableBytes());
  let from: usize = arenaAt;
  for (let id = 0; id < size; id++) {
    const end = arenaAt + <usize>load<i32>(endsAt + ((<usize>id) << 2));
    const h = hashOf(from, end, true, SCRATCH_WORDS);
    let slot = homeSlot(h);
    while (load<i32>(slotAt(slot)) !== 0) slot = slot + 1 === slots ? 0 : slot + 1;
    fillSlot(slot, id, <i32>(end - from), SCRATCH_WORDS);
    from = end;
  }
}

/** No names, the memory kept (the table emptied). */
export function clear(): void {
  size = 0;
  used = 0;
  memory.fill(tableAt, 0, tableBytes());
  saveState();
}

/** Room for `bytes` of names in the input region (the regions after it moved up). */
export function reserveInput(bytes: i32): void {
  if (bytes <= inputCap) return;
  // The regions after it move by whole lines: the table stays on one.
  const delta = lineUp(<usize>(max(bytes, inputCap * 2) - inputCap));
  moveUp(endsAt, delta);
  inputCap += <i32>delta;
  endsAt += delta;
  arenaAt += delta;
  tableAt += delta;
  saveState();
}

/** Every region from byte `from` to the table's end moved `delta` bytes up. */
function moveUp(from: usize, delta: usize): void {
  const end = tableAt + tableBytes();
  ensureMemory(end + delta + 64);
  memory.copy(from + delta, from, end - from);
}

/**
 * Where spans 0 to `n` of the batch (as the caller gave them, in its bytes) start and end, as one
 * range: its start in state word S_LOW, its end in S_HIGH (S_LOW when every span is empty).
 */
export function spanRange(n: i32): void {
  let low: i32 = i32.MAX_VALUE;
  let high: i32 = 0;
  for (let k = 0; k < n; k++) {
    const i = (<usize>k) << 2;
    low = min(low, load<i32>(STARTS_AT + i));
    high = max(high, load<i32>(ENDS_AT + i));
  }
  if (n === 0) low = 0;
  store<i32>(S_LOW, low);
  store<i32>(S_HIGH, max(low, high));
}

/** Spans 0 to `n` of the batch moved by `shift` bytes: to where their bytes were copied. */
export function shiftSpans(n: i32, shift: i32): void {
  for (let k = 0; k < n; k++) {
    const i = (<usize>k) << 2;
    store<i32>(STARTS_AT + i, load<i32>(STARTS_AT + i) + shift);
    store<i32>(ENDS_AT + i, load<i32>(ENDS_AT + i) + shift);
  }
}

/**
 * Hash spans `from` to `to` of the batch (their starts and ends at STARTS_AT, ENDS_AT), each
 * hash at HASHES_AT (-1 for a name with a byte past ASCII, unless `anyBytes`) and its first words
 * at WORDS_AT; then read each one's home slot, in a loop of reads alone (the processor has many
 * in flight at once, where each probe would wait for its own).
 */
export function hashSpans(from: i32, to: i32, anyBytes: bool): i32 {
  for (let k = from; k < to; k++) {
    const i = (<usize>k) << 2;
    const start = <usize>load<i32>(STARTS_AT + i);
    const end = <usize>load<i32>(ENDS_AT + i);
    store<i32>(HASHES_AT + i, hashOf(start, end, anyBytes, WORDS_AT + <usize>k * 4 * HASHED_WORDS));
  }
  let seen = 0;
  for (let k = from; k < to; k++) {
    const h = load<i32>(HASHES_AT + ((<usize>k) << 2));
    if (h >= 0) seen |= load<i32>(slotAt(homeSlot(h)));
  }
  return seen;
}

/**
 * The ids of spans `from` to `to` (hashed by hashSpans), at IDS_AT: found, added (numbered in
 * order) or -1 (not here, and not `add`). Returns the first span not looked up: `to` when all
 * were, else one whose hash is -1 (the caller looks it up by its text) or a new name the table
 * has no room for (the caller grows it), to go on from.
 */
export function probeSpans(from: i32, to: i32, add: bool): i32 {
  for (let k = from; k < to; k++) {
    const i = (<usize>k) << 2;
    const h = load<i32>(HASHES_AT + i);
    if (h < 0) {
      saveState();
      return k;
    }
    const id = probe(
      <usize>load<i32>(STARTS_AT + i),
      <usize>load<i32>(ENDS_AT + i),
      h,
      WORDS_AT + <usize>k * 4 * HASHED_WORDS,
      add,
    );
    if (id === FULL) {
      saveState();
      return k;
    }
    store<i32>(IDS_AT + i, id);
  }
  saveState();
  return to;
}

/** probe's answer when the name is new and the table is at its limit. */
const FULL: i32 = -2;

/**
 * The name's hash (30 bits), its first 24 bytes stored at `words` (zeros past its end); -1 for a
 * name with a byte past ASCII, unless `anyBytes`. Its first 24 bytes as three 64-bit words, each
 * multiplied on its own (the three at once), then any bytes after them one by one, then a
 * finalizer: a 32-bit hash mixed a word after the other, each step waiting for the last, took
 * twice as long here as its probe.
 */
function hashOf(start: usize, end: usize, anyBytes: bool, words: usize): i32 {
  const x0 = word8(start, end);
  const x1 = word8(start + 8, end);
  const x2 = word8(start + 16, end);
  store<u64>(words, x0);
  store<u64>(words, x1, 8);
  store<u64>(words, x2, 16);
  let high = x0 | x1 | x2;
  let h = (x0 * 0x9e3779b97f4a7c15) ^ rotl<u64>((x1 * 0xc2b2ae3d27d4eb4f) ^ <u64>(end - start), 21);
  h ^= rotl<u64>(x2 * 0x165667b19e3779f9, 42);
  for (let p = start + <usize>HASHED_WORD_BYTES; p < end; p++) {
    const c = <u64>load<u8>(p);
    high |= c;
    h = (h ^ c) * 0x100000001b3;
  }
  if ((high & 0x8080808080808080) !== 0 && !anyBytes) return -1;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93;
  h ^= h >> 32;
  return <i32>(h >> 34);
}

/** The 8 bytes at `at` of a name that ends at `end`, those past its end zeros (a load may read past it: the memory always has 64 bytes past the table). */
function word8(at: usize, end: usize): u64 {
  if (at >= end) return 0;
  const word = load<u64>(at);
  const left = end - at;
  return left >= 8 ? word : word & (((<u64>1) << ((<u64>left) << 3)) - 1);
}

/** A 30-bit hash's home slot: `floor(h * slots / 2^30)`, the table's size any number. */
function homeSlot(h: i32): i32 {
  return <i32>((<i64>h * <i64>slots) >> 30);
}

function nameStart(id: i32): usize {
  return id === 0 ? arenaAt : arenaAt + <usize>load<i32>(endsAt + ((<usize>(id - 1)) << 2));
}

/** The id of the name `[start, end)` of hash `h` and words at `words`: found, added, -1 or FULL. */
function probe(start: usize, end: usize, h: i32, words: usize, add: bool): i32 {
  const length = <i32>(end - start);
  const w0 = load<u64>(words);
  const w1 = load<u64>(words, 8);
  const w2 = load<u64>(words, 16);
  const tag = length < 31 ? length : 31;
  const inline = wide ? WIDE_INLINE_BYTES : NARROW_INLINE_BYTES;
  // Every slot at most: the table always has an empty one, where the probe ends.
  let slot = homeSlot(h);
  for (let n = 0; n < slots; n++, slot = slot + 1 === slots ? 0 : slot + 1) {
    const s = slotAt(slot);
    const entry = load<i32>(s);
    if (entry === 0) {
      if (!add) return -1;
      if (size + 1 > limit) return FULL;
      return addName(start, length, slot, words);
    }
    if ((entry & 31) !== tag) continue;
    if (wide) {
      if (load<u64>(s, 8) !== w0 || load<u64>(s, 16) !== w1 || load<u64>(s, 24) !== w2) continue;
    } else if (load<u64>(s, 4) !== w0 || load<u32>(s, 12) !== <u32>w1) continue;
    const id = (entry >>> 5) - 1;
    if (length <= inline) return id;
    const from = nameStart(id);
    if (arenaAt + <usize>load<i32>(endsAt + ((<usize>id) << 2)) - from !== <usize>length) continue;
    if (sameBytes(from + <usize>inline, start + <usize>inline, length - inline)) return id;
  }
  return -1;
}

/** Whether the `n` bytes at `a` and at `b` are the same: a word at a time, then bytes. */
function sameBytes(a: usize, b: usize, n: i32): bool {
  let i: usize = 0;
  const count = <usize>n;
  while (i + 4 <= count) {
    if (load<i32>(a + i) !== load<i32>(b + i)) return false;
    i += 4;
  }
  while (i < count) {
    if (load<u8>(a + i) !== load<u8>(b + i)) return false;
    i++;
  }
  return true;
}

/** The name `[start, start + length)` numbered `size` and put in empty slot `slot`. */
function addName(start: usize, length: i32, slot: i32, words: usize): i32 {
  const id = size;
  if (id === endsCap) {
    // Twice the ends (or a little more: whole lines): the arena and the table move up.
    const delta = lineUp(4 * <usize>endsCap);
    moveUp(arenaAt, delta);
    endsCap += <i32>(delta >> 2);
    arenaAt += delta;
    tableAt += delta;
  }
  if (used + length > arenaCap) {
    const grown = max(arenaCap * 2, used + length);
    // The table stays on a line.
    const delta = lineUp(<usize>(grown - arenaCap));
    moveUp(tableAt, delta);
    arenaCap = <i32>(tableAt + delta - arenaAt);
    tableAt += delta;
  }
  memory.copy(arenaAt + <usize>used, start, <usize>length);
  used += length;
  store<i32>(endsAt + ((<usize>id) << 2), used);
  size = id + 1;
  fillSlot(slot, id, length, words);
  return id;
}

function fillSlot(slot: i32, id: i32, length: i32, words: usize): void {
  const s = slotAt(slot);
  store<i32>(s, (id + 1) * 32 + (length < 31 ? length : 31));
  if (wide) {
    store<u64>(s, load<u64>(words), 8);
    store<u64>(s, load<u64>(words, 8), 16);
    store<u64>(s, load<u64>(words, 16), 24);
  } else {
    store<u64>(s, load<u64>(words), 4);
    store<u32>(s, load<u32>(words, 8), 12);
  }
}
