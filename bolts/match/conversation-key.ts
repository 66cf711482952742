import type { Flow } from '../flow.js';
import { compareIp, type IpAddress } from '../lookup/ip-address.js';

/**
 * The key under which both directions of one conversation meet in the match table.
 *
 * Unlike the original (reference §5.4, `<ipA>-<portA>-<ipB>-<portB>`), the key includes the IP
 * protocol, so TCP and UDP on the same endpoints never pair (§15 item 11). The endpoints are put in
 * a canonical order (compareIp, then port) so that A→B and B→A give the same key, and
 * `sourceFirst` records which way round this flow was: two flows with the same key pair only when
 * their `sourceFirst` differ, so a repeat in the same direction is not a match.
 *
 * The key is a compact string of 16-bit code units, not text: protocol, A's address (2 units for
 * IPv4, 8 for IPv6), A's port, B's address, B's port. Its hashing cost is a third of the readable
 * form's, which matters at a Map lookup per flow. IPv4 sorts before IPv6, so the three possible
 * lengths (7, 13, 19) never collide. Use `describeConversation` for logs.
 */
export interface ConversationKey {
  readonly key: string;
  /** true when the flow's source is the canonical first endpoint (A). */
  readonly sourceFirst: boolean;
}

export type ConversationEndpoints = Pick<Flow, 'protocol' | 'srcIp' | 'srcPort' | 'dstIp' | 'dstPort'>;

export function conversationKey(flow: ConversationEndpoints): ConversationKey {
  const byIp = compareIp(flow.srcIp, flow.dstIp);
  // A flow from an endpoint to itself counts as source-first: its reverse is indistinguishable
  // from a repeat, so it is never paired.
  const sourceFirst = byIp < 0 || (byIp === 0 && flow.srcPort <= flow.dstPort);
  const a = sourceFirst ? flow.srcIp : flow.dstIp;
  const b = sourceFirst ? flow.dstIp : flow.srcIp;
  const portA = sourceFirst ? flow.srcPort : flow.dstPort;
  const portB = sourceFirst ? flow.dstPort : flow.srcPort;
  if (a.version === 4 && b.version === 4) {
    const key = String.fromCharCode(flow.protocol, a.v4 >>> 16, a.v4 & 0xffff, portA, b.v4 >>> 16, b.v4 & 0xffff, portB);
    return { key, sourceFirst };
  }
  const key =
    String.fromCharCode(flow.protocol) + addressUnits(a) + String.fromCharCode(portA) + addressUnits(b) + String.fromCharCode(portB);
  return { key, sourceFirst };
}

/** Readable form of the conversation, canonical order: `6 192.0.2.10:443 198.51.100.7:51515`. */
export function describeConversation(flow: ConversationEndpoints): string {
  const { sourceFirst } = conversationKey(flow);
  const src = endpointText(flow.srcIp, flow.srcPort);
  const dst = endpointText(flow.dstIp, flow.dstPort);
  return `${flow.protocol} ${sourceFirst ? src : dst} ${sourceFirst ? dst : src}`;
}

function addressUnits(ip: IpAddress): string {
  if (ip.version === 4) return String.fromCharCode(ip.v4 >>> 16, ip.v4 & 0xffff);
  const x = ip.bytes;
  return String.fromCharCode(
    (x[0]! << 8) | x[1]!, (x[2]! << 8) | x[3]!, (x[4]! << 8) | x[5]!, (x[6]! << 8) | x[7]!,
    (x[8]! << 8) | x[9]!, (x[10]! << 8) | x[11]!, (x[12]! << 8) | x[13]!, (x[14]! << 8) | x[15]!,
  );
}

function endpointText(ip: IpAddress, port: number): string {
  return ip.version === 4 ? `${ip.text}:${port}` : `[${ip.text}]:${port}`;
}
