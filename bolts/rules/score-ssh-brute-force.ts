import type { Flow, Tag } from '../flow.js';
import { initiatorCounters, responderEndpoint } from './conversation-roles.js';
import { makeTag, type TagSpec } from './tags.js';

/**
 * ScoreSSHBruteForceBolt (reference §5.14; BRUTE_FORCE/SSH, bad 90): TCP to the SSH port with
 * minPackets <= packets <= maxPackets, inclusive (11-51 after Hofstede & Sperotto 2014). Fixes
 * §15 item 1, where the range was OR-ed and every TCP flow touching port 22 was tagged.
 *
 * Reads the initiator->responder packets (initiatorCounters), i.e. the client's login attempts.
 * Decision: the port must be on the responder side (the server), not on either side as in the
 * original: the packet range describes client->server traffic, and port 22 as the *client's*
 * source port would pair that range with the wrong counters.
 */
export interface SshBruteForceRule extends TagSpec {
  readonly port: number;
  readonly minPackets: number;
  readonly maxPackets: number;
}

const TCP = 6;

export function scoreSshBruteForce(flow: Flow, rule: SshBruteForceRule): Tag[] {
  if (flow.protocol !== TCP || responderEndpoint(flow).port !== rule.port) return [];
  const { packets } = initiatorCounters(flow);
  return packets >= rule.minPackets && packets <= rule.maxPackets ? [makeTag(rule, true)] : [];
}
