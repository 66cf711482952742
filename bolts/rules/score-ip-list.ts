import type { Flow, Tag } from '../flow.js';
import type { IpAddress } from '../lookup/ip-address.js';
import { makeTag, type TagSpec } from './tags.js';

/**
 * ScoreGenericIPListBolt (reference §5.10): one tag when src or dst is in the list, whatever the
 * direction. Instances: IP_LIST/EMERGING_THREATS bad 50, IP_LIST/ALIENVAULT bad 50,
 * IP_LIST/NDPI_GOOD good 100 (a whitelist). Reads no counters.
 */
export interface IpListRule extends TagSpec {
  /** false for a whitelist: the score adds to goodness. */
  readonly isBad: boolean;
}

export function scoreIpList(flow: Flow, rule: IpListRule, isListed: (ip: IpAddress) => boolean): Tag[] {
  return isListed(flow.srcIp) || isListed(flow.dstIp) ? [makeTag(rule, rule.isBad)] : [];
}
