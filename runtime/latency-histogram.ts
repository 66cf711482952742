/**
 * Latency histograms as a worker thread keeps them: fixed bucket bounds, counts in a typed array,
 * nothing allocated per observation. Snapshots cross to the supervisor, which exposes them as
 * Prometheus histograms (metrics.ts).
 */

/**
 * Upper bounds of the buckets, seconds: 10 µs to 1,000 s, six per decade on the E6 series (1,
 * 1.5, 2.2, 3.3, 4.7, 6.8), each about 1.47 times the last. A bucket's upper bound is what
 * histogram_quantile interpolates towards, so a quantile reads at most 47 % high. The decades past
 * 10 s hold the long waits a stream allows on purpose (a flow held for its reverse direction for
 * the match window, a conversation held for evidence, a tuple up to its message timeout), which
 * would otherwise all read +Inf. The last bucket (+Inf) holds what passes 1,000 s.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = (() => {
  const e6Micros = [10, 15, 22, 33, 47, 68];
  const bounds: number[] = [];
  // Integers of microseconds, divided once: each bound is the double nearest its decimal (0.000022).
  for (let scale = 1; scale <= 10_000_000; scale *= 10) for (const m of e6Micros) bounds.push((m * scale) / 1_000_000);
  bounds.push(1000);
  return bounds;
})();

const BOUNDS = Float64Array.from(LATENCY_BUCKETS_SECONDS);

/** One histogram as it crosses threads: per-bucket counts (not cumulative; +Inf last), sum in seconds, count. */
export interface HistogramSnapshot {
  readonly counts: number[];
  readonly sum: number;
  readonly count: number;
}

export class LatencyHistogram {
  /** Observations per bucket; index LATENCY_BUCKETS_SECONDS.length is +Inf. Float64: exact past 2^31. */
  private readonly counts = new Float64Array(BOUNDS.length + 1);
  sum = 0;
  count = 0;

  /** Records `n` observations of `seconds` each (a batch of n tuples timed as one, n × its mean). */
  observe(seconds: number, n = 1): void {
    // Binary search for the first bound >= seconds (Prometheus' `le`): 6 comparisons for 50 buckets.
    let lo = 0;
    let hi = BOUNDS.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (BOUNDS[mid] < seconds) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo] += n;
    this.sum += seconds * n;
    this.count += n;
  }

  snapshot(): HistogramSnapshot {
    return { counts: Array.from(this.counts), sum: this.sum, count: this.count };
  }
}
