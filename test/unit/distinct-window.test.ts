import { describe, expect, it } from 'vitest';
import { pairKey } from '../../bolts/evidence/contact.js';
import { DistinctWindow, Touched } from '../../bolts/evidence/distinct-window.js';
import { EntryBudget } from '../../bolts/evidence/entry-budget.js';
import { parseIp } from '../../bolts/lookup/ip-address.js';

describe('DistinctWindow', () => {
  it('keeps one key without a map and the same answers when a second key makes one', () => {
    const budget = new EntryBudget(10);
    const w = new DistinctWindow<number>();
    expect(w.size).toBe(0);
    expect(w.oldestSecs).toBeUndefined();
    expect(w.touch(7, 100, budget)).toBe(Touched.Added);
    expect(w.touch(7, 105, budget)).toBe(Touched.Again);
    expect([w.size, w.oldestSecs, w.has(7), w.has(8), w.keys(5)]).toEqual([1, 105, true, false, [7]]);
    expect(w.touch(8, 106, budget)).toBe(Touched.Added);
    expect([w.size, w.oldestSecs, w.keys(5), budget.used]).toEqual([2, 105, [7, 8], 2]);
    // Seen again, 7 moves behind 8 and expires after it.
    expect(w.touch(7, 110, budget)).toBe(Touched.Again);
    w.expire(107, budget);
    expect([w.size, w.keys(5), w.oldestSecs, budget.used]).toEqual([1, [7], 110, 1]);
    w.expire(111, budget);
    expect([w.size, w.oldestSecs, budget.used]).toEqual([0, undefined, 0]);
  });

  it('expires its one key, gives entries back on clear, and refuses a new key past the budget', () => {
    const budget = new EntryBudget(1);
    const w = new DistinctWindow<string>();
    expect(w.touch('a', 100, budget)).toBe(Touched.Added);
    expect(w.touch('b', 100, budget)).toBe(Touched.Refused);
    expect([w.size, budget.refused]).toEqual([1, 1]);
    w.expire(100, budget);
    expect(w.size).toBe(1);
    w.expire(101, budget);
    expect([w.size, budget.used]).toEqual([0, 0]);
    w.touch('c', 200, budget);
    w.clear(budget);
    expect([w.size, budget.used, w.has('c')]).toEqual([0, 0, false]);
  });
});

describe('pairKey', () => {
  const ip = (text: string) => parseIp(text)!;
  it('gives each IPv4 target, protocol and port its own number, and text otherwise', () => {
    const keys = [pairKey(ip('255.255.255.255'), 6, 65535), pairKey(ip('255.255.255.255'), 17, 65535), pairKey(ip('255.255.255.254'), 6, 65535), pairKey(ip('0.0.0.0'), 1, 0)];
    for (const k of keys) expect(Number.isSafeInteger(k)).toBe(true);
    expect(new Set(keys).size).toBe(4);
    expect(pairKey(ip('192.0.2.1'), 6, 22)).not.toBe(pairKey(ip('192.0.2.1'), 6, 23));
    // GRE and an unnumbered protocol: a number and a text key, never the same.
    expect(typeof pairKey(ip('192.0.2.1'), 47, 0)).toBe('number');
    expect(pairKey(ip('192.0.2.1'), 253, 0)).toBe('192.0.2.1|253|0');
    expect(pairKey(ip('2001:db8::1'), 6, 22)).toBe('2001:db8::1|6|22');
  });
});
