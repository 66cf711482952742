import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { basicBolt, registerTopologyMetrics, RunningTopology, serveMetrics, TopologyBuilder, type TopologySpec } from '../../runtime/index.js';
import { histogramQuantile, increase, parseSamples, promtoolCheckMetrics, scrape, select, type Sample } from '../helpers/prometheus.js';
import { fixture } from '../helpers/runtime-harness.js';

let topo: RunningTopology | null = null;
let server: Server | null = null;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await topo?.shutdown({ drainTimeoutMs: 2000 });
  topo = null;
  server = null;
});

/** Scrapes until the condition holds on a scrape (the workers report every metricsIntervalMs). */
async function scrapeUntil(url: string, cond: (samples: Sample[]) => boolean, timeoutMs = 20_000): Promise<{ text: string; samples: Sample[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape(url);
    const samples = parseSamples(text);
    if (cond(samples)) return { text, samples };
    if (Date.now() > deadline) throw new Error(`condition not reached on /metrics in ${timeoutMs} ms:\n${text.slice(0, 3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the topology and serves its metrics under `instance`; the /metrics address. */
async function startServed(spec: TopologySpec, instance: string): Promise<string> {
  topo = await RunningTopology.start(spec);
  const registry = new Registry();
  registerTopologyMetrics(registry, topo, instance);
  server = await serveMetrics(registry, 0);
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics`;
}

describe('metrics on /metrics', () => {
  it('times a chained bolt by its own time: a no-op ahead of a 2 ms bolt reads under 0.1 ms at p99, the 2 ms one reads 2 ms', async () => {
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('PacedSpout', { pauseMs: 2 }));
    // One thread, local-or-shuffle into basic bolts: both run chained inside the spout's emit.
    b.setBolt('noop', basicBolt(fixture('PassBolt'))).localOrShuffleGrouping('spout');
    b.setBolt('slow', basicBolt(fixture('SpinBolt', { spinMs: 2 }))).localOrShuffleGrouping('noop');
    // One tuple in 4 sampled: the runs of `slow` that are not sampled still time themselves when `noop` is.
    const spec = await b.build({ name: 'test', workers: 1, ackers: 1, metricsIntervalMs: 100, latencySampleEvery: 4 });
    const url = await startServed(spec, 'metrics-test');

    const sampled = (samples: Sample[], count: number) =>
      ['noop', 'slow'].every((component) => (select(samples, 'themis_execute_latency_seconds_count', { component })[0]?.value ?? 0) >= count);
    // As one would query it, over an interval: histogram_quantile(0.99, sum by (le) (increase(..._bucket[...]))).
    const warm = await scrapeUntil(url, (s) => sampled(s, 50));
    const { text, samples: now } = await scrapeUntil(url, (s) => sampled(increase(s, warm.samples), 300));
    const samples = increase(now, warm.samples);

    const quantile = (q: number, component: string) => histogramQuantile(q, samples, 'themis_execute_latency_seconds', { component });
    expect(quantile(0.99, 'noop')).toBeLessThan(0.0001);
    // 2 ms lies in the bucket (1.5 ms, 2.2 ms]. The median reads inside it. The p99 reads there on
    // a quiet machine (2.19 ms), but this one's scheduler stretches 5-10 % of any 2 ms busy-wait by
    // 1-5 ms (a bare loop in node shows the same), and p99 shows that: up to about 7 ms here, and
    // 14 ms with the test suite's other work on both cores. The bounds are kept wide: what the test
    // tells apart is the no-op's microseconds from the slow bolt's milliseconds.
    expect(quantile(0.5, 'slow')).toBeGreaterThan(0.0015);
    expect(quantile(0.5, 'slow')).toBeLessThanOrEqual(0.0022);
    expect(quantile(0.99, 'slow')).toBeGreaterThan(0.0015);
    expect(quantile(0.99, 'slow')).toBeLessThan(0.05);
    const mean = (component: string) =>
      select(samples, 'themis_execute_latency_seconds_sum', { component })[0]!.value / select(samples, 'themis_execute_latency_seconds_count', { component })[0]!.value;
    expect(mean('slow')).toBeGreaterThanOrEqual(0.002);
    expect(mean('slow')).toBeLessThan(0.01);
    // Process latency of a basic bolt is its execute and ack, likewise without what it chained.
    expect(histogramQuantile(0.99, samples, 'themis_process_latency_seconds', { component: 'noop' })).toBeLessThan(0.0001);

    // The chained executors have a capacity: `slow` takes about half the thread (2 ms of every 4), `noop` hardly shows.
    const capacity = (component: string) => select(now, 'themis_executor_capacity_ratio', { component })[0]!.value;
    expect(capacity('slow')).toBeGreaterThan(0.15);
    expect(capacity('slow')).toBeLessThan(0.9);
    expect(capacity('noop')).toBeLessThan(0.1);
    expect(select(now, 'themis_executor_queue_depth_tuples', { component: 'slow' })).toHaveLength(1);
    expect(select(now, 'themis_executed_tuples_total', { instance: 'metrics-test', component: 'slow' })[0]!.value).toBeGreaterThan(1000);

    expect(await promtoolCheckMetrics(text)).toBe('');
  });

  it('serves a component’s gauge with its samples’ own labels, and leaves out, as an error, a gauge that uses a label the engine sets', async () => {
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('PacedSpout', { pauseMs: 1 }));
    b.setBolt('gauged', basicBolt(fixture('GaugeBolt'))).shuffleGrouping('spout');
    const spec = await b.build({ name: 'test', workers: 1, ackers: 1, metricsIntervalMs: 100 });
    const url = await startServed(spec, 'gauge-test');

    const seen = (samples: Sample[], parity: string) => select(samples, 'themis_seen_tuples', { instance: 'gauge-test', component: 'gauged', parity })[0]?.value ?? 0;
    const { text, samples } = await scrapeUntil(url, (s) => seen(s, 'even') >= 20 && seen(s, 'odd') >= 20);
    const executed = select(samples, 'themis_executed_tuples_total', { component: 'gauged' })[0]!.value;
    // Both read from the same report: the gauge's samples add up to the tuples executed.
    expect(seen(samples, 'even') + seen(samples, 'odd')).toBe(executed);
    expect(Math.abs(seen(samples, 'even') - seen(samples, 'odd'))).toBeLessThanOrEqual(1);
    expect(select(samples, 'themis_seen_tuples')[0]!.labels).toEqual({ instance: 'gauge-test', component: 'gauged', task: expect.any(String), parity: expect.any(String) });
    expect(select(samples, 'themis_misnamed_tuples')).toEqual([]);
    expect(select(samples, 'themis_component_errors_total', { component: 'gauged' })[0]!.value).toBeGreaterThan(0);
    expect(text).toContain('# TYPE themis_seen_tuples gauge');
    expect(await promtoolCheckMetrics(text)).toBe('');
  });
});
