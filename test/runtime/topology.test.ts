import { afterEach, describe, expect, it } from 'vitest';
import { basicBolt, componentHistogram, componentTotal, RunningTopology, TopologyBuilder } from '../../runtime/index.js';
import { EventLog, fixture, range } from '../helpers/runtime-harness.js';

let topo: RunningTopology | null = null;
let log: EventLog | null = null;
afterEach(async () => {
  await topo?.shutdown({ drainTimeoutMs: 2000 });
  log?.close();
  topo = null;
  log = null;
});

describe('groupings and placement', () => {
  it('routes equal keys to one task across executors and threads, with more tasks than executors', async () => {
    log = new EventLog();
    const channel = log.channelName;
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel, count: 3000, keyMod: 50 }), 2);
    b.setBolt('pass', basicBolt(fixture('PassBolt')), 2).shuffleGrouping('spout');
    b.setBolt('by-key', fixture('TestBolt', { channel, report: true }), 3).setNumTasks(7).fieldsGrouping('pass', ['key']);
    const spec = await b.build({ name: 'test', workers: 2, ackers: 1, metricsIntervalMs: 50 });
    topo = await RunningTopology.start(spec);
    await topo.waitUntilDone();
    await log.until(() => log!.of('seen').length === 6000);
    const tasksByKey = new Map<unknown, Set<number>>();
    for (const e of log.of('seen')) {
      if (!tasksByKey.has(e.key)) tasksByKey.set(e.key, new Set());
      tasksByKey.get(e.key)!.add(e.task);
    }
    expect(tasksByKey.size).toBe(50);
    for (const tasks of tasksByKey.values()) expect(tasks.size).toBe(1);
    const seen = log.of('seen');
    // Seven task instances over three executors, and both worker threads take part.
    expect(new Set(seen.map((e) => e.task)).size).toBe(7);
    expect(new Set(seen.map((e) => e.worker))).toEqual(new Set([0, 1]));
    await topo.shutdown();
    await log.until(() => log!.of('cleanup').length === 7);
  });

  it('sends every tuple to every task with all grouping and to one task with global grouping', async () => {
    log = new EventLog();
    const channel = log.channelName;
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel, count: 100 }));
    b.setBolt('everyone', fixture('TestBolt', { channel, report: true }), 2).setNumTasks(3).allGrouping('spout');
    b.setBolt('one', fixture('TestBolt', { channel, report: true }), 2).setNumTasks(4).globalGrouping('spout');
    const spec = await b.build({ name: 'test', workers: 2, ackers: 1 });
    topo = await RunningTopology.start(spec);
    await topo.waitUntilDone();
    await log.until(() => log!.of('seen').length === 400);
    const seen = log.of('seen');
    const everyone = seen.filter((e) => e.component === 'everyone');
    const one = seen.filter((e) => e.component === 'one');
    expect(everyone).toHaveLength(300);
    expect(new Set(everyone.map((e) => e.task)).size).toBe(3);
    expect(one).toHaveLength(100);
    expect(new Set(one.map((e) => e.task))).toEqual(new Set([Math.min(...spec.tasks.filter((t) => t.component === 'one').map((t) => t.taskId))]));
  });

  it('encodes a stream with its codec only when a tuple crosses threads', async () => {
    log = new EventLog();
    const channel = log.channelName;
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel, count: 400 }), 2);
    b.setBolt('pass', basicBolt(fixture('PassBolt')), 2).localOrShuffleGrouping('spout');
    b.setBolt('seen', fixture('TestBolt', { channel, report: true }), 2).shuffleGrouping('pass');
    b.setStreamCodec('pass', 'default', fixture('MarkingCodec'));
    const spec = await b.build({ name: 'test', workers: 2, ackers: 2 });
    topo = await RunningTopology.start(spec);
    await topo.waitUntilDone();
    await log.until(() => log!.of('seen').length === 800);
    const keys = log.of('seen').map((e) => String(e.key));
    const crossed = keys.filter((k) => k.endsWith('@wire'));
    // Shuffle over two threads: about half the tuples stay local (not encoded), half cross.
    expect(crossed.length).toBeGreaterThan(100);
    expect(keys.length - crossed.length).toBeGreaterThan(100);
    expect(log.acks()).toHaveLength(800);
  });

  it('groups by fields among the local tasks with local fields grouping', async () => {
    log = new EventLog();
    const channel = log.channelName;
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel, count: 500, keyMod: 20 }), 2);
    b.setBolt('by-key', fixture('TestBolt', { channel, report: true }), 2).setNumTasks(4).localFieldsGrouping('spout', ['key']);
    const spec = await b.build({ name: 'test', workers: 2, ackers: 1 });
    const workerOf = (task: number) => spec.executors[spec.tasks.find((t) => t.taskId === task)!.executor]!.worker;
    topo = await RunningTopology.start(spec);
    await topo.waitUntilDone();
    await log.until(() => log!.of('seen').length === 1000);
    // Each spout task (one per thread) emits every key; per thread, a key always meets one local task.
    const tasksByKeyAndWorker = new Map<string, Set<number>>();
    for (const e of log.of('seen')) {
      const k = `${String(e.key)}/${e.worker}`;
      if (!tasksByKeyAndWorker.has(k)) tasksByKeyAndWorker.set(k, new Set());
      tasksByKeyAndWorker.get(k)!.add(e.task);
      expect(workerOf(e.task)).toBe(e.worker);
    }
    for (const tasks of tasksByKeyAndWorker.values()) expect(tasks.size).toBe(1);
  });

  it('caps each worker heap at maxOldGenerationMb and names the cap when a worker outgrows it', async () => {
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel: 'unused-heap-cap', count: 100_000 }));
    b.setBolt('hoard', fixture('HoardingBolt', { mbPerTuple: 4 })).shuffleGrouping('spout');
    await expect(b.build({ name: 'test', workers: 1, maxOldGenerationMb: 32 })).rejects.toThrow(/maxOldGenerationMb \(32\) must be 0 \(V8's default\) or at least 64/);
    const spec = await b.build({ name: 'test', workers: 1, ackers: 1, maxOldGenerationMb: 64 });
    topo = await RunningTopology.start(spec);
    const crashed = new Promise<Error>((resolve) => topo!.on('error', resolve));
    const err = await crashed;
    expect(err.message).toMatch(/worker 0 crashed: .*maxOldGenerationMb, is 64 MB/);
    expect((err as Error & { code?: string }).code).toBe('THEMIS_WORKER_CRASH');
    // Nothing can complete any more: waiting says why, and shutdown ends the rest at once.
    await expect(topo.waitUntilDone()).rejects.toBe(err);
    await expect(topo.crashed()).resolves.toBe(err);
    const t0 = Date.now();
    await topo.shutdown();
    expect(Date.now() - t0).toBeLessThan(5_000);
  }, 60_000);

  it('runs a topology of 80 executors on 2 worker threads', async () => {
    log = new EventLog();
    const channel = log.channelName;
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel, count: 500 }), 4);
    let prev = 'spout';
    for (let i = 0; i < 7; i++) {
      b.setBolt(`stage-${i}`, basicBolt(fixture('PassBolt')), 10).shuffleGrouping(prev);
      prev = `stage-${i}`;
    }
    b.setBolt('sink', fixture('SinkBolt'), 4).localOrShuffleGrouping(prev);
    const spec = await b.build({ name: 'test', workers: 2, ackers: 2 });
    expect(spec.executors.length).toBe(4 + 70 + 4 + 2);
    expect(new Set(spec.executors.map((e) => e.worker))).toEqual(new Set([0, 1]));
    topo = await RunningTopology.start(spec);
    await topo.waitUntilDone();
    await log.until(() => log!.acks().length === 2000);
    expect(log.fails()).toEqual([]);
  });
});

describe('metrics', () => {
  it('samples process latency from execute to ack', async () => {
    log = new EventLog();
    const channel = log.channelName;
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel, count: 20 }));
    b.setBolt('slow', fixture('SlowAckBolt', { delayMs: 40 })).shuffleGrouping('spout');
    const spec = await b.build({ name: 'test', workers: 1, ackers: 1, metricsIntervalMs: 50, latencySampleEvery: 1 });
    topo = await RunningTopology.start(spec);
    await topo.waitUntilDone();
    await new Promise((r) => setTimeout(r, 150));
    const { count, sum } = componentHistogram(topo.snapshots, 'slow', (t) => t.process);
    expect(count).toBe(20);
    expect(sum / count).toBeGreaterThanOrEqual(0.035);
    expect(sum / count).toBeLessThan(1);
  });
});

describe('failures and shutdown', () => {
  it('survives a bolt that throws: the tuple fails, is replayed, and the error is counted', async () => {
    log = new EventLog();
    const channel = log.channelName;
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel, count: 500 }));
    b.setBolt('basic', basicBolt(fixture('ThrowingBasicBolt', { throwIds: [10, 20] })), 2).shuffleGrouping('spout');
    b.setBolt('rich', fixture('TestBolt', { throwIds: [30] }), 2).shuffleGrouping('basic');
    const spec = await b.build({ name: 'test', workers: 2, ackers: 1, metricsIntervalMs: 50 });
    topo = await RunningTopology.start(spec);
    await topo.waitUntilDone();
    await log.until(() => log!.acks().length === 500);
    expect(log.fails().map((f) => f.id).sort((a, b) => a - b)).toEqual([10, 20, 30]);
    expect(log.fails().every((f) => f.reason === 'error')).toBe(true);
    expect(log.acks().sort((a, b) => a - b)).toEqual(range(500));
    await new Promise((r) => setTimeout(r, 150));
    expect(componentTotal(topo.snapshots, 'basic', (c) => c.errors)).toBe(2);
    expect(componentTotal(topo.snapshots, 'rich', (c) => c.errors)).toBe(1);
  });

  it('drains in-flight trees on shutdown, then closes spouts and cleans up bolts', async () => {
    log = new EventLog();
    const channel = log.channelName;
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel, count: 1_000_000 }), 2).setMaxSpoutPending(500);
    b.setBolt('fan', fixture('TestBolt', { channel, fanOut: 3 }), 2).shuffleGrouping('spout');
    b.setBolt('sink', fixture('SinkBolt'), 2).shuffleGrouping('fan');
    const spec = await b.build({ name: 'test', workers: 2, ackers: 2 });
    topo = await RunningTopology.start(spec);
    await log.until(() => log!.acks().length > 1000);
    await topo.shutdown();
    await log.until(() => log!.of('closed').length === 2 && log!.of('cleanup').length === 2);
    // Every spout task closed with nothing in flight: each emitted root was completed before close.
    expect(log.of('closed').map((e) => e.inFlight)).toEqual([0, 0]);
    expect(log.fails()).toEqual([]);
  });
});
