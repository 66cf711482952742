/**
 * What producing costs through kafkajs, apart from Themis: records of the size of a scored flow
 * (700 bytes), spread over three topics as the scored output writes them, sent with acks=all in
 * requests of a given size, one or several requests in flight, first with kafkajs' own request
 * encoder and then with ours (spouts/kafka/produce-encoder.ts, which the Themis producers use).
 * Prints a table and writes bench/results/kafka-produce.json; CPU is this process's, not the broker's.
 *
 *   npm run bench:kafka-produce [-- --brokers 127.0.0.1:9092 --records 60000]
 */
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { createTopics } from '../spouts/kafka/create-topics.js';
import { installFastProduceEncoder } from '../spouts/kafka/produce-encoder.js';
import { benchArgs, printTable, resultsFile, writeResults } from './lib/report.js';

const argv = benchArgs();
const brokers = (argv.get('brokers') ?? '127.0.0.1:9092').split(',');
const records = Number(argv.get('records') ?? 60_000);
const VALUE = 'x'.repeat(700);

const prefix = `bench-produce-${Date.now()}`;
const topics = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
await createTopics({ brokers, topics, partitions: 4 });
const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING, clientId: prefix });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
const admin = kafka.admin();
await Promise.all([producer.connect(), admin.connect()]);
const rows: Array<Record<string, number | string>> = [];
try {
  for (const encoder of ['kafkajs', 'themis'] as const) {
    // The hook patches kafkajs' request table for the whole thread: kafkajs' own runs go first.
    if (encoder === 'themis' && !installFastProduceEncoder()) throw new Error('the produce encoder hook could not be installed');
    for (const perRequest of [100, 300, 1000, 3000]) {
      for (const inFlight of [1, 8]) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        let id = 0;
        const pending: Array<Promise<unknown>> = [];
        const messages = (): Message[] => Array.from({ length: Math.floor(perRequest / topics.length) }, () => ({ key: String(id++), value: VALUE }));
        while (id < records) {
          pending.push(producer.sendBatch({ acks: -1, topicMessages: topics.map((topic) => ({ topic, messages: messages() })) }));
          if (pending.length >= inFlight) await pending.shift();
        }
        await Promise.all(pending);
        const cpu = process.cpuUsage(cpu0);
        const secs = (performance.now() - t0) / 1000;
        rows.push({ encoder, recordsPerRequest: perRequest, requestsInFlight: inFlight, recordsPerSec: Math.round(id / secs), cpuUsPerRecord: Math.round(((cpu.user + cpu.system) / id) * 100) / 100 });
      }
    }
  }
} finally {
  await producer.disconnect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}
printTable(rows);
writeResults(resultsFile('kafka-produce.json'), rows, { records, valueBytes: VALUE.length });
