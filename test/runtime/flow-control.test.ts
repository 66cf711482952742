import { afterEach, describe, expect, it } from 'vitest';
import { RunningTopology, TopologyBuilder, type TopologyOptions, type WorkerMetricsSnapshot } from '../../runtime/index.js';
import { EventLog, fixture } from '../helpers/runtime-harness.js';

/**
 * Flow control between executors and threads (issue 12, section 2). Three gates hold data back:
 * an executor's inbox capacity (queueCapacity), a thread's outbox to a peer (with the credits of
 * maxInflightBatches per pair of threads), and a thread's receive gate for the batches its peers
 * posted. Whatever their sizes, they must never wait on each other in a cycle: every run of the
 * sweep below completes, every root acked.
 */

let topo: RunningTopology | null = null;
let log: EventLog | null = null;
afterEach(async () => {
  // A run that stopped drains nothing: shut it down at once.
  await topo?.shutdown({ drainTimeoutMs: 200 });
  log?.close();
  topo = null;
  log = null;
});

const SIZES = [1, 2, 4] as const;
/** Roots of each spout task. */
const ROOTS_PER_SPOUT_TASK = 150;
/** A run that has not acked every root by then fails. */
const RUN_LIMIT_MS = 20_000;
/**
 * A run in which no root completes for this long has stopped: the threads wait on each other with
 * tuples still queued. (The slowest settings here complete a root every few milliseconds.)
 */
const STALL_MS = 4_000;
/** Start, the run itself and shutdown. */
const TEST_TIMEOUT_MS = RUN_LIMIT_MS + 15_000;

interface FlowSettings {
  readonly batchSize: number;
  readonly queueCapacity: number;
  readonly maxInflightBatches: number;
  readonly workers: number;
}

type Shape = (b: TopologyBuilder, channel: string, workers: number) => void;

/**
 * Fan-out: one spout, shuffled to a bolt of two tasks per thread that emits three tuples per
 * input; those go by fields to a bolt on every thread that emits two per input; and those to a
 * sink on every thread by all grouping. Each root becomes 6 * (threads + 1) + 4 tuples, most of
 * them crossing threads in both directions.
 */
const fanOut: Shape = (b, channel, workers) => {
  b.setSpout('spout', fixture('SeqSpout', { channel, count: ROOTS_PER_SPOUT_TASK * 2 }));
  b.setBolt('split', fixture('TestBolt', { fanOut: 3 }), workers).setNumTasks(workers * 2).shuffleGrouping('spout');
  b.setBolt('by-key', fixture('TestBolt', { fanOut: 2 }), workers).fieldsGrouping('split', ['key']);
  b.setBolt('sink', fixture('SinkBolt'), workers).allGrouping('by-key');
};

/**
 * Fan-in: a spout task on every thread feeds a bolt on every thread that emits three tuples per
 * input; that bolt and a second spout all send to one sink task by global grouping, so every
 * thread converges on the sink's thread.
 */
const fanIn: Shape = (b, channel, workers) => {
  b.setSpout('spout', fixture('SeqSpout', { channel, count: ROOTS_PER_SPOUT_TASK }), workers);
  b.setSpout('side', fixture('SeqSpout', { channel, count: ROOTS_PER_SPOUT_TASK }));
  b.setBolt('split', fixture('TestBolt', { fanOut: 3 }), workers).shuffleGrouping('spout');
  b.setBolt('one', fixture('SinkBolt'), 1).globalGrouping('split').globalGrouping('side');
};

function describeSettings(shape: string, s: FlowSettings): string {
  return `${shape}, batch ${s.batchSize} / queue ${s.queueCapacity} / credit ${s.maxInflightBatches} on ${s.workers} threads`;
}

/** Every combination of batch, queue and credit, each on 2, 3 or 4 threads (rotating, offset per shape). */
function sweep(threadOffset: number): FlowSettings[] {
  const all: FlowSettings[] = [];
  for (const batchSize of SIZES) {
    for (const queueCapacity of SIZES) {
      for (const maxInflightBatches of SIZES) {
        all.push({ batchSize, queueCapacity, maxInflightBatches, workers: 2 + ((all.length + threadOffset) % 3) });
      }
    }
  }
  return all;
}

async function start(shape: Shape, s: FlowSettings, options: Partial<TopologyOptions> = {}): Promise<{ topo: RunningTopology; log: EventLog; roots: number }> {
  log = new EventLog();
  const b = new TopologyBuilder();
  shape(b, log.channelName, s.workers);
  const spec = await b.build({ name: 'flow-control', ackers: 2, messageTimeoutSecs: 60, ...s, ...options });
  let roots = 0;
  for (const c of spec.components) if (c.kind === 'spout') roots += c.tasks * (c.ref.args as { count: number }).count;
  topo = await RunningTopology.start(spec);
  return { topo, log, roots };
}

/** Waits until `roots` distinct roots are acked; throws naming the settings if the run stops or overruns. */
async function completes(label: string, topo: RunningTopology, log: EventLog, roots: number): Promise<void> {
  const startedAt = Date.now();
  let acked = -1;
  let lastProgressAt = startedAt;
  for (;;) {
    const now = Date.now();
    const acks = log.of('ack');
    if (acks.length >= roots) break;
    if (acks.length !== acked) {
      acked = acks.length;
      lastProgressAt = now;
    }
    const stalled = now - lastProgressAt >= STALL_MS;
    if (stalled || now - startedAt >= RUN_LIMIT_MS) {
      const s = await topo.status();
      // Tuples still queued: the gates wait on each other. Nothing queued or in flight while a spout
      // still has input: no thread schedules the spout any more.
      const idle = s.queued === 0 && s.inTransit === 0 && s.inFlight === 0 && !s.exhausted;
      const why = !stalled
        ? `not done after ${RUN_LIMIT_MS / 1000} s`
        : `no root completed for ${STALL_MS / 1000} s: ${idle ? 'nothing queued or in flight, yet the spouts have input left: no spout is scheduled' : 'the threads wait on each other'}`;
      throw new Error(`${label}: ${acked} of ${roots} roots acked, ${why} (tuples queued ${s.queued}, batches in transit ${s.inTransit}, roots in flight ${s.inFlight})`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const acks = log.of('ack');
  expect(new Set(acks.map((a) => `${a.task}:${a.id}`)).size, `${label}: each root acked once`).toBe(roots);
  expect(log.fails(), `${label}: no root failed`).toEqual([]);
}

for (const [name, shape, offset] of [
  ['fan-out', fanOut, 0],
  ['fan-in', fanIn, 1],
] as const) {
  describe(`flow control never deadlocks: ${name} topology, acking on`, () => {
    for (const s of sweep(offset)) {
      const label = describeSettings(name, s);
      it(`completes every root with ${label}`, async () => {
        const run = await start(shape, s);
        await completes(label, run.topo, run.log, run.roots);
      }, TEST_TIMEOUT_MS);
    }
  });
}

describe('inbox bound', () => {
  /**
   * The contract: an execute starts only while every local inbox it emits to holds fewer than
   * queueCapacity tuples; an execute is never stopped midway. So an inbox fed on its own thread
   * holds at most queueCapacity - 1 + the most tuples one execute emits to it, at every moment,
   * not only between scheduling passes. Observed through the executors' queue depth in the metrics
   * (sampled every 10 ms, between scheduling turns).
   *
   * Fails on the code of 9384d1d: canRun is checked once per pass of an executor (up to 1,024
   * inputs), so one pass of `split` below puts up to 16 * 8 tuples in the sink's inbox.
   */
  it('holds a local inbox within queueCapacity - 1 plus one execute\'s emits, per emit', async () => {
    const queueCapacity = 16;
    const fanOutPerExecute = 8;
    const s: FlowSettings = { batchSize: 64, queueCapacity, maxInflightBatches: 4, workers: 1 };
    const run = await start(
      (b, channel) => {
        b.setSpout('spout', fixture('SeqSpout', { channel, count: 3000 }));
        b.setBolt('split', fixture('TestBolt', { fanOut: fanOutPerExecute }), 1).shuffleGrouping('spout');
        b.setBolt('sink', fixture('SinkBolt'), 1).shuffleGrouping('split');
      },
      s,
      { metricsIntervalMs: 10 },
    );
    const deepest = new Map<string, number>();
    let samples = 0;
    run.topo.on('metrics', (snaps: ReadonlyArray<WorkerMetricsSnapshot | undefined>) => {
      samples++;
      for (const snap of snaps) for (const e of snap?.executors ?? []) deepest.set(e.component, Math.max(deepest.get(e.component) ?? 0, e.queueDepth));
    });
    await completes(describeSettings('spout -> split x8 -> sink', s), run.topo, run.log, run.roots);
    expect(samples).toBeGreaterThan(5);
    // The spout emits one tuple per nextTuple; the split bolt emits eight per execute.
    expect(deepest.get('split') ?? 0, 'split inbox (fed by the spout, 1 per emit)').toBeLessThanOrEqual(queueCapacity - 1 + 1);
    expect(deepest.get('sink') ?? 0, `sink inbox (fed by split, ${fanOutPerExecute} per execute)`).toBeLessThanOrEqual(queueCapacity - 1 + fanOutPerExecute);
  }, TEST_TIMEOUT_MS);
});
