import { describe, expect, it } from 'vitest';
import { scoreHttpBruteForce } from '../../bolts/rules/score-http-brute-force.js';
import { scorePossibleScan } from '../../bolts/rules/score-possible-scan.js';
import { scoreSshBruteForce } from '../../bolts/rules/score-ssh-brute-force.js';
import { defaultConfig } from '../../bolts/themis-config.js';
import { makeFlow, type FlowOverrides } from '../helpers/make-flow.js';

const { rules } = defaultConfig();

/**
 * A matched conversation whose emitted record has the local server as src (as match-flows emits
 * it, §5.4) and the remote client as the initiator: the client's counters are in *Recv.
 */
function serverSideRecord(overrides: FlowOverrides = {}) {
  return makeFlow({
    srcIp: '192.0.2.10',
    dstIp: '198.51.100.7',
    srcIsLocal: true,
    dstIsLocal: false,
    direction: 'OUTBOUND',
    matched: true,
    initiator: 'dst',
    ...overrides,
  });
}

describe('scorePossibleScan (§5.13)', () => {
  const scan = [{ category: 'POSSIBLE_SCAN', code: 'SYN_ONLY', score: 60, isBad: true }];

  it.each(['....S.', '.....F', '......', 'U.P..F'])('tags a TCP flow whose initiator sent only %s', (flags) => {
    expect(scorePossibleScan(makeFlow({ flags }), rules.possibleScan)).toEqual(scan);
  });

  it.each(['.A..S.', '...RS.', '..P..F', '.P...F', 'UAPRSF'])('does not tag flags %s', (flags) => {
    expect(scorePossibleScan(makeFlow({ flags }), rules.possibleScan)).toEqual([]);
  });

  it('does not tag, and does not crash on, unknown flags (fixes §15 item 22)', () => {
    expect(scorePossibleScan(makeFlow({ flags: null }), rules.possibleScan)).toEqual([]);
  });

  it("reads the reverse record's flags when dst initiated", () => {
    expect(scorePossibleScan(serverSideRecord({ flags: '.A.R..', flagsRecv: '....S.' }), rules.possibleScan)).toEqual(scan);
    expect(scorePossibleScan(serverSideRecord({ flags: '....S.', flagsRecv: '.AP.SF' }), rules.possibleScan)).toEqual([]);
  });

  it('does not tag an unmatched record initiated by dst, whose initiator flags are unknown', () => {
    expect(scorePossibleScan(serverSideRecord({ flags: '....S.', flagsRecv: null, matched: false }), rules.possibleScan)).toEqual([]);
  });

  it('only scores TCP', () => {
    expect(scorePossibleScan(makeFlow({ protocol: 17, flags: '......' }), rules.possibleScan)).toEqual([]);
  });

  it('uses the configured patterns', () => {
    expect(scorePossibleScan(makeFlow({ flags: '..P..F' }), { ...rules.possibleScan, flagPatterns: ['..P..F'] })).toEqual(scan);
  });
});

describe('scoreSshBruteForce (§5.14)', () => {
  const ssh = [{ category: 'BRUTE_FORCE', code: 'SSH', score: 90, isBad: true }];
  const toSsh = (packetsSent: number) => makeFlow({ dstPort: 22, packetsSent });

  it.each([
    [10, false],
    [11, true],
    [12, true],
    [50, true],
    [51, true],
    [52, false],
  ])('with %i client packets to port 22 tags: %s (11-51 inclusive, fixes §15 item 1)', (packets, isTagged) => {
    expect(scoreSshBruteForce(toSsh(packets), rules.sshBruteForce)).toEqual(isTagged ? ssh : []);
  });

  it('reads the client counters when dst initiated', () => {
    expect(scoreSshBruteForce(serverSideRecord({ srcPort: 22, dstPort: 51515, packetsSent: 200, packetsRecv: 20 }), rules.sshBruteForce)).toEqual(ssh);
    expect(scoreSshBruteForce(serverSideRecord({ srcPort: 22, dstPort: 51515, packetsSent: 20, packetsRecv: 200 }), rules.sshBruteForce)).toEqual([]);
  });

  it('requires port 22 on the responder side, not on the initiator side', () => {
    expect(scoreSshBruteForce(makeFlow({ srcPort: 22, dstPort: 51515, packetsSent: 20 }), rules.sshBruteForce)).toEqual([]);
  });

  it('tags an outbound attempt from a local client too (both directions are in scope)', () => {
    const outbound = makeFlow({ srcIsLocal: true, dstIsLocal: false, direction: 'OUTBOUND', dstPort: 22, packetsSent: 20 });
    expect(scoreSshBruteForce(outbound, rules.sshBruteForce)).toEqual(ssh);
  });

  it('only scores TCP', () => {
    expect(scoreSshBruteForce(makeFlow({ protocol: 17, dstPort: 22, packetsSent: 20 }), rules.sshBruteForce)).toEqual([]);
  });

  it('uses the configured port and range', () => {
    const rule = { ...rules.sshBruteForce, port: 2222, minPackets: 3, maxPackets: 4 };
    expect(scoreSshBruteForce(makeFlow({ dstPort: 2222, packetsSent: 3 }), rule)).toEqual(ssh);
    expect(scoreSshBruteForce(makeFlow({ dstPort: 2222, packetsSent: 5 }), rule)).toEqual([]);
    expect(scoreSshBruteForce(makeFlow({ dstPort: 22, packetsSent: 3 }), rule)).toEqual([]);
  });
});

describe('scoreHttpBruteForce (§5.15)', () => {
  const http = [{ category: 'BRUTE_FORCE', code: 'HTTP', score: 90, isBad: true }];
  const toLocal = (dstPort: number, packetsSent: number, bytesSent: number) => makeFlow({ dstPort, packetsSent, bytesSent });

  it.each([
    [4, 500, false],
    [5, 500, true],
    [12, 500, true],
    [13, 500, false],
    [8, 362, false],
    [8, 363, true],
    [8, 1130, true],
    [8, 1131, false],
  ])('HTTP: %i packets and %i bytes to local port 80 tags: %s', (packets, bytes, isTagged) => {
    expect(scoreHttpBruteForce(toLocal(80, packets, bytes), rules.httpBruteForce)).toEqual(isTagged ? http : []);
  });

  it.each([
    [6, 1000, false],
    [7, 1000, true],
    [17, 1000, true],
    [18, 1000, false],
    [10, 788, false],
    [10, 789, true],
    [10, 2885, true],
    [10, 2886, false],
  ])('HTTPS: %i packets and %i bytes to local port 443 tags: %s', (packets, bytes, isTagged) => {
    expect(scoreHttpBruteForce(toLocal(443, packets, bytes), rules.httpBruteForce)).toEqual(isTagged ? http : []);
  });

  it('applies each port its own thresholds', () => {
    expect(scoreHttpBruteForce(toLocal(80, 15, 2000), rules.httpBruteForce)).toEqual([]);
    expect(scoreHttpBruteForce(toLocal(443, 5, 500), rules.httpBruteForce)).toEqual([]);
    expect(scoreHttpBruteForce(toLocal(8080, 8, 500), rules.httpBruteForce)).toEqual([]);
  });

  it('does not tag a remote web server (our client logging in elsewhere)', () => {
    const outbound = makeFlow({ srcIsLocal: true, dstIsLocal: false, direction: 'OUTBOUND', dstPort: 80, packetsSent: 8, bytesSent: 500 });
    expect(scoreHttpBruteForce(outbound, rules.httpBruteForce)).toEqual([]);
  });

  it("reads the client's request counters, not the server's response, in a conversation record (fixes §15 item 5)", () => {
    const attempt = serverSideRecord({ srcPort: 443, dstPort: 51515, packetsSent: 40, bytesSent: 50_000, packetsRecv: 9, bytesRecv: 1500 });
    expect(scoreHttpBruteForce(attempt, rules.httpBruteForce)).toEqual(http);
    const download = serverSideRecord({ srcPort: 443, dstPort: 51515, packetsSent: 9, bytesSent: 1500, packetsRecv: 40, bytesRecv: 50_000 });
    expect(scoreHttpBruteForce(download, rules.httpBruteForce)).toEqual([]);
  });

  it('only scores TCP', () => {
    expect(scoreHttpBruteForce(makeFlow({ protocol: 17, dstPort: 80, packetsSent: 8, bytesSent: 500 }), rules.httpBruteForce)).toEqual([]);
  });
});
