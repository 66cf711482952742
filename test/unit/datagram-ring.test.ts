import { describe, expect, it } from 'vitest';
import { DatagramRing, type ReceivedDatagram } from '../../spouts/collector/udp-listener.js';

const datagram = (n: number): ReceivedDatagram => ({ data: Buffer.from([n]), exporter: '192.0.2.1:2055', receivedAtMs: n });

describe('DatagramRing', () => {
  it('gives datagrams back in arrival order across the wrap of the ring', () => {
    const ring = new DatagramRing(3);
    const taken: number[] = [];
    for (let n = 0; n < 10; n++) {
      expect(ring.push(datagram(n))).toBe(true);
      if (n % 2 === 1) taken.push(ring.shift()!.receivedAtMs, ring.shift()!.receivedAtMs);
    }
    expect(taken).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ring.shift()).toBeUndefined();
    expect(ring.dropped).toBe(0);
  });

  it('drops and counts what arrives while it is full, keeping what it holds', () => {
    const ring = new DatagramRing(2);
    const accepted = [0, 1, 2, 3].map((n) => ring.push(datagram(n)));
    expect(accepted).toEqual([true, true, false, false]);
    expect({ size: ring.size, dropped: ring.dropped, offered: ring.offered }).toEqual({ size: 2, dropped: 2, offered: 4 });
    expect([ring.shift()!.receivedAtMs, ring.shift()!.receivedAtMs]).toEqual([0, 1]);
    // Room again: the next one is kept.
    expect(ring.push(datagram(4))).toBe(true);
    expect(ring.shift()!.receivedAtMs).toBe(4);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new DatagramRing(0)).toThrow(/capacity \(0\) must be an integer of at least 1/);
  });
});
