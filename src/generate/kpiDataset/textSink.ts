/** UTF-8 text appended to a growing buffer (cheaper than joining one big string). */
export class TextSink {
  private buffer: Buffer;
  private pos = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, Math.ceil(capacity)));
  }

  get size(): number {
    return this.pos;
  }

  write(text: string): void {
    this.reserve(text.length * 3);
    this.pos += this.buffer.write(text, this.pos, 'utf8');
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** The bytes so far (a view: later writes may move the buffer). */
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.pos);
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.pos + bytes, this.buffer.length * 2));
    this.buffer.copy(bigger, 0, 0, this.pos);
    this.buffer = bigger;
  }
}
