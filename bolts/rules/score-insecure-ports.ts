import type { Flow, Tag } from '../flow.js';
import { initiatorCounters } from './conversation-roles.js';
import { makeTag, type TagSpec } from './tags.js';

/**
 * ScoreInsecurePortConversationBolt (reference §5.17; PORT_LIST/INSECURE_TCP_TRAFFIC and
 * INSECURE_UDP_TRAFFIC, bad 50): the configured protocol, src or dst port in the insecure-port
 * list (telnet, FTP, rlogin...), and at least minPackets (3) initiator->responder packets
 * (initiatorCounters; fixes §15 item 5).
 */
export interface PortRule extends TagSpec {
  readonly isBad: boolean;
  readonly protocol: number;
  readonly minPackets: number;
}

export function scoreInsecurePorts(flow: Flow, rule: PortRule, insecurePorts: ReadonlySet<number>): Tag[] {
  if (flow.protocol !== rule.protocol) return [];
  if (!insecurePorts.has(flow.srcPort) && !insecurePorts.has(flow.dstPort)) return [];
  return initiatorCounters(flow).packets >= rule.minPackets ? [makeTag(rule, rule.isBad)] : [];
}
