import { describe, expect, it } from 'vitest';
import { FlowStreamCodec } from '../../bolts/flow-codec.js';
import { makeFlow } from '../helpers/make-flow.js';

describe('FlowStreamCodec', () => {
  it('round-trips a tuple holding a flow with tags, IPv4 and IPv6, nulls and geo fields', () => {
    const codec = new FlowStreamCodec({ flowIndex: 1 });
    const v4 = makeFlow({ id: 7, pairId: 8, flags: '.AP.SF', flagsRecv: null, srcCity: 'Johannesburg', srcLatitude: -26.2, matched: true, initiator: 'dst' });
    v4.tags.push({ category: 'COUNTRY', code: 'SUSPECT', score: 60, isBad: true }, { category: 'IP_LIST', code: 'NDPI_GOOD', score: 100, isBad: false });
    const v6 = makeFlow({ id: 9, srcIp: '2001:db8:1::10', dstIp: '2001:db8:2::77' });
    for (const flow of [v4, v6]) {
      const values = [flow.id, flow, 'conversation-key'];
      const wire = codec.encode(values);
      expect(wire.every((x) => x === null || typeof x !== 'object')).toBe(true);
      expect(codec.decode(structuredClone(wire))).toEqual(values);
    }
  });
});
