import { parseIp, type IpAddress } from '../../bolts/lookup/ip-address.js';

/**
 * Builds classic libpcap files (not pcapng) of Ethernet frames, so a test can feed a capture it
 * wrote itself to softflowd. Headers are written by hand with valid IPv4, TCP, UDP and ICMP
 * checksums; payloads are zero bytes of the requested length.
 *
 * File layout (all little-endian, magic 0xa1b2c3d4 = microsecond timestamps):
 *   global header  magic u32, version 2.4 (u16, u16), thiszone i32, sigfigs u32, snaplen u32,
 *                  linktype u32 (1 = Ethernet)
 *   per packet     ts_sec u32, ts_usec u32, captured length u32, original length u32, frame
 */

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERNET_HEADER_BYTES = 14;
const IPV4_HEADER_BYTES = 20;
const IPV6_HEADER_BYTES = 40;
const TCP_HEADER_BYTES = 20;
const UDP_HEADER_BYTES = 8;
const ICMP_ECHO_HEADER_BYTES = 8;
const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;

export type Transport =
  | { kind: 'tcp'; srcPort: number; dstPort: number; flags: number; seq?: number; ack?: number; payloadBytes?: number }
  | { kind: 'udp'; srcPort: number; dstPort: number; payloadBytes?: number }
  /** Echo request or reply; ICMP for IPv4 (types 8/0), ICMPv6 for IPv6 (types 128/129). */
  | { kind: 'icmp-echo'; isReply: boolean; identifier: number; sequence: number; payloadBytes?: number };

export interface PacketSpec {
  /** Capture time, microseconds since the Unix epoch. */
  timeUs: number;
  src: string;
  dst: string;
  tos?: number;
  transport: Transport;
}

/** The whole pcap file for the packets, in the order given. */
export function buildPcap(packets: readonly PacketSpec[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeInt32LE(0, 8);
  header.writeUInt32LE(0, 12);
  header.writeUInt32LE(65_535, 16);
  header.writeUInt32LE(1, 20);
  const parts: Buffer[] = [header];
  for (const packet of packets) {
    const frame = ethernetFrame(packet);
    const record = Buffer.alloc(16);
    record.writeUInt32LE(Math.floor(packet.timeUs / 1_000_000), 0);
    record.writeUInt32LE(packet.timeUs % 1_000_000, 4);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    parts.push(record, frame);
  }
  return Buffer.concat(parts);
}

/** Length of the IP packet (IP header and everything after it): what NetFlow counts as bytes. */
export function ipPacketBytes(packet: PacketSpec): number {
  return ethernetFrame(packet).length - ETHERNET_HEADER_BYTES;
}

function address(text: string): IpAddress {
  const ip = parseIp(text);
  if (ip === null) throw new Error(`pcap-writer: ${JSON.stringify(text)} is not an IP address`);
  return ip;
}

function addressBytes(ip: IpAddress): Buffer {
  if (ip.version === 6) return Buffer.from(ip.bytes);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(ip.v4, 0);
  return out;
}

function ethernetFrame(packet: PacketSpec): Buffer {
  const src = address(packet.src);
  const dst = address(packet.dst);
  if (src.version !== dst.version) throw new Error(`pcap-writer: ${packet.src} and ${packet.dst} differ in IP version`);
  const isV6 = src.version === 6;
  const { protocol, segment } = transportSegment(packet.transport, addressBytes(src), addressBytes(dst), isV6);
  const ipPacket = isV6
    ? ipv6Packet(addressBytes(src), addressBytes(dst), protocol, packet.tos ?? 0, segment)
    : ipv4Packet(addressBytes(src), addressBytes(dst), protocol, packet.tos ?? 0, segment);
  const ethernet = Buffer.alloc(ETHERNET_HEADER_BYTES);
  // Locally administered unicast MACs; softflowd ignores them at its default tracking level.
  Buffer.from([0x02, 0, 0, 0, 0, 0x02]).copy(ethernet, 0);
  Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(ethernet, 6);
  ethernet.writeUInt16BE(isV6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, 12);
  return Buffer.concat([ethernet, ipPacket]);
}

let nextIpv4Identification = 1;

function ipv4Packet(src: Buffer, dst: Buffer, protocol: number, tos: number, segment: Buffer): Buffer {
  const header = Buffer.alloc(IPV4_HEADER_BYTES);
  header.writeUInt8(0x45, 0); // version 4, 5 words of header
  header.writeUInt8(tos, 1);
  header.writeUInt16BE(IPV4_HEADER_BYTES + segment.length, 2);
  header.writeUInt16BE(nextIpv4Identification++ & 0xffff, 4);
  header.writeUInt16BE(0x4000, 6); // don't fragment, offset 0
  header.writeUInt8(64, 8);
  header.writeUInt8(protocol, 9);
  src.copy(header, 12);
  dst.copy(header, 16);
  header.writeUInt16BE(internetChecksum(header), 10);
  return Buffer.concat([header, segment]);
}

function ipv6Packet(src: Buffer, dst: Buffer, nextHeader: number, trafficClass: number, segment: Buffer): Buffer {
  const header = Buffer.alloc(IPV6_HEADER_BYTES);
  header.writeUInt32BE(((6 << 28) | (trafficClass << 20)) >>> 0, 0);
  header.writeUInt16BE(segment.length, 4);
  header.writeUInt8(nextHeader, 6);
  header.writeUInt8(64, 7);
  src.copy(header, 8);
  dst.copy(header, 24);
  return Buffer.concat([header, segment]);
}

function transportSegment(
  transport: Transport,
  src: Buffer,
  dst: Buffer,
  isV6: boolean,
): { protocol: number; segment: Buffer } {
  switch (transport.kind) {
    case 'tcp': {
      const segment = Buffer.alloc(TCP_HEADER_BYTES + (transport.payloadBytes ?? 0));
      segment.writeUInt16BE(transport.srcPort, 0);
      segment.writeUInt16BE(transport.dstPort, 2);
      segment.writeUInt32BE((transport.seq ?? 0) >>> 0, 4);
      segment.writeUInt32BE((transport.ack ?? 0) >>> 0, 8);
      segment.writeUInt8((TCP_HEADER_BYTES / 4) << 4, 12);
      segment.writeUInt8(transport.flags, 13);
      segment.writeUInt16BE(65_535, 14);
      segment.writeUInt16BE(internetChecksum(pseudoHeader(src, dst, PROTO_TCP, segment.length, isV6), segment), 16);
      return { protocol: PROTO_TCP, segment };
    }
    case 'udp': {
      const segment = Buffer.alloc(UDP_HEADER_BYTES + (transport.payloadBytes ?? 0));
      segment.writeUInt16BE(transport.srcPort, 0);
      segment.writeUInt16BE(transport.dstPort, 2);
      segment.writeUInt16BE(segment.length, 4);
      // A computed UDP checksum of 0 is sent as 0xffff (0 means "none" over IPv4).
      const sum = internetChecksum(pseudoHeader(src, dst, PROTO_UDP, segment.length, isV6), segment);
      segment.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
      return { protocol: PROTO_UDP, segment };
    }
    case 'icmp-echo': {
      const protocol = isV6 ? PROTO_ICMPV6 : PROTO_ICMP;
      const segment = Buffer.alloc(ICMP_ECHO_HEADER_BYTES + (transport.payloadBytes ?? 0));
      const type = isV6 ? (transport.isReply ? 129 : 128) : transport.isReply ? 0 : 8;
      segment.writeUInt8(type, 0);
      segment.writeUInt8(0, 1);
      segment.writeUInt16BE(transport.identifier, 4);
      segment.writeUInt16BE(transport.sequence, 6);
      // ICMPv6 covers a pseudo-header like TCP/UDP; ICMPv4 covers the message alone.
      const sum = isV6
        ? internetChecksum(pseudoHeader(src, dst, PROTO_ICMPV6, segment.length, true), segment)
        : internetChecksum(segment);
      segment.writeUInt16BE(sum, 2);
      return { protocol, segment };
    }
  }
}

function pseudoHeader(src: Buffer, dst: Buffer, protocol: number, length: number, isV6: boolean): Buffer {
  if (isV6) {
    const header = Buffer.alloc(40);
    src.copy(header, 0);
    dst.copy(header, 16);
    header.writeUInt32BE(length, 32);
    header.writeUInt8(protocol, 39);
    return header;
  }
  const header = Buffer.alloc(12);
  src.copy(header, 0);
  dst.copy(header, 4);
  header.writeUInt8(protocol, 9);
  header.writeUInt16BE(length, 10);
  return header;
}

/** RFC 1071 ones'-complement sum over the buffers taken as one byte string. */
function internetChecksum(...buffers: Buffer[]): number {
  const data = Buffer.concat(buffers);
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += data.readUInt16BE(i);
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
