import { describe, expect, it } from 'vitest';
import { IntTable } from '../../runtime/int-table.js';

describe('IntTable', () => {
  it('agrees with a Map through a long random run of sets and deletes', () => {
    const t = new IntTable(4);
    const m = new Map<number, number>();
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 5000;
    for (let i = 0; i < 200_000; i++) {
      const key = rnd() + 1;
      if (i % 3 === 0) {
        expect(t.delete(key)).toBe(m.has(key) ? m.get(key) : -1);
        m.delete(key);
      } else {
        t.set(key, i);
        m.set(key, i);
      }
      if (i % 997 === 0) {
        expect(t.size).toBe(m.size);
        for (let k = 1; k <= 5000; k += 37) expect(t.get(k)).toBe(m.has(k) ? m.get(k) : -1);
      }
    }
    const seen = new Map<number, number>();
    t.forEach((k, v) => seen.set(k, v));
    expect(seen).toEqual(m);
  });
});
