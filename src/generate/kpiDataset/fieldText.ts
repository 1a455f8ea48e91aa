/**
 * Field values in the text form of the public datasets: CSV quoting, and floats written the way
 * Python writes them, as in the Kaggle tracks file.
 */

/** A CSV field: quoted when it holds a comma, a double quote or a line break, quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Three decimals at most, as Python writes a float (`0.5`, `-6.746`, `1.0`). */
export function decimal(x: number): string {
  const v = Math.round(x * 1000) / 1000;
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

/** Three significant digits, in exponent form below 1e-4 as Python writes it (`1.01e-06`). */
export function pyFloat(x: number): string {
  if (x >= 1e-4) {
    const scale = 10 ** (2 - Math.floor(Math.log10(x)));
    const v = Math.round(x * scale) / scale;
    return Number.isInteger(v) ? `${v}.0` : String(v);
  }
  const [mantissa, exponent] = x.toExponential(2).split('e') as [string, string];
  const m = mantissa.replace(/0+$/, '').replace(/\.$/, '');
  const e = Number(exponent);
  return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** A drawn number kept in the range the dataset has. */
export function clamp(x: number, low: number, high: number): number {
  return x < low ? low : x > high ? high : x;
}

/** Two digits, as in times of day. */
export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
