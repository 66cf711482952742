import { afterEach, describe, expect, it } from 'vitest';
import { basicBolt, RunningTopology, TopologyBuilder } from '../../runtime/index.js';
import { EventLog, fixture, range } from '../helpers/runtime-harness.js';

let topo: RunningTopology | null = null;
let log: EventLog | null = null;
afterEach(async () => {
  await topo?.shutdown({ drainTimeoutMs: 2000 });
  log?.close();
  topo = null;
  log = null;
});

async function run(build: (b: TopologyBuilder, channel: string) => void, opts: { workers?: number; ackers?: number; messageTimeoutSecs?: number; queueCapacity?: number; batchSize?: number } = {}) {
  log = new EventLog();
  const b = new TopologyBuilder();
  build(b, log.channelName);
  const spec = await b.build({
    name: 'test',
    workers: opts.workers ?? 2,
    ackers: opts.ackers ?? 2,
    messageTimeoutSecs: opts.messageTimeoutSecs ?? 30,
    metricsIntervalMs: 50,
    ...(opts.queueCapacity !== undefined ? { queueCapacity: opts.queueCapacity } : {}),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
  });
  topo = await RunningTopology.start(spec);
  return { topo, log };
}

describe('at-least-once acking', () => {
  it('completes a tree only when every anchored descendant is acked', async () => {
    const { topo, log } = await run((b, channel) => {
      b.setSpout('spout', fixture('SeqSpout', { channel, count: 40 }));
      b.setBolt('fan', fixture('TestBolt', { fanOut: 3 }), 2).shuffleGrouping('spout');
      b.setBolt('hold', fixture('HoldingBolt'), 2).shuffleGrouping('fan');
    });
    // Every root's three grandchildren are held by the holding bolt, so no tree can complete.
    await log.settle(400);
    expect(log.acks()).toEqual([]);
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 40);
    expect(log.acks().sort((a, b) => a - b)).toEqual(range(40));
    expect(log.fails()).toEqual([]);
  });

  it('replays the root when a bolt fails any tuple of its tree', async () => {
    const { topo, log } = await run((b, channel) => {
      b.setSpout('spout', fixture('SeqSpout', { channel, count: 200 }));
      b.setBolt('fan', fixture('TestBolt', { fanOut: 2 }), 2).shuffleGrouping('spout');
      b.setBolt('picky', fixture('TestBolt', { failIds: [3, 77] }), 3).shuffleGrouping('fan');
    });
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 200);
    expect(log.acks().sort((a, b) => a - b)).toEqual(range(200));
    // Each of the two copies of ids 3 and 77 fails on its first attempt; the root fails once.
    expect(log.fails().sort((a, b) => a.id - b.id)).toEqual([
      { id: 3, reason: 'error' },
      { id: 77, reason: 'error' },
    ]);
  });

  it('tells the spout which bolt failed the root, and with what error, across threads', async () => {
    const { topo, log } = await run((b, channel) => {
      b.setSpout('spout', fixture('SeqSpout', { channel, count: 60 }));
      b.setBolt('fan', fixture('TestBolt', { fanOut: 2 }), 2).shuffleGrouping('spout');
      b.setBolt('picky', fixture('TestBolt', { throwIds: [7], failIds: [21] }), 3).shuffleGrouping('fan');
    });
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 60);
    const causes = log.of('fail').map((f) => ({ id: f.id, reason: f.reason, component: f.cause?.component, error: f.cause?.error }));
    expect(causes.sort((a, b) => a.id - b.id)).toEqual([
      { id: 7, reason: 'error', component: 'picky', error: 'fixture throws on id 7' },
      // Failed without an error: the bolt is named, the error is empty.
      { id: 21, reason: 'error', component: 'picky', error: '' },
    ]);
  });

  it('fails a tree that times out with reason timeout and replays it', async () => {
    const { topo, log } = await run(
      (b, channel) => {
        b.setSpout('spout', fixture('SeqSpout', { channel, count: 100 }));
        b.setBolt('pass', basicBolt(fixture('PassBolt')), 2).shuffleGrouping('spout');
        b.setBolt('lossy', fixture('TestBolt', { dropIds: [42] }), 2).shuffleGrouping('pass');
      },
      { messageTimeoutSecs: 0.5 },
    );
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 100);
    expect(log.fails()).toEqual([{ id: 42, reason: 'timeout' }]);
    expect(new Set(log.acks()).size).toBe(100);
  });

  it('tracks a tuple anchored to several roots and replays all of them when it fails', async () => {
    const { topo, log } = await run(
      (b, channel) => {
        b.setSpout('spout', fixture('SeqSpout', { channel, count: 20, keyMod: 0 }));
        b.setBolt('pair', fixture('PairJoinBolt'), 1).shuffleGrouping('spout');
        b.setBolt('lossy', fixture('TestBolt', { dropIds: [4] }), 2).shuffleGrouping('pair');
      },
      { messageTimeoutSecs: 0.5 },
    );
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 20);
    expect(log.fails().sort((a, b) => a.id - b.id)).toEqual([
      { id: 4, reason: 'timeout' },
      { id: 5, reason: 'timeout' },
    ]);
    expect(log.acks().sort((a, b) => a - b)).toEqual(range(20));
  });

  it('tracks trees through chained basic bolts: a throw inside the chain and a loss after it both replay', async () => {
    const { topo, log } = await run(
      (b, channel) => {
        b.setSpout('spout', fixture('SeqSpout', { channel, count: 300 }));
        // Basic bolts wired local-or-shuffle run chained, inside one execute on the spout's thread.
        b.setBolt('a', basicBolt(fixture('PassBolt')), 2).localOrShuffleGrouping('spout');
        b.setBolt('b', basicBolt(fixture('ThrowingBasicBolt', { throwIds: [17] })), 2).localOrShuffleGrouping('a');
        b.setBolt('c', basicBolt(fixture('PassBolt')), 2).localOrShuffleGrouping('b');
        b.setBolt('lossy', fixture('TestBolt', { dropIds: [99], fanOut: 2 }), 2).localOrShuffleGrouping('c');
        b.setBolt('hold', fixture('HoldingBolt'), 2).localOrShuffleGrouping('lossy');
      },
      { messageTimeoutSecs: 0.5 },
    );
    await log.settle(300);
    // Every tree ends in the holding bolt, so none may have completed yet: chaining must not ack early.
    expect(log.acks()).toEqual([]);
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 300);
    expect(log.fails().sort((x, y) => x.id - y.id)).toEqual([
      { id: 17, reason: 'error' },
      { id: 99, reason: 'timeout' },
    ]);
    expect(log.acks().sort((x, y) => x - y)).toEqual(range(300));
  });

  it('chains a basic bolt under a bolt whose emit is anchored to two trees: a throw fails both, a loss times out both', async () => {
    const { topo, log } = await run(
      (b, channel) => {
        b.setSpout('spout', fixture('SeqSpout', { channel, count: 40, keyMod: 0 }));
        b.setBolt('pair', fixture('PairJoinBolt'), 1).shuffleGrouping('spout');
        // Run inside the pair bolt's emit, as children of both of its anchors.
        b.setBolt('b', basicBolt(fixture('ThrowingBasicBolt', { throwIds: [6] })), 2).localOrShuffleGrouping('pair');
        b.setBolt('c', basicBolt(fixture('PassBolt')), 2).localOrShuffleGrouping('b');
        b.setBolt('lossy', fixture('TestBolt', { dropIds: [10] }), 2).localOrShuffleGrouping('c');
        b.setBolt('hold', fixture('HoldingBolt'), 2).localOrShuffleGrouping('lossy');
      },
      { messageTimeoutSecs: 0.5 },
    );
    await log.settle(300);
    expect(log.acks()).toEqual([]);
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 40);
    expect(log.fails().sort((x, y) => x.id - y.id)).toEqual([
      { id: 6, reason: 'error' },
      { id: 7, reason: 'error' },
      { id: 10, reason: 'timeout' },
      { id: 11, reason: 'timeout' },
    ]);
    expect(log.acks().sort((x, y) => x - y)).toEqual(range(40));
  });

  it('completes a spout tuple whose only subscriber runs chained and emits nothing, and replays one whose chain throws', async () => {
    const { topo, log } = await run((b, channel) => {
      b.setSpout('spout', fixture('SeqSpout', { channel, count: 200 }));
      b.setBolt('check', basicBolt(fixture('ThrowingBasicBolt', { throwIds: [33] })), 2).localOrShuffleGrouping('spout');
      b.setBolt('drain', basicBolt(fixture('DrainBasicBolt')), 2).localOrShuffleGrouping('check');
    });
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 200);
    expect(log.fails()).toEqual([{ id: 33, reason: 'error' }]);
    expect(log.acks().sort((x, y) => x - y)).toEqual(range(200));
  });

  it('acks spout tuples as soon as they are emitted when there are no ackers', async () => {
    const { topo, log } = await run(
      (b, channel) => {
        b.setSpout('spout', fixture('SeqSpout', { channel, count: 300 }));
        b.setBolt('picky', fixture('TestBolt', { failIds: [5] }), 2).shuffleGrouping('spout');
      },
      { ackers: 0 },
    );
    await topo.waitUntilDone();
    await log.until(() => log.acks().length === 300);
    // Without ackers a failure downstream is not tracked: nothing is replayed.
    expect(log.fails()).toEqual([]);
  });
});

describe('max spout pending', () => {
  it('never lets a spout task have more incomplete roots than maxSpoutPending', async () => {
    const { topo, log } = await run((b, channel) => {
      b.setSpout('spout', fixture('SeqSpout', { channel, count: 3000, maxPending: 16 }), 2).setMaxSpoutPending(16);
      b.setBolt('fan', fixture('TestBolt', { fanOut: 2 }), 2).shuffleGrouping('spout');
      b.setBolt('sink', fixture('SinkBolt'), 3).shuffleGrouping('fan');
    });
    let maxSeen = 0;
    const watch = topo.on('metrics', (snaps) => {
      for (const s of snaps) if (s) for (const t of s.tasks) if (t.kind === 'spout') maxSeen = Math.max(maxSeen, t.pending);
    });
    await topo.waitUntilDone();
    watch.removeAllListeners('metrics');
    await log.until(() => log.acks().length === 6000);
    // The spout checks its own in-flight count before every emit; a violation would be reported.
    expect(log.of('pending-violation')).toEqual([]);
    expect(maxSeen).toBeLessThanOrEqual(16);
  });
});

describe('a bolt whose dependency is down (circuit breaker)', () => {
  it('gets no input while it is down, the spouts wait, and no root times out however long the outage lasts', async () => {
    const count = 3000;
    const { topo, log: events } = await run(
      (b, channel) => {
        b.setSpout('spout', fixture('SeqSpout', { channel, count }));
        b.setBolt('fan', fixture('TestBolt', {}), 2).shuffleGrouping('spout');
        // The outage lasts three message timeouts.
        b.setBolt('sink', fixture('OutageSinkBolt', { channel, downAfter: 500, downMs: 3000 }), 1).shuffleGrouping('fan');
      },
      { ackers: 1, messageTimeoutSecs: 1, queueCapacity: 64, batchSize: 16 },
    );

    await events.until(() => events.of('outage').some((e) => e.phase === 'start'), 20_000);
    await events.until(() => events.of('outage').some((e) => e.phase === 'end'), 20_000);
    const end = events.of('outage').find((e) => e.phase === 'end')!;
    expect(end.executedWhileDown, 'inputs the engine gave the task while its breaker was open').toBe(0);

    await topo.waitUntilDone();
    await events.until(() => events.acks().length >= count, 20_000);
    expect(events.fails(), 'roots failed: none timed out during the outage').toEqual([]);
    expect(events.acks().sort((x, y) => x - y)).toEqual(range(count));
    expect((await topo.status()).inFlight).toBe(0);
  }, 60_000);
});
