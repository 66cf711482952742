import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_SECONDS, LatencyHistogram } from '../../runtime/latency-histogram.js';

describe('LatencyHistogram', () => {
  it('has E6 bounds from 10 µs to 10 s that print as written', () => {
    expect(LATENCY_BUCKETS_SECONDS.length).toBe(37);
    expect(LATENCY_BUCKETS_SECONDS.slice(0, 7).map(String)).toEqual(['0.00001', '0.000015', '0.000022', '0.000033', '0.000047', '0.000068', '0.0001']);
    expect(LATENCY_BUCKETS_SECONDS.slice(-3)).toEqual([4.7, 6.8, 10]);
  });

  it('counts a value in the first bucket whose bound it does not pass (le), and past 10 s in +Inf', () => {
    const h = new LatencyHistogram();
    h.observe(0.0000001);
    h.observe(0.0022);
    h.observe(0.00221);
    h.observe(11);
    const { counts, count, sum } = h.snapshot();
    const at = (le: number) => counts[LATENCY_BUCKETS_SECONDS.indexOf(le)];
    expect(at(0.00001)).toBe(1);
    expect(at(0.0022)).toBe(1);
    expect(at(0.0033)).toBe(1);
    expect(counts[LATENCY_BUCKETS_SECONDS.length]).toBe(1);
    expect(count).toBe(4);
    expect(sum).toBeCloseTo(11.0044101, 9);
  });

  it('records a batch as that many observations of its mean', () => {
    const h = new LatencyHistogram();
    h.observe(0.0001, 512);
    const { counts, count, sum } = h.snapshot();
    expect(counts[LATENCY_BUCKETS_SECONDS.indexOf(0.0001)]).toBe(512);
    expect(count).toBe(512);
    expect(sum).toBeCloseTo(0.0512, 12);
  });
});
