/**
 * Keeps the best K (song, plays) entries seen: more plays first, then the smaller song id.
 * A binary heap with the worst kept entry at the root, so each offer is O(log K) and memory is
 * O(K) however many songs a key has.
 */
export class TopK {
  private readonly songs: Float64Array;
  private readonly plays: Float64Array;
  size = 0;

  constructor(readonly k: number) {
    this.songs = new Float64Array(k);
    this.plays = new Float64Array(k);
  }

  clear(): void {
    this.size = 0;
  }

  offer(song: number, plays: number): void {
    const k = this.k;
    if (this.size < k) {
      let i = this.size++;
      // sift up while the parent is better than the new entry (the root must be the worst)
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(song, plays, this.songs[parent]!, this.plays[parent]!)) break;
        this.songs[i] = this.songs[parent]!;
        this.plays[i] = this.plays[parent]!;
        i = parent;
      }
      this.songs[i] = song;
      this.plays[i] = plays;
      return;
    }
    if (k === 0 || !worse(this.songs[0]!, this.plays[0]!, song, plays)) return;
    this.siftDown(song, plays);
  }

  /**
   * Write the kept entries best first into `songsOut`/`playsOut` and return how many; empties
   * the collector.
   */
  drain(songsOut: Float64Array, playsOut: Float64Array): number {
    const n = this.size;
    for (let i = n - 1; i >= 0; i--) {
      songsOut[i] = this.songs[0]!;
      playsOut[i] = this.plays[0]!;
      const lastSong = this.songs[this.size - 1]!;
      const lastPlays = this.plays[this.size - 1]!;
      this.size--;
      if (this.size > 0) this.siftDown(lastSong, lastPlays);
    }
    return n;
  }

  /** Put (song, plays) at the root and move it down to its place. */
  private siftDown(song: number, plays: number): void {
    const size = this.size;
    const songs = this.songs;
    const counts = this.plays;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      let child = left;
      const right = left + 1;
      if (right < size && worse(songs[right]!, counts[right]!, songs[left]!, counts[left]!)) child = right;
      if (!worse(songs[child]!, counts[child]!, song, plays)) break;
      songs[i] = songs[child]!;
      counts[i] = counts[child]!;
      i = child;
    }
    songs[i] = song;
    counts[i] = plays;
  }
}

/** Is (songA, playsA) ranked below (songB, playsB)? Fewer plays, or equal plays and a larger id. */
export function worse(songA: number, playsA: number, songB: number, playsB: number): boolean {
  return playsA < playsB || (playsA === playsB && songA > songB);
}
