import { u16, u32 } from './byte-reads.js';
import type { DatagramScope } from './data-sets.js';
import { FLAGS_TEXT, NO_FLAGS, icmpDstPort, isIcmp } from './flow-record.js';
import { ipv4Text } from './ip-text.js';
import { intoUptimeWindow } from './uptime-window.js';

/**
 * NetFlow v5 (Cisco's fixed format): a 24-octet header, then `count` records of 48 octets.
 *
 *   header: version(2) count(2) sysUptime(4, ms) unix_secs(4) unix_nsecs(4) flow_sequence(4)
 *           engine_type(1) engine_id(1) sampling_interval(2: mode in the top 2 bits, interval below)
 *   record: srcaddr(4) dstaddr(4) nexthop(4) input(2) output(2) dPkts(4) dOctets(4) First(4)
 *           Last(4) srcport(2) dstport(2) pad(1) tcp_flags(1) prot(1) tos(1) src_as(2) dst_as(2)
 *           src_mask(1) dst_mask(1) pad(2)
 *
 * First and Last are sysUptime at the flow's first and last packet: the flow started at
 * unix_secs + unix_nsecs + (First - sysUptime) ms, brought into the window before the export
 * (uptime-window.ts) so that an uptime wrap between the two still gives a time before it. Sequence
 * numbers and the sampling interval are kept per engine (type and id).
 */
const V5_HEADER_LENGTH = 24;
const V5_RECORD_LENGTH = 48;

/** Decodes one v5 datagram; returns the reason when it is malformed (nothing of it is kept then). */
export function decodeV5(b: Uint8Array, scope: DatagramScope): string | undefined {
  if (b.length < V5_HEADER_LENGTH) return `NetFlow v5 header needs ${V5_HEADER_LENGTH} octets, got ${b.length}`;
  const count = u16(b, 2);
  const needed = V5_HEADER_LENGTH + count * V5_RECORD_LENGTH;
  if (b.length < needed) return `NetFlow v5 header says ${count} records (${needed} octets), datagram has ${b.length}`;
  const sysUptime = u32(b, 4);
  const baseMs = u32(b, 8) * 1000 + Math.floor(Math.min(u32(b, 12), 999_999_999) / 1_000_000);
  const exporter = scope.exporter;
  const domain = exporter.domain((b[20]! << 8) | b[21]!);
  exporter.checkSequence(domain, u32(b, 16), count);
  const interval = u16(b, 22) & 0x3fff;
  domain.samplingInterval = interval > 1 ? interval : 1;
  const scale = scope.isScaled ? domain.samplingInterval : 1;
  const out = scope.out;
  for (let i = 0, p = V5_HEADER_LENGTH; i < count; i++, p += V5_RECORD_LENGTH) {
    const protocol = b[p + 38]!;
    const icmp = isIcmp(protocol);
    const srcPort = u16(b, p + 32);
    const dstPort = u16(b, p + 34);
    out.push({
      start_timestamp_unix_secs: Math.floor(intoUptimeWindow(baseMs + u32(b, p + 24) - sysUptime, baseMs) / 1000),
      end_timestamp_unix_secs: Math.floor(intoUptimeWindow(baseMs + u32(b, p + 28) - sysUptime, baseMs) / 1000),
      protocol,
      src_ip: ipv4Text(b, p),
      dst_ip: ipv4Text(b, p + 4),
      src_port: icmp ? 0 : srcPort,
      dst_port: icmp ? icmpDstPort(-1, dstPort, srcPort) : dstPort,
      packets: u32(b, p + 16) * scale,
      bytes: u32(b, p + 20) * scale,
      flags: icmp ? NO_FLAGS : FLAGS_TEXT[b[p + 37]! & 0x3f]!,
      tos: b[p + 39]!,
    });
  }
  exporter.flows += count;
  return undefined;
}
