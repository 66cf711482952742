import { describe, expect, it } from 'vitest';
import { Backoff, checkBackoffPolicy, type BackoffPolicy } from '../../bolts/resilience/backoff.js';

const FULL: BackoffPolicy = { initialMs: 100, maxMs: 2_000, multiplier: 2, jitter: 'full' };
const DECORRELATED: BackoffPolicy = { initialMs: 100, maxMs: 2_000, multiplier: 2, jitter: 'decorrelated' };

/** A random source that returns these values in turn, then the last one forever. */
function randoms(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

describe('Backoff', () => {
  it('doubles the ceiling of full jitter per attempt up to the cap', () => {
    // Just below 1: each delay is its ceiling (floored), so the ceilings show.
    const b = new Backoff(FULL, () => 0.999_999_9);
    const delays = Array.from({ length: 8 }, () => b.nextDelayMs());
    expect(delays).toEqual([99, 199, 399, 799, 1599, 1999, 1999, 1999]);
    expect(b.attempts).toBe(8);
  });

  it('draws a full-jitter delay anywhere from 0 to the ceiling', () => {
    const b = new Backoff(FULL, randoms(0, 0.5, 0.25));
    expect([b.nextDelayMs(), b.nextDelayMs(), b.nextDelayMs()]).toEqual([0, 100, 100]);
  });

  it('never exceeds the cap however many attempts fail', () => {
    const b = new Backoff(FULL, () => 0.999_999_9);
    for (let i = 0; i < 2_000; i++) expect(b.nextDelayMs()).toBeLessThanOrEqual(FULL.maxMs);
  });

  it('starts again from the first ceiling after a reset', () => {
    const b = new Backoff(FULL, () => 0.999_999_9);
    for (let i = 0; i < 5; i++) b.nextDelayMs();
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.nextDelayMs()).toBe(99);
  });

  it('keeps a decorrelated delay between the initial delay and three times the previous one, capped', () => {
    const b = new Backoff(DECORRELATED, () => 0.999_999_9);
    // 100 → up to 300 → up to 900 → up to 2,700, capped at 2,000.
    expect([b.nextDelayMs(), b.nextDelayMs(), b.nextDelayMs(), b.nextDelayMs()]).toEqual([299, 899, 1999, 1999]);
    const low = new Backoff(DECORRELATED, () => 0);
    expect([low.nextDelayMs(), low.nextDelayMs()]).toEqual([100, 100]);
  });

  it('refuses a policy that cannot produce sensible delays, naming every problem', () => {
    expect(checkBackoffPolicy({ initialMs: 0, maxMs: 10, multiplier: 0.5, jitter: 'full' })).toBe(
      'initialMs (0) must be a positive number; multiplier (0.5) must be >= 1',
    );
    expect(checkBackoffPolicy({ initialMs: 100, maxMs: 50, multiplier: 2, jitter: 'full' })).toBe('maxMs (50) must be at least initialMs (100)');
    expect(() => new Backoff({ initialMs: 100, maxMs: 50, multiplier: 2, jitter: 'full' })).toThrow(RangeError);
  });
});
