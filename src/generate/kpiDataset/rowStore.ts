/**
 * Clean stream rows remembered so that a dirty row can copy one exactly: the writer keeps a ring
 * of a file's last rows (duplicates within the file) and a pool of earlier files' tails
 * (duplicates across a day's files). The fields are in typed arrays, not an object per row.
 */
export class RowStore {
  readonly user: Int32Array;
  readonly track: Int32Array;
  readonly ms: Float64Array;
  readonly format: Uint8Array;
  readonly offset: Int16Array;
  size = 0;
  private next = 0;

  constructor(readonly capacity: number) {
    this.user = new Int32Array(capacity);
    this.track = new Int32Array(capacity);
    this.ms = new Float64Array(capacity);
    this.format = new Uint8Array(capacity);
    this.offset = new Int16Array(capacity);
  }

  /** Keep a row, over the oldest (ring) or over slot `at` when full (pool). */
  add(user: number, track: number, ms: number, format: number, offset: number, at = this.next): void {
    const i = this.size < this.capacity ? this.size++ : at % this.capacity;
    this.user[i] = user;
    this.track[i] = track;
    this.ms[i] = ms;
    this.format[i] = format;
    this.offset[i] = offset;
    this.next = (i + 1) % this.capacity;
  }

  clear(): void {
    this.size = 0;
    this.next = 0;
  }
}
