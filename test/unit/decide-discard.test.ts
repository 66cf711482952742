import { describe, expect, it } from 'vitest';
import { decideDiscard, isLocalAsn, type DiscardLists } from '../../bolts/rules/decide-discard.js';
import { defaultConfig } from '../../bolts/themis-config.js';
import { makeFlow } from '../helpers/make-flow.js';

const OURS = 64496;
const THEIRS = 64500;
const lists: DiscardLists = {
  validProtocols: new Set([1, 6, 17]),
  localAsns: new Set([OURS, 64497]),
  honeypotPorts: new Set([23, 2323]),
};
const rule = defaultConfig().discard;

const inbound = { srcAs: THEIRS, dstAs: OURS };
const outbound = { srcAs: OURS, dstAs: THEIRS };

describe('decideDiscard (§5.3)', () => {
  it('discards a protocol that is not valid, leaving the direction unset', () => {
    expect(decideDiscard(makeFlow({ protocol: 47, ...inbound }), rule, lists)).toEqual({
      direction: null,
      discardReason: 'invalid protocol 47',
      srcIsLocal: false,
      dstIsLocal: true,
    });
  });

  it('checks the protocol before the direction', () => {
    expect(decideDiscard(makeFlow({ protocol: 47, srcAs: OURS, dstAs: OURS }), rule, lists).discardReason).toBe(
      'invalid protocol 47',
    );
  });

  it('discards internal traffic when both ASNs are local', () => {
    expect(decideDiscard(makeFlow({ srcAs: OURS, dstAs: 64497 }), rule, lists)).toMatchObject({
      direction: 'INTERNAL',
      discardReason: 'internal traffic',
    });
  });

  it('discards traffic with no local side as unknown direction', () => {
    expect(decideDiscard(makeFlow({ srcAs: THEIRS, dstAs: 64501 }), rule, lists)).toMatchObject({
      direction: 'UNKNOWN',
      discardReason: 'unknown direction',
    });
  });

  it('keeps an outbound flow (src local) and an inbound flow (dst local)', () => {
    expect(decideDiscard(makeFlow(outbound), rule, lists)).toEqual({
      direction: 'OUTBOUND',
      discardReason: null,
      srcIsLocal: true,
      dstIsLocal: false,
    });
    expect(decideDiscard(makeFlow({ protocol: 1, ...inbound }), rule, lists)).toEqual({
      direction: 'INBOUND',
      discardReason: null,
      srcIsLocal: false,
      dstIsLocal: true,
    });
  });

  it('never treats ASN 0 (unresolved) as local, even if a list contained it (§15 item 8)', () => {
    const withZero = { ...lists, localAsns: new Set([0, OURS]) };
    expect(isLocalAsn(0, withZero.localAsns)).toBe(false);
    expect(decideDiscard(makeFlow({ srcAs: 0, dstAs: 0 }), rule, withZero).direction).toBe('UNKNOWN');
    expect(decideDiscard(makeFlow({ srcAs: 0, dstAs: OURS }), rule, withZero).direction).toBe('INBOUND');
  });

  describe('honeypot ports (fixes §15 item 7)', () => {
    it('discards inbound TCP to a local honeypot port', () => {
      expect(decideDiscard(makeFlow({ ...inbound, dstPort: 23 }), rule, lists)).toMatchObject({
        direction: 'INBOUND',
        discardReason: 'honeypot port 23',
      });
      expect(decideDiscard(makeFlow({ ...inbound, dstPort: 2323 }), rule, lists).discardReason).toBe('honeypot port 2323');
    });

    it("discards the honeypot's reply, outbound TCP from the local honeypot port", () => {
      expect(decideDiscard(makeFlow({ ...outbound, srcPort: 23, dstPort: 51515 }), rule, lists)).toMatchObject({
        direction: 'OUTBOUND',
        discardReason: 'honeypot port 23',
      });
    });

    it('keeps outbound TCP to a remote port 23 (our host using telnet)', () => {
      expect(decideDiscard(makeFlow({ ...outbound, srcPort: 51515, dstPort: 23 }), rule, lists).discardReason).toBeNull();
    });

    it('keeps inbound TCP from a remote port 23 to a local ephemeral port', () => {
      expect(decideDiscard(makeFlow({ ...inbound, srcPort: 23, dstPort: 51515 }), rule, lists).discardReason).toBeNull();
    });

    it('keeps UDP and ICMP to a local honeypot port by default (TCP only)', () => {
      expect(decideDiscard(makeFlow({ ...inbound, protocol: 17, dstPort: 23 }), rule, lists).discardReason).toBeNull();
      expect(decideDiscard(makeFlow({ ...inbound, protocol: 1, dstPort: 23 }), rule, lists).discardReason).toBeNull();
    });

    it('discards UDP too when UDP is a configured honeypot protocol', () => {
      const tcpAndUdp = { honeypotProtocols: [6, 17] };
      expect(decideDiscard(makeFlow({ ...inbound, protocol: 17, dstPort: 23 }), tcpAndUdp, lists).discardReason).toBe(
        'honeypot port 23',
      );
    });
  });
});
