/** What the Themis benchmark measures of a run, and how (latency histogram, peak memory). */
import { LATENCY_BUCKETS_MS, latencyBucketName } from '../../bolts/components/output-bolts.js';
import type { WorkerMetricsSnapshot } from '../../runtime/index.js';
import { PERSIST_SCORED } from '../../topology/themis-topology.js';

export interface ThemisRun {
  mode: 'file' | 'kafka';
  flows: number;
  offeredPerSec: number | null;
  flowsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  peakRssMb: number;
  plainLoopFlowsPerSec: number;
  workers: number;
}

/** Percentile from the scored output's latency histogram (upper bound of the bucket). */
export function percentile(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>, p: number): number | null {
  const counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  for (const s of snapshots) if (s) for (const t of s.tasks) if (t.component === PERSIST_SCORED) counts.forEach((_, i) => (counts[i]! += t.custom[latencyBucketName(i)] ?? 0));
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= total * p) return LATENCY_BUCKETS_MS[i] ?? Infinity;
  }
  return null;
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

