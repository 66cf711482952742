import { describe, expect, it } from 'vitest';
import { parseKnownHostServices } from '../../bolts/lists/known-host-services.js';
import { scoreInsecurePorts } from '../../bolts/rules/score-insecure-ports.js';
import { scoreService } from '../../bolts/rules/score-service.js';
import { scoreUnknownPorts } from '../../bolts/rules/score-unknown-ports.js';
import { defaultConfig } from '../../bolts/themis-config.js';
import { ip, makeFlow, type FlowOverrides } from '../helpers/make-flow.js';

const { rules } = defaultConfig();

const services = parseKnownHostServices(
  'ip_address,protocol,port,is_hosted,description\n' +
    '192.0.2.25,6,25,true,mail server\n' +
    '192.0.2.25,6,443,false,mail server fetches updates\n' +
    '192.0.2.53,17,53,true,dns\n' +
    '192.0.2.0/28,17,123,false,ntp clients\n',
  'known_host_services.csv',
);

const inboundTo = (dstIp: string, dstPort: number, overrides: FlowOverrides = {}) =>
  makeFlow({ dstIp, dstPort, srcPort: 51515, ...overrides });
const outboundFrom = (srcIp: string, dstPort: number, overrides: FlowOverrides = {}) =>
  makeFlow({ srcIp, dstIp: '198.51.100.7', srcPort: 51515, dstPort, srcIsLocal: true, dstIsLocal: false, direction: 'OUTBOUND', ...overrides });

describe('scoreService (§5.16)', () => {
  const hostedGood = { category: 'HOSTED_SERVICES', code: 'TCP', score: 100, isBad: false };
  const hostedBad = { category: 'HOSTED_SERVICES', code: 'TCP', score: 50, isBad: true };

  it.each([
    [29, []],
    [30, [hostedGood]],
    [31, [hostedGood]],
  ])('with %i packets to a hosted TCP service gives %j (min 30)', (packets, tags) => {
    expect(scoreService(inboundTo('192.0.2.25', 25, { packetsSent: packets }), rules.tcpHostedService, services)).toEqual(tags);
  });

  it('scores a known host on an unlisted port bad 50 (negative scoring)', () => {
    expect(scoreService(inboundTo('192.0.2.25', 22, { packetsSent: 40 }), rules.tcpHostedService, services)).toEqual([hostedBad]);
  });

  it('does not score an unknown host', () => {
    expect(scoreService(inboundTo('192.0.2.26', 25, { packetsSent: 40 }), rules.tcpHostedService, services)).toEqual([]);
  });

  it('takes the local port from src when src is local', () => {
    const reply = makeFlow({ srcIp: '192.0.2.25', srcPort: 25, dstIp: '198.51.100.7', dstPort: 51515, srcIsLocal: true, dstIsLocal: false, packetsSent: 40 });
    expect(scoreService(reply, rules.tcpHostedService, services)).toEqual([hostedGood]);
  });

  it('scores a remote service used by a local host good 100, without negative scoring', () => {
    const remoteGood = [{ category: 'REMOTE_SERVICES', code: 'TCP', score: 100, isBad: false }];
    expect(scoreService(outboundFrom('192.0.2.25', 443, { packetsSent: 5 }), rules.tcpRemoteService, services)).toEqual(remoteGood);
    expect(scoreService(outboundFrom('192.0.2.25', 443, { packetsSent: 4 }), rules.tcpRemoteService, services)).toEqual([]);
    expect(scoreService(outboundFrom('192.0.2.25', 8443, { packetsSent: 50 }), rules.tcpRemoteService, services)).toEqual([]);
  });

  it('takes the remote port from src when dst is local', () => {
    const reply = makeFlow({ srcIp: '198.51.100.7', srcPort: 443, dstIp: '192.0.2.25', dstPort: 51515, packetsSent: 5 });
    expect(scoreService(reply, rules.tcpRemoteService, services)).toHaveLength(1);
  });

  it('matches hosts inside a configured network', () => {
    const ntp = outboundFrom('192.0.2.9', 123, { protocol: 17, packetsSent: 1 });
    expect(scoreService(ntp, rules.udpRemoteService, services)).toEqual([
      { category: 'REMOTE_SERVICES', code: 'UDP', score: 100, isBad: false },
    ]);
    expect(scoreService({ ...ntp, srcIp: ip('192.0.2.16') }, rules.udpRemoteService, services)).toEqual([]);
  });

  it('scores a single-packet DNS query to a hosted UDP service (min 1) and not an empty one', () => {
    const dns = (packetsSent: number) => inboundTo('192.0.2.53', 53, { protocol: 17, packetsSent });
    expect(scoreService(dns(1), rules.udpHostedService, services)).toEqual([
      { category: 'HOSTED_SERVICES', code: 'UDP', score: 100, isBad: false },
    ]);
    expect(scoreService(dns(0), rules.udpHostedService, services)).toEqual([]);
  });

  it('reads the initiator counters when dst initiated (fixes §15 item 5)', () => {
    const conversation = makeFlow({
      srcIp: '192.0.2.25', srcPort: 25, dstIp: '198.51.100.7', dstPort: 51515,
      srcIsLocal: true, dstIsLocal: false, matched: true, initiator: 'dst', packetsSent: 100, packetsRecv: 12,
    });
    expect(scoreService(conversation, rules.tcpHostedService, services)).toEqual([]);
    expect(scoreService({ ...conversation, packetsRecv: 30 }, rules.tcpHostedService, services)).toEqual([hostedGood]);
  });

  it('only scores the protocol of its kind', () => {
    expect(scoreService(inboundTo('192.0.2.25', 25, { protocol: 17, packetsSent: 40 }), rules.tcpHostedService, services)).toEqual([]);
    expect(scoreService(inboundTo('192.0.2.53', 53, { protocol: 6, packetsSent: 40 }), rules.udpHostedService, services)).toEqual([]);
  });

  it('does not score a flow with no local side', () => {
    expect(scoreService(inboundTo('192.0.2.25', 25, { dstIsLocal: false, packetsSent: 40 }), rules.tcpHostedService, services)).toEqual([]);
  });

  it('honours a disabled negative score', () => {
    const rule = { ...rules.tcpHostedService, negativeScore: null };
    expect(scoreService(inboundTo('192.0.2.25', 22, { packetsSent: 40 }), rule, services)).toEqual([]);
  });
});

describe('scoreInsecurePorts (§5.17)', () => {
  const insecure = new Set([21, 23, 513]);
  const tag = [{ category: 'PORT_LIST', code: 'INSECURE_TCP_TRAFFIC', score: 50, isBad: true }];

  it.each([
    [2, []],
    [3, tag],
    [4, tag],
  ])('with %i packets to an insecure port gives %j (min 3)', (packetsSent, tags) => {
    expect(scoreInsecurePorts(makeFlow({ dstPort: 23, packetsSent }), rules.insecureTcpPorts, insecure)).toEqual(tags);
  });

  it('tags an insecure port on either side', () => {
    expect(scoreInsecurePorts(makeFlow({ srcPort: 21, dstPort: 51515, packetsSent: 3 }), rules.insecureTcpPorts, insecure)).toEqual(tag);
  });

  it('does not tag when neither port is insecure', () => {
    expect(scoreInsecurePorts(makeFlow({ packetsSent: 30 }), rules.insecureTcpPorts, insecure)).toEqual([]);
  });

  it('only scores its own protocol', () => {
    expect(scoreInsecurePorts(makeFlow({ protocol: 17, dstPort: 23, packetsSent: 30 }), rules.insecureTcpPorts, insecure)).toEqual([]);
    expect(scoreInsecurePorts(makeFlow({ protocol: 17, dstPort: 23, packetsSent: 30 }), rules.insecureUdpPorts, insecure)).toEqual([
      { category: 'PORT_LIST', code: 'INSECURE_UDP_TRAFFIC', score: 50, isBad: true },
    ]);
  });

  it('reads the initiator packets when dst initiated', () => {
    const flow = makeFlow({ dstPort: 23, initiator: 'dst', packetsSent: 30, packetsRecv: 2 });
    expect(scoreInsecurePorts(flow, rules.insecureTcpPorts, insecure)).toEqual([]);
  });
});

describe('scoreUnknownPorts (§5.17)', () => {
  const known = new Set([22, 25, 80, 443]);
  const tag = [{ category: 'PORT_LIST', code: 'UNKNOWN_TCP_TRAFFIC', score: 70, isBad: true }];

  it.each([
    [2, []],
    [3, tag],
    [4, tag],
  ])('with %i packets between two unknown ports gives %j (min 3)', (packetsSent, tags) => {
    expect(scoreUnknownPorts(makeFlow({ srcPort: 51515, dstPort: 4444, packetsSent }), rules.unknownTcpPorts, known)).toEqual(tags);
  });

  it('does not tag when either port is known', () => {
    expect(scoreUnknownPorts(makeFlow({ srcPort: 51515, dstPort: 443, packetsSent: 30 }), rules.unknownTcpPorts, known)).toEqual([]);
    expect(scoreUnknownPorts(makeFlow({ srcPort: 80, dstPort: 4444, packetsSent: 30 }), rules.unknownTcpPorts, known)).toEqual([]);
  });

  it('only scores its own protocol', () => {
    const udp = makeFlow({ protocol: 17, srcPort: 51515, dstPort: 4444, packetsSent: 3 });
    expect(scoreUnknownPorts(udp, rules.unknownTcpPorts, known)).toEqual([]);
    expect(scoreUnknownPorts(udp, rules.unknownUdpPorts, known)).toEqual([
      { category: 'PORT_LIST', code: 'UNKNOWN_UDP_TRAFFIC', score: 70, isBad: true },
    ]);
  });

  it('reads the initiator packets when dst initiated', () => {
    const flow = makeFlow({ srcPort: 51515, dstPort: 4444, initiator: 'dst', packetsSent: 1, packetsRecv: 3 });
    expect(scoreUnknownPorts(flow, rules.unknownTcpPorts, known)).toEqual(tag);
  });
});
