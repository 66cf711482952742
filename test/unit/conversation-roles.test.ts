import { describe, expect, it } from 'vitest';
import { initiatorCounters, responderEndpoint } from '../../bolts/rules/conversation-roles.js';
import { makeFlow } from '../helpers/make-flow.js';

const conversation = {
  packetsSent: 5,
  bytesSent: 500,
  flags: '.AP.S.',
  packetsRecv: 7,
  bytesRecv: 7000,
  flagsRecv: '.AP.SF',
  matched: true,
};

describe('initiatorCounters', () => {
  it('reads the sent counters and flags when src initiated', () => {
    expect(initiatorCounters(makeFlow({ ...conversation, initiator: 'src' }))).toEqual({
      packets: 5,
      bytes: 500,
      flags: '.AP.S.',
    });
  });

  it('reads the received counters and flags when dst initiated (fixes §15 item 5)', () => {
    expect(initiatorCounters(makeFlow({ ...conversation, initiator: 'dst' }))).toEqual({
      packets: 7,
      bytes: 7000,
      flags: '.AP.SF',
    });
  });
});

describe('responderEndpoint', () => {
  it('is dst when src initiated and src when dst initiated', () => {
    const flow = makeFlow({ srcPort: 51515, dstPort: 22, srcIsLocal: true, dstIsLocal: false });
    expect(responderEndpoint(flow)).toMatchObject({ port: 22, isLocal: false });
    expect(responderEndpoint({ ...flow, initiator: 'dst' })).toMatchObject({ port: 51515, isLocal: true });
    expect(responderEndpoint({ ...flow, initiator: 'dst' }).ip.text).toBe('198.51.100.7');
  });
});
