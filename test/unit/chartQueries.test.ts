import { describe, expect, it } from 'vitest';
import { TripleReader } from '../../src/engines/clickhouse/chartQueries.js';

/** The byte reader of the shards' `user \t song \t plays` answers, at every chunk boundary. */
async function* chunked(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.subarray(from, cut);
    from = cut;
  }
}

async function readAll(reader: TripleReader): Promise<string[]> {
  const out: string[] = [];
  while (await reader.ready()) {
    out.push(`${reader.user}/${reader.song}/${reader.plays}`);
    reader.advance();
  }
  return out;
}

const TEXT = '1\t42\t7\n9007199254740991\t9007199254740990\t1\n30\t5\t12345\n';
const WANT = ['1/42/7', '9007199254740991/9007199254740990/1', '30/5/12345'];

describe('TripleReader', () => {
  it('reads the same triples whatever the chunks, split at every byte or into single bytes', async () => {
    const bytes = Buffer.from(TEXT);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(await readAll(TripleReader.fromChunks(chunked(bytes, [cut])))).toEqual(WANT);
    }
    const everyByte = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(await readAll(TripleReader.fromChunks(chunked(bytes, everyByte)))).toEqual(WANT);
  });

  it('reads nothing from an empty answer, and refuses an answer cut inside a line or not made of numbers', async () => {
    expect(await readAll(TripleReader.fromChunks(chunked(new Uint8Array(0), [])))).toEqual([]);
    await expect(readAll(TripleReader.fromChunks(chunked(Buffer.from('1\t2\t3\n4\t5'), [])))).rejects.toThrow(
      'ends inside a line',
    );
    await expect(readAll(TripleReader.fromChunks(chunked(Buffer.from('1\tx\t3\n'), [])))).rejects.toThrow(
      'unexpected byte',
    );
    await expect(readAll(TripleReader.fromChunks(chunked(Buffer.from('1\t2\n'), [])))).rejects.toThrow(
      'three fields',
    );
  });
});
