import { describe, expect, it } from 'vitest';
import { AckLedger } from '../../runtime/root-tracking.js';

describe('AckLedger', () => {
  it('completes a root only when every edge has been reported twice', () => {
    const l = new AckLedger();
    // Spout emits two copies with edges A and B.
    const A = [0x1234, 0xabcd];
    const B = [0x0f0f0f0f, 0x77777777];
    expect(l.init(99, A[0]! ^ B[0]!, A[1]! ^ B[1]!, 7)).toBe(0);
    // The bolt acks A and emits a child C anchored to it.
    const C = [0xdeadbeef, 0x01020304];
    expect(l.ack(99, (A[0]! ^ C[0]!) >>> 0, (A[1]! ^ C[1]!) >>> 0)).toBe(0);
    expect(l.ack(99, B[0]!, B[1]!)).toBe(0);
    expect(l.ack(99, C[0]!, C[1]!)).toBe(7);
    expect(l.size).toBe(0);
  });

  it('does not complete before the init arrives even when the acks already cancel out', () => {
    const l = new AckLedger();
    expect(l.ack(5, 0x10, 0x20)).toBe(0);
    expect(l.ack(5, 0x10, 0x20)).toBe(0);
    expect(l.init(5, 0, 0, 3)).toBe(3);
  });

  it('reports the spout task of a failed root and forgets it', () => {
    const l = new AckLedger();
    l.init(8, 1, 2, 4);
    expect(l.fail(8)).toBe(4);
    expect(l.size).toBe(0);
    expect(l.fail(8)).toBe(0);
  });

  it('drops orphans (acks with no init) untouched for two rotations and keeps those still active', () => {
    const l = new AckLedger();
    l.ack(1, 1, 1);
    l.ack(2, 1, 1);
    expect(l.rotate()).toBe(0);
    l.ack(2, 0, 0); // touched: moves back to the current generation
    expect(l.rotate()).toBe(1);
    expect(l.size).toBe(1);
    expect(l.init(2, 1, 1, 5)).toBe(5);
  });

  it('never rotates away an entry whose init is in: only its spout task ends it', () => {
    const l = new AckLedger();
    l.init(1, 3, 4, 2);
    for (let i = 0; i < 10; i++) expect(l.rotate()).toBe(0);
    expect(l.ack(1, 3, 4)).toBe(2);
    l.init(9, 3, 4, 2);
    l.forget(9);
    expect(l.size).toBe(0);
  });

  it('agrees with a plain model over many roots: growth, completions, failures and rotation', () => {
    const l = new AckLedger(16);
    const model = new Map<number, { hi: number; lo: number; spout: number }>();
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let step = 0; step < 200_000; step++) {
      // Roots spread like the engine's (sequence * spout tasks + index), with a live window.
      const root = 1 + ((rnd() % 30_000) * 3 + (rnd() % 3));
      const op = rnd() % 10;
      if (op === 0) {
        const expected = model.get(root)?.spout ?? 0;
        model.delete(root);
        expect(l.fail(root)).toBe(expected);
        continue;
      }
      const hi = rnd() % 4;
      const lo = rnd() % 4;
      const spout = op === 1 ? 1 + (rnd() % 5) : 0;
      const e = model.get(root) ?? { hi: 0, lo: 0, spout: 0 };
      e.hi ^= hi;
      e.lo ^= lo;
      if (spout !== 0) e.spout = spout;
      const r = spout !== 0 ? l.init(root, hi, lo, spout) : l.ack(root, hi, lo);
      if (e.hi === 0 && e.lo === 0 && e.spout !== 0) {
        expect(r).toBe(e.spout);
        model.delete(root);
      } else {
        expect(r).toBe(0);
        model.set(root, e);
      }
      expect(l.size).toBe(model.size);
    }
    expect(model.size).toBeGreaterThan(1000);
    // Nothing is touched for two rotations: every orphan goes, every entry with its init stays.
    const orphans = [...model.values()].filter((e) => e.spout === 0).length;
    l.rotate();
    expect(l.rotate()).toBe(orphans);
    expect(l.size).toBe(model.size - orphans);
  });
});
