import type { Flow, Tag } from '../flow.js';
import { initiatorCounters, responderEndpoint } from './conversation-roles.js';
import { makeTag, type TagSpec } from './tags.js';

/**
 * ScoreHTTPBruteForceBolt (reference §5.15; BRUTE_FORCE/HTTP, bad 90), TCP only: a login attempt
 * against a server on our network, after van der Toorn et al. 2015 (all bounds inclusive):
 *   HTTP:  local server port 80,  5-12 packets, 363-1130 bytes;
 *   HTTPS: local server port 443, 7-17 packets, 789-2885 bytes.
 * Both signatures share one tag, so a flow gets it at most once.
 *
 * Reads the initiator->responder packets and bytes (initiatorCounters): the client's request,
 * whichever record was emitted (fixes §15 item 5; the original tested the server's response for
 * matched conversations and the client's request for unmatched ones). Decision: "the local
 * side's port" of the original becomes "the responder is local and its port is 80/443", the
 * same server in every normal case, and consistent with the counters read.
 */
export interface HttpSignature {
  readonly port: number;
  readonly minPackets: number;
  readonly maxPackets: number;
  readonly minBytes: number;
  readonly maxBytes: number;
}

export interface HttpBruteForceRule extends TagSpec {
  readonly http: HttpSignature;
  readonly https: HttpSignature;
}

const TCP = 6;

function fits(signature: HttpSignature, port: number, packets: number, bytes: number): boolean {
  return (
    port === signature.port &&
    packets >= signature.minPackets &&
    packets <= signature.maxPackets &&
    bytes >= signature.minBytes &&
    bytes <= signature.maxBytes
  );
}

export function scoreHttpBruteForce(flow: Flow, rule: HttpBruteForceRule): Tag[] {
  if (flow.protocol !== TCP) return [];
  const responder = responderEndpoint(flow);
  if (!responder.isLocal) return [];
  const { packets, bytes } = initiatorCounters(flow);
  const isHit =
    fits(rule.http, responder.port, packets, bytes) || fits(rule.https, responder.port, packets, bytes);
  return isHit ? [makeTag(rule, true)] : [];
}
