/**
 * Tables that turn uniform draws into weighted choices. They are built once per generator, so a
 * draw in a hot loop is one or two array reads instead of a search over cumulative weights.
 */

/**
 * 2^bits slots mapping a uniform draw to an index by weight (slot = the draw's top `bits` bits);
 * every index gets at least one slot, so rare ones still occur.
 */
export function slotTable<T extends Uint8Array | Uint16Array>(
  weights: readonly number[],
  bits: number,
  kind: new (length: number) => T,
): T {
  const total = weights.reduce((a, b) => a + b, 0);
  const size = 1 << bits;
  const table = new kind(size);
  let slot = 0;
  let cumulative = 0;
  weights.forEach((w, index) => {
    cumulative += w;
    const end =
      index === weights.length - 1 ? size : Math.max(slot + 1, Math.round((cumulative / total) * size));
    while (slot < end && slot < size) table[slot++] = index;
  });
  return table;
}

/**
 * Vose's alias table, exact for any number of weights: draw slot = floor(u1 * n), then slot if
 * u2 < prob[slot], else alias[slot].
 */
export function aliasTable(weights: Float64Array): { prob: Float64Array; alias: Int32Array } {
  const n = weights.length;
  let total = 0;
  for (const w of weights) total += w;
  const scaled = new Float64Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) {
    scaled[i] = (weights[i]! * n) / total;
    (scaled[i]! < 1 ? small : large).push(i);
  }
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  while (small.length > 0 && large.length > 0) {
    const s = small.pop()!;
    const l = large.pop()!;
    prob[s] = scaled[s]!;
    alias[s] = l;
    scaled[l] = scaled[l]! + scaled[s]! - 1;
    (scaled[l]! < 1 ? small : large).push(l);
  }
  for (const i of [...small, ...large]) {
    prob[i] = 1;
    alias[i] = i;
  }
  return { prob, alias };
}
