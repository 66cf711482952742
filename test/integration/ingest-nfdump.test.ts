import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';
import { conversationKey } from '../../bolts/match/conversation-key.js';
import type { Flow } from '../../bolts/flow.js';
import { useTestBroker } from '../helpers/kafka.js';
import { consumeTopic } from '../helpers/consume-topic.js';
import { echo, tcp, udp, type Step } from '../helpers/exporter-capture.js';
import { captureToNfcapd, killChildren, requireNfdumpTools, start } from '../helpers/nfcapd-capture.js';
import {
  ipPacketBytes,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type PacketSpec,
} from '../helpers/pcap-writer.js';

// The whole chain a user runs: a capture (written here) → softflowd 1.1.0 (NetFlow v9) → nfcapd
// 1.7.1 → `themis-ingest nfdump <file>` (child process) → the real broker. Needs the Debian
// packages nfdump and softflowd, and the broker from `npm run kafka:up`.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const broker = useTestBroker('themis-test-ingest-nfdump');
const BROKERS = broker.brokers;
const FIRST_ID = 5_000_000;
/** 2017-01-10T07:39:17.5Z: the thesis example time (reference §4.2), half a second in. */
const CAPTURE_START_US = 1_484_033_957_500_000;

let workDir: string;

const LOCAL = '192.0.2.10';
const WEB = '198.51.100.7';
const ADMIN = '198.51.100.20';
const SCANNER = '203.0.113.5';
const RESOLVER = '8.8.8.8';
const LOCAL6 = '2001:db8::1';
const WEB6 = '2001:db8:0:1::80';
const RESOLVER6 = '2001:db8::53';

/** Handshakes in both directions, a SYN-only probe, DNS over UDP, ICMP echo; IPv4 and IPv6. */
const STEPS: Step[] = [
  // Outbound HTTPS from the local host, with a TOS mark on its side.
  { ...tcp(LOCAL, 40000, WEB, 443, TCP_SYN), tos: 0x28 },
  tcp(WEB, 443, LOCAL, 40000, TCP_SYN | TCP_ACK),
  { ...tcp(LOCAL, 40000, WEB, 443, TCP_ACK), tos: 0x28 },
  { ...tcp(LOCAL, 40000, WEB, 443, TCP_ACK | TCP_PSH, 120), tos: 0x28 },
  tcp(WEB, 443, LOCAL, 40000, TCP_ACK | TCP_PSH, 1400),
  { ...tcp(LOCAL, 40000, WEB, 443, TCP_ACK | TCP_FIN), tos: 0x28 },
  tcp(WEB, 443, LOCAL, 40000, TCP_ACK | TCP_FIN),
  { ...tcp(LOCAL, 40000, WEB, 443, TCP_ACK), tos: 0x28 },
  // Inbound SSH to the local host, closed with a reset.
  tcp(ADMIN, 51000, LOCAL, 22, TCP_SYN),
  tcp(LOCAL, 22, ADMIN, 51000, TCP_SYN | TCP_ACK),
  tcp(ADMIN, 51000, LOCAL, 22, TCP_ACK),
  tcp(ADMIN, 51000, LOCAL, 22, TCP_ACK | TCP_PSH, 40),
  tcp(LOCAL, 22, ADMIN, 51000, TCP_ACK | TCP_PSH, 300),
  tcp(ADMIN, 51000, LOCAL, 22, TCP_RST | TCP_ACK),
  // A SYN-only probe that nobody answers.
  tcp(SCANNER, 55555, LOCAL, 23, TCP_SYN),
  // DNS over UDP.
  udp(LOCAL, 53000, RESOLVER, 53, 30),
  udp(RESOLVER, 53, LOCAL, 53000, 80),
  // Ping.
  echo(LOCAL, WEB, false),
  echo(WEB, LOCAL, true),
  // IPv6: HTTP with a handshake in the other direction, DNS, ping.
  tcp(LOCAL6, 40001, WEB6, 80, TCP_SYN),
  tcp(WEB6, 80, LOCAL6, 40001, TCP_SYN | TCP_ACK),
  tcp(LOCAL6, 40001, WEB6, 80, TCP_ACK | TCP_PSH, 80),
  tcp(WEB6, 80, LOCAL6, 40001, TCP_ACK | TCP_PSH | TCP_FIN, 500),
  tcp(LOCAL6, 40001, WEB6, 80, TCP_ACK | TCP_FIN),
  udp(LOCAL6, 53001, RESOLVER6, 53, 35),
  udp(RESOLVER6, 53, LOCAL6, 53001, 120),
  echo(LOCAL6, WEB6, false),
  echo(WEB6, LOCAL6, true),
];

const PACKETS: PacketSpec[] = STEPS.map((step, index) => ({ ...step, timeUs: CAPTURE_START_US + index * 2_000 }));

interface ExpectedFlow {
  protocol: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  packets: number;
  bytes: number;
  flags: string;
  tos: number;
}

const FLAG_LETTERS = 'UAPRSF';

/**
 * The unidirectional flows a NetFlow exporter makes of PACKETS: one per (protocol, source,
 * destination) with packets counted, IP-layer bytes summed and TCP flags OR-ed; ICMP type and
 * code in the destination port. softflowd's v9 export loses the ICMPv6 type, so nfdump shows 0
 * for both IPv6 echo flows (test/fixtures/nfdump/README.md).
 */
function expectedFlows(): ExpectedFlow[] {
  const flows = new Map<string, ExpectedFlow & { flagBits: number }>();
  for (const packet of PACKETS) {
    const t = packet.transport;
    const isV6 = packet.src.includes(':');
    const protocol = t.kind === 'tcp' ? 6 : t.kind === 'udp' ? 17 : isV6 ? 58 : 1;
    const srcPort = t.kind === 'icmp-echo' ? 0 : t.srcPort;
    const dstPort = t.kind === 'icmp-echo' ? (isV6 ? 0 : t.isReply ? 0 : 8 * 256) : t.dstPort;
    const id = `${protocol} ${packet.src} ${srcPort} ${packet.dst} ${dstPort}`;
    const flow = flows.get(id) ?? {
      protocol,
      src: packet.src,
      srcPort,
      dst: packet.dst,
      dstPort,
      packets: 0,
      bytes: 0,
      flags: '',
      flagBits: 0,
      // softflowd reports the TOS of the flow's first packet; the capture marks IPv4 only.
      tos: packet.tos ?? 0,
    };
    flow.packets++;
    flow.bytes += ipPacketBytes(packet);
    if (t.kind === 'tcp') flow.flagBits |= t.flags;
    flows.set(id, flow);
  }
  return [...flows.values()].map(({ flagBits, ...flow }) => ({
    ...flow,
    flags: [...FLAG_LETTERS].map((letter, i) => (flagBits & (0x20 >> i) ? letter : '.')).join(''),
  }));
}

function describeFlow(flow: Flow): ExpectedFlow {
  return {
    protocol: flow.protocol,
    src: flow.srcIp.text,
    srcPort: flow.srcPort,
    dst: flow.dstIp.text,
    dstPort: flow.dstPort,
    packets: flow.packetsSent,
    bytes: flow.bytesSent,
    flags: flow.flags ?? '(none)',
    tos: flow.tos,
  };
}

const idOf = (line: string): number => (JSON.parse(line) as { id: number }).id;

const byEndpoints = (a: ExpectedFlow, b: ExpectedFlow): number =>
  `${a.protocol} ${a.src} ${a.srcPort} ${a.dst} ${a.dstPort}`.localeCompare(`${b.protocol} ${b.src} ${b.srcPort} ${b.dst} ${b.dstPort}`);

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'themis-ingest-nfdump-'));
});

// A missing tool fails every test by name (as a missing broker does, in useTestBroker).
beforeEach(() => requireNfdumpTools());

afterAll(async () => {
  killChildren();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('themis-ingest nfdump', () => {
  it("ingests nfdump's own JSON for a capture file made in the test", async () => {
    const { file, records } = await captureToNfcapd(workDir, PACKETS);
    const expected = expectedFlows().sort(byEndpoints);
    expect(records).toBe(expected.length);
    const topic = broker.topic('themis-it-ingest-nfdump');
    await createTopics({ brokers: BROKERS, topics: [topic], partitions: 4, retentionMs: 3_600_000 });

    const run = await start(
      'npx',
      ['tsx', 'bin/themis-ingest.ts', 'nfdump', file, '--topic', topic, '--brokers', BROKERS.join(','), '--first-id', String(FIRST_ID)],
      ROOT,
    ).finished;

    expect(run.code, `themis-ingest failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain(`read: ${records}, sent: ${records}, invalid: 0`);
    expect(run.stdout).toContain(`ids: ${FIRST_ID} to ${FIRST_ID + records - 1}`);

    const messages = await consumeTopic(BROKERS, topic, records);
    expect(messages).toHaveLength(records);
    const flows = messages.map((message) => {
      const parsed = parseFlowLine(message.value, 0);
      if (!parsed.ok) throw new Error(`message ${message.value} does not parse: ${parsed.reason}`);
      return { flow: parsed.flow, message };
    });

    // Every flow of the capture, with its ports, protocol, counters and flags.
    expect(flows.map(({ flow }) => describeFlow(flow)).sort(byEndpoints)).toEqual(expected);
    expect(flows.map(({ flow }) => flow.id).sort((a, b) => a - b)).toEqual(
      Array.from({ length: records }, (_, i) => FIRST_ID + i),
    );
    // Times are the capture's (softflowd -a is accurate to a fraction of a second), in UTC.
    const captureSecs = Math.floor(CAPTURE_START_US / 1e6);
    for (const { flow } of flows) {
      expect(flow.startSecs).toBeGreaterThanOrEqual(captureSecs - 1);
      expect(flow.endSecs).toBeGreaterThanOrEqual(flow.startSecs);
      expect(flow.endSecs).toBeLessThanOrEqual(captureSecs + 2);
    }

    // Each message is keyed by its conversation (UTF-16LE of conversationKey), so the two
    // directions of a TCP or UDP conversation share key and partition.
    for (const { flow, message } of flows) {
      expect(message.key?.toString('utf16le')).toBe(conversationKey(flow).key);
    }
    const conversations = new Map<string, { partition: number; sourceFirst: boolean }[]>();
    for (const { flow, message } of flows) {
      const { key, sourceFirst } = conversationKey(flow);
      conversations.set(key, [...(conversations.get(key) ?? []), { partition: message.partition, sourceFirst }]);
    }
    const twoWay = [...conversations.values()].filter((sides) => sides.length === 2);
    // HTTPS, SSH, DNS, IPv6 HTTP, IPv6 DNS, and the IPv6 ping, whose request and reply both read
    // port 0 after softflowd's v9 export. The IPv4 ping does not pair: request and reply differ in
    // destination port (2048 and 0), which the conversation key includes.
    expect(twoWay).toHaveLength(6);
    expect(conversations.size).toBe(twoWay.length + 3);
    for (const [a, b] of twoWay) {
      expect(a!.partition).toBe(b!.partition);
      expect(a!.sourceFirst).not.toBe(b!.sourceFirst);
    }
    const probe = flows.find(({ flow }) => flow.srcIp.text === SCANNER)!;
    expect(conversations.get(conversationKey(probe.flow).key)).toHaveLength(1);
    expect(probe.flow.flags).toBe('....S.');

    // --output - writes what was sent, line for line, in the file's order (ids ascending), and the
    // summary goes to stderr so that stdout holds only flows.
    const written = await start('npx', ['tsx', 'bin/themis-ingest.ts', 'nfdump', file, '--output', '-', '--first-id', String(FIRST_ID)], ROOT).finished;
    expect(written.code, written.stderr).toBe(0);
    const lines = written.stdout.split('\n').filter((line) => line.length > 0);
    expect(lines).toEqual(messages.map((message) => message.value).sort((a, b) => idOf(a) - idOf(b)));
    expect(written.stderr).toContain(`read: ${records}, written: ${records}, invalid: 0`);
  });

  it('fails with exit 1 and names the file when nfdump cannot read it', async () => {
    const notNfcapd = join(workDir, 'nfcapd.201701100735');
    await writeFile(notNfcapd, 'this is not an nfcapd file\n');
    const topic = broker.topic('themis-it-ingest-nfdump-bad');
    await createTopics({ brokers: BROKERS, topics: [topic], partitions: 1, retentionMs: 3_600_000 });

    const run = await start('npx', ['tsx', 'bin/themis-ingest.ts', 'nfdump', notNfcapd, '--topic', topic], ROOT).finished;

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: ${notNfcapd}: nfdump reported a problem: Short read from file`);
    expect(run.stdout).toContain('read: 0, sent: 0, invalid: 0');
  });

  it('says how to install nfdump when it is missing', async () => {
    const file = join(workDir, 'nfcapd.201701100740');
    await writeFile(file, '');

    const run = await start('npx', ['tsx', 'bin/themis-ingest.ts', 'nfdump', file, '--nfdump', join(workDir, 'no-such-nfdump')], ROOT)
      .finished;

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('nfdump is not installed');
    expect(run.stderr).toContain('apt-get install nfdump');
  });
});
