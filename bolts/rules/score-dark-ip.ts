import type { Flow, Tag } from '../flow.js';
import type { IpAddress } from '../lookup/ip-address.js';
import { makeTag, type TagSpec } from './tags.js';

/**
 * ScoreDarkIPBolt (reference §5.9; SUSPICIOUS_TRAFFIC/DARK_IP, bad 40): a local address that is
 * not an active host (active_hosts.dat) is "dark"; traffic to or from it suggests scanning or
 * backscatter. One tag per dark local side, as the original; since tags are a set, two dark sides
 * give one tag, and only internal flows (already discarded) have two local sides.
 * Reads no counters.
 */
export function scoreDarkIp(flow: Flow, rule: TagSpec, isActiveHost: (ip: IpAddress) => boolean): Tag[] {
  const tags: Tag[] = [];
  if (flow.srcIsLocal && !isActiveHost(flow.srcIp)) tags.push(makeTag(rule, true));
  if (flow.dstIsLocal && !isActiveHost(flow.dstIp)) tags.push(makeTag(rule, true));
  return tags;
}
