import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_SECONDS, LatencyHistogram } from '../../runtime/latency-histogram.js';

describe('LatencyHistogram', () => {
  it('has E6 bounds from 10 µs to 1,000 s that print as written', () => {
    expect(LATENCY_BUCKETS_SECONDS.length).toBe(49);
    expect(LATENCY_BUCKETS_SECONDS.slice(0, 7).map(String)).toEqual(['0.00001', '0.000015', '0.000022', '0.000033', '0.000047', '0.000068', '0.0001']);
    expect(LATENCY_BUCKETS_SECONDS.slice(-14)).toEqual([6.8, 10, 15, 22, 33, 47, 68, 100, 150, 220, 330, 470, 680, 1000]);
  });

  it('counts a value in the first bucket whose bound it does not pass (le), and past 1,000 s in +Inf', () => {
    const h = new LatencyHistogram();
    h.observe(0.0000001);
    h.observe(0.0022);
    h.observe(0.00221);
    h.observe(11);
    h.observe(1001);
    const { counts, count, sum } = h.snapshot();
    const at = (le: number) => counts[LATENCY_BUCKETS_SECONDS.indexOf(le)];
    expect(at(0.00001)).toBe(1);
    expect(at(0.0022)).toBe(1);
    expect(at(0.0033)).toBe(1);
    expect(at(15)).toBe(1);
    expect(counts[LATENCY_BUCKETS_SECONDS.length]).toBe(1);
    expect(count).toBe(5);
    expect(sum).toBeCloseTo(1012.0044101, 9);
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
