import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type PacketSpec, type Transport } from './pcap-writer.js';

/**
 * A small capture for the exporter tests (collector-exporters, collector-topology): TCP both ways
 * with handshakes, a SYN-only probe, UDP both ways, ICMP echo, over IPv4 and IPv6, with addresses
 * of the sample universe (data_sources/README.md: 192.0.2.0/24 and 2001:db8:1::/48 are ours), so
 * the topology scores it. Packets are 2 ms apart from 2024-03-12T09:00:00.5Z.
 */

const START_US = 1_710_234_000_500_000;
const LOCAL = '192.0.2.10';
const REMOTE = '203.0.113.130';
const SCANNER = '203.0.113.10';
const RESOLVER = '203.0.113.131';
const LOCAL6 = '2001:db8:1::10';
const REMOTE6 = '2001:db8:5::80';

/** One packet of a capture; its time is given by its place in the list. */
export interface Step {
  src: string;
  dst: string;
  transport: Transport;
  tos?: number;
}

export const tcp = (src: string, srcPort: number, dst: string, dstPort: number, flags: number, payloadBytes = 0): Step => ({
  src,
  dst,
  transport: { kind: 'tcp', srcPort, dstPort, flags, payloadBytes },
});
export const udp = (src: string, srcPort: number, dst: string, dstPort: number, payloadBytes: number): Step => ({ src, dst, transport: { kind: 'udp', srcPort, dstPort, payloadBytes } });
export const echo = (src: string, dst: string, isReply: boolean): Step => ({ src, dst, transport: { kind: 'icmp-echo', isReply, identifier: 7, sequence: 1, payloadBytes: 56 } });

const STEPS: Step[] = [
  // HTTPS to the local web server, from the remote side.
  tcp(REMOTE, 51000, LOCAL, 443, TCP_SYN),
  { ...tcp(LOCAL, 443, REMOTE, 51000, TCP_SYN | TCP_ACK), tos: 0x28 },
  tcp(REMOTE, 51000, LOCAL, 443, TCP_ACK),
  tcp(REMOTE, 51000, LOCAL, 443, TCP_ACK | TCP_PSH, 300),
  { ...tcp(LOCAL, 443, REMOTE, 51000, TCP_ACK | TCP_PSH, 1400), tos: 0x28 },
  tcp(REMOTE, 51000, LOCAL, 443, TCP_ACK | TCP_FIN),
  { ...tcp(LOCAL, 443, REMOTE, 51000, TCP_ACK | TCP_FIN), tos: 0x28 },
  tcp(REMOTE, 51000, LOCAL, 443, TCP_ACK),
  // A SYN-only probe nobody answers, and one answered by a reset.
  tcp(SCANNER, 40001, '192.0.2.99', 3389, TCP_SYN),
  tcp(SCANNER, 40002, LOCAL, 23, TCP_SYN),
  tcp(LOCAL, 23, SCANNER, 40002, TCP_RST | TCP_ACK),
  // DNS over UDP, both ways.
  udp(LOCAL, 53000, RESOLVER, 53, 30),
  udp(RESOLVER, 53, LOCAL, 53000, 90),
  // Ping.
  echo(LOCAL, REMOTE, false),
  echo(REMOTE, LOCAL, true),
  // IPv6: HTTP from the local host, UDP, ping.
  tcp(LOCAL6, 40010, REMOTE6, 80, TCP_SYN),
  tcp(REMOTE6, 80, LOCAL6, 40010, TCP_SYN | TCP_ACK),
  tcp(LOCAL6, 40010, REMOTE6, 80, TCP_ACK | TCP_PSH, 80),
  tcp(REMOTE6, 80, LOCAL6, 40010, TCP_ACK | TCP_PSH | TCP_FIN, 600),
  tcp(LOCAL6, 40010, REMOTE6, 80, TCP_ACK | TCP_FIN),
  udp(LOCAL6, 53001, REMOTE6, 53, 35),
  udp(REMOTE6, 53, LOCAL6, 53001, 120),
  echo(LOCAL6, REMOTE6, false),
  echo(REMOTE6, LOCAL6, true),
];

export const CAPTURE_PACKETS: PacketSpec[] = STEPS.map((step, index) => ({ ...step, timeUs: START_US + index * 2_000 }));

/** `protocol src srcPort dst dstPort` of each unidirectional flow of the capture (ICMP type and code in the destination port). */
function flowKeys(packets: readonly PacketSpec[]): string[] {
  const keys = new Set<string>();
  for (const p of packets) {
    const t = p.transport;
    const isV6 = p.src.includes(':');
    const protocol = t.kind === 'tcp' ? 6 : t.kind === 'udp' ? 17 : isV6 ? 58 : 1;
    const srcPort = t.kind === 'icmp-echo' ? 0 : t.srcPort;
    const dstPort = t.kind === 'icmp-echo' ? (isV6 ? (t.isReply ? 129 : 128) : t.isReply ? 0 : 8) * 256 : t.dstPort;
    keys.add(`${protocol} ${p.src} ${srcPort} ${p.dst} ${dstPort}`);
  }
  return [...keys];
}

export const ALL_FLOWS: readonly string[] = flowKeys(CAPTURE_PACKETS);
export const IPV4_FLOWS: readonly string[] = flowKeys(CAPTURE_PACKETS.filter((p) => !p.src.includes(':')));
