import type { Flow, Tag } from '../flow.js';
import { initiatorCounters } from './conversation-roles.js';
import { makeTag, type TagSpec } from './tags.js';

/**
 * ScorePossibleScanBolt (reference §5.13; POSSIBLE_SCAN/SYN_ONLY, bad 60), TCP only: the
 * initiator's flags (initiatorCounters: flags for initiator 'src', flagsRecv for 'dst') equal one
 * of the probe patterns: `....S.` SYN only, `.....F` FIN probe, `......` null probe, and
 * `U.P..F` the real Xmas probe (fixes §15 item 2: the original's `.P...F` cannot occur in the
 * UAPRSF layout). Unknown flags (null) give no tag instead of the original's crash (§15 item 22).
 */
export interface PossibleScanRule extends TagSpec {
  /** Exact nfdump `UAPRSF` strings; a handful, so includes() is the cheapest test. */
  readonly flagPatterns: readonly string[];
}

const TCP = 6;

export function scorePossibleScan(flow: Flow, rule: PossibleScanRule): Tag[] {
  if (flow.protocol !== TCP) return [];
  const { flags } = initiatorCounters(flow);
  return flags !== null && rule.flagPatterns.includes(flags) ? [makeTag(rule, true)] : [];
}
