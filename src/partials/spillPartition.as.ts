/**
 * A batch of parsed rows partitioned into a day's spill buffers, in AssemblyScript, compiled to
 * WebAssembly (`npm run build:wasm` writes spillPartition.wasm.ts; formats/pairSpill.ts loads it,
 * lays its memory out and writes the buffers out as they fill). For each row, a (song, user) pair
 * into the users table's buffer of hash(user)'s partition and a (song, country) pair into the
 * countries table's buffer of hash(song)'s partition: two words a pair, song first, as
 * PairSpill's narrow pairs are. In JavaScript this loop was 18 to 24 ns a row (the ids read as
 * float64 and each store checked), a fifth of a day's parse.
 *
 * A row whose song or user is 2^32 or more (a wide pair) stops the kernel, as does a buffer the
 * next row needs that is full: the caller writes the row (or the buffer) out and goes on.
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

/** What `partition` stopped at (`stoppedAt` says which row, `fullBuffer` which buffer). */
const DONE: i32 = 0;
const FULL: i32 = 1;
const WIDE: i32 = 2;
const TWO_32: f64 = 4294967296.0;

let stopRow: i32 = 0;
let stopBuffer: i32 = 0;

/** The row `partition` stopped at. */
export function stoppedAt(): i32 {
  return stopRow;
}

/** The full buffer `partition` stopped for (FULL). */
export function fullBuffer(): i32 {
  return stopBuffer;
}

/** MurmurHash3's finaliser, as partials/hash.ts' hashId for an id below 2^32. */
function fmix32(x: u32): u32 {
  let h = x;
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/**
 * Rows [from, n) of the batch (songs and users as float64 at `songs` and `users`, countries as
 * bytes at `countries`) into the buffers: buffer b (= partition * 2 + table) at `buffers` + b *
 * capacity * 8, its pairs so far at `fills` (i32 a buffer). Returns DONE, FULL or WIDE.
 */
export function partition(
  songs: usize,
  users: usize,
  countries: usize,
  from: i32,
  n: i32,
  fills: usize,
  buffers: usize,
  mask: u32,
  capacity: i32,
): i32 {
  const bufferBytes = (<usize>capacity) << 3;
  for (let r = from; r < n; r++) {
    const songValue = load<f64>(songs + ((<usize>r) << 3));
    const userValue = load<f64>(users + ((<usize>r) << 3));
    if (songValue >= TWO_32 || userValue >= TWO_32) {
      stopRow = r;
      return WIDE;
    }
    const song = <u32>songValue;
    const user = <u32>userValue;
    const ub = <usize>((fmix32(user) & mask) << 1);
    const cb = <usize>(((fmix32(song) & mask) << 1) | 1);
    const uf = load<i32>(fills + (ub << 2));
    const cf = load<i32>(fills + (cb << 2));
    if (uf === capacity || cf === capacity) {
      stopRow = r;
      stopBuffer = uf === capacity ? <i32>ub : <i32>cb;
      return FULL;
    }
    const ua = buffers + ub * bufferBytes + ((<usize>uf) << 3);
    store<u32>(ua, song);
    store<u32>(ua, user, 4);
    store<i32>(fills + (ub << 2), uf + 1);
    const ca = buffers + cb * bufferBytes + ((<usize>cf) << 3);
    store<u32>(ca, song);
    store<u32>(ca, <u32>load<u8>(countries + <usize>r), 4);
    store<i32>(fills + (cb << 2), cf + 1);
  }
  stopRow = n;
  return DONE;
}
