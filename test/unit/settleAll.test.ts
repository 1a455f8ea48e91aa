import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { settleAll } from '../../src/ops/settleAll.js';

/** settleAll (src/ops/settleAll.ts): Promise.all that tells a failure only once nothing runs. */
describe('settleAll', () => {
  it('returns the values in order', async () => {
    expect(await settleAll([sleep(10).then(() => 'a'), Promise.resolve('b')])).toEqual(['a', 'b']);
  });

  it('gives a tuple of kinds their values, each of its own type', async () => {
    const [rows, name] = await settleAll([sleep(10).then(() => ({ rows: 3 })), Promise.resolve('user')]);
    // Typed per position: these compile only if settleAll keeps the tuple's kinds.
    const n: number = rows.rows;
    const text: string = name;
    expect([n, text]).toEqual([3, 'user']);
  });

  it('tells a failure only once every promise has settled, the first in order whichever failed first', async () => {
    let slowDone = false;
    const slow = sleep(40).then(() => {
      slowDone = true;
      throw new Error('second in order');
    });
    const fast = Promise.reject(new Error('third in order'));
    const first = sleep(20).then(() => {
      throw new Error('first in order');
    });
    await expect(settleAll([first, slow, fast, Promise.resolve(1)])).rejects.toThrow('first in order');
    expect(slowDone).toBe(true);
  });
});
