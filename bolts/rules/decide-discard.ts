import type { Flow, FlowDirection } from '../flow.js';

/**
 * FlowDiscardBolt (reference §5.3): classify direction by "our" ASNs and drop flows of no
 * interest. Checks in order, first discard wins:
 *   1. protocol not in valid_protocols.txt -> `invalid protocol <n>` (direction stays null);
 *   2. both sides local -> INTERNAL, `internal traffic`; neither -> UNKNOWN, `unknown direction`;
 *      src local -> OUTBOUND; dst local -> INBOUND;
 *   3. honeypot ports -> `honeypot port <n>`.
 * "Local" = the ASN is in asn.txt; ASN 0 means unresolved and is never local (§15 item 8; the
 * ASN loader also refuses a 0 entry).
 *
 * Decision on honeypot ports (fixes §15 item 7, where any protocol with the port on either side
 * was dropped): only conversations *to a local honeypot port*, for the configured protocols
 * (default TCP). Records are still unidirectional here, so that means both halves of such a
 * conversation: an INBOUND record whose dst (local) port is listed, and the honeypot's reply, an
 * OUTBOUND record whose src (local) port is listed. Dropping only the inbound half would leave
 * every reply to be held by match-flows and scored alone two minutes later. A listed port on the
 * *remote* side (our host using a remote telnet, or a remote ephemeral port that happens to be
 * 23) is kept.
 */

export interface DiscardRule {
  /** IP protocols whose flows to a local honeypot port are dropped (default [6], TCP). */
  readonly honeypotProtocols: readonly number[];
}

export interface DiscardLists {
  readonly validProtocols: ReadonlySet<number>;
  readonly localAsns: ReadonlySet<number>;
  readonly honeypotPorts: ReadonlySet<number>;
}

export interface DiscardDecision {
  readonly direction: FlowDirection | null;
  /** null: keep the flow. Stable text, counted and published on `ignored-flows`. */
  readonly discardReason: string | null;
  readonly srcIsLocal: boolean;
  readonly dstIsLocal: boolean;
}

export function isLocalAsn(asn: number, localAsns: ReadonlySet<number>): boolean {
  return asn !== 0 && localAsns.has(asn);
}

export function decideDiscard(
  flow: Pick<Flow, 'protocol' | 'srcAs' | 'dstAs' | 'srcPort' | 'dstPort'>,
  rule: DiscardRule,
  lists: DiscardLists,
): DiscardDecision {
  const srcIsLocal = isLocalAsn(flow.srcAs, lists.localAsns);
  const dstIsLocal = isLocalAsn(flow.dstAs, lists.localAsns);
  if (!lists.validProtocols.has(flow.protocol)) {
    return { direction: null, discardReason: `invalid protocol ${flow.protocol}`, srcIsLocal, dstIsLocal };
  }
  if (srcIsLocal && dstIsLocal) {
    return { direction: 'INTERNAL', discardReason: 'internal traffic', srcIsLocal, dstIsLocal };
  }
  if (!srcIsLocal && !dstIsLocal) {
    return { direction: 'UNKNOWN', discardReason: 'unknown direction', srcIsLocal, dstIsLocal };
  }
  const direction: FlowDirection = srcIsLocal ? 'OUTBOUND' : 'INBOUND';
  const localPort = srcIsLocal ? flow.srcPort : flow.dstPort;
  // honeypotProtocols holds one or two entries from config; includes() beats a Set at that size.
  if (lists.honeypotPorts.has(localPort) && rule.honeypotProtocols.includes(flow.protocol)) {
    return { direction, discardReason: `honeypot port ${localPort}`, srcIsLocal, dstIsLocal };
  }
  return { direction, discardReason: null, srcIsLocal, dstIsLocal };
}
