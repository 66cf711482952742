import { describe, expect, it } from 'vitest';
import { AckLedger } from '../../runtime/ack-ledger.js';

describe('AckLedger', () => {
  it('completes a root only when every edge has been reported twice', () => {
    const l = new AckLedger();
    // Spout emits two copies with edges A and B.
    const A = [0x1234, 0xabcd];
    const B = [0x0f0f0f0f, 0x77777777];
    expect(l.init(99, A[0]! ^ B[0]!, A[1]! ^ B[1]!, 7)).toEqual({ kind: 'pending' });
    // The bolt acks A and emits a child C anchored to it.
    const C = [0xdeadbeef, 0x01020304];
    expect(l.ack(99, (A[0]! ^ C[0]!) >>> 0, (A[1]! ^ C[1]!) >>> 0)).toEqual({ kind: 'pending' });
    expect(l.ack(99, B[0]!, B[1]!)).toEqual({ kind: 'pending' });
    expect(l.ack(99, C[0]!, C[1]!)).toEqual({ kind: 'complete', spoutTask: 7 });
    expect(l.size).toBe(0);
  });

  it('does not complete before the init arrives even when the acks already cancel out', () => {
    const l = new AckLedger();
    expect(l.ack(5, 0x10, 0x20)).toEqual({ kind: 'pending' });
    expect(l.ack(5, 0x10, 0x20)).toEqual({ kind: 'pending' });
    expect(l.init(5, 0, 0, 3)).toEqual({ kind: 'complete', spoutTask: 3 });
  });

  it('reports the spout task of a failed root and forgets it', () => {
    const l = new AckLedger();
    l.init(8, 1, 2, 4);
    expect(l.fail(8)).toBe(4);
    expect(l.size).toBe(0);
    expect(l.fail(8)).toBe(0);
  });

  it('drops entries untouched for two rotations and keeps those still active', () => {
    const l = new AckLedger();
    l.init(1, 1, 1, 2);
    l.init(2, 1, 1, 2);
    expect(l.rotate()).toBe(0);
    l.ack(2, 0, 0); // touched: moves back to the current generation
    expect(l.rotate()).toBe(1);
    expect(l.size).toBe(1);
    expect(l.ack(2, 1, 1)).toEqual({ kind: 'complete', spoutTask: 2 });
  });
});
