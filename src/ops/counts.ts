/**
 * Numbers in what playtally prints, as people read them: `2,733` with thousands separators
 * (whatever the machine's locale), and a count with its noun in the right number: `1 day`,
 * `7 days`, `0 files`, never `1 days` or `day(s)`. Pure: the CLI, the jobs' messages and the
 * dashboard use the same words.
 *
 * @example thousands(2733) // '2,733'
 * @example plural(1, 'chart date') // '1 chart date'
 * @example plural(2, 'entry', 'entries') // '2 entries'
 */

/** Made on first use: loading ICU's number data costs about 20 ms, on every thread that imports this. */
let integer: Intl.NumberFormat | undefined;

/** `2733` -> `2,733`. */
export function thousands(n: number): string {
  integer ??= new Intl.NumberFormat('en-US');
  return integer.format(n);
}

/** `n` with thousands separators and `one` or `many` (default: `one` + `s`) after it. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${thousands(n)} ${n === 1 ? one : many}`;
}
