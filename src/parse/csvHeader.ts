/**
 * The header row of a landing CSV: columns are found by name, in any order, with surrounding
 * spaces and letter case ignored; extra columns are ignored. A file whose header lacks a required
 * column (or that is not a CSV at all, whose "header" is whatever its first bytes are) is not
 * read: it goes to the error folder with the list of what is missing.
 */
export type ColumnIndex<C extends string> = Record<C, number>;

export type HeaderCheck<C extends string> =
  | { ok: true; columns: ColumnIndex<C>; width: number }
  | { ok: false; missing: C[]; found: string[] };

export function checkHeader<C extends string>(
  header: readonly string[],
  required: readonly C[],
): HeaderCheck<C> {
  const names = header.map((h) => h.trim().toLowerCase());
  const columns = {} as ColumnIndex<C>;
  const missing: C[] = [];
  for (const name of required) {
    const at = names.indexOf(name);
    if (at < 0) missing.push(name);
    else columns[name] = at;
  }
  if (missing.length > 0)
    return { ok: false, missing, found: header.slice(0, 50).map((h) => h.slice(0, 100)) };
  return { ok: true, columns, width: header.length };
}

/** Binary content (a NUL byte, or bytes that are not UTF-8 text) in the first bytes of a file. */
export function looksBinary(head: Uint8Array): boolean {
  if (head.includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, lastCompleteUtf8(head)));
    return false;
  } catch {
    return true;
  }
}

/** Length of `bytes` without a UTF-8 sequence cut at its end (so a cut sample still decodes). */
function lastCompleteUtf8(bytes: Uint8Array): number {
  let end = bytes.length;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const b = bytes[end - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (need > back) end -= back;
    break;
  }
  return end;
}

/** The error-folder reason of a file whose header lacks required columns. */
export function missingColumns(
  fileName: string,
  check: { missing: string[]; found: string[] },
): { reason: 'missing_columns'; message: string; missing: string[]; found: string[] } {
  return {
    reason: 'missing_columns',
    message: `${fileName} has no column ${check.missing.join(', ')} (found: ${check.found.join(', ')})`,
    missing: check.missing,
    found: check.found,
  };
}
