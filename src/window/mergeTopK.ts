import { BlockCursor } from './blockCursor.js';
import { TopK } from './topK.js';

/** Receives one key's chart: `n` songs best first (the arrays are reused after the call). */
export type KeyChart = (key: number, songs: Float64Array, plays: Float64Array, n: number) => void;

/**
 * K-way merge of partial blocks (each sorted by key, then song) that sums the plays of equal
 * (key, song) pairs across blocks and hands each key's top `k` songs to `onKey`, keys ascending.
 * Blocks are the same partition of different days, so a key's songs are complete here.
 * Returns the number of keys and of distinct (key, song) pairs seen.
 */
export function mergeTopK(blocks: Uint8Array[], k: number, onKey: KeyChart): { keys: number; pairs: number } {
  const cursors = blocks.map((b) => new BlockCursor(b)).filter((c) => c.live);
  const top = new TopK(k);
  const outSongs = new Float64Array(k);
  const outPlays = new Float64Array(k);
  const active: BlockCursor[] = [];
  const hasSong: boolean[] = [];
  let keys = 0;
  let pairs = 0;
  for (;;) {
    let min = Number.POSITIVE_INFINITY;
    for (const c of cursors) if (c.live && c.key < min) min = c.key;
    if (min === Number.POSITIVE_INFINITY) break;
    active.length = 0;
    for (const c of cursors) if (c.live && c.key === min) active.push(c);

    if (active.length === 1) {
      const c = active[0]!;
      while (c.songsLeft > 0) {
        c.nextSong();
        top.offer(c.song, c.plays);
        pairs++;
      }
    } else {
      for (let i = 0; i < active.length; i++) {
        active[i]!.nextSong();
        hasSong[i] = true;
      }
      let remaining = active.length;
      while (remaining > 0) {
        let song = Number.POSITIVE_INFINITY;
        for (let i = 0; i < active.length; i++)
          if (hasSong[i] && active[i]!.song < song) song = active[i]!.song;
        let plays = 0;
        for (let i = 0; i < active.length; i++) {
          const c = active[i]!;
          if (!hasSong[i] || c.song !== song) continue;
          plays += c.plays;
          if (c.songsLeft > 0) c.nextSong();
          else {
            hasSong[i] = false;
            remaining--;
          }
        }
        top.offer(song, plays);
        pairs++;
      }
    }
    const n = top.drain(outSongs, outPlays);
    onKey(min, outSongs, outPlays, n);
    keys++;
    for (const c of active) c.nextKey();
  }
  return { keys, pairs };
}
