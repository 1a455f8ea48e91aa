/**
 * A sorted day partition's pairs encoded as a block of the 'words' layout (aggregatePairs.ts'
 * encodeWords, whose layout and segments it writes byte for byte), in AssemblyScript, compiled to
 * WebAssembly (`npm run build:wasm` writes wordsBlock.wasm.ts). It runs over the memory of the
 * radix sort that sorted the pairs (radixSort.ts' PairSorter), writing into the region the sort
 * left free; aggregatePairs.ts says why it is not JavaScript. Every address is the caller's.
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

/** What the last `encode` found: keys, distinct pairs and segments. */
let keysFound: i32 = 0;
let pairsFound: i32 = 0;
let segmentsFound: i32 = 0;

export function keys(): i32 {
  return keysFound;
}

export function pairs(): i32 {
  return pairsFound;
}

export function segments(): i32 {
  return segmentsFound;
}

/**
 * The `n` sorted pairs at `v` (song, key: two u32 each) as a block at `out`, and its segments'
 * (first key, base, offset), u32 each, from `end` downwards (the i-th at end - 12 (i + 1)): the
 * two grow toward each other in [out, end). A segment starts at the first key, after
 * `segmentKeys` keys, or at a key once it holds `segmentPairs` pairs (SegmentCut). Returns the
 * block's bytes, or -1 when they would meet.
 */
export function encode(v: usize, n: i32, out: usize, end: usize, segmentKeys: i32, segmentPairs: i32): i32 {
  let keyCount = 0;
  let pairCount = 0;
  let previousKey: u32 = 0;
  let keysIn = 0;
  let pairsBefore = 0;
  let segTop = end;
  let pos = out;
  let i = 0;
  while (i < n) {
    const key = load<u32>(v + 8 * <usize>i + 4);
    if (keysIn === 0 || keysIn === segmentKeys || pairCount - pairsBefore >= segmentPairs) {
      if (segTop < pos + 12) return -1;
      segTop -= 12;
      store<u32>(segTop, key);
      store<u32>(segTop + 4, previousKey);
      store<u32>(segTop + 8, <u32>(pos - out));
      keysIn = 0;
      pairsBefore = pairCount;
    }
    keysIn++;
    let last = i + 1;
    let songCount = 1;
    while (last < n && load<u32>(v + 8 * <usize>last + 4) === key) {
      songCount += <i32>(load<u32>(v + 8 * <usize>last) !== load<u32>(v + 8 * <usize>last - 8));
      last++;
    }
    // Two varints of at most 5 bytes, 3 of padding, then 4 bytes a song and 5 for its plays.
    if (pos + 13 + 9 * <usize>songCount > segTop) return -1;
    pos = putVarint(pos, key - previousKey);
    previousKey = key;
    pos = putVarint(pos, <u32>songCount);
    while (((pos - out) & 3) !== 0) store<u8>(pos++, 0);
    let playsAt = pos + 4 * <usize>songCount;
    let k = i;
    while (k < last) {
      const song = load<u32>(v + 8 * <usize>k);
      let m = k + 1;
      while (m < last && load<u32>(v + 8 * <usize>m) === song) m++;
      store<u32>(pos, song);
      pos += 4;
      playsAt = putVarint(playsAt, <u32>(m - k));
      k = m;
    }
    pos = playsAt;
    keyCount++;
    pairCount += songCount;
    i = last;
  }
  keysFound = keyCount;
  pairsFound = pairCount;
  segmentsFound = <i32>((end - segTop) / 12);
  return <i32>(pos - out);
}

/** `value` as a varint at `pos`; returns the position after it. */
function putVarint(pos: usize, value: u32): usize {
  while (value >= 0x80) {
    store<u8>(pos++, <u8>((value & 0x7f) | 0x80));
    value >>>= 7;
  }
  store<u8>(pos++, <u8>value);
  return pos;
}
