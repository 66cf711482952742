import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_SECONDS } from '../../runtime/latency-histogram.js';
import { histogramQuantile } from '../../runtime/topology-status.js';

/** Per-bucket counts (the last one +Inf) with `n` in bucket `i` of each [i, n] pair. */
function counts(...filled: Array<[number, number]>): number[] {
  const c = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  for (const [i, n] of filled) c[i] = n;
  return c;
}

const B = LATENCY_BUCKETS_SECONDS;
const INF = B.length;

describe('histogramQuantile, the live page’s latency quantiles', () => {
  it('is null for a histogram that holds nothing', () => {
    expect(histogramQuantile(0.5, counts())).toBeNull();
    expect(histogramQuantile(0.99, [])).toBeNull();
  });

  it('interpolates linearly inside the one bucket that holds everything', () => {
    const c = counts([10, 40]);
    expect(histogramQuantile(0.5, c)).toBeCloseTo(B[9]! + (B[10]! - B[9]!) * 0.5, 12);
    expect(histogramQuantile(0.25, c)).toBeCloseTo(B[9]! + (B[10]! - B[9]!) * 0.25, 12);
    expect(histogramQuantile(1, c)).toBeCloseTo(B[10]!, 12);
  });

  it('starts the first bucket at 0', () => {
    expect(histogramQuantile(0.5, counts([0, 8]))).toBeCloseTo(B[0]! / 2, 15);
  });

  it('finds the bucket that holds the rank among several, and interpolates by the rank’s share of it', () => {
    // 10 below bucket 20, 30 in it: rank 20 of 40 is a third into bucket 20.
    const c = counts([3, 4], [12, 6], [20, 30]);
    expect(histogramQuantile(0.5, c)).toBeCloseTo(B[19]! + (B[20]! - B[19]!) / 3, 12);
    // Rank 4 of 40 is the last of bucket 3: its upper bound.
    expect(histogramQuantile(0.1, c)).toBeCloseTo(B[3]!, 12);
    // Rank 6 is a third into bucket 12.
    expect(histogramQuantile(0.15, c)).toBeCloseTo(B[11]! + (B[12]! - B[11]!) / 3, 12);
  });

  it('reports the highest finite bound for a rank in the +Inf bucket, as Prometheus does', () => {
    expect(histogramQuantile(0.99, counts([INF, 5]))).toBe(B[B.length - 1]);
    const c = counts([5, 98], [INF, 2]);
    expect(histogramQuantile(0.99, c)).toBe(B[B.length - 1]);
    expect(histogramQuantile(0.5, c)).toBeLessThan(B[5]!);
  });
});
