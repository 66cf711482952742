import type { Flow, Tag } from '../flow.js';
import { initiatorCounters } from './conversation-roles.js';
import type { PortRule } from './score-insecure-ports.js';
import { makeTag } from './tags.js';

/**
 * ScoreUnknownPortConversationBolt (reference §5.17; PORT_LIST/UNKNOWN_TCP_TRAFFIC and
 * UNKNOWN_UDP_TRAFFIC, bad 70): the configured protocol, NEITHER port in the known-port list, and
 * at least minPackets (3) initiator->responder packets (initiatorCounters; fixes §15 item 5).
 */
export function scoreUnknownPorts(flow: Flow, rule: PortRule, knownPorts: ReadonlySet<number>): Tag[] {
  if (flow.protocol !== rule.protocol) return [];
  if (knownPorts.has(flow.srcPort) || knownPorts.has(flow.dstPort)) return [];
  return initiatorCounters(flow).packets >= rule.minPackets ? [makeTag(rule, rule.isBad)] : [];
}
