/** What the Themis benchmark measures of a run, and how (latency histogram, peak memory). */
import { SCORED_LATENCY } from '../../bolts/components/output-bolts.js';
import { componentHistogram, LATENCY_BUCKETS_SECONDS, type WorkerMetricsSnapshot } from '../../runtime/index.js';
import { PERSIST_SCORED } from '../../topology/themis-topology.js';

export interface ThemisRun {
  mode: 'file' | 'kafka';
  flows: number;
  offeredPerSec: number | null;
  flowsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /**
   * For an offered-rate run, p50/p99 above are of the steady state (after `warmupSecs`); this is
   * p99 over the whole run, warm-up included. null for max-rate runs (their figures are whole-run).
   */
  p99WholeRunMs?: number | null;
  peakRssMb: number;
  plainLoopFlowsPerSec: number;
  workers: number;
}

/** The scored output's latency histogram, summed over every task: one count per bucket (+inf last). */
export function latencyCounts(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>): number[] {
  return componentHistogram(snapshots, PERSIST_SCORED, (t) => t.customHistograms[SCORED_LATENCY]).counts;
}

/** Percentile of a histogram (upper bound of the bucket); `since` subtracts an earlier reading. */
export function percentileOfCounts(counts: readonly number[], p: number, since?: readonly number[]): number | null {
  const c = since ? counts.map((n, i) => n - (since[i] ?? 0)) : counts;
  const total = c.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < c.length; i++) {
    seen += c[i]!;
    if (seen >= total * p) return i < LATENCY_BUCKETS_SECONDS.length ? Math.round(LATENCY_BUCKETS_SECONDS[i]! * 1_000_000) / 1000 : Infinity;
  }
  return null;
}

/** Percentile from the scored output's latency histogram (upper bound of the bucket). */
export function percentile(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>, p: number): number | null {
  return percentileOfCounts(latencyCounts(snapshots), p);
}

export function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  return {
    stop() {
      clearInterval(t);
      return Math.round(Math.max(peak, process.memoryUsage().rss) / (1024 * 1024));
    },
  };
}

