/** One run of the whole topology on a file of flows, as the Themis benchmarks measure it. */
import type { ThemisArgs } from '../../bolts/components/themis-args.js';
import type { WorkerMetricsSnapshot } from '../../runtime/index.js';
import { startThemis, type FlowInput } from '../../topology/run-themis.js';
import { latencyCounts, percentileOfCounts, rssSampler, type ThemisRun } from './measure.js';
import type { PageHook } from './page-cost.js';

export interface FileRunOptions {
  readonly args: ThemisArgs;
  readonly input: FlowInput & { kind: 'file' };
  /** Flows in the file. */
  readonly count: number;
  readonly workers: number;
  readonly workerHeapMb?: number;
  /** For an offered-rate run: seconds left out of p50/p99 (JIT, first use of the data sources). */
  readonly warmupSecs: number;
  readonly plainLoopFlowsPerSec: number;
  /** With a page hook, /metrics and the live page are served on an ephemeral port, and the hook may open the page. */
  readonly page?: PageHook;
  /**
   * Also measure the rate from this many seconds after the start to the end (`steadyFlowsPerSec`),
   * from the input count the metrics snapshots give then (at most one snapshot interval old).
   */
  readonly steadyAfterSecs?: number;
  /** More figures read from the run's last metrics snapshots, added to the result. */
  readonly extra?: (snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>) => Record<string, unknown>;
}

/**
 * Runs the topology to the end of the file: flows/s over the run, p50/p99 of the scored output's
 * latency (after the warm-up for an offered-rate run; p99WholeRunMs includes it) and peak RSS.
 */
export async function runThemisFile(o: FileRunOptions): Promise<ThemisRun & { pageUpdates: number; steadyFlowsPerSec: number | null }> {
  const rss = rssSampler();
  const run = await startThemis({
    submit: { executors: o.workers, tasks: o.workers, maxPending: 20_000, extraMatch: 0, name: 'bench' },
    args: o.args,
    input: o.input,
    workers: o.workers,
    ...(o.workerHeapMb !== undefined ? { workerHeapMb: o.workerHeapMb } : {}),
    metricsPort: o.page ? 0 : null,
  });
  const t0 = performance.now();
  const done = run.topology.waitUntilDone(5);
  const pageDone = o.page ? await o.page(run) : null;
  let steadyFrom: { atMs: number; linesIn: number } | null = null;
  if (o.steadyAfterSecs !== undefined) {
    const waitMs = t0 + o.steadyAfterSecs * 1000 - performance.now();
    const finished = await Promise.race([done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), Math.max(0, waitMs)))]);
    if (!finished) steadyFrom = { atMs: performance.now(), linesIn: run.progress().linesIn };
  }
  let afterWarmup: number[] | null = null;
  if (o.input.ratePerSec !== undefined) {
    const finished = await Promise.race([done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), o.warmupSecs * 1000))]);
    // Metrics snapshots are at most one interval (1 s) old: the warm-up cut is that precise.
    if (!finished) afterWarmup = latencyCounts(run.topology.snapshots);
  }
  await done;
  const endMs = performance.now();
  const secs = (endMs - t0) / 1000;
  const steadyFlowsPerSec = steadyFrom === null ? null : Math.round((o.count - steadyFrom.linesIn) / ((endMs - steadyFrom.atMs) / 1000));
  const pageUpdates = pageDone ? await pageDone() : 0;
  await new Promise((r) => setTimeout(r, 1100));
  const counts = latencyCounts(run.topology.snapshots);
  const steady = afterWarmup ?? undefined;
  const result: ThemisRun = {
    mode: 'file',
    flows: o.count,
    offeredPerSec: o.input.ratePerSec ?? null,
    flowsPerSec: Math.round(o.count / secs),
    p50Ms: percentileOfCounts(counts, 0.5, steady),
    p99Ms: percentileOfCounts(counts, 0.99, steady),
    p99WholeRunMs: o.input.ratePerSec === undefined ? null : percentileOfCounts(counts, 0.99),
    peakRssMb: rss.stop(),
    plainLoopFlowsPerSec: o.plainLoopFlowsPerSec,
    workers: o.workers,
    ...o.extra?.(run.topology.snapshots),
  };
  await run.stop();
  return { ...result, pageUpdates, steadyFlowsPerSec };
}
