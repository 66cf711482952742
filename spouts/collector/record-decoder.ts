import { TWO_32, fieldSize, readUint, u32 } from './byte-reads.js';
import * as F from './field-map.js';
import { FLAGS_TEXT, NO_FLAGS, icmpDstPort, isIcmp, type DecodedFlow } from './flow-record.js';
import { ipv4Text, ipv6Text } from './ip-text.js';
import type { DomainState } from './exporter-stats.js';
import type { Template } from './templates.js';
import { intoUptimeWindow } from './uptime-window.js';

/**
 * Runs a compiled template over the records of one data set (v9 and IPFIX alike).
 *
 * Times, to epoch milliseconds, then truncated to seconds:
 * - absolute elements (flowStart/End Seconds, Milliseconds, Micro- and Nanoseconds) as they are;
 * - flowStart/EndDeltaMicroseconds back from the export time;
 * - flowStart/EndSysUpTime: NetFlow v9 subtracts the header's sysUptime from them and adds the
 *   header's unix_secs; IPFIX adds systemInitTimeMilliseconds, from the record or the domain's
 *   options data; both then brought into the window before the export (uptime-window.ts);
 * - nothing (or IPFIX uptimes without an init time): the export time.
 * An absolute time wins over a relative one, and milliseconds or finer over seconds.
 */

export interface RecordContext {
  exportSecs: number;
  /** NetFlow v9 header sysUptime in ms; -1 for IPFIX. */
  sysUptimeMs: number;
  domain: DomainState;
  isScaled: boolean;
  /** Records read that were not flows (no address pair); the caller adds them to its stats. */
  skippedRecords: number;
}

/** Seconds between the NTP epoch (1900) and the Unix epoch. */
const NTP_TO_UNIX_SECS = 2_208_988_800;

/** An NTP timestamp (RFC 7011 §6.1.9-10) as epoch ms; seconds below the Unix epoch are NTP era 1 (2036 on). */
function ntpMs(b: Uint8Array, p: number): number {
  const ntpSecs = u32(b, p);
  const secs = ntpSecs >= NTP_TO_UNIX_SECS ? ntpSecs - NTP_TO_UNIX_SECS : ntpSecs + TWO_32 - NTP_TO_UNIX_SECS;
  return secs * 1000 + Math.floor(u32(b, p + 4) / 4_294_967.296);
}

function pickMs(absoluteMs: number, deltaUs: number, uptimeMs: number, ctx: RecordContext, systemInitMs: number): number {
  if (absoluteMs >= 0) return absoluteMs;
  if (deltaUs >= 0) return ctx.exportSecs * 1000 - deltaUs / 1000; // fractional ms: truncation to seconds comes after
  if (uptimeMs >= 0) {
    const exportMs = ctx.exportSecs * 1000;
    if (ctx.sysUptimeMs >= 0) return intoUptimeWindow(exportMs + uptimeMs - ctx.sysUptimeMs, exportMs);
    const initMs = systemInitMs >= 0 ? systemInitMs : ctx.domain.systemInitMs;
    if (initMs >= 0) return intoUptimeWindow(initMs + uptimeMs, exportMs);
  }
  return ctx.exportSecs * 1000;
}

/**
 * Appends the flows of the records in b[start, end) to `out`; returns how many records were read,
 * or -1 when a record runs past the set (the caller drops the set's flows). Trailing octets
 * fewer than a record are padding.
 */
export function decodeFlowRecords(b: Uint8Array, start: number, end: number, t: Template, ctx: RecordContext, out: DecodedFlow[]): number {
  const plan = t.plan;
  const n = plan.length;
  const minLength = t.minRecordLength;
  if (minLength === 0) return 0; // compileTemplate never makes one; a guard against looping forever
  let p = start;
  let records = 0;
  let skipped = 0;
  while (end - p >= minLength) {
    let bytes = -1;
    let packets = -1;
    let bytesTotal = -1;
    let packetsTotal = -1;
    let protocol = 0;
    let tos = 0;
    let flags = -1;
    let srcPort = 0;
    let dstPort = 0;
    let src4 = -1;
    let dst4 = -1;
    let src6 = -1;
    let dst6 = -1;
    let typeCode = -1;
    let icmpType = -1;
    let icmpCode = 0;
    let startAbs = -1;
    let endAbs = -1;
    let startDelta = -1;
    let endDelta = -1;
    let startUp = -1;
    let endUp = -1;
    let systemInit = -1;
    let revBytes = -1;
    let revPackets = -1;
    let revBytesTotal = -1;
    let revPacketsTotal = -1;
    let revFlags = -1;
    let sampling = -1;
    for (let i = 0; i < n; i += 2) {
      const size = fieldSize(b, p, end, plan[i + 1]!);
      if (size < 0) return -1;
      const length = size >>> 2;
      p += size & 3;
      switch (plan[i]) {
        case F.H_SKIP:
          break;
        case F.H_BYTES:
          bytes = readUint(b, p, length);
          break;
        case F.H_PACKETS:
          packets = readUint(b, p, length);
          break;
        case F.H_PROTOCOL:
          protocol = b[p]!;
          break;
        case F.H_TOS:
          tos = b[p]!;
          break;
        case F.H_FLAGS:
          flags = b[p + length - 1]! & 0x3f;
          break;
        case F.H_SRC_PORT:
          srcPort = readUint(b, p, length);
          break;
        case F.H_DST_PORT:
          dstPort = readUint(b, p, length);
          break;
        case F.H_SRC_V4:
          src4 = p;
          break;
        case F.H_DST_V4:
          dst4 = p;
          break;
        case F.H_SRC_V6:
          src6 = p;
          break;
        case F.H_DST_V6:
          dst6 = p;
          break;
        case F.H_START_UPTIME:
          startUp = readUint(b, p, length);
          break;
        case F.H_END_UPTIME:
          endUp = readUint(b, p, length);
          break;
        case F.H_ICMP_TYPE_CODE:
          typeCode = readUint(b, p, length);
          break;
        case F.H_ICMP_TYPE:
          icmpType = b[p]!;
          break;
        case F.H_ICMP_CODE:
          icmpCode = b[p]!;
          break;
        case F.H_BYTES_TOTAL:
          bytesTotal = readUint(b, p, length);
          break;
        case F.H_PACKETS_TOTAL:
          packetsTotal = readUint(b, p, length);
          break;
        case F.H_START_SECS:
          if (startAbs < 0) startAbs = readUint(b, p, 4) * 1000;
          break;
        case F.H_END_SECS:
          if (endAbs < 0) endAbs = readUint(b, p, 4) * 1000;
          break;
        case F.H_START_MS:
          startAbs = readUint(b, p, 8);
          break;
        case F.H_END_MS:
          endAbs = readUint(b, p, 8);
          break;
        case F.H_START_NTP:
          startAbs = ntpMs(b, p);
          break;
        case F.H_END_NTP:
          endAbs = ntpMs(b, p);
          break;
        case F.H_START_DELTA_US:
          startDelta = readUint(b, p, length);
          break;
        case F.H_END_DELTA_US:
          endDelta = readUint(b, p, length);
          break;
        case F.H_SYSTEM_INIT_MS:
          systemInit = readUint(b, p, 8);
          break;
        case F.H_REV_BYTES:
          revBytes = readUint(b, p, length);
          break;
        case F.H_REV_PACKETS:
          revPackets = readUint(b, p, length);
          break;
        case F.H_REV_FLAGS:
          revFlags = b[p + length - 1]! & 0x3f;
          break;
        case F.H_REV_BYTES_TOTAL:
          revBytesTotal = readUint(b, p, length);
          break;
        case F.H_REV_PACKETS_TOTAL:
          revPacketsTotal = readUint(b, p, length);
          break;
        case F.H_SAMPLING_INTERVAL:
          sampling = readUint(b, p, length);
          break;
        default:
          // Sampling elements of options templates only: a data record's are ignored.
          break;
      }
      p += length;
    }
    records++;
    let srcIp: string;
    let dstIp: string;
    if (src4 >= 0 && dst4 >= 0) {
      srcIp = ipv4Text(b, src4);
      dstIp = ipv4Text(b, dst4);
    } else if (src6 >= 0 && dst6 >= 0) {
      srcIp = ipv6Text(b, src6);
      dstIp = ipv6Text(b, dst6);
    } else {
      skipped++;
      continue;
    }
    const startSecs = Math.floor(pickMs(startAbs, startDelta, startUp, ctx, systemInit) / 1000);
    const endSecs = Math.floor(pickMs(endAbs, endDelta, endUp, ctx, systemInit) / 1000);
    const scale = ctx.isScaled ? (sampling > 1 ? sampling : ctx.domain.samplingInterval) : 1;
    const icmp = isIcmp(protocol);
    if (icmp) {
      dstPort = icmpDstPort(typeCode >= 0 ? typeCode : icmpType >= 0 ? icmpType * 256 + icmpCode : -1, dstPort, srcPort);
      srcPort = 0;
    }
    out.push({
      start_timestamp_unix_secs: startSecs,
      end_timestamp_unix_secs: endSecs,
      protocol,
      src_ip: srcIp,
      dst_ip: dstIp,
      src_port: srcPort,
      dst_port: dstPort,
      packets: (packets >= 0 ? packets : packetsTotal >= 0 ? packetsTotal : 0) * scale,
      bytes: (bytes >= 0 ? bytes : bytesTotal >= 0 ? bytesTotal : 0) * scale,
      flags: icmp || flags < 0 ? NO_FLAGS : FLAGS_TEXT[flags]!,
      tos,
    });
    const reversePackets = revPackets >= 0 ? revPackets : revPacketsTotal;
    if (reversePackets > 0) {
      // RFC 5103: the reverse direction of the same flow; its own flags when sent, else nfdump's
      // habit of one flag set for both halves. A reversed ICMP record has no type/code: ports 0.
      const reverseFlags = revFlags >= 0 ? revFlags : flags;
      out.push({
        start_timestamp_unix_secs: startSecs,
        end_timestamp_unix_secs: endSecs,
        protocol,
        src_ip: dstIp,
        dst_ip: srcIp,
        src_port: icmp ? 0 : dstPort,
        dst_port: icmp ? 0 : srcPort,
        packets: reversePackets * scale,
        bytes: (revBytes >= 0 ? revBytes : revBytesTotal >= 0 ? revBytesTotal : 0) * scale,
        flags: icmp || reverseFlags < 0 ? NO_FLAGS : FLAGS_TEXT[reverseFlags]!,
        tos,
      });
    }
  }
  ctx.skippedRecords += skipped;
  return records;
}
