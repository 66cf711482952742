import { afterEach, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from '../../runtime/index.js';
import { KafkaSink } from '../../bolts/output/kafka-sink.js';
import { OutputError } from '../../bolts/output/errors.js';
import type { KafkaRecord } from '../../bolts/output/format.js';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { installFastProduceEncoder } from '../../spouts/kafka/produce-encoder.js';
import { uniqueTopic, useTestBroker } from '../helpers/kafka.js';

// Writes through KafkaSink to the broker that `npm run kafka:up` starts, and reads the records
// back with a plain consumer. Topics and groups are unique per test and deleted in afterAll.
const broker = useTestBroker('themis-test-kafka-sink');
const BROKERS = broker.brokers;
const kafka = new Kafka({ clientId: 'themis-test-kafka-sink', brokers: BROKERS, logLevel: logLevel.NOTHING });
const sinks: KafkaSink[] = [];
/** kafkajs' own logs of the sinks under test (connection refused, unknown topic), kept off the console. */
const kafkaLogs: string[] = [];
const log: Logger = {
  info: (msg) => void kafkaLogs.push(msg),
  warn: (msg) => void kafkaLogs.push(msg),
  error: (msg) => void kafkaLogs.push(msg),
};

afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.close();
});

async function newTopic(prefix: string): Promise<string> {
  const topic = broker.topic(prefix);
  await createTopics({ brokers: BROKERS, topics: [topic], partitions: 4 });
  return topic;
}

function newSink(options: { retries?: number; maxRequestRecords?: number; lingerMs?: number } = {}): KafkaSink {
  const sink = new KafkaSink({ brokers: BROKERS, clientId: 'themis-test-kafka-sink', ...options }, log);
  sinks.push(sink);
  return sink;
}

interface ReadRecord {
  key: string | null;
  value: string;
  partition: number;
}

/**
 * Reads every record of a topic up to its current end offsets (bounded wait). A produce retried
 * after a partial failure may have stored a record twice (at-least-once), so a record is one
 * partition and offset, and the caller counts duplicates of a value.
 */
async function readTopic(topic: string): Promise<ReadRecord[]> {
  const ends = await broker.admin.fetchTopicOffsets(topic);
  const total = ends.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
  const groupId = broker.group('themis-it-sink-reader');
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const records = new Map<string, ReadRecord>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${records.size} of ${total} records of ${topic} arrived within 15 s`)), 15_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          records.set(`${partition}@${message.offset}`, { key: message.key === null ? null : message.key.toString(), value: String(message.value), partition });
          if (records.size === total) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return [...records.values()];
}

/** The distinct records as `key value` lines, sorted. */
function distinct(records: ReadonlyArray<{ key: string | null; value: string }>): string[] {
  return [...new Set(records.map((r) => `${r.key} ${r.value}`))].sort();
}

describe('KafkaSink on the real broker', () => {
  it('writes each batch to its topic with the records keys in one call', async () => {
    const scored = await newTopic('themis-it-sink-scored');
    const detail = await newTopic('themis-it-sink-detail');
    const scoredRecords: KafkaRecord[] = Array.from({ length: 60 }, (_, i) => ({ key: String(1000 + (i % 7)), value: JSON.stringify({ n: i }) }));
    const detailRecords: KafkaRecord[] = [
      { key: '1000', value: '{"tag":"BL-SRC"}' },
      { key: null, value: '{"ignored":"no flow id"}' },
    ];

    await newSink().write([
      { topic: scored, records: scoredRecords },
      { topic: detail, records: detailRecords },
      { topic: detail, records: [] },
    ]);

    const scoredRead = await readTopic(scored);
    expect(distinct(scoredRead)).toEqual(distinct(scoredRecords));
    // Keyed records: one flow id, one partition.
    for (const key of new Set(scoredRecords.map((r) => r.key))) {
      expect(new Set(scoredRead.filter((r) => r.key === key).map((r) => r.partition)).size).toBe(1);
    }
    const detailRead = await readTopic(detail);
    expect(distinct(detailRead)).toEqual(distinct(detailRecords));
    const duplicates = scoredRead.length + detailRead.length - scoredRecords.length - detailRecords.length;
    if (duplicates > 0) console.info(`KafkaSink: ${duplicates} records stored twice by a retried produce`);
  });

  it('writes through our produce encoder: UTF-8 text, null keys and values of every size come back byte for byte', async () => {
    const topic = await newTopic('themis-it-sink-encoder');
    const sink = newSink();
    // KafkaSink installs the encoder for every kafkajs producer of the thread.
    expect(installFastProduceEncoder()).toBe(true);
    const records: KafkaRecord[] = [
      { key: '1', value: '{"country":"Côte d’Ivoire","note":"é→☃ 𝄞"}' },
      { key: null, value: '{"ignored":"no flow id"}' },
      { key: '2', value: '' },
      { key: '3', value: 'x'.repeat(100) },
      { key: '4', value: 'y'.repeat(20_000) },
      { key: '5', value: `{"big":"${'ü'.repeat(60_000)}"}` },
      ...Array.from({ length: 300 }, (_, i) => ({ key: String(100 + i), value: JSON.stringify({ i, s: 'z'.repeat(i) }) })),
    ];
    await sink.write([{ topic, records }]);
    expect(distinct(await readTopic(topic))).toEqual(distinct(records));
  });

  it('gathers the writes that come within the linger into one request: every write resolves once written, and a failed request fails each write it carried', async () => {
    const topic = await newTopic('themis-it-sink-gather');
    const missing = uniqueTopic('themis-it-sink-gather-missing');
    const sink = newSink({ retries: 1 });
    const first: KafkaRecord[] = Array.from({ length: 30 }, (_, i) => ({ key: String(i), value: `{"first":${i}}` }));
    const second: KafkaRecord[] = Array.from({ length: 20 }, (_, i) => ({ key: String(i), value: `{"second":${i}}` }));

    // Two writes within the linger share a request; both resolve, and every record is on the topic.
    await Promise.all([sink.write([{ topic, records: first }]), sink.write([{ topic, records: second }])]);
    expect(distinct(await readTopic(topic))).toEqual(distinct([...first, ...second]));

    // A write to a missing topic right after a good one: their request fails, so both do.
    const results = await Promise.allSettled([
      sink.write([{ topic, records: [{ key: '1', value: '{"late":1}' }] }]),
      sink.write([{ topic: missing, records: [{ key: '2', value: '{}' }] }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'THEMIS_KAFKA_PRODUCE', records: 2 });
  });

  it('sends a request at once when maxRequestRecords records wait, without waiting for the turn to end', async () => {
    const topic = await newTopic('themis-it-sink-full');
    const missing = uniqueTopic('themis-it-sink-full-missing');
    // A long linger: the failing write's request goes out a second later, once the first is done
    // (kafkajs adds a request's topics to the producer's metadata when it sends it, and a missing
    // topic there would fail a request sent at the same moment too).
    const sink = newSink({ retries: 1, maxRequestRecords: 10, lingerMs: 1_000 });
    const full: KafkaRecord[] = Array.from({ length: 12 }, (_, i) => ({ key: String(i), value: `{"full":${i}}` }));

    // The first write fills a request on its own and goes out alone: had it waited for the linger,
    // the failing write after it would have joined its request and taken it down.
    const results = await Promise.allSettled([sink.write([{ topic, records: full }]), sink.write([{ topic: missing, records: [{ key: '1', value: '{}' }] }])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(distinct(await readTopic(topic))).toEqual(distinct(full));
  });

  it('resolves a write with no records without reaching the broker', async () => {
    const sink = new KafkaSink({ brokers: ['127.0.0.1:1'], clientId: 'themis-test-kafka-sink-unused' }, log);

    await expect(sink.write([{ topic: 'nowhere', records: [] }])).resolves.toBeUndefined();
    await sink.close();
  });

  it('rejects a write to a topic that does not exist with THEMIS_KAFKA_PRODUCE and its cause', async () => {
    const missing = uniqueTopic('themis-it-sink-missing');

    const failure = await newSink({ retries: 1 })
      .write([{ topic: missing, records: [{ key: '1', value: '{}' }] }])
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(OutputError);
    const error = failure as OutputError;
    expect(error.code).toBe('THEMIS_KAFKA_PRODUCE');
    expect(error.topics).toEqual([missing]);
    expect(error.records).toBe(1);
    expect(error.retriable).toBe(true);
    expect(error.cause).toBeDefined();
    expect(error.message).toContain(missing);
    expect(error.message).toContain('127.0.0.1:9092');
    expect(error.message).toContain('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('rejects with THEMIS_KAFKA_PRODUCE when no broker answers', async () => {
    const sink = new KafkaSink({ brokers: ['127.0.0.1:1'], clientId: 'themis-test-kafka-sink-down', retries: 0 }, log);
    sinks.push(sink);

    const failure = await sink.write([{ topic: 'scored-flows', records: [{ key: '1', value: '{}' }] }]).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(OutputError);
    expect((failure as OutputError).code).toBe('THEMIS_KAFKA_PRODUCE');
    expect((failure as OutputError).retriable).toBe(true);
    expect((failure as OutputError).message).toContain('127.0.0.1:1');
  });
});
