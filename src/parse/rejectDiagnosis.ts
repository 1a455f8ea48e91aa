/**
 * What a file's rejected rows say, in words a person can act on: the share rejected, the main
 * reason with an example line, and, when the lines look like a known layout problem (another
 * delimiter, quoted fields, a header in other words, lower-case countries, UTF-16 text), what it
 * is. Pure functions of the counts and the example lines kept while parsing, so that a day taken
 * from its partial (no line read again) is described exactly as when it was parsed. Listen logs
 * and the KPI streams CSVs are both described here.
 */

/** A day or file is loud above this share of rejected rows (`--max-reject-rate`). */
export const DEFAULT_MAX_REJECT_RATE = 0.05;

/** What was read from one file, or one day: rows counted, rejected by reason, a few examples. */
export interface RejectTally {
  /** Rows read: valid and rejected (a header line is neither). */
  rows: number;
  rejected: number;
  byReason: Readonly<Record<string, number>>;
  /** The first rejected lines, in file order (`line` is 1-based, `text` escaped as in reports). */
  examples: readonly { line: number; reason: string; text: string }[];
}

export function rejectRate(tally: Pick<RejectTally, 'rows' | 'rejected'>): number {
  return tally.rows > 0 ? tally.rejected / tally.rows : 0;
}

/** The reason most rows were rejected for (the first listed of a tie), or undefined with none. */
export function mainReason(byReason: Readonly<Record<string, number>>): string | undefined {
  let best: string | undefined;
  for (const [reason, n] of Object.entries(byReason)) {
    if (n > 0 && (best === undefined || n > byReason[best]!)) best = reason;
  }
  return best;
}

/** `12.50%`: two decimals, as everywhere rates are printed. */
export function percent(rate: number): string {
  return `${(rate * 100).toFixed(2)}%`;
}

/**
 * One sentence on the rejected rows: "100.00% of 100 rows rejected, mostly bad_id (100), e.g.
 * line 1: `29569957 ; 7788196 ; BL`; the lines use ';' between fields; playtally expects '|' ...".
 * With `maxRate`, says which threshold the rate is above; with `layout`, adds a layout hint when
 * the example lines show one; `unit` names what the examples' numbers count (CSV: records).
 */
export function describeRejects(
  tally: RejectTally,
  options: { layout?: Layout; maxRate?: number; unit?: 'line' | 'record' } = {},
): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const reason = mainReason(tally.byReason);
  let text = `${percent(rejectRate(tally))} of ${n(tally.rows)} row${tally.rows === 1 ? '' : 's'} rejected`;
  if (options.maxRate !== undefined) text += ` (above --max-reject-rate ${percent(options.maxRate)})`;
  if (reason === undefined) return text;
  text += `, mostly ${reason} (${n(tally.byReason[reason]!)})`;
  const example = exampleOf(tally, reason);
  if (example !== undefined)
    text += `, e.g. ${options.unit ?? 'line'} ${n(example.line)}: \`${example.text}\``;
  const hint = options.layout && layoutHint(tally.examples, options.layout);
  return hint === undefined ? text : `${text}; ${hint}`;
}

/** The first example rejected for `reason`, else the first example. */
export function exampleOf<E extends { reason: string }>(
  tally: { examples: readonly E[] },
  reason: string | undefined,
): E | undefined {
  return tally.examples.find((e) => e.reason === reason) ?? tally.examples[0];
}

/** The layout rows are expected in, for comparing what the rejected lines look like. */
export interface Layout {
  delimiter: string;
  columns: readonly string[];
  /** Which columns hold an id (decimal digits) and which a country code. */
  ids: readonly number[];
  country?: number;
}

export const LISTEN_LAYOUT: Layout = {
  delimiter: '|',
  columns: ['sng_id', 'user_id', 'country'],
  ids: [0, 1],
  country: 2,
};

const OTHER_DELIMITERS = [';', ',', '\t', '|'] as const;

/** A delimiter's name in a sentence. */
function named(delimiter: string): string {
  return delimiter === '\t' ? 'a tab' : `'${delimiter}'`;
}

/** An example's text as read (reports escape tabs and CRs; other bytes stay escaped). */
function unescapeExample(text: string): string {
  return text.replace(/\\t/g, '\t').replace(/\\r/g, '\r');
}

/**
 * What the rejected lines have in common that explains them, if anything: a sentence, or
 * undefined when they are simply dirty rows. Looks at the kept examples only (at most a few
 * lines), so it is cheap, and says nothing unless most of them agree.
 */
export function layoutHint(
  examples: readonly { line: number; text: string }[],
  layout: Layout = LISTEN_LAYOUT,
): string | undefined {
  const lines = examples
    .map((e) => ({ line: e.line, text: unescapeExample(e.text).trim() }))
    .filter((l) => l.text !== '');
  if (lines.length === 0) return undefined;
  const most = (test: (text: string) => boolean): boolean =>
    lines.filter((l) => test(l.text)).length * 2 > lines.length;
  const expected = layout.columns.join(layout.delimiter);
  const width = layout.columns.length;

  if (most((t) => /\\x00/.test(t))) {
    return 'the lines hold NUL bytes between characters: the file looks like UTF-16 text; save it as ASCII or UTF-8';
  }
  // Another delimiter: the one that cuts most lines into exactly the expected number of fields.
  const fieldsBy = (t: string, d: string): string[] => t.split(d).map((f) => f.trim());
  for (const d of OTHER_DELIMITERS) {
    if (d === layout.delimiter) continue;
    if (most((t) => !t.includes(layout.delimiter) && fieldsBy(t, d).length === width)) {
      return `the lines use ${named(d)} between fields; playtally expects ${named(layout.delimiter)} (${expected})`;
    }
  }
  if (most((t) => !t.includes(layout.delimiter) && t.split(/[ \t]+/).length === width)) {
    return `the lines use blanks between fields; playtally expects ${named(layout.delimiter)} (${expected})`;
  }
  const unquoted = (f: string): string => f.replace(/^(["'])(.*)\1$/, '$2').trim();
  if (most((t) => /^["']|["']$/.test(t) || t.includes(`"${layout.delimiter}`))) {
    return `the fields are quoted ("..."); playtally expects bare values, as in ${sampleRow(layout)}`;
  }
  // A header in other words: a first line of words only, where rows have ids.
  const first = lines[0]!;
  const firstFields = fieldsBy(first.text, layout.delimiter).map(unquoted);
  if (
    first.line === 1 &&
    firstFields.length === width &&
    firstFields.every((f) => /^[A-Za-z_][A-Za-z0-9_ .-]*$/.test(f)) &&
    layout.ids.some((i) => !/^\d+$/.test(firstFields[i]!))
  ) {
    const rest = lines.slice(1);
    if (rest.length === 0 || rest.every((l) => l.text !== first.text)) {
      return `the first line looks like a header (\`${first.text}\`); playtally skips a header only when it reads ${expected}`;
    }
  }
  const split = lines.map((l) => fieldsBy(l.text, layout.delimiter));
  const agreeing = (test: (fields: string[]) => boolean): boolean =>
    split.filter(test).length * 2 > split.length;
  const widths = new Set(split.map((f) => f.length));
  if (widths.size === 1 && !widths.has(width) && agreeing((f) => f.length > 1)) {
    const [w] = widths;
    return `the lines have ${w} fields; playtally expects ${width} (${expected})`;
  }
  const c = layout.country;
  if (c !== undefined) {
    if (agreeing((f) => f.length === width && /^[a-z]{2}$/.test(f[c]!))) {
      return 'the country codes are lower case; playtally expects upper-case ISO 3166 codes (FR, not fr)';
    }
    if (agreeing((f) => f.length === width && /^[A-Za-z]{2}$/.test(f[0]!) && /^\d+$/.test(f[c]!))) {
      return `the country comes first; playtally expects the columns in the order ${expected}`;
    }
    if (agreeing((f) => f.length === width && /^[A-Za-z]{3,}/.test(f[c]!) && f[c]!.length > 3)) {
      return 'the countries are names; playtally expects two-letter ISO 3166 codes (FR)';
    }
  }
  return undefined;
}

function sampleRow(layout: Layout): string {
  return layout.columns
    .map((_, i) => (i === layout.country ? 'FR' : String(123 + i * 333)))
    .join(layout.delimiter);
}
