import { COUNTRY_CODES } from '../../src/parse/countries.js';

/**
 * A deliberately plain reference implementation of the chart contract (DESIGN.md), written
 * independently of the engine: strings, a regular expression and Maps. Only for small inputs.
 */
const COUNTRIES = new Set(COUNTRY_CODES);
const ROW = /^([0-9]+)\|([0-9]+)\|([A-Z]{2})$/;
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
  for (let line of lines) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
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
