import type { Flow, Tag } from '../flow.js';
import type { IpAddress } from '../lookup/ip-address.js';
import type { IntelEntry } from '../stores.js';

/**
 * ScoreIntelMQBolt (reference §5.12; INTELMQ, bad 70, dynamic code): the remote IP (dst when src
 * is local, else src) is looked up in Redis `intel-mq-<ip>`; every entry adds a tag whose code is
 * `<classification type> : <classification taxonomy>`, e.g. `malware : malicious code`.
 *
 * Decisions:
 * - One tag per DISTINCT code: entries with equal type and taxonomy (the same threat from two
 *   feeds, or re-seen) count once, for every protocol (fixes §15 item 6; the original counted
 *   them per entry in the running total for non-TCP/UDP flows and once for TCP/UDP).
 * - A missing part renders as `null`, exactly as the original's string concatenation did, so
 *   existing dashboards and tag filters keep matching. The IntelMQ bot writes "" for missing
 *   fields, so this arises only from other writers.
 * Reads no counters.
 */
export interface IntelMqRule {
  readonly category: string;
  readonly score: number;
}

/** The address whose intel is consulted; the bolt looks it up by its `text`. */
export function intelRemoteIp(flow: Flow): IpAddress {
  return flow.srcIsLocal ? flow.dstIp : flow.srcIp;
}

export function intelCode(entry: IntelEntry): string {
  return `${entry.classificationType ?? 'null'} : ${entry.classificationTaxonomy ?? 'null'}`;
}

/** `intel` is the answer of IntelLookup.lookupMany, keyed by IP text. */
export function scoreIntelMq(flow: Flow, rule: IntelMqRule, intel: ReadonlyMap<string, readonly IntelEntry[]>): Tag[] {
  const entries = intel.get(intelRemoteIp(flow).text);
  if (entries === undefined || entries.length === 0) return [];
  const codes = new Set<string>();
  for (const entry of entries) codes.add(intelCode(entry));
  return [...codes].map((code) => ({ category: rule.category, code, score: rule.score, isBad: true }));
}
