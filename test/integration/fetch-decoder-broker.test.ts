import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { decodeFetchV11, installFastFetchDecoder } from '../../spouts/kafka/fetch-decoder.js';
import { installFastProduceEncoder } from '../../spouts/kafka/produce-encoder.js';
import { useTestBroker } from '../helpers/kafka.js';

// The Fetch responses of the real broker (`npm run kafka:up`), captured as a kafkajs consumer
// reads them, decoded by our decoder and by kafkajs' own: the two must be equal.
const require = createRequire(import.meta.url);
type Builder = (args: object) => { response: { decode: (raw: Buffer) => Promise<unknown> } };
const fetchTable = require('kafkajs/src/protocol/requests/fetch/index.js') as { protocol: (o: { version: number }) => Builder | undefined };
const kafkajsV11 = require('kafkajs/src/protocol/requests/fetch/v11/response.js') as { decode: (raw: Buffer) => Promise<unknown> };
const kafkajs = {
  decodeMessages: require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as (d: unknown) => Promise<unknown[]>,
  Decoder: require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown,
};

const broker = useTestBroker('themis-test-fetch-decoder');
const BROKERS = broker.brokers;
const kafka = new Kafka({ clientId: 'themis-test-fetch-decoder', brokers: BROKERS, logLevel: logLevel.NOTHING });

describe('our Fetch decoder on the real broker', () => {
  it('decodes every Fetch response of a consumer exactly as kafkajs does: plain, headed and compressed batches', async () => {
    const topic = broker.topic('themis-it-fetch-decoder');
    await createTopics({ brokers: BROKERS, topics: [topic], partitions: 3 });
    installFastProduceEncoder();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const values = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ key: i % 5 === 0 ? null : `${tag}${i}`, value: `{"i":${i},"tag":"${tag}","t":"é→☃"}` }));
    await producer.send({ topic, messages: values(500, 'plain'), acks: -1 });
    await producer.send({ topic, messages: values(50, 'headed').map((m, i) => ({ ...m, headers: { h: `v${i}`, dup: ['a', 'b'] } })), acks: -1 });
    await producer.send({ topic, messages: values(200, 'gzip'), acks: -1, compression: CompressionTypes.GZIP });
    await producer.disconnect();
    const total = 750;

    // Capture what the broker sends, under our decoder (installed first, as the spout does).
    expect(installFastFetchDecoder()).toBe(true);
    const captured: Buffer[] = [];
    const hooked = fetchTable.protocol;
    fetchTable.protocol = ({ version }) => {
      const build = hooked({ version });
      if (build === undefined) return build;
      return (args) => {
        const built = build(args);
        return { ...built, response: { ...built.response, decode: (raw: Buffer) => (captured.push(Buffer.from(raw)), built.response.decode(raw)) } };
      };
    };
    const groupId = broker.group('themis-it-fetch-decoder-group');
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, maxBytesPerPartition: 16_384 });
    const seen = new Set<string>();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${seen.size} of ${total} messages arrived`)), 20_000);
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            seen.add(`${partition}@${message.offset}`);
            if (seen.size === total) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
      fetchTable.protocol = hooked;
    }
    expect(seen.size).toBe(total);
    const withRecords = captured.filter((raw) => raw.length > 200);
    expect(withRecords.length).toBeGreaterThan(0);
    for (const raw of captured) expect(await decodeFetchV11(raw, kafkajs)).toEqual(await kafkajsV11.decode(raw));
  });
});
