import type { Flow } from '../flow.js';
import type { IpAddress } from '../lookup/ip-address.js';
import type { EvidenceRule } from './evidence-rule.js';

/**
 * A conversation as the evidence stage sees it: oriented from its initiator (the side that opened
 * it: first seen, SYN without ACK, or the client port, as match-flows decided in `flow.initiator`)
 * to its responder, with what the responder answered.
 */
export interface Contact {
  readonly flowId: number;
  readonly source: string;
  readonly target: string;
  /** The responder's port: the service contacted. */
  readonly port: number;
  readonly protocol: number;
  /** Event time: the conversation's start, epoch seconds. */
  readonly timeSecs: number;
  readonly durationSecs: number;
  /** Both directions. */
  readonly packets: number;
  readonly bytes: number;
  /** failed: no answer, or a TCP reset without SYN-ACK (Jung et al. 2004's failed first contact). */
  readonly isFailed: boolean;
  /** Packets the initiator sent. */
  readonly initiatorPackets: number;
  /** The target and service as one key (pairKey): what the random walk remembers. */
  readonly pair: number | string;
}

const TCP = 6;

export function contactOf(flow: Flow): Contact {
  const fromSrc = flow.initiator === 'src';
  const responderPackets = fromSrc ? flow.packetsRecv : flow.packetsSent;
  const responderFlags = fromSrc ? flow.flagsRecv : flow.flags;
  const target = fromSrc ? flow.dstIp : flow.srcIp;
  const port = fromSrc ? flow.dstPort : flow.srcPort;
  return {
    flowId: flow.id,
    source: (fromSrc ? flow.srcIp : flow.dstIp).text,
    target: target.text,
    port,
    pair: pairKey(target, flow.protocol, port),
    protocol: flow.protocol,
    timeSecs: flow.startSecs,
    durationSecs: Math.max(0, flow.endSecs - flow.startSecs),
    packets: flow.packetsSent + flow.packetsRecv,
    bytes: flow.bytesSent + flow.bytesRecv,
    initiatorPackets: fromSrc ? flow.packetsSent : flow.packetsRecv,
    isFailed: responderPackets === 0 || (flow.protocol === TCP && isResetOnly(responderFlags)),
  };
}

/**
 * Protocols a pair key can number: each gets 5 bits above the port, so an IPv4 target, protocol
 * and port fit in one double (32 + 5 + 16 bits of the 53 exact ones). Any other protocol, or an
 * IPv6 target, gets a text key.
 */
const NUMBERED_PROTOCOLS = [1, 6, 17, 58, 132, 47, 50, 51, 2, 41, 89, 103, 112, 136];
const PROTOCOL_SLOT = (() => {
  const slots = new Int8Array(256).fill(-1);
  NUMBERED_PROTOCOLS.forEach((protocol, slot) => (slots[protocol] = slot));
  return slots;
})();
const PORT_SLOTS = 65_536;
const SERVICES = 32 * PORT_SLOTS;

/**
 * One key for a target and service (protocol and port), unique per pair: a number for an IPv4
 * target on a numbered protocol, which makes no string per contact, else text.
 */
export function pairKey(target: IpAddress, protocol: number, port: number): number | string {
  const slot = PROTOCOL_SLOT[protocol] ?? -1;
  if (target.version === 4 && slot >= 0) return target.v4 * SERVICES + slot * PORT_SLOTS + port;
  return `${target.text}|${protocol}|${port}`;
}

/** nfdump `UAPRSF`, OR-ed over the direction's packets: RST (index 3) and never SYN (index 4). */
function isResetOnly(flags: string | null): boolean {
  return flags !== null && flags.length === 6 && flags[3] === 'R' && flags[4] !== 'S';
}

/**
 * What the scan detectors count (Zeek's scan policy counts attempts that were not established): a
 * failed contact, or a TCP contact whose initiator sent no more than a probe does. UDP counts only
 * when unanswered: a resolver asking 25 servers on port 53 is no scan.
 */
export function isProbe(c: Contact, probeMaxPackets: number): boolean {
  return c.isFailed || (c.protocol === TCP && c.initiatorPackets <= probeMaxPackets);
}

/** One number per protocol and port, for the windows' keys. */
export function serviceKey(c: Contact): number {
  return c.protocol * 65_536 + c.port;
}

/** The port of a `serviceKey`. */
export const PORT_OF_SERVICE_KEY = (key: number): number => key % 65_536;

/**
 * Whether a contact can add to an alert not yet raised: a probe or a failed contact (the scan
 * detectors and the random walk's failures), or a short connection to a login service (password
 * guessing). The evidence stage holds only these, so that the alert they lead to tags them too; an
 * answered connection of any size elsewhere, or a long one, goes at once.
 */
export function countsAsEvidence(c: Contact, rule: EvidenceRule): boolean {
  if (isProbe(c, rule.probeMaxPackets)) return true;
  return c.packets <= rule.passwordGuessing.maxPackets && rule.passwordGuessing.ports.includes(c.port);
}
