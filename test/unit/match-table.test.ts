import { describe, expect, it } from 'vitest';
import type { Flow } from '../../bolts/flow.js';
import { conversationKey, describeConversation } from '../../bolts/match/conversation-key.js';
import { MatchTable, type MatchOutcome } from '../../bolts/match/match-table.js';
import { FakeClock, LOCAL_V4, REMOTE_V4, flowFixture, reverseOf } from '../helpers/flow-fixture.js';

// Reference §5.4 (MatchFlowBolt) with the §15.2 fixes (items 10-17).

function table(clock = new FakeClock(), options: { windowMs?: number; maxSize?: number } = {}) {
  return new MatchTable<string>({ now: clock.now, ...options });
}

function matchedRecord(outcome: MatchOutcome<string>): Flow {
  if (outcome.kind !== 'matched') throw new Error(`expected a match, got ${outcome.kind}`);
  return outcome.record;
}

/** Remote client 198.51.100.7:51515 -> local server 192.0.2.10:443, and the server's answer. */
const inbound = flowFixture({ id: 10, startSecs: 1000, endSecs: 1002, packetsSent: 5, bytesSent: 400, flags: '.AP.S.', receivedAtMs: 7 });
const answer = reverseOf(inbound, { id: 11, startSecs: 1001, endSecs: 1003, packetsSent: 4, bytesSent: 3000, flags: '.AP.SF', receivedAtMs: 9 });

describe('conversationKey', () => {
  it('gives both directions of a conversation the same key and opposite orientation', () => {
    const a = conversationKey(inbound);
    const b = conversationKey(answer);
    expect(a.key).toBe(b.key);
    expect(a.sourceFirst).toBe(!b.sourceFirst);
  });

  it('includes the protocol, so TCP and UDP on the same endpoints differ', () => {
    expect(conversationKey({ ...inbound, protocol: 6 }).key).not.toBe(conversationKey({ ...inbound, protocol: 17 }).key);
  });

  it('orders endpoints by port when the addresses are equal', () => {
    const self = flowFixture({ src: LOCAL_V4, dst: LOCAL_V4, srcPort: 2000, dstPort: 1000 });
    expect(conversationKey(self).sourceFirst).toBe(false);
    expect(conversationKey(reverseOf(self)).sourceFirst).toBe(true);
  });

  it('gives one key to every spelling of an IPv6 address', () => {
    const a = flowFixture({ src: '2001:DB8:0:0::1', dst: '2001:db8::2' });
    const b = flowFixture({ src: '2001:db8::1', dst: '2001:0db8:0000:0000:0000:0000:0000:0002' });
    expect(conversationKey(a).key).toBe(conversationKey(b).key);
  });

  it('describes a conversation readably in canonical order', () => {
    expect(describeConversation(inbound)).toBe(`6 ${LOCAL_V4}:443 ${REMOTE_V4}:51515`);
    expect(describeConversation(flowFixture({ src: '2001:db8::2', dst: '2001:db8::1', protocol: 17 }))).toBe(
      '17 [2001:db8::1]:443 [2001:db8::2]:51515',
    );
  });
});

describe('MatchTable', () => {
  it('holds the first direction and pairs it with the reverse, arriving first', () => {
    const t = table();
    expect(t.offer(inbound, 'in')).toEqual({ kind: 'held', released: [] });
    expect(t.size).toBe(1);
    const outcome = t.offer(answer, 'out');
    expect(outcome.kind).toBe('matched');
    expect(outcome.kind === 'matched' && outcome.handles).toEqual(['in', 'out']);
    expect(t.size).toBe(0);
  });

  it('puts the local side on the left with counters from both directions, in either arrival order', () => {
    for (const [first, second] of [
      [inbound, answer],
      [answer, inbound],
    ] as const) {
      const t = table();
      t.offer(first, 'first');
      const record = matchedRecord(t.offer(second, 'second'));
      expect(record).toMatchObject({
        id: 11,
        pairId: 10,
        srcIp: answer.srcIp,
        dstIp: answer.dstIp,
        srcPort: 443,
        dstPort: 51515,
        srcIsLocal: true,
        dstIsLocal: false,
        srcAs: inbound.dstAs,
        dstAs: inbound.srcAs,
        packetsSent: 4,
        bytesSent: 3000,
        packetsRecv: 5,
        bytesRecv: 400,
        flags: '.AP.SF',
        flagsRecv: '.AP.S.',
        startSecs: 1000,
        endSecs: 1003,
        // Complete when the second flow arrived.
        receivedAtMs: 9,
      });
    }
  });

  it('sets matched on the emitted record whichever flow arrived first', () => {
    for (const [first, second] of [
      [inbound, answer],
      [answer, inbound],
    ] as const) {
      const t = table();
      t.offer(first, 'a');
      expect(matchedRecord(t.offer(second, 'b')).matched).toBe(true);
    }
  });

  it('names the remote side as initiator and the direction INBOUND when the remote flow started first', () => {
    const t = table();
    t.offer(answer, 'a');
    const record = matchedRecord(t.offer(inbound, 'b'));
    expect(record.initiator).toBe('dst');
    expect(record.direction).toBe('INBOUND');
  });

  it('names the local side as initiator and the direction OUTBOUND when the local flow started first', () => {
    const request = flowFixture({ id: 20, src: LOCAL_V4, dst: REMOTE_V4, srcPort: 40000, dstPort: 53, protocol: 17, srcIsLocal: true, dstIsLocal: false, direction: 'OUTBOUND', startSecs: 500 });
    const reply = reverseOf(request, { id: 21, startSecs: 500 });
    const t = table();
    t.offer(reply, 'reply');
    // Same start second, reply arrived first: arrival order does not decide; the request went to
    // the lower (service) port 53, so the local side initiated...
    expect(matchedRecord(t.offer(request, 'request'))).toMatchObject({ id: 20, initiator: 'src', direction: 'OUTBOUND' });
    // ...and with the request one second earlier, too.
    t.offer(reply, 'reply');
    expect(matchedRecord(t.offer({ ...request, startSecs: 499 }, 'request'))).toMatchObject({
      id: 20,
      initiator: 'src',
      direction: 'OUTBOUND',
      startSecs: 499,
    });
  });

  it('breaks a same-second tie by SYN without ACK, then by the lower destination port, then by the lower id, never by arrival', () => {
    const client = flowFixture({ id: 40, src: REMOTE_V4, dst: LOCAL_V4, srcPort: 50000, dstPort: 8080, srcIsLocal: false, dstIsLocal: true, startSecs: 700, flags: '....S.' });
    const server = reverseOf(client, { id: 41, startSecs: 700, flags: '.A..S.' });
    for (const [first, second] of [
      [client, server],
      [server, client],
    ] as const) {
      const t = table();
      t.offer(first, 'a');
      expect(matchedRecord(t.offer(second, 'b'))).toMatchObject({ initiator: 'dst', direction: 'INBOUND' });
    }
    // Both full connections (SYN and ACK on both sides): the flow sent to port 8080 opened it.
    const c2 = { ...client, flags: '.AP.SF' };
    const s2 = { ...server, flags: '.AP.SF' };
    for (const [first, second] of [
      [c2, s2],
      [s2, c2],
    ] as const) {
      const t = table();
      t.offer(first, 'a');
      expect(matchedRecord(t.offer(second, 'b'))).toMatchObject({ initiator: 'dst', direction: 'INBOUND' });
    }
  });

  it('pairs IPv6 conversations', () => {
    const v6 = flowFixture({ id: 30, src: '2001:db8:ffff::7', dst: '2001:db8:1::10', protocol: 17, srcPort: 5353, dstPort: 53 });
    const t = table();
    t.offer(v6, 'q');
    const record = matchedRecord(t.offer(reverseOf(v6, { id: 31, src: '2001:DB8:1:0::10' }), 'r'));
    expect(record).toMatchObject({ id: 31, pairId: 30, matched: true, srcPort: 53, dstPort: 5353 });
  });

  it('does not pair TCP and UDP flows on the same endpoints', () => {
    const t = table();
    t.offer({ ...inbound, protocol: 6 }, 'tcp');
    expect(t.offer({ ...answer, protocol: 17 }, 'udp').kind).toBe('held');
    expect(t.size).toBe(2);
  });

  it('passes flows other than TCP and UDP through without holding them', () => {
    const t = table();
    expect(t.offer({ ...inbound, protocol: 1 }, 'icmp')).toEqual({ kind: 'passthrough' });
    expect(t.size).toBe(0);
  });

  it('releases the held flow alone and holds the newer one when the same direction repeats', () => {
    const t = table();
    t.offer(inbound, 'old');
    const split = { ...inbound, id: 12, startSecs: 1060 };
    expect(t.offer(split, 'new')).toEqual({ kind: 'held', released: [{ flow: inbound, handle: 'old', reason: 'repeat' }] });
    expect(t.size).toBe(1);
    expect(matchedRecord(t.offer(answer, 'answer'))).toMatchObject({ id: 11, pairId: 12 });
  });

  it('releases held flows with their handles once the window has passed, and not before', () => {
    const clock = new FakeClock(1_000);
    const t = table(clock, { windowMs: 120_000 });
    t.offer(inbound, 'in');
    clock.advance(60_000);
    t.offer(flowFixture({ id: 40, srcPort: 40404 }), 'later');
    clock.advance(59_999);
    expect(t.expire()).toEqual([]);
    clock.advance(1);
    const released = t.expire();
    expect(released).toEqual([{ flow: inbound, handle: 'in', reason: 'expired' }]);
    expect(released[0]!.flow.matched).toBe(false);
    expect(t.size).toBe(1);
  });

  it('never emits a conversation twice: a reverse flow after a release starts a new entry', () => {
    const clock = new FakeClock();
    const t = table(clock, { windowMs: 1_000 });
    t.offer(inbound, 'in');
    clock.advance(1_000);
    expect(t.expire()).toHaveLength(1);
    expect(t.offer(answer, 'late')).toEqual({ kind: 'held', released: [] });
    expect(t.offer(inbound, 'in again').kind).toBe('matched');
    expect(t.offer(answer, 'once more').kind).toBe('held');
  });

  it('evicts and returns the oldest entry when full, instead of losing it', () => {
    const clock = new FakeClock();
    const t = table(clock, { maxSize: 2 });
    const a = flowFixture({ id: 1, srcPort: 1001 });
    const b = flowFixture({ id: 2, srcPort: 1002 });
    const c = flowFixture({ id: 3, srcPort: 1003 });
    t.offer(a, 'a');
    t.offer(b, 'b');
    expect(t.offer(c, 'c')).toEqual({ kind: 'held', released: [{ flow: a, handle: 'a', reason: 'evicted' }] });
    expect(t.size).toBe(2);
    // The pair of a matched entry frees its slot: no eviction.
    expect(t.offer(reverseOf(b), 'b reply').kind).toBe('matched');
    expect(t.offer(flowFixture({ id: 4, srcPort: 1004 }), 'd')).toEqual({ kind: 'held', released: [] });
  });

  it('expires in arrival order after matches removed entries from the middle', () => {
    const clock = new FakeClock();
    const t = table(clock, { windowMs: 10 });
    const flows = [1, 2, 3, 4].map((i) => flowFixture({ id: i, srcPort: 1000 + i }));
    for (const f of flows) {
      t.offer(f, `h${f.id}`);
      clock.advance(1);
    }
    t.offer(reverseOf(flows[1]!), 'r2');
    t.offer(reverseOf(flows[3]!), 'r4');
    clock.advance(20);
    expect(t.expire().map((r) => r.handle)).toEqual(['h1', 'h3']);
    expect(t.size).toBe(0);
  });

  it('drains everything unmatched at the end of the input', () => {
    const t = table();
    t.offer(inbound, 'in');
    t.offer({ ...inbound, protocol: 17 }, 'udp');
    expect(t.drain().map((r) => [r.handle, r.reason, r.flow.matched])).toEqual([
      ['in', 'drained', false],
      ['udp', 'drained', false],
    ]);
    expect(t.size).toBe(0);
    expect(t.drain()).toEqual([]);
  });

  it('drains only the oldest entries when given a limit', () => {
    const clock = new FakeClock();
    const t = table(clock);
    for (let id = 1; id <= 5; id++) {
      t.offer(flowFixture({ id, srcPort: 20_000 + id }), `h${id}`);
      clock.advance(1);
    }
    expect(t.drain(2).map((r) => r.handle)).toEqual(['h1', 'h2']);
    expect(t.size).toBe(3);
    expect(t.drain(0)).toEqual([]);
    expect(t.drain(10).map((r) => [r.handle, r.reason])).toEqual([
      ['h3', 'drained'],
      ['h4', 'drained'],
      ['h5', 'drained'],
    ]);
    expect(t.size).toBe(0);
  });

  it('rejects a window or size that cannot work', () => {
    expect(() => table(new FakeClock(), { windowMs: 0 })).toThrow(RangeError);
    expect(() => table(new FakeClock(), { maxSize: 0 })).toThrow(RangeError);
  });
});
