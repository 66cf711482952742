import { describe, expect, it } from 'vitest';
import { ABSENT, PendingWindow } from '../../runtime/pending-window.js';

describe('PendingWindow', () => {
  it('expires the roots started before the timeout, oldest first, and keeps the rest', () => {
    const w = new PendingWindow();
    w.add(1, 'a', 0);
    w.add(2, 'b', 500);
    w.add(3, 'c', 1500);
    expect(w.expire(2000, 1000).map(([root, p]) => [root, p.msgId])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    expect(w.inFlight).toBe(1);
    expect(w.expire(2400, 1000)).toEqual([]);
  });

  it('takes a parked root out of the in-flight count and the timeout until it is unparked', () => {
    const w = new PendingWindow();
    w.add(1, 'a', 0);
    w.park(1);
    expect(w.inFlight).toBe(0);
    expect(w.parkedCount).toBe(1);
    expect(w.expire(1_000_000, 1000)).toEqual([]);
    w.unpark(1, 1_000_000);
    expect(w.inFlight).toBe(1);
    expect(w.expire(1_000_500, 1000)).toEqual([]);
    expect(w.expire(1_001_000, 1000).map(([r]) => r)).toEqual([1]);
  });

  it('removes a completed root whether it is parked or not', () => {
    const w = new PendingWindow();
    w.add(1, 'a', 0);
    w.add(2, 'b', 0);
    w.park(2);
    expect(w.take(1)).toBe('a');
    expect(w.take(2)).toBe('b');
    expect(w.take(2)).toBe(ABSENT);
    expect(w.total).toBe(0);
  });
});
