import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { moduleRef, RunningTopology, TopologyBuilder } from '../../runtime/index.js';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import type { KafkaSpoutArgs } from '../../spouts/kafka-spout.js';
import type { KafkaFixtureEvent, RecordingBoltArgs } from './fixtures/kafka-fixtures.js';
import { useTestBroker } from '../helpers/kafka.js';

// Runs KafkaSpout topologies against the broker that `npm run kafka:up` starts. Every test has
// its own topic (4 partitions) and consumer group; both are deleted in afterAll.
const broker = useTestBroker('themis-test-kafka-spout');
const BROKERS = broker.brokers;
const PARTITIONS = 4;
const kafka = new Kafka({ clientId: 'themis-test-kafka-spout', brokers: BROKERS, logLevel: logLevel.NOTHING });
let producer: Producer | undefined;

/** The file's producer, connected on first use (after the broker's set-up has checked it answers). */
async function connectedProducer(): Promise<Producer> {
  if (producer === undefined) {
    const client = kafka.producer();
    await client.connect();
    producer = client;
  }
  return producer;
}

const running: RunningTopology[] = [];
const channels: EventLog[] = [];

afterEach(async () => {
  for (const topology of running.splice(0)) await topology.shutdown({ drainTimeoutMs: 2_000 });
  for (const log of channels.splice(0)) log.close();
});

afterAll(async () => {
  await producer?.disconnect();
});

/** Collects what the fixture bolts report from their worker threads. */
class EventLog {
  readonly channelName = `themis-kafka-test-${randomUUID()}`;
  readonly events: KafkaFixtureEvent[] = [];
  private readonly channel = new BroadcastChannel(this.channelName);
  constructor() {
    this.channel.onmessage = (e: unknown) => this.events.push((e as { data: KafkaFixtureEvent }).data);
  }
  of<K extends KafkaFixtureEvent['kind']>(kind: K): Array<Extract<KafkaFixtureEvent, { kind: K }>> {
    return this.events.filter((e): e is Extract<KafkaFixtureEvent, { kind: K }> => e.kind === kind);
  }
  async until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not reached in time');
      await sleep(20);
    }
  }
  close(): void {
    this.channel.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function newTopic(prefix: string): Promise<string> {
  const topic = broker.topic(prefix);
  await createTopics({ brokers: BROKERS, topics: [topic], partitions: PARTITIONS });
  return topic;
}

function newGroup(): string {
  return broker.group('themis-it-spout-group');
}

/** Produces `count` messages `{"seq":n}`, n from `first`, message n to partition n % 4. */
async function produce(topic: string, count: number, first = 0): Promise<void> {
  const messages = Array.from({ length: count }, (_, i) => ({ partition: (first + i) % PARTITIONS, value: JSON.stringify({ seq: first + i }) }));
  await (await connectedProducer()).send({ topic, acks: -1, messages });
}

/** partition -> the group's committed offset (-1: none). */
async function committedOffsets(groupId: string, topic: string): Promise<Record<number, number>> {
  const [result] = await broker.admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

/**
 * Completion is reported to the spout as acks arrive; the commit follows on the spout's next commit
 * interval (500 ms) or at close. Polls (bounded) until the group's offsets reach `ends`.
 */
async function expectCommittedTo(groupId: string, topic: string, ends: Record<string, number>): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = await committedOffsets(groupId, topic);
  while (JSON.stringify(last) !== JSON.stringify(ends) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await committedOffsets(groupId, topic);
  }
  expect(last).toEqual(ends);
}

async function highWatermarks(topic: string): Promise<Record<number, number>> {
  const offsets = await broker.admin.fetchTopicOffsets(topic);
  return Object.fromEntries(offsets.map((o) => [o.partition, Number(o.high)]));
}

/** Every origin `<topic>/<partition>@<offset>` below the high-water marks. */
function originsBelow(topic: string, ends: Record<number, number>, starts: Record<number, number> = {}): string[] {
  const origins: string[] = [];
  for (const [partition, end] of Object.entries(ends)) {
    for (let offset = starts[Number(partition)] ?? 0; offset < end; offset++) origins.push(`${topic}/${partition}@${offset}`);
  }
  return origins.sort();
}

interface RunOptions {
  spout: Partial<KafkaSpoutArgs> & { topic: string; groupId: string };
  bolt?: Omit<RecordingBoltArgs, 'channel'>;
  spoutTasks?: number;
  maxSpoutPending?: number;
  messageTimeoutSecs?: number;
}

/** Starts KafkaSpout -> RecordingBolt (both streams grouped by origin, so one task sees every attempt). */
async function runTopology(options: RunOptions): Promise<{ topology: RunningTopology; log: EventLog }> {
  const log = new EventLog();
  channels.push(log);
  const spoutArgs: KafkaSpoutArgs = { brokers: BROKERS, fromBeginning: true, stopAtEndOffsets: true, commitIntervalMs: 100, ...options.spout };
  const builder = new TopologyBuilder();
  const spout = builder.setSpout('kafka', moduleRef(import.meta.url, '../../spouts/kafka-spout', 'KafkaSpout', spoutArgs), options.spoutTasks ?? 1);
  if (options.maxSpoutPending !== undefined) spout.setMaxSpoutPending(options.maxSpoutPending);
  builder
    .setBolt('record', moduleRef(import.meta.url, './fixtures/kafka-fixtures', 'RecordingBolt', { channel: log.channelName, ...options.bolt }), 2)
    .fieldsGrouping('kafka', ['origin'])
    .fieldsGrouping('kafka', 'ignored', ['origin']);
  const spec = await builder.build({ name: options.spout.groupId, workers: 2, ackers: 1, messageTimeoutSecs: options.messageTimeoutSecs ?? 30, metricsIntervalMs: 200 });
  const topology = await RunningTopology.start(spec);
  running.push(topology);
  return { topology, log };
}

function origins(events: Array<{ origin: string }>): string[] {
  return events.map((e) => e.origin).sort();
}

describe('KafkaSpout on the real broker', () => {
  it('emits and acks every message and commits the high-water mark of every partition', async () => {
    const topic = await newTopic('themis-it-spout-all');
    const groupId = newGroup();
    await produce(topic, 400);
    const ends = await highWatermarks(topic);

    const { topology, log } = await runTopology({ spout: { topic, groupId } });
    await topology.waitUntilDone();
    await log.until(() => log.of('acked').length >= 400);

    expect(origins(log.of('line'))).toEqual(originsBelow(topic, ends));
    expect(origins(log.of('acked'))).toEqual(originsBelow(topic, ends));
    // A produce retried after a partial failure may store a message twice, so values are compared as a set.
    expect(new Set(log.of('line').map((e) => e.line))).toEqual(new Set(Array.from({ length: 400 }, (_, seq) => JSON.stringify({ seq }))));
    // Exhaustion is signalled only after the commit, so the group is at the end before shutdown.
    await expectCommittedTo(groupId, topic, ends);
  });

  it('replays a failed message and commits past it only once it completes', async () => {
    const topic = await newTopic('themis-it-spout-replay');
    const groupId = newGroup();
    await produce(topic, 200);
    const ends = await highWatermarks(topic);
    const x = `${topic}/1@10`;

    // First attempt failed, second dropped (pending until the 2 s message timeout), third acked.
    const { topology, log } = await runTopology({ spout: { topic, groupId }, bolt: { script: { [x]: ['fail', 'drop'] } }, messageTimeoutSecs: 2 });
    await log.until(() => log.of('line').some((e) => e.origin === x && e.attempt === 1));
    const samples: number[] = [];
    while (!log.of('acked').some((e) => e.origin === x)) {
      samples.push((await committedOffsets(groupId, topic))[1] ?? -1);
      await sleep(50);
    }
    await topology.waitUntilDone();

    // While x was pending, partition 1's commit never passed it (it reaches x once every earlier
    // message is done and a commit interval has passed; under load that moment varies).
    expect(samples.length).toBeGreaterThan(5);
    expect(Math.max(...samples)).toBeLessThanOrEqual(10);
    expect(log.of('line').filter((e) => e.origin === x).map((e) => e.attempt)).toEqual([0, 1, 2]);
    expect(new Set(origins(log.of('acked')))).toEqual(new Set(originsBelow(topic, ends)));
    expect(log.of('ignored')).toEqual([]);
    await expectCommittedTo(groupId, topic, ends);
  });

  it('sends a message that always fails to the ignored stream after maxRetries, then commits past it', async () => {
    const topic = await newTopic('themis-it-spout-ignored');
    const groupId = newGroup();
    await produce(topic, 100);
    const ends = await highWatermarks(topic);
    const x = `${topic}/3@7`;

    const { topology, log } = await runTopology({ spout: { topic, groupId, maxRetries: 3 }, bolt: { alwaysFail: [x] } });
    await topology.waitUntilDone();
    await log.until(() => log.of('ignored').length === 1);

    expect(log.of('line').filter((e) => e.origin === x).map((e) => e.attempt)).toEqual([0, 1, 2]);
    const line = log.of('line').find((e) => e.origin === x)!.line;
    expect(line).toMatch(/^\{"seq":\d+\}$/);
    expect(log.of('ignored')).toEqual([{ kind: 'ignored', origin: x, line, reason: 'failed 3 times (last: error in record)' }]);
    expect(origins(log.of('acked'))).toEqual(originsBelow(topic, ends).filter((o) => o !== x));
    await expectCommittedTo(groupId, topic, ends);
  });

  it('does not re-read completed messages when a second topology joins the same group', async () => {
    const topic = await newTopic('themis-it-spout-restart');
    const groupId = newGroup();
    await produce(topic, 100);
    const firstEnds = await highWatermarks(topic);
    const first = await runTopology({ spout: { topic, groupId } });
    await first.topology.waitUntilDone();
    await first.topology.shutdown({ drainTimeoutMs: 2_000 });

    await produce(topic, 40, 100);
    const ends = await highWatermarks(topic);
    const second = await runTopology({ spout: { topic, groupId } });
    await second.topology.waitUntilDone();
    await second.log.until(() => second.log.of('acked').length >= 40);

    expect(origins(first.log.of('line'))).toEqual(originsBelow(topic, firstEnds));
    expect(origins(second.log.of('line'))).toEqual(originsBelow(topic, ends, firstEnds));
    await expectCommittedTo(groupId, topic, ends);
  });

  it('shares the partitions between two spout tasks of one group, which start together and deliver every message once', async () => {
    const topic = await newTopic('themis-it-spout-rebalance');
    const groupId = newGroup();
    await produce(topic, 2_000);
    const ends = await highWatermarks(topic);

    // Slow (about 400 messages/s), so a task that emitted before the other joined would still hold
    // uncommitted messages of partitions that move: each task waits until the group holds both.
    const { topology, log } = await runTopology({
      spout: { topic, groupId, maxBufferedMessages: 100 },
      spoutTasks: 2,
      maxSpoutPending: 20,
      bolt: { ackDelayMs: 50 },
    });
    await topology.waitUntilDone();
    const acked = () => new Set(origins(log.of('acked')));
    await log.until(() => acked().size === 2_000, 60_000).catch(() => {
      const missing = originsBelow(topic, ends).filter((o) => !acked().has(o));
      throw new Error(`${missing.length} of 2000 messages never acked, e.g. ${missing.slice(0, 10).join(', ')}; waitUntilDone had returned`);
    });

    // Both tasks read (the partitions were shared), and no message was read twice.
    const seen = log.of('line');
    expect(origins(seen)).toEqual(originsBelow(topic, ends));
    expect(new Set(seen.map((e) => e.spoutTask)).size).toBe(2);
    await expectCommittedTo(groupId, topic, ends);
  }, 120_000);
});

describe('KafkaSpout commit records', () => {
  it('a restart reads again only the messages incomplete at the last commit, not every message after the oldest of them', async () => {
    const topic = await newTopic('themis-it-spout-record');
    const groupId = newGroup();
    await produce(topic, 400);
    const ends = await highWatermarks(topic);
    const held = [`${topic}/1@10`, `${topic}/2@50`];

    // The held messages are dropped by the bolt (pending until the 60 s timeout), like flows parked
    // by match-flows; everything else completes. The shutdown's short drain leaves them pending.
    const first = await runTopology({ spout: { topic, groupId, stopAtEndOffsets: false }, bolt: { script: Object.fromEntries(held.map((o) => [o, ['drop']])) }, messageTimeoutSecs: 60 });
    await first.log.until(() => first.log.of('acked').length >= 400 - held.length);
    // A few commit intervals: the committed offsets stop at the held messages, and their records
    // say what completed after them.
    await sleep(1_000);
    await first.topology.shutdown({ drainTimeoutMs: 500 });
    running.splice(running.indexOf(first.topology), 1);
    const committed = await committedOffsets(groupId, topic);
    expect(committed[1]).toBe(10);
    expect(committed[2]).toBe(50);

    const second = await runTopology({ spout: { topic, groupId } });
    await second.topology.waitUntilDone();
    await second.log.until(() => second.log.of('acked').length >= held.length);
    expect(origins(second.log.of('line'))).toEqual([...held].sort());
    await expectCommittedTo(groupId, topic, ends);
  }, 60_000);
});
