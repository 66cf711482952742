import { describe, expect, it } from 'vitest';
import { ABSENT, RootWindow } from '../../runtime/root-tracking.js';

const forgot = (): void => undefined;

/** A clock the test moves by hand. */
function fakeClock(start = 0) {
  const c = { t: start, nowMs: () => c.t };
  return c;
}

describe('RootWindow', () => {
  it('expires the PENDING roots past their deadline, oldest first, and keeps the rest', () => {
    const clock = fakeClock();
    const w = new RootWindow(clock, 1000, forgot);
    w.open(1, 'a', 0);
    w.open(2, 'b', 500);
    w.open(3, 'c', 1500);
    clock.t = 2000;
    expect(w.expire().map((e) => [e.root, e.msgId])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    expect(w.inFlight).toBe(1);
    clock.t = 2400;
    expect(w.expire()).toEqual([]);
  });

  it('takes a parked root out of the in-flight count and every deadline until it is unparked', () => {
    const clock = fakeClock();
    const w = new RootWindow(clock, 1000, forgot);
    w.open(1, 'a', 0);
    w.park(1);
    expect(w.inFlight).toBe(0);
    expect(w.parkedCount).toBe(1);
    clock.t = 1_000_000;
    expect(w.expire()).toEqual([]);
    w.unpark(1);
    expect(w.inFlight).toBe(1);
    clock.t = 1_000_500;
    expect(w.expire()).toEqual([]);
    clock.t = 1_001_000;
    expect(w.expire().map((e) => e.root)).toEqual([1]);
  });

  it('keeps a root parked until every parked tuple of its tree is released', () => {
    const clock = fakeClock();
    const w = new RootWindow(clock, 1000, forgot);
    w.open(7, 'x', 0);
    w.park(7);
    w.park(7);
    w.unpark(7);
    clock.t = 10_000;
    expect(w.expire()).toEqual([]);
    expect(w.parkedCount).toBe(1);
    w.unpark(7);
    expect(w.inFlight).toBe(1);
    clock.t = 11_000;
    expect(w.expire().map((e) => e.msgId)).toEqual(['x']);
  });

  it('ignores park and unpark of a root it does not hold (a verdict overtook them)', () => {
    const w = new RootWindow(fakeClock(), 1000, forgot);
    w.park(3);
    w.unpark(3);
    expect(w.total).toBe(0);
  });

  it('settles a root whether it is parked or not, once', () => {
    const w = new RootWindow(fakeClock(), 1000, forgot);
    w.open(1, 'a', 0);
    w.open(2, 'b', 0);
    w.park(2);
    expect(w.complete(1)).toBe('a');
    expect(w.complete(2)).toBe('b');
    expect(w.complete(2)).toBe(ABSENT);
    expect(w.total).toBe(0);
  });

  it('hands out root ids of its own spout task, skipping ids still open', () => {
    const w = new RootWindow(fakeClock(), 1000, forgot, 1, 3, 3 * 4 + 1);
    const ids = [w.nextRoot(), w.nextRoot(), w.nextRoot()];
    expect(ids).toEqual([4, 7, 10]);
    w.open(4, 'a', 0);
    // The sequence wraps (limit 13): 4 is still open, so the next free id is 7.
    expect(w.nextRoot()).toBe(7);
    for (const id of ids) expect(id % 3).toBe(1);
  });

  it('tells the acker to forget a root it failed or timed out itself, not one that completed', () => {
    const clock = fakeClock();
    const told: number[] = [];
    const w = new RootWindow(clock, 1000, (root) => told.push(root));
    w.open(1, 'a', 0);
    w.open(2, 'b', 0);
    w.open(3, 'c', 0);
    w.complete(1);
    w.fail(2);
    w.fail(2);
    clock.t = 1000;
    w.expire();
    expect(told).toEqual([2, 3]);
  });

  it('runs no deadline while frozen, and after a thaw counts only the time it was not frozen', () => {
    const clock = fakeClock();
    const w = new RootWindow(clock, 1000, forgot);
    w.open(1, 'a', 0);
    clock.t = 600;
    w.freeze();
    w.open(2, 'b', 5_000); // opened while frozen: its deadline starts at the thaw
    clock.t = 10_000;
    expect(w.expire()).toEqual([]);
    w.thaw();
    // Root 1 had 600 ms counted before the freeze: 400 more are left.
    clock.t = 10_399;
    expect(w.expire()).toEqual([]);
    clock.t = 10_400;
    expect(w.expire().map((e) => e.msgId)).toEqual(['a']);
    clock.t = 11_000;
    expect(w.expire().map((e) => e.msgId)).toEqual(['b']);
    expect(w.elapsedMs(0, 11_000)).toBe(11_000 - 9_400);
  });
});
