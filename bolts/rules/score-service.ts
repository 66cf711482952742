import type { Flow, Tag } from '../flow.js';
import type { IpAddress } from '../lookup/ip-address.js';
import type { ServiceKind, ServiceLookup } from '../stores.js';
import { initiatorCounters } from './conversation-roles.js';
import { makeTag, type TagSpec } from './tags.js';

/**
 * ScoreServiceBolt (reference §5.16): known services from known_host_services.csv.
 *   1. fewer than minPackets initiator->responder packets (initiatorCounters; fixes §15 item 5)
 *      -> no tag;
 *   2. the local host is src when src is local, else dst when dst is local (neither -> no tag;
 *      the original assumed dst); the port is the local one for *_HOSTED and the remote one for
 *      *_REMOTE;
 *   3. (host, port) configured for this kind -> good `score`;
 *   4. else, when negativeScore is not null and the host is configured with any port of this
 *      kind -> bad `negativeScore`, same category/code (e.g. HOSTED_SERVICES/TCP bad 50: SSH to
 *      a host known only as a mail server).
 * Instances: HOSTED_SERVICES/TCP 100, neg 50, min 30; REMOTE_SERVICES/TCP 100, min 5;
 * HOSTED_SERVICES/UDP 100, neg 50, min 1 (DNS); REMOTE_SERVICES/UDP 100, min 1.
 * The protocol must match the kind (TCP_* -> 6, UDP_* -> 17).
 */
export interface ServiceRule extends TagSpec {
  readonly kind: ServiceKind;
  /** Bad score for a known host on an unknown port; null: no negative scoring. */
  readonly negativeScore: number | null;
  readonly minPackets: number;
}

const TCP = 6;
const UDP = 17;

export function scoreService(flow: Flow, rule: ServiceRule, services: ServiceLookup): Tag[] {
  const isTcpKind = rule.kind === 'TCP_HOSTED' || rule.kind === 'TCP_REMOTE';
  if (flow.protocol !== (isTcpKind ? TCP : UDP)) return [];
  if (initiatorCounters(flow).packets < rule.minPackets) return [];
  const isHosted = rule.kind === 'TCP_HOSTED' || rule.kind === 'UDP_HOSTED';
  let host: IpAddress;
  let port: number;
  if (flow.srcIsLocal) {
    host = flow.srcIp;
    port = isHosted ? flow.srcPort : flow.dstPort;
  } else if (flow.dstIsLocal) {
    host = flow.dstIp;
    port = isHosted ? flow.dstPort : flow.srcPort;
  } else {
    return [];
  }
  if (services.hasService(rule.kind, host, port)) return [makeTag(rule, false)];
  if (rule.negativeScore !== null && services.hasHost(rule.kind, host)) {
    return [makeTag(rule, true, rule.negativeScore)];
  }
  return [];
}
