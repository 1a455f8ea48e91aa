/**
 * The common listen row, `sng_id|user_id|CC` and its line end, read in AssemblyScript compiled to
 * WebAssembly (`npm run build:wasm` writes listenScan.wasm.ts; listenScan.ts loads it and says why
 * it is not JavaScript). A line is read 32 bytes at a time with SIMD: one comparison each finds its
 * pipes, its newline, its digits and its blanks, and each id is made from its digits by 3
 * multiplications on a u64 (8 digits at once). It takes a line only when its three fields are, with
 * any blanks (spaces, tabs) around each, a run of 1 to 10 digits, another, and two capital letters
 * naming a country (the table at COUNTRIES_AT), then `\n` or `\r\n`, all within 32 bytes: a valid
 * row by the row rule, with its values. It stops at any other line (longer ids or lines, a reject,
 * a header, a line cut by the chunk's end), which the caller reads its own way. The module's
 * memory, laid out by listenScan.ts:
 *
 *     [0, 16)             the state: where the last scan stopped (i32)
 *     [COUNTRIES_AT, +676) each two letters' country (ListenParser's COUNTRY_BY_LETTERS), 255 for none
 *     [SONGS_AT, ...)     a batch of ROWS rows: songs (f64), users (f64), countries (u8)
 *     [CHUNK_AT, ...)     the bytes being read (copied in by the caller), and 32 spare bytes past them
 *
 * Not TypeScript: tsc skips `*.as.ts` (tsconfig.json), and asc compiles it.
 */

/** Rows a batch holds at most. */
export const ROWS: i32 = 65536;
export const COUNTRIES_AT: usize = 16;
export const SONGS_AT: usize = 1024;
export const USERS_AT: usize = SONGS_AT + 8 * <usize>ROWS;
export const CODES_AT: usize = USERS_AT + 8 * <usize>ROWS;
export const CHUNK_AT: usize = CODES_AT + <usize>ROWS;

const S_STOP: usize = 0;
const NO_COUNTRY: u32 = 255;

const PIPES = i8x16.splat(124);
const NEWLINES = i8x16.splat(10);
const ZEROS = i8x16.splat(48);
const NINES = i8x16.splat(9);
const SPACES = i8x16.splat(32);
const TABS = i8x16.splat(9);

/**
 * The whole lines from `from` to `end` (a line's start, and the end of a line) into the batch, at
 * most `most` rows (and ROWS): returns the rows read; where it stopped (at `end`, at the line after
 * the batch's last row, or at a line it does not take) is in the state.
 */
export function scan(from: usize, end: usize, most: i32): i32 {
  if (most > ROWS) most = ROWS;
  let p = from;
  let n = 0;
  while (p < end && n < most) {
    const low = v128.load(p);
    const high = v128.load(p, 16);
    const pipes =
      <u32>i8x16.bitmask(i8x16.eq(low, PIPES)) | ((<u32>i8x16.bitmask(i8x16.eq(high, PIPES))) << 16);
    const newlines =
      <u32>i8x16.bitmask(i8x16.eq(low, NEWLINES)) | ((<u32>i8x16.bitmask(i8x16.eq(high, NEWLINES))) << 16);
    // A byte is a digit when it less '0', as unsigned, is at most 9; a blank is a space or a tab.
    const digits =
      <u32>i8x16.bitmask(i8x16.le_u(i8x16.sub(low, ZEROS), NINES)) |
      ((<u32>i8x16.bitmask(i8x16.le_u(i8x16.sub(high, ZEROS), NINES))) << 16);
    const blanks =
      <u32>i8x16.bitmask(v128.or(i8x16.eq(low, SPACES), i8x16.eq(low, TABS))) |
      ((<u32>i8x16.bitmask(v128.or(i8x16.eq(high, SPACES), i8x16.eq(high, TABS)))) << 16);
    const first = ctz(pipes);
    const second = ctz(pipes & (pipes - 1));
    const newline = ctz(newlines);
    // The line, its newline inside [p, end) (the bytes past `end` are not the line's), and its
    // three fields: bits [0, first), (first, second) and (second, the newline or a \r before it).
    if (newline > 31 || second >= newline || p + <usize>newline >= end) break;
    const contentEnd = newline - <u32>(load<u8>(p + <usize>newline - 1) === 13);
    const song = <u32>(((<u64>1) << first) - 1) & ~blanks;
    const user = (((<u32>1) << second) - 1) & ~(((<u32>2) << first) - 1) & ~blanks;
    const code = (((<u32>1) << contentEnd) - 1) & ~(((<u32>2) << second) - 1) & ~blanks;
    // Each id one run of 1 to 10 digits between blanks; the country one run of two bytes.
    if (!isRun(song) || !isRun(user) || (digits & song) !== song || (digits & user) !== user) break;
    const songLength = popcnt(song);
    const userLength = popcnt(user);
    if (songLength > 10 || userLength > 10 || code === 0 || code >> ctz(code) !== 3) break;
    const letters = p + <usize>ctz(code);
    const a = <u32>load<u8>(letters) - 65;
    const b = <u32>load<u8>(letters, 1) - 65;
    if (a > 25 || b > 25) break;
    const country = <u32>load<u8>(COUNTRIES_AT + <usize>(a * 26 + b));
    if (country === NO_COUNTRY) break;
    store<f64>(SONGS_AT + ((<usize>n) << 3), <f64>id(p + <usize>ctz(song), songLength));
    store<f64>(USERS_AT + ((<usize>n) << 3), <f64>id(p + <usize>ctz(user), userLength));
    store<u8>(CODES_AT + <usize>n, <u8>country);
    n++;
    p += <usize>newline + 1;
  }
  store<i32>(S_STOP, <i32>p);
  return n;
}

/** Whether the set bits of `bits` are one run, and there is one. */
function isRun(bits: u32): bool {
  const run = bits >> ctz(bits);
  return bits !== 0 && (run & (run + 1)) === 0;
}

/** The id of the `length` (1 to 10) digits at `at`. */
function id(at: usize, length: u32): u64 {
  if (length <= 8) return eightDigits(at + <usize>length, length);
  return eightDigits(at + <usize>length - 8, length - 8) * 100000000 + eightDigits(at + <usize>length, 8);
}

/**
 * The value of the `length` (1 to 8) digits ending at `end`: the 8 bytes before `end` read as one
 * u64 (the bytes before the digits, whatever they are, made '0'), each byte less '0', then pairs of
 * digits, pairs of pairs and the two halves summed in place (x * 10 + x >> 8 and so on: the first
 * digit is the low byte, the most significant).
 */
function eightDigits(end: usize, length: u32): u64 {
  let x = load<u64>(end - 8);
  const before: u64 = (<u64>(8 - length)) << 3;
  const zeros: u64 = before === 0 ? 0 : 0x3030303030303030 & (((<u64>1) << before) - 1);
  x = ((x >> before) << before) | zeros;
  x -= 0x3030303030303030;
  x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ff;
  x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffff;
  return (x * 10000 + (x >> 32)) & 0xffffffff;
}
