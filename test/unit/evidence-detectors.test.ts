import { describe, expect, it } from 'vitest';
import { contactOf, pairKey, type Contact } from '../../bolts/evidence/contact.js';
import { EventClock } from '../../bolts/evidence/event-clock.js';
import type { EvidenceRule } from '../../bolts/evidence/evidence-rule.js';
import { HeldConversations } from '../../bolts/evidence/held-conversations.js';
import { walkSteps } from '../../bolts/evidence/random-walk.js';
import { SourceBook } from '../../bolts/evidence/source-book.js';
import { parseIp } from '../../bolts/lookup/ip-address.js';
import { defaultConfig } from '../../bolts/themis-config.js';
import { makeFlow } from '../helpers/make-flow.js';

const T0 = 1_710_234_000;
const RULE = defaultConfig().evidence;

function rule(over: Partial<EvidenceRule> = {}): EvidenceRule {
  return { ...RULE, ...over };
}

let nextId = 1;
/** A contact from 203.0.113.66: by default a TCP probe answered by RST. */
function contact(over: Partial<Omit<Contact, 'pair'>> = {}): Contact {
  const c = { flowId: nextId++, source: '203.0.113.66', target: '192.0.2.10', port: 1000, protocol: 6, timeSecs: T0, durationSecs: 0, packets: 2, bytes: 84, isFailed: true, initiatorPackets: 1, ...over };
  return { ...c, pair: pairKey(parseIp(c.target)!, c.protocol, c.port) };
}

/** The alert types raised over the contacts, in order; only those of type `only` when given. */
function raised(book: SourceBook, contacts: readonly Contact[], only?: string): string[] {
  return contacts.flatMap((c) => book.observe(c).map((a) => a.type)).filter((type) => only === undefined || type === only);
}

const ports = (n: number, over: Partial<Omit<Contact, 'pair'>> = {}) => Array.from({ length: n }, (_, i) => contact({ port: 1000 + i, timeSecs: T0 + i, ...over }));
const targets = (n: number, over: Partial<Omit<Contact, 'pair'>> = {}) => Array.from({ length: n }, (_, i) => contact({ target: `192.0.2.${i + 1}`, port: 22, timeSecs: T0 + i, isFailed: false, initiatorPackets: 1, ...over }));
/** Short SSH connections of 22 packets, one a minute. */
const guesses = (n: number, over: Partial<Omit<Contact, 'pair'>> = {}) =>
  Array.from({ length: n }, (_, i) => contact({ target: '192.0.2.20', port: 22, timeSecs: T0 + 60 * i, durationSecs: 3, packets: 22, bytes: 4_500, isFailed: false, initiatorPackets: 12, ...over }));

describe('contactOf', () => {
  it('orients a conversation from its initiator and calls an RST-only answer failed', () => {
    const flow = makeFlow({ srcIp: '192.0.2.10', dstIp: '203.0.113.66', srcPort: 1000, dstPort: 40000, initiator: 'dst', flags: '.A.R..', flagsRecv: '....S.', packetsSent: 1, packetsRecv: 1 });
    expect(contactOf(flow)).toMatchObject({ source: '203.0.113.66', target: '192.0.2.10', port: 1000, isFailed: true, initiatorPackets: 1 });
  });
  it('calls an answered SYN-ACK a success and an unanswered flow a failure', () => {
    expect(contactOf(makeFlow({ flagsRecv: '.A..S.', packetsRecv: 1 })).isFailed).toBe(false);
    expect(contactOf(makeFlow({ packetsRecv: 0 })).isFailed).toBe(true);
  });
});

describe('vertical port scan (Zeek: 15 ports of one target in 5 min)', () => {
  // Failed probes also walk the random walk (below): these count PORT_SCAN alone.
  it('raises nothing at 14 distinct ports', () => expect(raised(new SourceBook(rule()), ports(14), 'PORT_SCAN')).toEqual([]));
  it('raises PORT_SCAN once at the 15th port, listing the ports that raised it', () => {
    const book = new SourceBook(rule());
    const raising = book.observe(contact({ port: 999, timeSecs: T0 - 1 })).concat(ports(14).flatMap((c) => book.observe(c)));
    expect(raising.map((a) => a.type).filter((t) => t === 'PORT_SCAN')).toEqual(['PORT_SCAN']);
    const alert = raising.find((a) => a.type === 'PORT_SCAN')!;
    expect({ attempts: alert.attempts, ports: [...alert.ports].sort((a, b) => a - b) }).toEqual({
      attempts: 15,
      ports: [999, ...Array.from({ length: 14 }, (_, i) => 1000 + i)],
    });
    expect(raised(book, ports(20).slice(15))).toEqual([]);
    const portScan = [...book.activeAlerts('203.0.113.66')].find((a) => a.type === 'PORT_SCAN');
    // first_seen is the first probe of the evidence, not the raising one.
    expect(portScan).toMatchObject({ attempts: 20, firstSeenSecs: T0 - 1, lastSeenSecs: T0 + 19, targets: ['192.0.2.10'] });
  });
  it('caps the ports an alert lists at maxListed', () => {
    const book = new SourceBook(rule({ maxListed: 5, portScan: { ...RULE.portScan, minPorts: 8 } }));
    raised(book, ports(12));
    const alert = [...book.activeAlerts('203.0.113.66')].find((a) => a.type === 'PORT_SCAN')!;
    expect({ attempts: alert.attempts, ports: alert.ports }).toEqual({ attempts: 12, ports: [1000, 1001, 1002, 1003, 1004] });
  });
  it('does not count the same port twice, nor answered connections that are no probe', () => {
    expect(raised(new SourceBook(rule()), [...ports(14), contact({ port: 1000, timeSecs: T0 + 20 })], 'PORT_SCAN')).toEqual([]);
    expect(raised(new SourceBook(rule()), ports(20, { isFailed: false, initiatorPackets: 8 }))).toEqual([]);
  });
  it('forgets ports older than the window', () => {
    // 14 ports, then one more each 400 s later, past the 300 s window and the 180 s lateness.
    const book = new SourceBook(rule());
    const late = Array.from({ length: 5 }, (_, i) => contact({ port: 2000 + i, timeSecs: T0 + 1_000 + 100 * i }));
    expect(raised(book, [...ports(14), ...late], 'PORT_SCAN')).toEqual([]);
  });
});

describe('horizontal address scan (Zeek: 25 targets on one port in 5 min)', () => {
  it('raises nothing at 24 targets', () => expect(raised(new SourceBook(rule()), targets(24))).toEqual([]));
  it('raises ADDRESS_SCAN at the 25th target, and again at 26 nothing new', () => {
    expect(raised(new SourceBook(rule()), targets(25))).toEqual(['ADDRESS_SCAN']);
    expect(raised(new SourceBook(rule()), targets(26))).toEqual(['ADDRESS_SCAN']);
  });
  it('lists the targets that raised the alert (up to maxListed), not only the 25th', () => {
    const book = new SourceBook(rule());
    const [alert] = targets(25).flatMap((c) => book.observe(c));
    expect(alert!.targets).toEqual(Array.from({ length: RULE.maxListed }, (_, i) => `192.0.2.${i + 1}`));
  });
  it('does not count unanswered-free UDP (a resolver asking many servers)', () => {
    expect(raised(new SourceBook(rule()), targets(30, { protocol: 17, port: 53, isFailed: false, initiatorPackets: 1 }))).toEqual([]);
  });
});

describe('threshold random walk (Jung et al. 2004)', () => {
  it('steps ln 4 a failure and declares a scanner past ln 99 with the paper parameters', () => {
    const s = walkSteps(RULE.randomWalk);
    expect(s.onFailure).toBeCloseTo(Math.log(4));
    expect(s.onSuccess).toBeCloseTo(-Math.log(4));
    expect(s.upper).toBeCloseTo(Math.log(99));
    expect(s.lower).toBeCloseTo(Math.log(0.01 / 0.99));
  });
  // Each failed first contact to a new target, far apart in time: no windowed detector sees it.
  const slow = (n: number, isFailed = true) => Array.from({ length: n }, (_, i) => contact({ target: `198.18.0.${i + 1}`, port: 445 + i, timeSecs: T0 + 600 * i, isFailed, initiatorPackets: 1 }));
  it('is not yet sure after 3 failed first contacts', () => expect(raised(new SourceBook(rule()), slow(3))).toEqual([]));
  it('raises RANDOM_WALK_SCAN at the 4th, 10 minutes apart, dated from the first', () => {
    const book = new SourceBook(rule());
    const alerts = slow(4).flatMap((c) => book.observe(c));
    expect(alerts.map((a) => ({ type: a.type, attempts: a.attempts, firstSeenSecs: a.firstSeenSecs, lastSeenSecs: a.lastSeenSecs }))).toEqual([
      { type: 'RANDOM_WALK_SCAN', attempts: 4, firstSeenSecs: T0, lastSeenSecs: T0 + 1_800 },
    ]);
  });
  it('takes a new service on a known target as a first contact: a slow vertical scan', () => {
    const vertical = Array.from({ length: 4 }, (_, i) => contact({ target: '198.18.0.1', port: 20 + i, timeSecs: T0 + 600 * i, initiatorPackets: 1 }));
    expect(raised(new SourceBook(rule()), vertical.slice(0, 3))).toEqual([]);
    expect(raised(new SourceBook(rule()), vertical)).toEqual(['RANDOM_WALK_SCAN']);
  });
  it('is not moved by contacting the same service again, and a success takes a failure back', () => {
    const again = [...slow(3), contact({ target: '198.18.0.1', port: 445, timeSecs: T0 + 1_900 })];
    expect(raised(new SourceBook(rule()), again)).toEqual([]);
    const mixed = [...slow(3), contact({ target: '198.18.1.1', timeSecs: T0 + 1_900, isFailed: false, initiatorPackets: 6 }), contact({ target: '198.18.1.2', timeSecs: T0 + 2_000 })];
    expect(raised(new SourceBook(rule()), mixed)).toEqual([]);
  });
});

describe('password guessing (Zeek SSH: 30 in 30 min; SSHCure: similar packets per flow)', () => {
  it('raises nothing at 29 similar short connections', () => expect(raised(new SourceBook(rule()), guesses(29))).toEqual([]));
  it('raises PASSWORD_GUESSING at the 30th and keeps counting', () => {
    const book = new SourceBook(rule());
    const all = guesses(31);
    expect(raised(book, all)).toEqual(['PASSWORD_GUESSING']);
    const [alert] = [...book.activeAlerts('203.0.113.66')];
    expect(alert).toMatchObject({ attempts: 31, firstSeenSecs: T0, lastSeenSecs: T0 + 60 * 30, targets: ['192.0.2.20'], ports: [22] });
    // The guesses that raised it, then the next: the first maxListed of the 31.
    expect([...alert!.flowIds].sort((a, b) => a - b)).toEqual(all.slice(0, RULE.maxListed).map((c) => c.flowId));
  });
  it('does not count connections of varied sizes, long ones, or ports that are no login service', () => {
    const varied = guesses(40).map((c, i) => ({ ...c, packets: 10 + 5 * i }));
    expect(raised(new SourceBook(rule()), varied.filter((c) => c.packets <= 60))).toEqual([]);
    expect(raised(new SourceBook(rule()), guesses(40, { packets: 61 }))).toEqual([]);
    expect(raised(new SourceBook(rule()), guesses(40, { port: 5432 }))).toEqual([]);
  });
  it('counts only the attempts within 30 minutes', () => {
    const spread = guesses(40).map((c, i) => ({ ...c, timeSecs: T0 + 120 * i }));
    expect(raised(new SourceBook(rule({ allowedLatenessSecs: 0 })), spread)).toEqual([]);
  });
  it('raises POSSIBLE_COMPROMISE when a guessing source then holds a much larger connection', () => {
    const book = new SourceBook(rule());
    raised(book, guesses(30));
    expect(raised(book, [contact({ target: '192.0.2.20', port: 22, timeSecs: T0 + 1_900, packets: 65, bytes: 13_000, durationSecs: 5, isFailed: false, initiatorPackets: 30 })])).toEqual([]);
    expect(raised(book, [contact({ target: '192.0.2.20', port: 22, timeSecs: T0 + 1_950, packets: 900, bytes: 90_000, durationSecs: 600, isFailed: false, initiatorPackets: 400 })])).toEqual(['POSSIBLE_COMPROMISE']);
  });
});

describe('event time: watermark, lateness, expiry', () => {
  it('keeps the watermark at the slowest channel less the lateness, and none until every channel has spoken', () => {
    const clock = new EventClock(60, 2);
    expect(clock.observe(1_000, 1)).toBe(true);
    expect(clock.watermarkSecs).toBe(Number.NEGATIVE_INFINITY);
    clock.observe(500, 2);
    expect(clock.watermarkSecs).toBe(440);
    expect(clock.observe(439, 1)).toBe(false);
    expect(clock.observe(440, 2)).toBe(true);
  });
  it('counts a contact within the lateness and refuses one before the watermark', () => {
    const book = new SourceBook(rule({ allowedLatenessSecs: 60 }));
    book.observe(contact({ timeSecs: T0 + 1_000 }));
    book.observe(contact({ timeSecs: T0 + 940 }));
    expect(book.counters.lateContacts).toBe(0);
    book.observe(contact({ timeSecs: T0 + 939 }));
    expect(book.counters.lateContacts).toBe(1);
  });
  it('closes an alert once the watermark is a window past its last contact', () => {
    const book = new SourceBook(rule({ allowedLatenessSecs: 0 }));
    raised(book, ports(15, { isFailed: false }));
    book.observe(contact({ source: '198.51.100.1', timeSecs: T0 + 14 + 300 }));
    book.sweep();
    expect(book.takeClosed()).toEqual([]);
    book.observe(contact({ source: '198.51.100.1', timeSecs: T0 + 15 + 300 }));
    book.sweep();
    expect(book.takeClosed().map((a) => a.type)).toEqual(['PORT_SCAN']);
    expect([...book.activeAlerts('203.0.113.66')]).toEqual([]);
  });
  it('sweeps in slices that together pass every source once, forgetting the idle ones', () => {
    const book = new SourceBook(rule({ allowedLatenessSecs: 0 }));
    for (let i = 0; i < 10; i++) book.observe(contact({ source: `198.51.100.${i + 1}`, timeSecs: T0 }));
    raised(book, ports(15, { isFailed: false, timeSecs: T0 }));
    // One contact a window later moves the watermark past all the rest.
    book.observe(contact({ source: '203.0.113.200', timeSecs: T0 + 100_000 }));
    expect(book.size).toBe(12);
    const slices: boolean[] = [];
    do slices.push(book.sweepSome(5));
    while (!slices.at(-1));
    expect(slices).toEqual([false, false, true]);
    expect(book.size).toBe(1);
    expect(book.takeClosed().map((a) => a.type)).toEqual(['PORT_SCAN']);
    // The next call begins a new pass.
    expect(book.sweepSome(5)).toBe(true);
    expect(book.size).toBe(1);
  });
  it('lists an alert changed since the last takeDirty once, and a closed one not at all', () => {
    const book = new SourceBook(rule({ allowedLatenessSecs: 0 }));
    raised(book, ports(15, { isFailed: false }));
    expect(book.takeDirty().map((a) => [a.type, a.attempts])).toEqual([['PORT_SCAN', 15]]);
    expect(book.takeDirty()).toEqual([]);
    raised(book, ports(3, { isFailed: false, port: 2000, timeSecs: T0 + 20 }));
    book.observe(contact({ port: 3000, isFailed: false, timeSecs: T0 + 21 }));
    expect(book.takeDirty().map((a) => a.type)).toEqual(['PORT_SCAN']);
    book.observe(contact({ port: 3001, isFailed: false, timeSecs: T0 + 22 }));
    book.observe(contact({ source: '198.51.100.1', timeSecs: T0 + 1_000 }));
    book.sweep();
    expect(book.takeClosed().map((a) => a.type)).toEqual(['PORT_SCAN']);
    expect(book.takeDirty()).toEqual([]);
  });
  it('gives the same alerts whatever order the contacts of two channels interleave in', () => {
    const a = ports(20, { isFailed: false }).map((c) => ({ ...c, channel: 1 }));
    const b = guesses(32, { source: '198.51.100.9' }).map((c) => ({ ...c, channel: 2 }));
    const run = (order: typeof a) => {
      const book = new SourceBook(rule(), 2);
      return order.flatMap((c) => book.observe(c, c.channel).map((x) => x.id)).sort();
    };
    expect(run([...b, ...a])).toEqual(run([...a, ...b]));
    expect(run([...a, ...b])).toEqual([`PASSWORD_GUESSING:198.51.100.9:${T0 + 60 * 29}`, `PORT_SCAN:203.0.113.66:${T0 + 14}`]);
  });
});

describe('memory bounds', () => {
  it('refuses entries past maxEntriesPerSource and counts them', () => {
    const book = new SourceBook(rule({ maxEntriesPerSource: 10 }));
    raised(book, ports(14));
    expect(book.counters.entriesRefused).toBeGreaterThan(0);
  });
  it('forgets the least recently seen source past maxSources, writing its open alerts closed', () => {
    const book = new SourceBook(rule({ maxSources: 2 }));
    raised(book, ports(15, { isFailed: false }));
    book.observe(contact({ source: '198.51.100.1', timeSecs: T0 + 20 }));
    book.observe(contact({ source: '198.51.100.2', timeSecs: T0 + 21 }));
    expect(book.size).toBe(2);
    expect(book.counters.sourcesEvicted).toBe(1);
    expect(book.takeClosed().map((a) => a.source)).toEqual(['203.0.113.66']);
  });
  it('forgets the least recently seen sources when the task has spent maxEntries, and gives their entries back', () => {
    const book = new SourceBook(rule({ maxEntries: 60 }));
    // Ten sources of two probes each fill the task's entries: a probe takes a port, a target and a first contact.
    for (let i = 0; i < 10; i++) raised(book, ports(2, { source: `198.51.100.${i + 1}`, timeSecs: T0 + i }));
    expect([book.entriesUsed, book.size, book.counters.sourcesEvicted]).toEqual([60, 10, 0]);
    book.observe(contact({ source: '203.0.113.99', timeSecs: T0 + 20 }));
    // Forgotten until a tenth was free (the first source, 6 entries), then the newcomer's 3 taken.
    expect([book.counters.sourcesEvicted, book.entriesUsed, book.size, book.counters.entriesRefused]).toEqual([1, 57, 10, 0]);
  });
  it('releases the oldest held conversation early when the table is full', () => {
    const held = new HeldConversations<string>({ holdSecs: 300, maxHoldMs: 60_000, maxHeld: 2, now: () => 0 });
    held.hold('a', 's', T0);
    held.hold('b', 's', T0);
    expect(held.hold('c', 's', T0).map((h) => h.handle)).toEqual(['a']);
    expect(held.overflowed).toBe(1);
  });
  it('releases a held conversation at its event-time hold, or after maxHoldMs by the clock', () => {
    let now = 0;
    const held = new HeldConversations<string>({ holdSecs: 300, maxHoldMs: 60_000, maxHeld: 10, now: () => now });
    held.hold('a', 's', T0);
    held.hold('b', 's', T0 + 100);
    expect(held.due(T0 + 299)).toEqual([]);
    expect(held.due(T0 + 300).map((h) => h.handle)).toEqual(['a']);
    now = 60_000;
    expect(held.due(T0).map((h) => h.handle)).toEqual(['b']);
  });
});

describe('held conversations released by source', () => {
  it('releases a source at once, in arrival order, and the rest keep their place and their bounds', () => {
    let now = 0;
    const held = new HeldConversations<string>({ holdSecs: 300, maxHoldMs: 60_000, maxHeld: 3, now: () => now });
    held.hold('a1', 'a', T0);
    held.hold('b1', 'b', T0 + 1);
    held.hold('a2', 'a', T0 + 2);
    expect(held.releaseSource('a').map((h) => h.handle)).toEqual(['a1', 'a2']);
    expect(held.releaseSource('a')).toEqual([]);
    expect(held.size).toBe(1);
    // Two places free again: no overflow until a fourth is held.
    expect(held.hold('c1', 'c', T0 + 3)).toEqual([]);
    expect(held.hold('c2', 'c', T0 + 4)).toEqual([]);
    expect(held.hold('c3', 'c', T0 + 5).map((h) => h.handle)).toEqual(['b1']);
    expect(held.due(T0 + 303).map((h) => h.handle)).toEqual(['c1']);
    now = 60_000;
    expect(held.drain(10).map((h) => h.handle)).toEqual(['c2', 'c3']);
    expect(held.size).toBe(0);
  });
});
