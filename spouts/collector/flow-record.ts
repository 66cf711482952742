import type { InputFlowRecord } from '../ingest/nfdump-json.js';

/**
 * One decoded flow: the input schema without its id (the collector numbers flows as it emits them).
 * src_ip/dst_ip are text (IPv4 dotted, IPv6 as nfdump prints it), flags the six-character
 * `UAPRSF` form with `.` for unset, times epoch seconds, truncated.
 */
export type DecodedFlow = Omit<InputFlowRecord, 'id'>;

const PROTO_ICMP = 1;
const PROTO_ICMPV6 = 58;
export const NO_FLAGS = '......';

/** TCP control bits (low 6: URG ACK PSH RST SYN FIN) as text; ECE, CWR and NS are dropped. */
export const FLAGS_TEXT: readonly string[] = Array.from({ length: 64 }, (_, bits) => {
  let text = '';
  for (let bit = 5; bit >= 0; bit--) text += bits & (1 << bit) ? 'UAPRSF'[5 - bit] : '.';
  return text;
});

export function isIcmp(protocol: number): boolean {
  return protocol === PROTO_ICMP || protocol === PROTO_ICMPV6;
}

/**
 * The ports of an ICMP flow as nfdump prints them and spouts/ingest/nfdump-json.ts converts them:
 * source 0, destination type * 256 + code. The type and code come from icmpTypeCode (or the
 * separate type and code elements) when the exporter sent them, else from the destination port
 * where v5 and most v9 exporters put them, else from the source port where a few do.
 *
 * Checked by hand against nfcapd + nfdump 1.7.1: equal for v5 and IPFIX. For v9, nfdump reads
 * only ICMP_TYPE (32): it prints type 0 code 0 for a v9 ICMP flow whose type sits in the ports or
 * in ICMP_IPv6_TYPE (139, as softflowd -v 9 sends ICMPv6), where this decoder keeps it.
 */
export function icmpDstPort(typeCode: number, dstPort: number, srcPort: number): number {
  if (typeCode >= 0) return typeCode;
  if (dstPort > 0) return dstPort;
  return srcPort > 0 ? srcPort : 0;
}
