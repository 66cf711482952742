import type { Contact } from './contact.js';
import type { EntryBudget } from './entry-budget.js';
import type { CompromiseRule, PasswordGuessingRule } from './evidence-rule.js';
import { SmallMap } from './small-map.js';

/**
 * Password guessing per source and service (one target's port): repeated short connections of
 * similar size. SSHCure (Hofstede et al., 2014) recognises a dictionary attack by flows of nearly
 * the same packet count; Zeek's SSH policy raises at 30 failed logins in 30 min. Flows alone do
 * not say whether a login failed, so a guess here is a short connection (at most `maxPackets`),
 * and the attempts are the largest group whose packet counts lie within `packetTolerance` of
 * each other: a few ordinary logins, of varied sizes, do not add up.
 */
export interface Attempt {
  readonly flowId: number;
  readonly timeSecs: number;
  readonly packets: number;
  readonly bytes: number;
  readonly durationSecs: number;
}

/** What the guesses at one service looked like when the alert was raised: the medians of the group. */
export interface AttemptProfile {
  readonly packets: number;
  readonly bytes: number;
  readonly durationSecs: number;
}

/**
 * `similar`: the size of the largest group of similar attempts (`group`); below the threshold
 * (minAttempts), or once alerted, the number of attempts, which bounds it, and no group.
 */
export type GuessingOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'attempt'; readonly service: number | string; readonly similar: number; readonly group: readonly Attempt[] }
  | { readonly kind: 'departure'; readonly service: number | string; readonly profile: AttemptProfile };

const NONE: GuessingOutcome = { kind: 'none' };

export class GuessingState {
  /** Per target and service (Contact.pair): the short connections within the window, in arrival order. */
  private readonly attempts = new SmallMap<number | string, Attempt[]>();
  /** Per target and service under a PASSWORD_GUESSING alert: what a guess there looks like (made with the first alert). */
  private profiles: Map<number | string, AttemptProfile> | undefined = undefined;

  observe(c: Contact, watermarkSecs: number, rule: PasswordGuessingRule, compromise: CompromiseRule, budget: EntryBudget): GuessingOutcome {
    if (!rule.ports.includes(c.port)) return NONE;
    const service = c.pair;
    const profile = this.profiles?.get(service);
    if (profile !== undefined && isSharpDeparture(c, profile, compromise)) return { kind: 'departure', service, profile };
    if (c.packets > rule.maxPackets) return NONE;
    let list = this.attempts.get(service);
    if (list === undefined) this.attempts.set(service, (list = []));
    dropBefore(list, watermarkSecs - rule.windowSecs, budget);
    if (!budget.take()) return NONE;
    list.push({ flowId: c.flowId, timeSecs: c.timeSecs, packets: c.packets, bytes: c.bytes, durationSecs: c.durationSecs });
    // Once alerted, the group is not sought again: each further guess just adds to the alert.
    if (profile !== undefined) return { kind: 'attempt', service, similar: list.length, group: [] };
    // Fewer attempts than the threshold cannot make a group that reaches it: no sort.
    if (list.length < rule.minAttempts) return { kind: 'attempt', service, similar: list.length, group: [] };
    const group = largestSimilarGroup(list, rule.packetTolerance);
    return { kind: 'attempt', service, similar: group.length, group };
  }

  /** The service is under an alert from now on: a sharply different conversation there is a possible compromise. */
  markGuessed(service: number | string, group: readonly Attempt[]): void {
    (this.profiles ??= new Map()).set(service, {
      packets: median(group.map((a) => a.packets)),
      bytes: median(group.map((a) => a.bytes)),
      durationSecs: median(group.map((a) => a.durationSecs)),
    });
  }

  expire(watermarkSecs: number, rule: PasswordGuessingRule, budget: EntryBudget): void {
    for (const [service, list] of this.attempts) {
      dropBefore(list, watermarkSecs - rule.windowSecs, budget);
      if (list.length === 0) {
        this.attempts.delete(service);
        this.profiles?.delete(service);
      }
    }
  }

  get isEmpty(): boolean {
    return this.attempts.size === 0;
  }
}

export function isPasswordGuessing(similarAttempts: number, rule: PasswordGuessingRule): boolean {
  return similarAttempts >= rule.minAttempts;
}

/**
 * A possible compromise (SSHCure's compromise phase): after the guesses, a conversation to the
 * same service much larger or longer than a guess was.
 */
export function isSharpDeparture(c: Contact, profile: AttemptProfile, rule: CompromiseRule): boolean {
  if (c.packets < rule.minPackets) return false;
  return c.packets >= rule.factor * profile.packets || c.bytes >= rule.factor * profile.bytes || c.durationSecs >= rule.factor * Math.max(1, profile.durationSecs);
}

/** The largest set of attempts whose packet counts are within `tolerance` of each other (sort, then two pointers). */
export function largestSimilarGroup(attempts: readonly Attempt[], tolerance: number): Attempt[] {
  const sorted = [...attempts].sort((a, b) => a.packets - b.packets);
  let best = 0;
  let bestStart = 0;
  for (let lo = 0, hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]!.packets - sorted[lo]!.packets > tolerance) lo++;
    if (hi - lo + 1 > best) [best, bestStart] = [hi - lo + 1, lo];
  }
  return sorted.slice(bestStart, bestStart + best);
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = values.sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Drops the attempts before the cutoff from the front (arrival order, which the lateness keeps nearly in time order). */
function dropBefore(list: Attempt[], cutoffSecs: number, budget: EntryBudget): void {
  let n = 0;
  while (n < list.length && list[n]!.timeSecs < cutoffSecs) n++;
  if (n > 0) {
    list.splice(0, n);
    budget.give(n);
  }
}
