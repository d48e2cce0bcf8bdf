/**
 * The artefact body lists features ordered by (weight bits, key) as unsigned integers: the order decides
 * the bytes, and so the version digest. The radix sort must give exactly the order a comparison sort of the
 * 64-bit keys gives, negative weights (high bit set) and equal weights included.
 */
import { describe, expect, it } from 'vitest';
import { slotsByWeight } from '../../src/classifier/linear-format.js';

function reference(cells: Uint32Array): number[] {
  const slots: number[] = [];
  for (let i = 0; i < cells.length / 2; i++) if (cells[2 * i] !== 0) slots.push(i);
  const key = (i: number) => (BigInt(cells[2 * i + 1] as number) << 32n) | BigInt(cells[2 * i] as number);
  return slots.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

describe('slotsByWeight', () => {
  it('orders slots as a comparison sort of (weight bits, key) does', () => {
    const capacity = 1 << 14;
    const cells = new Uint32Array(capacity * 2);
    const weights = new Float32Array(cells.buffer);
    let seed = 7;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const shared = [0, -0, 0.5, -0.5, 1e-30, -3.25];
    let n = 0;
    for (let i = 0; i < capacity; i++) {
      if (next() % 3 === 0) continue; // an empty slot (key 0)
      cells[2 * i] = (next() | 1) >>> 0; // keys are never 0
      // Many equal weights (the order then falls to the key) and values across the whole bit range.
      weights[2 * i + 1] =
        next() % 2 === 0 ? (shared[next() % shared.length] as number) : (next() / 2 ** 31 - 1) * 8;
      n++;
    }
    expect([...slotsByWeight(cells, n)]).toEqual(reference(cells));
  });

  it('handles an empty table', () => {
    expect([...slotsByWeight(new Uint32Array(32), 0)]).toEqual([]);
  });
});
