import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExtendedInterner, IdInterner, nameListOf, namesOf } from '../../src/parse/idInterner.js';

/**
 * IdInterner (src/parse/idInterner.ts) against a Map numbering names in order of first appearance:
 * through every way in (a batch of spans, one span, a string, a NameList), for names of any
 * length (the six words kept in a slot, and past them), with bytes past ASCII (one id per decoded
 * text), and names that end at their buffer's last byte (a word read there cannot be read whole).
 */
const name = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', '0', '_', 'Z'), maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '\u{1F600}', '\uFFFD', 'x'), maxLength: 12 }),
  fc.constantFrom('u1', 'u10', '4u7OpZWkFAkm5nIzY7rC5c', 'x'.repeat(24), 'x'.repeat(25), ''),
);

/** The names laid end to end, each followed by a separator but the last (it ends the buffer). */
function spans(names: string[]): { bytes: Uint8Array; starts: Int32Array; ends: Int32Array } {
  const parts: Buffer[] = [];
  const starts = new Int32Array(names.length);
  const ends = new Int32Array(names.length);
  let at = 0;
  names.forEach((n, i) => {
    const b = Buffer.from(n, 'utf8');
    starts[i] = at;
    ends[i] = at + b.length;
    parts.push(b);
    at += b.length;
    if (i < names.length - 1) {
      parts.push(Buffer.from(','));
      at++;
    }
  });
  // A view into a larger buffer, at an odd offset: the words are read from the view's bytes only.
  const whole = Buffer.concat([Buffer.from('#'), ...parts]);
  return { bytes: whole.subarray(1), starts, ends };
}

function reference(names: string[]): { ids: number[]; names: string[] } {
  const seen = new Map<string, number>();
  const ids = names.map((n) => {
    let id = seen.get(n);
    if (id === undefined) {
      id = seen.size;
      seen.set(n, id);
    }
    return id;
  });
  return { ids, names: [...seen.keys()] };
}

describe('IdInterner', () => {
  it('property: every way in numbers names as a Map does, in order of first appearance', () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 80 }), fc.integer({ min: 1, max: 80 }), (names, batch) => {
        const want = reference(names);
        const { bytes, starts, ends } = spans(names);

        const batched = new IdInterner();
        const ids: number[] = [];
        const out = new Int32Array(batch);
        for (let from = 0; from < names.length; from += batch) {
          const n = Math.min(batch, names.length - from);
          batched.idsOfSpans(bytes, starts.subarray(from), ends.subarray(from), n, out);
          ids.push(...out.subarray(0, n));
        }
        expect(ids).toEqual(want.ids);
        expect(batched.names).toEqual(want.names);

        const one = new IdInterner();
        expect(names.map((_, i) => one.idOf(bytes, starts[i]!, ends[i]!))).toEqual(want.ids);
        const text = new IdInterner();
        expect(names.map((n) => text.id(n))).toEqual(want.ids);
        const list = new IdInterner();
        expect([...list.idsOfList(nameListOf(names))]).toEqual(want.ids);
        // Into a table that has names: the known ones keep their ids, the new ones come after.
        const more = [...names].reverse().map((n, i) => (i % 3 === 0 ? `${n}+` : n));
        expect([...list.idsOfList(nameListOf(more))]).toEqual(
          reference([...names, ...more]).ids.slice(names.length),
        );
        // Its names back as bytes: the texts, in order of their ids.
        expect(namesOf(list.nameList())).toEqual(list.names);
        // The ways agree with each other on one table too.
        expect(names.map((n) => batched.id(n))).toEqual(want.ids);
        expect(batched.size).toBe(want.names.length);
      }),
      { numRuns: 400 },
    );
  });

  it('idsOfList: names in many batches; without adding, only the known ones, and nothing added', () => {
    const names = Array.from({ length: 5_000 }, (_, i) => `u${(i * 7919) % 3_000}`);
    const want = reference(names);
    const interner = new IdInterner();
    expect([...interner.idsOfList(nameListOf(names))]).toEqual(want.ids);
    expect(interner.names).toEqual(want.names);
    // A catalogue's membership test: the names it has keep their ids, the others are -1.
    const catalogue = new IdInterner();
    const listed = want.names.filter((n) => !n.endsWith('7'));
    catalogue.idsOfList(nameListOf(listed));
    const looked = [...catalogue.idsOfList(interner.nameList(), false)];
    expect(looked).toEqual(want.names.map((n) => listed.indexOf(n)));
    expect(catalogue.size).toBe(listed.length);
    expect([catalogue.has('u7'), catalogue.has('u8'), catalogue.has('é')]).toEqual([false, true, false]);
    // Ids taken from bytes first (their texts not decoded yet), then a list with new names.
    const mixed = new IdInterner();
    const { bytes, starts, ends } = spans(['a1', 'b2']);
    mixed.idOf(bytes, starts[0]!, ends[0]!);
    mixed.idOf(bytes, starts[1]!, ends[1]!);
    const more = [...names, 'b2', 'a1', 'c3', 'é'];
    const reference2 = reference(['a1', 'b2', ...more]);
    expect([...mixed.idsOfList(nameListOf(more))]).toEqual(reference2.ids.slice(2));
    expect(mixed.names).toEqual(reference2.names);
    // The names from an id on: their own bytes, ends counted from the first of them.
    const tail = mixed.nameList(2);
    expect(namesOf(tail)).toEqual(reference2.names.slice(2));
    expect(tail.ends[0]).toBe(Buffer.byteLength(reference2.names[2]!));
    expect(namesOf(mixed.nameList(mixed.size))).toEqual([]);
  });

  it('a table that fills at any name of a batch grows there, names past ASCII beside it', () => {
    // A fresh table holds 1,536 names (2,048 slots at three quarters): filled to that less j, the
    // batch's span j is the new name it has no room for (the batch stops there, its
    // names are laid in a larger table, and it goes on), span j + 1 one looked up by its text.
    for (const j of [0, 1, 2, 500, 1020]) {
      const interner = new IdInterner();
      const before = Array.from({ length: 1_536 - j }, (_, i) => `pre-${i}`);
      for (const n of before) interner.id(n);
      const batch = [
        ...before.slice(0, j),
        `new-${j}`,
        `né-${j}`,
        'pre-0',
        `\u{1F600}${j}`,
        ...Array.from({ length: 1024 - j - 4 }, (_, i) => (i % 7 === 0 ? `é${i}` : `more-${i}`)),
      ];
      const want = reference([...before, ...batch]);
      const { bytes, starts, ends } = spans(batch);
      const ids = new Int32Array(batch.length);
      interner.idsOfSpans(bytes, starts, ends, batch.length, ids);
      expect([...ids], `j = ${j}`).toEqual(want.ids.slice(before.length));
      expect(interner.names).toEqual(want.names);
      expect([...interner.idsOfList(nameListOf(want.names), false)]).toEqual(want.names.map((_, i) => i));
    }
  });

  it('trim gives back the room to grow, and names can still be added and found after it', () => {
    const interner = new IdInterner();
    const count = 120_000;
    const names = Array.from({ length: count }, (_, i) => `user-${i}`);
    interner.idsOfList(nameListOf(names));
    const before = interner.memoryBytes;
    interner.trim();
    // The names' bytes (1.2 MB, in an arena grown to 2 MB), their ends, the table reserved for
    // them (160,000 slots of 16 bytes: names this short keep narrow slots), the batch's room, and a
    // page to round up to.
    const held = names.reduce((n, name) => n + name.length, 0) + 4 * count + 16 * 160_000;
    expect(before - interner.memoryBytes).toBeGreaterThan(700_000);
    expect(interner.memoryBytes).toBeLessThanOrEqual(held + 3 * 65_536);
    expect([...interner.idsOfList(nameListOf(['user-7', 'new', 'user-2999', 'newer']), false)]).toEqual([
      7, -1, 2999, -1,
    ]);
    expect([...interner.idsOfList(nameListOf(['new', 'user-0', 'newer']))]).toEqual([count, 0, count + 1]);
    expect([interner.name(count), interner.name(count + 1), interner.name(42)]).toEqual([
      'new',
      'newer',
      'user-42',
    ]);
  });

  it('names alike in the bytes a slot holds: told apart in a table of wide slots and in one of narrow slots', () => {
    // Families that share their first 12 bytes (a narrow slot's) or their first 24 (a wide one's)
    // and differ after them, at the same length (only the arena tells them apart), and families
    // that fill 12 or 24 bytes and differ in the last of them (only the slot's last word does).
    // Longer than 12 bytes on average, so the table has wide slots up to 2^17 of them (50,000
    // names: 131,072 slots), narrow ones past that (240,000 names: 524,288).
    const families = [
      (n: string) => `p${'x'.repeat(11)}${n}`,
      (n: string) => `q${'y'.repeat(23)}${n}`,
      (n: string) => `r${'z'.repeat(17)}${n}`,
      (n: string) => `t${'w'.repeat(5)}${n}`,
      (n: string) => `s${n}`,
    ];
    const names = Array.from({ length: 240_000 }, (_, i) => families[i % 5]!(String(i).padStart(6, '0')));
    // A permutation (7,919 is prime to 240,000).
    const shuffled = names.map((_, i) => names[(i * 7919) % names.length]!);
    const want = reference(shuffled);
    // Each family's first name with its last byte changed: not there.
    const strangers = ['p', 'q', 'r', 't', 's'].map(
      (f) => `${want.names.find((n) => n.startsWith(f))!.slice(0, -1)}!`,
    );
    const bytesOf = (list: string[]): number => list.reduce((n, name) => n + name.length, 0);
    // The first 2,000 one by one: the fresh table (narrow: its names not known yet) grows at 1,536
    // and is laid again with wide slots; then grows with them.
    const interner = new IdInterner();
    expect(shuffled.slice(0, 2_000).map((n) => interner.id(n))).toEqual(want.ids.slice(0, 2_000));
    expect([...interner.idsOfList(nameListOf(shuffled.slice(0, 50_000)))]).toEqual(want.ids.slice(0, 50_000));
    interner.trim();
    // Wide: the table alone is 32 bytes a slot; narrow, all of it would be less.
    expect(interner.memoryBytes).toBeGreaterThan(32 * 131_072);
    expect([...interner.idsOfList(nameListOf(strangers), false)]).toEqual([-1, -1, -1, -1, -1]);
    expect([...interner.idsOfList(nameListOf(shuffled))]).toEqual(want.ids);
    expect(interner.names).toEqual(want.names);
    expect([...interner.idsOfList(nameListOf(strangers), false)]).toEqual([-1, -1, -1, -1, -1]);
    // Narrow at that size: 16 bytes a slot, with the names' bytes and ends, and room for a batch.
    interner.trim();
    const held = bytesOf(names) + 4 * names.length + 16 * 524_288;
    expect(interner.memoryBytes).toBeLessThanOrEqual(held + 3 * 65_536);
    expect([...interner.idsOfList(nameListOf(shuffled.slice(0, 5)), false)]).toEqual(want.ids.slice(0, 5));
  });

  it('text decodes a name anew, as name does; an id not numbered is an error', () => {
    const interner = new IdInterner();
    interner.idsOfList(nameListOf(['a', '😀 ü', '']));
    expect([0, 1, 2].map((id) => interner.text(id))).toEqual(['a', '😀 ü', '']);
    expect([0, 1, 2].map((id) => interner.name(id))).toEqual(['a', '😀 ü', '']);
    expect(interner.names).toEqual(['a', '😀 ü', '']);
    expect(() => interner.text(3)).toThrow(RangeError);
    expect(() => interner.text(-1)).toThrow(RangeError);
  });

  it('clear empties it for names numbered from 0 again; reserve and clear change no numbering', () => {
    const interner = new IdInterner();
    interner.reserve(50_000);
    const first = Array.from({ length: 20_000 }, (_, i) => `first-${i}`);
    expect([...interner.idsOfList(nameListOf(first))]).toEqual(first.map((_, i) => i));
    expect([...interner.idsOfList(nameListOf(first), false)]).toEqual(first.map((_, i) => i));
    interner.clear();
    expect(interner.size).toBe(0);
    expect(interner.has('first-0')).toBe(false);
    const second = ['b', 'first-3', 'a', 'b'];
    expect([...interner.idsOfList(nameListOf(second))]).toEqual([0, 1, 2, 0]);
    expect(interner.names).toEqual(['b', 'first-3', 'a']);
    expect([interner.name(1), interner.text(2)]).toEqual(['first-3', 'a']);
    expect(() => interner.text(3)).toThrow(RangeError);
  });

  it('reserve with bytes makes room for the names to come, their ids and bytes too: adding them grows nothing', () => {
    // Names as long as the ones already there (room for their bytes is their average so far), or
    // of 16 bytes at most before any.
    const name = (i: number): string => `u${String(i).padStart(7, '0')}`;
    for (const already of [0, 1_000]) {
      const interner = new IdInterner();
      interner.idsOfList(nameListOf(Array.from({ length: already }, (_, i) => name(i))));
      interner.reserve(50_000, true);
      const reserved = interner.memoryBytes;
      const more = Array.from({ length: 50_000 }, (_, i) => name(already + i));
      expect([...interner.idsOfList(nameListOf(more))]).toEqual(more.map((_, i) => already + i));
      expect(interner.memoryBytes).toBe(reserved);
      expect(interner.name(already + 49_999)).toBe(name(already + 49_999));
      // Cleared for the next file, its table large enough: nothing is laid anew.
      interner.clear();
      interner.reserve(40_000, true);
      expect(interner.memoryBytes).toBe(reserved);
    }
  });

  it('a table of any size (not a power of two) filled to three quarters, its probes wrapping at its end', () => {
    for (const reserved of [1600, 2100, 3001, 77_777]) {
      const interner = new IdInterner();
      interner.reserve(reserved);
      const names = Array.from({ length: reserved }, (_, i) => `n${(i * 7919) % reserved}-${i % 3}`);
      const want = reference(names);
      const ids = interner.idsOfList(nameListOf(names));
      expect([...ids]).toEqual(want.ids);
      expect([...interner.idsOfList(nameListOf(names), false)]).toEqual(want.ids);
      expect(interner.idsOfList(nameListOf(['absent', 'n0-1x']), false)).toEqual(Int32Array.from([-1, -1]));
      // Growing past three quarters keeps every name.
      const more = Array.from({ length: reserved }, (_, i) => `more-${i}`);
      interner.idsOfList(nameListOf(more));
      expect([...interner.idsOfList(nameListOf([...names, ...more]), false)]).toEqual([
        ...want.ids,
        ...more.map((_, i) => want.names.length + i),
      ]);
    }
  });

  it('nameListView: the names as nameList gives them, without a copy', () => {
    const interner = new IdInterner();
    interner.idsOfList(nameListOf(['x', '😀 ü', '', 'a much longer name than twelve bytes']));
    const view = interner.nameListView();
    expect(namesOf(view)).toEqual(namesOf(interner.nameList()));
    expect([...view.ends]).toEqual([...interner.nameList().ends]);
    // Views of the interner's memory, not copies.
    expect(view.bytes.buffer).toBe(interner.nameListView().bytes.buffer);
    expect(view.bytes.buffer.byteLength).toBe(interner.memoryBytes);
  });

  it('long names alike in their first 12 bytes (those kept in a slot) and their length are told apart by the rest', () => {
    // 22 and 30 bytes (past the 24 hashed a word at a time): a dense table puts many such names in
    // one another's probes, where only the bytes past the slot's tell them apart.
    for (const tail of ['', 'ABCDEFGH']) {
      const distinct = Array.from(
        { length: 20_000 },
        (_, i) => `spotifytrack${String(i * 7).padStart(10, '0')}${tail}`,
      );
      const names = [...distinct, ...distinct.slice(0, 5_000).reverse()];
      const want = reference(names);
      const { bytes, starts, ends } = spans(names);
      const interner = new IdInterner();
      interner.reserve(distinct.length);
      const out = new Int32Array(names.length);
      interner.idsOfSpans(bytes, starts, ends, names.length, out);
      expect([...out]).toEqual(want.ids);
      expect(interner.size).toBe(distinct.length);
      for (const i of [0, 1, 9_999, 19_999])
        expect(interner.idOf(bytes, starts[i]!, ends[i]!)).toBe(want.ids[i]);
      expect(interner.has(`spotifytrack${'9'.repeat(10)}${tail}`)).toBe(false);
    }
  });

  it('a hundred thousand names, the table grown many times on the way', () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `u${(i * 7919) % 60_000}`);
    const want = reference(names);
    const { bytes, starts, ends } = spans(names);
    const interner = new IdInterner();
    const out = new Int32Array(names.length);
    interner.idsOfSpans(bytes, starts, ends, names.length, out);
    expect([...out]).toEqual(want.ids);
    expect(interner.size).toBe(60_000);
    expect(interner.name(59_999)).toBe(want.names[59_999]);
  });
});

describe('ExtendedInterner', () => {
  it("property: the base's names keep their ids, the others are numbered after them in order of first appearance, and the base is not added to", () => {
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 30 }),
        fc.array(fc.array(name, { maxLength: 30 }), { maxLength: 4 }),
        fc.nat({ max: 40 }),
        (baseNames, lists, from) => {
          const base = new IdInterner();
          base.idsOfList(nameListOf(baseNames));
          const baseIds = reference(baseNames).names;
          const run = new ExtendedInterner(base);
          // The reference: a Map seeded with the base's names, then every list in order.
          const want = reference([...baseIds, ...lists.flat()]);
          let at = baseIds.length;
          for (const list of lists) {
            expect([...run.idsOfList(nameListOf(list))]).toEqual(want.ids.slice(at, at + list.length));
            at += list.length;
          }
          expect(run.size).toBe(want.names.length);
          expect(base.size).toBe(baseIds.length);
          expect(Array.from({ length: run.size }, (_, id) => run.name(id))).toEqual(want.names);
          // The names from any id on, as bytes: across the base's end, and past it.
          const seen: string[] = [];
          run.forEachName(from, (bytes, start, end) => {
            seen.push(Buffer.from(bytes.subarray(start, end)).toString('utf8'));
          });
          expect(seen).toEqual(want.names.slice(from));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses to number once its base has grown (its numbers would mean other names)', () => {
    const base = new IdInterner();
    base.id('a');
    const run = new ExtendedInterner(base);
    expect([...run.idsOfList(nameListOf(['b', 'a']))]).toEqual([1, 0]);
    base.id('c');
    expect(() => run.idsOfList(nameListOf(['c']))).toThrow(/grew/);
  });
});
