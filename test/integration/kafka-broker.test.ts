import { describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, ConfigResourceTypes } from 'kafkajs';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { KafkaAdminError } from '../../spouts/kafka/errors.js';
import { createProgram, type CliIo } from '../../bin/themis-kafka.js';
import { useTestBroker } from '../helpers/kafka.js';

// Runs against the broker that `npm run kafka:up` starts; every topic here has a unique name
// and is deleted in afterAll.
const broker = useTestBroker('themis-test-kafka-broker');
const BROKERS = broker.brokers;
const kafka = new Kafka({ clientId: 'themis-test-kafka-broker', brokers: BROKERS, logLevel: logLevel.NOTHING });
const newTopic = (prefix: string) => broker.topic(prefix);

async function retentionMsOf(topic: string): Promise<string | undefined> {
  const { resources } = await broker.admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
    includeSynonyms: false,
  });
  return resources[0]?.configEntries.find((entry) => entry.configName === 'retention.ms')?.configValue;
}

async function partitionCountOf(topic: string): Promise<number> {
  const { topics } = await broker.admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0]?.partitions.length ?? 0;
}

describe('createTopics against the real broker', () => {
  it('creates missing topics with the requested partitions and retention.ms', async () => {
    const topics = [newTopic('themis-it-create-a'), newTopic('themis-it-create-b')];

    const result = await createTopics({ brokers: BROKERS, topics, partitions: 3, retentionMs: 3_600_000 });

    expect(result).toEqual({ created: topics, existing: [] });
    for (const topic of topics) {
      expect(await retentionMsOf(topic)).toBe('3600000');
      expect(await partitionCountOf(topic)).toBe(3);
    }
  });

  it('uses 14 days of retention and 4 partitions by default', async () => {
    const topic = newTopic('themis-it-defaults');

    await createTopics({ brokers: BROKERS, topics: [topic] });

    expect(await retentionMsOf(topic)).toBe('1209600000');
    expect(await partitionCountOf(topic)).toBe(4);
  });

  it('reports topics that already exist and leaves their settings alone', async () => {
    const first = newTopic('themis-it-existing');
    await createTopics({ brokers: BROKERS, topics: [first], partitions: 2, retentionMs: 60_000 });
    const second = newTopic('themis-it-new');

    const result = await createTopics({ brokers: BROKERS, topics: [first, second], partitions: 5, retentionMs: 120_000 });

    expect(result).toEqual({ created: [second], existing: [first] });
    expect(await retentionMsOf(first)).toBe('60000');
    expect(await partitionCountOf(first)).toBe(2);
  });

  it('names the topic and brokers when the broker refuses to create a topic', async () => {
    const topic = newTopic('themis-it-refused');

    // One broker cannot hold three replicas.
    const failure = await createTopics({ brokers: BROKERS, topics: [topic], replicationFactor: 3 }).catch(
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(KafkaAdminError);
    const error = failure as KafkaAdminError;
    expect(error.code).toBe('THEMIS_KAFKA_CREATE_TOPIC');
    expect(error.topic).toBe(topic);
    expect(error.retriable).toBe(false);
    expect(error.cause).toBeDefined();
    expect(error.message).toContain(`"${topic}"`);
    expect(error.message).toContain('127.0.0.1:9092');
    expect(error.message).toContain('INVALID_REPLICATION_FACTOR');
  });
});

describe('produce and consume round trip', () => {
  it('delivers every keyed message, each key on one partition in produce order', async () => {
    const topic = newTopic('themis-it-roundtrip');
    await createTopics({ brokers: BROKERS, topics: [topic], partitions: 4 });
    const messageCount = 300;
    const keyCount = 25;

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let start = 0; start < messageCount; start += 100) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 100 }, (_, offset) => {
          const seq = start + offset;
          return { key: `flow-${seq % keyCount}`, value: JSON.stringify({ seq }) };
        }),
      });
    }
    await producer.disconnect();

    const groupId = broker.group('themis-it-group');
    const consumer = kafka.consumer({ groupId });
    const received: { key: string; seq: number; partition: number }[] = [];
    const seen = new Set<number>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${seen.size} of ${messageCount} messages arrived within 30 s`)),
          30_000,
        );
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          // kafkajs restarts the consumer after a retriable crash (e.g. coordinator not ready yet).
          if (payload.restart) return;
          clearTimeout(timer);
          reject(payload.error);
        });
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            const { seq } = JSON.parse(String(message.value)) as { seq: number };
            received.push({ key: String(message.key), seq, partition });
            seen.add(seq);
            if (seen.size === messageCount) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }

    // A consumer group delivers at least once: a rebalance while the group forms (kafkajs restarts
    // after a retriable crash) redelivers from the last commit. The first delivery of each message
    // must be complete and in order; a redelivery only repeats messages already seen.
    const firstDeliveries = received.filter((m, i) => received.findIndex((other) => other.seq === m.seq) === i);
    expect(firstDeliveries).toHaveLength(messageCount);
    const byKey = new Map<string, { seq: number; partition: number }[]>();
    for (const { key, seq, partition } of firstDeliveries) byKey.set(key, [...(byKey.get(key) ?? []), { seq, partition }]);
    expect(byKey.size).toBe(keyCount);
    for (const messages of byKey.values()) {
      expect(new Set(messages.map((message) => message.partition)).size).toBe(1);
      const keySeqs = messages.map((message) => message.seq);
      expect(keySeqs).toEqual([...keySeqs].sort((a, b) => a - b));
    }
    // 25 keys over 4 partitions: the default partitioner spreads them over more than one.
    expect(new Set(received.map((message) => message.partition)).size).toBeGreaterThan(1);
  });
});

describe('themis-kafka create-topics', () => {
  function captureIo(env: Record<string, string | undefined> = {}): CliIo & { lines: string[]; errors: string[]; exitCode: number } {
    const io = {
      lines: [] as string[],
      errors: [] as string[],
      exitCode: 0,
      env,
      out: (line: string) => io.lines.push(line),
      err: (line: string) => io.errors.push(line),
      setExitCode: (code: number) => {
        io.exitCode = code;
      },
    };
    return io;
  }

  it('prints the topics it created and the ones that already existed', async () => {
    const existing = newTopic('themis-it-cli-existing');
    await createTopics({ brokers: BROKERS, topics: [existing] });
    const created = newTopic('themis-it-cli-created');
    const io = captureIo({ THEMIS_KAFKA_BROKERS: BROKERS.join(',') });

    await createProgram(io).parseAsync(
      ['create-topics', '--topics', `${existing},${created}`, '--retention-days', '2', '--partitions', '2'],
      { from: 'user' },
    );

    expect(io.errors).toEqual([]);
    expect(io.exitCode).toBe(0);
    expect(io.lines).toEqual([
      'brokers: 127.0.0.1:9092',
      `created (2 partitions, retention.ms 172800000 = 2 days): ${created}`,
      `existing, left unchanged: ${existing}`,
    ]);
    expect(await retentionMsOf(created)).toBe('172800000');
  });

  it('rejects bad options with one message per option and exit code 2, before contacting Kafka', async () => {
    const io = captureIo();

    await createProgram(io).parseAsync(
      ['create-topics', '--brokers', '127.0.0.1', '--retention-days', '0', '--partitions', 'four'],
      { from: 'user' },
    );

    expect(io.exitCode).toBe(2);
    expect(io.lines).toEqual([]);
    expect(io.errors).toEqual([
      'themis-kafka create-topics: --brokers entry "127.0.0.1" must be host:port with a port from 1 to 65535',
      'themis-kafka create-topics: --retention-days (0) must be a whole number of days, 1 or more',
      'themis-kafka create-topics: --partitions (four) must be a whole number, 1 or more',
    ]);
  });
});
