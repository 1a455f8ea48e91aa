import { COUNTRY_CODES } from '../../src/parse/countries.js';
import type { RejectReason } from '../../src/parse/rejects.js';

/**
 * A deliberately plain reference implementation of the chart contract (DESIGN.md), written
 * independently of the engine: strings, a regular expression and Maps. Only for small inputs.
 */
const COUNTRIES = new Set(COUNTRY_CODES);
// Blanks (spaces, tabs) around each field are ignored.
const ROW = /^[ \t]*([0-9]+)[ \t]*\|[ \t]*([0-9]+)[ \t]*\|[ \t]*([A-Z]{2})[ \t]*$/;
/** A first line naming the columns is a header, not a row. */
const HEADER = /^(\xef\xbb\xbf)?[ \t]*sng_id[ \t]*\|[ \t]*user_id[ \t]*\|[ \t]*country[ \t]*$/i;
const MAX = 2n ** 53n - 1n;

export interface ReferenceRow {
  song: bigint;
  user: bigint;
  country: string;
}

/** Valid rows of one log's text (bytes as latin1 so that every byte is one char). */
export function referenceRows(bytes: Uint8Array): ReferenceRow[] {
  const text = Buffer.from(bytes).toString('latin1');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const rows: ReferenceRow[] = [];
  for (let [i, line] of lines.entries()) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (i === 0 && HEADER.test(line)) continue;
    if (line.length > 1024) continue;
    if ([...line].some((ch) => ch.charCodeAt(0) > 0x7f)) continue;
    const m = ROW.exec(line);
    if (!m) continue;
    const song = BigInt(m[1]!);
    const user = BigInt(m[2]!);
    if (song > MAX || user > MAX || !COUNTRIES.has(m[3]!)) continue;
    rows.push({ song, user, country: m[3]! });
  }
  return rows;
}

/** A field without the blanks around it. */
const trimBlanks = (field: string): string => field.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');

/**
 * The contract's reject reason for one line (without its `\n`; one `\r` before it is the line
 * ending), checked in the documented order, or undefined for a valid row.
 */
export function referenceReason(raw: string): RejectReason | undefined {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.length > 1024) return 'line_too_long';
  if (/[\u0080-\uffff]/.test(line)) return 'non_ascii';
  if (trimBlanks(line) === '') return 'empty';
  const fields = line.split('|').map(trimBlanks);
  if (fields.length !== 3) return 'field_count';
  const [song, user, country] = fields as [string, string, string];
  if (!/^[0-9]+$/.test(song) || !/^[0-9]+$/.test(user)) return 'bad_id';
  if (BigInt(song) > MAX || BigInt(user) > MAX) return 'id_too_large';
  if (!/^[A-Z]{2}$/.test(country)) return 'malformed_country';
  if (!COUNTRIES.has(country)) return 'unknown_country';
  return undefined;
}

/** The quality figures of one log, line by line from the contract: rows, header, rejects by reason. */
export function referenceQuality(bytes: Uint8Array): {
  rows: number;
  header: number;
  valid: number;
  rejected: number;
  byReason: Partial<Record<RejectReason, number>>;
} {
  const lines = Buffer.from(bytes).toString('latin1').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const header = lines.length > 0 && HEADER.test(lines[0]!.replace(/\r$/, '')) ? 1 : 0;
  const byReason: Partial<Record<RejectReason, number>> = {};
  let rejected = 0;
  for (const line of lines.slice(header)) {
    const reason = referenceReason(line);
    if (reason === undefined) continue;
    byReason[reason] = (byReason[reason] ?? 0) + 1;
    rejected++;
  }
  const rows = lines.length - header;
  return { rows, header, valid: rows - rejected, rejected, byReason };
}

/** The two chart files' exact text for the given valid rows. */
export function referenceCharts(rows: ReferenceRow[], top = 50): { country: string; user: string } {
  const byCountry = new Map<string, Map<bigint, number>>();
  const byUser = new Map<bigint, Map<bigint, number>>();
  for (const r of rows) {
    bump(byCountry, r.country, r.song);
    bump(byUser, r.user, r.song);
  }
  const chart = <K>(groups: Map<K, Map<bigint, number>>, order: (a: K, b: K) => number): string => {
    const keys = [...groups.keys()].sort(order);
    let out = '';
    for (const key of keys) {
      const songs = [...groups.get(key)!.entries()].sort((a, b) =>
        b[1] !== a[1] ? b[1] - a[1] : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
      );
      out += `${String(key)}|${songs
        .slice(0, top)
        .map(([song, plays]) => `${song}:${plays}`)
        .join(',')}\n`;
    }
    return out;
  };
  return {
    country: chart(byCountry, (a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    user: chart(byUser, (a, b) => (a < b ? -1 : a > b ? 1 : 0)),
  };
}

function bump<K>(groups: Map<K, Map<bigint, number>>, key: K, song: bigint): void {
  let songs = groups.get(key);
  if (!songs) {
    songs = new Map();
    groups.set(key, songs);
  }
  songs.set(song, (songs.get(song) ?? 0) + 1);
}
