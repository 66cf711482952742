/**
 * Isolates the engine's own cost: spout -> 3 pass-through bolts -> sink, with acking on and off,
 * on 1 and 2 worker threads. The bolts do nothing, so every microsecond is the engine's (queues,
 * thread hops, grouping, acker). Each run warms up, then counts spout tuples completed (acking on)
 * or emitted (acking off) over a fixed window, from the engine's own metrics.
 *
 *   npm run bench:engine [-- --seconds 5 --grouping local|shuffle|both]
 * Writes bench/results/engine.json.
 */
import { basicBolt, componentHistogram, componentTotal, moduleRef, RunningTopology, TopologyBuilder } from '../runtime/index.js';
import { benchArgs, printTable, resultsFile, writeResults } from './lib/report.js';

const args = benchArgs();
const seconds = Number(args.get('seconds') ?? 5);
const warmupSeconds = Number(args.get('warmup') ?? 2);
const groupingArg = args.get('grouping') ?? 'both';
const groupings = groupingArg === 'both' ? ['localOrShuffle', 'shuffle'] : [groupingArg === 'local' ? 'localOrShuffle' : groupingArg];

const ref = (name: string) => moduleRef(import.meta.url, './components/engine-components', name);

interface Run {
  threads: number;
  acking: boolean;
  grouping: string;
  spoutTuplesPerSec: number;
  sinkTuplesPerSec: number;
  completeLatencyMs: number | null;
  failed: number;
}

async function measure(threads: number, acking: boolean, grouping: string): Promise<Run> {
  const b = new TopologyBuilder();
  b.setSpout('spout', ref('CountingSpout'), threads);
  let prev = 'spout';
  for (const id of ['pass-1', 'pass-2', 'pass-3', 'sink']) {
    const d = b.setBolt(id, basicBolt(ref(id === 'sink' ? 'DiscardSinkBolt' : 'PassThroughBolt')), threads);
    if (grouping === 'shuffle') d.shuffleGrouping(prev);
    else d.localOrShuffleGrouping(prev);
    prev = id;
  }
  const spec = await b.build({ name: 'bench-engine', workers: threads, ackers: acking ? threads : 0, maxSpoutPending: acking ? 10_000 : 0, metricsIntervalMs: 100 });
  const topo = await RunningTopology.start(spec);
  const read = () => ({
    spout: componentTotal(topo.snapshots, 'spout', (c) => (acking ? c.acked : c.emitted)),
    sink: componentTotal(topo.snapshots, 'sink', (c) => c.executed),
    failed: componentTotal(topo.snapshots, 'spout', (c) => c.failed),
    latSum: componentHistogram(topo.snapshots, 'spout', (t) => t.complete).sum * 1000,
    latCount: componentHistogram(topo.snapshots, 'spout', (t) => t.complete).count,
    at: performance.now(),
  });
  const nextSnapshot = () => new Promise<void>((resolve) => topo.once('metrics', () => resolve()));
  await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
  await nextSnapshot();
  const a = read();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await nextSnapshot();
  const z = read();
  topo.deactivate();
  await topo.shutdown({ drainTimeoutMs: 5000 });
  const secs = (z.at - a.at) / 1000;
  return {
    threads,
    acking,
    grouping,
    spoutTuplesPerSec: Math.round((z.spout - a.spout) / secs),
    sinkTuplesPerSec: Math.round((z.sink - a.sink) / secs),
    completeLatencyMs: acking && z.latCount > a.latCount ? (z.latSum - a.latSum) / (z.latCount - a.latCount) : null,
    failed: z.failed,
  };
}

const runs: Run[] = [];
for (const grouping of groupings) {
  for (const threads of [1, 2]) {
    for (const acking of [false, true]) {
      const r = await measure(threads, acking, grouping);
      runs.push(r);
      console.error(`measured threads=${threads} acking=${acking} grouping=${grouping}: ${r.spoutTuplesPerSec.toLocaleString('en-US')} tuples/s`);
    }
  }
}
printTable(runs as unknown as Array<Record<string, unknown>>);
for (const grouping of groupings) {
  const on = runs.find((r) => r.threads === 2 && r.acking && r.grouping === grouping)!;
  const off = runs.find((r) => r.threads === 2 && !r.acking && r.grouping === grouping)!;
  console.log(`${grouping}, 2 threads: acked ${on.spoutTuplesPerSec.toLocaleString('en-US')}/s (target 500,000); acking on / off = ${(on.spoutTuplesPerSec / off.spoutTuplesPerSec).toFixed(2)} (target 0.6)`);
}
writeResults(resultsFile('engine.json'), runs, { seconds, warmupSeconds, chain: 'spout -> pass-1 -> pass-2 -> pass-3 -> sink' });
