import { ByteReader } from '../partials/varint.js';

/**
 * Walks one partial block (see aggregatePairs for the encoding) key by key, and within a key
 * song by song. Nothing is decoded ahead, so a cursor costs a few numbers of memory.
 */
export class BlockCursor {
  private readonly reader: ByteReader;
  /** Current key; valid while `live`. */
  key = 0;
  /** Songs of the current key not yet read. */
  songsLeft = 0;
  /** Current song and its plays, after nextSong(). */
  song = 0;
  plays = 0;
  live = true;

  constructor(block: Uint8Array) {
    this.reader = new ByteReader(block);
    this.nextKey();
  }

  /** Move to the next key, skipping any unread songs of the current one. */
  nextKey(): void {
    while (this.songsLeft > 0) this.nextSong();
    if (this.reader.done) {
      this.live = false;
      return;
    }
    this.key += this.reader.varint();
    this.songsLeft = this.reader.varint();
    this.song = 0;
  }

  /** Read the next song of the current key (songsLeft must be > 0). */
  nextSong(): void {
    this.song += this.reader.varint();
    this.plays = this.reader.varint();
    this.songsLeft--;
  }
}
