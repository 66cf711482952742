/**
 * Delays between attempts at a dependency that is down (AWS's "Exponential Backoff And Jitter";
 * kafkajs' retrier and BullMQ's backoff are the same idea). Pure: no timers, the random source is
 * injected, so a test fixes every delay.
 *
 * - exponential: the ceiling of attempt n (0-based) is min(maxMs, initialMs * multiplier^n);
 * - full jitter: the delay is uniform in [0, ceiling): many clients that lost the same server at
 *   the same moment spread their retries instead of returning together;
 * - decorrelated jitter: the delay is uniform in [initialMs, 3 * previous delay), capped at maxMs:
 *   it grows like the exponential on average but never falls back to 0.
 */

export type Jitter = 'full' | 'decorrelated';

export interface BackoffPolicy {
  /** First ceiling (full) or floor (decorrelated), ms. */
  readonly initialMs: number;
  /** No delay is longer, ms. */
  readonly maxMs: number;
  /** Growth of the ceiling per attempt (full jitter only). */
  readonly multiplier: number;
  readonly jitter: Jitter;
}

/** 100 ms doubling to 5 s: an outage is noticed within a few seconds of its end, at < 1 attempt/s per batch. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, multiplier: 2, jitter: 'full' };

/** Returns what is wrong with `policy`, or null when it is usable. */
export function checkBackoffPolicy(policy: BackoffPolicy): string | null {
  const problems: string[] = [];
  if (!(policy.initialMs > 0 && Number.isFinite(policy.initialMs))) problems.push(`initialMs (${policy.initialMs}) must be a positive number`);
  if (!(policy.maxMs >= policy.initialMs && Number.isFinite(policy.maxMs))) problems.push(`maxMs (${policy.maxMs}) must be at least initialMs (${policy.initialMs})`);
  if (!(policy.multiplier >= 1 && Number.isFinite(policy.multiplier))) problems.push(`multiplier (${policy.multiplier}) must be >= 1`);
  return problems.length === 0 ? null : problems.join('; ');
}

/** The delays of one run of attempts; `reset` after a success. `random` returns [0, 1), as Math.random. */
export class Backoff {
  private attempt = 0;
  private previousMs: number;

  constructor(
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {
    const problem = checkBackoffPolicy(policy);
    if (problem !== null) throw new RangeError(`backoff policy: ${problem}`);
    this.previousMs = policy.initialMs;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, ms (whole). */
  nextDelayMs(): number {
    const { initialMs, maxMs, multiplier, jitter } = this.policy;
    let delay: number;
    if (jitter === 'full') {
      // Past the cap the power only overflows towards Infinity, which min() absorbs.
      const ceiling = Math.min(maxMs, initialMs * multiplier ** this.attempt);
      delay = this.random() * ceiling;
    } else {
      const high = Math.min(maxMs, this.previousMs * 3);
      delay = initialMs + this.random() * (high - initialMs);
    }
    this.attempt++;
    this.previousMs = Math.min(maxMs, Math.max(initialMs, delay));
    return Math.floor(Math.min(maxMs, delay));
  }

  reset(): void {
    this.attempt = 0;
    this.previousMs = this.policy.initialMs;
  }
}
