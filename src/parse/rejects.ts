/**
 * Why a listen row was rejected. The order is the order of the checks: a row gets the first
 * reason that applies (a too-long line is not also inspected for non-ASCII bytes, and so on).
 */
export const REJECT_REASONS = [
  'line_too_long',
  'non_ascii',
  'empty',
  'field_count',
  'bad_id',
  'id_too_large',
  'malformed_country',
  'unknown_country',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

/** Index of each reason in `REJECT_REASONS`; counters are kept in arrays indexed by these. */
export const Reject = {
  lineTooLong: 0,
  nonAscii: 1,
  empty: 2,
  fieldCount: 3,
  badId: 4,
  idTooLarge: 5,
  malformedCountry: 6,
  unknownCountry: 7,
} as const;

export type RejectCounts = Record<RejectReason, number>;

export function emptyRejectCounts(): RejectCounts {
  return Object.fromEntries(REJECT_REASONS.map((reason) => [reason, 0])) as RejectCounts;
}

/** One rejected row kept as an example in the quality report. */
/** Rejected lines kept as examples per day. */
export const MAX_EXAMPLES = 10;

export interface RejectExample {
  /** 1-based line number in the log file. */
  line: number;
  reason: RejectReason;
  /** The line's text, truncated, with non-printable bytes escaped. */
  text: string;
}

/** Longest accepted line in bytes, without its line ending. A valid row is at most 37 bytes. */
export const MAX_LINE_BYTES = 1024;

/** How many characters of a rejected line are kept in a report. */
export const EXAMPLE_TEXT_CHARS = 120;

/** A printable, bounded copy of a rejected line for humans. */
export function exampleText(bytes: Uint8Array): string {
  let out = '';
  const n = Math.min(bytes.length, EXAMPLE_TEXT_CHARS);
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0d) out += '\\r';
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  if (bytes.length > n) out += `... (${bytes.length} bytes)`;
  return out;
}
