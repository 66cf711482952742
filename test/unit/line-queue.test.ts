import { describe, expect, it } from 'vitest';
import { LineQueue } from '../../spouts/line-queue.js';

describe('LineQueue', () => {
  it('gives lines back in order with their number, hash, offset and length, across wrap-around and growth', () => {
    const q = new LineQueue(4);
    const taken: unknown[][] = [];
    const take = () => {
      expect(q.shift()).toBe(true);
      taken.push([q.takenNo, q.takenLine, q.takenHash, q.takenOffset, q.takenLength]);
    };
    let no = 0;
    const push = () => {
      no++;
      q.push(no, `line ${no}`, 4_000_000_000 + no, 2 ** 40 + no * 100, no % 7);
    };
    // Fill, take some (the head moves on), fill past the capacity while wrapped (it grows), drain.
    for (let i = 0; i < 4; i++) push();
    take();
    take();
    for (let i = 0; i < 9; i++) push();
    expect(q.size).toBe(11);
    while (q.size > 0) take();
    expect(q.shift()).toBe(false);
    expect(taken).toEqual(Array.from({ length: 13 }, (_, k) => [k + 1, `line ${k + 1}`, 4_000_000_001 + k, 2 ** 40 + (k + 1) * 100, (k + 1) % 7]));
  });

  it('refuses a capacity below 1', () => {
    expect(() => new LineQueue(0)).toThrow(/capacity/);
  });
});
