import { deleteGroupsEventually } from './kafka.js';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { ConsumedMessage } from './consume-topic.js';

const quietKafka = (brokers: readonly string[]) => new Kafka({ clientId: 'themis-test-read-topic', brokers: [...brokers], logLevel: logLevel.NOTHING });

/** Messages in the topic now: the sum over partitions of end offset minus start offset. */
export async function topicSize(brokers: readonly string[], topic: string): Promise<number> {
  const admin = quietKafka(brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Everything a topic holds at the moment of the call, read from the beginning with a throw-away
 * consumer group (deleted afterwards). Unlike consumeTopic it needs no expected count: it stops
 * at the end offsets the partitions had when it started, so duplicates and strays are all seen.
 * Fails naming the topic and how far it got when the end is not reached within `timeoutMs`.
 */
export async function readTopicToEnd(brokers: readonly string[], topic: string, { timeoutMs = 60_000 }: { timeoutMs?: number } = {}): Promise<ConsumedMessage[]> {
  const kafka = quietKafka(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${topic}-read-${randomBytes(4).toString('hex')}`;
  const messages: ConsumedMessage[] = [];
  try {
    const ends = new Map<number, number>();
    for (const o of await admin.fetchTopicOffsets(topic)) if (Number(o.high) > Number(o.low)) ends.set(o.partition, Number(o.high));
    if (ends.size === 0) return messages;
    const expected = [...ends.values()].reduce((a, b) => a + b, 0);
    const consumer = kafka.consumer({ groupId, maxBytes: 50 * 1024 * 1024 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`read ${messages.length} messages of ${topic} within ${timeoutMs} ms, not reaching its end offsets (about ${expected} messages)`)),
          timeoutMs,
        );
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (payload.restart) return;
          clearTimeout(timer);
          reject(payload.error);
        });
        void consumer.run({
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition);
            if (end === undefined) return;
            for (const m of batch.messages) {
              if (Number(m.offset) >= end) break;
              messages.push({ partition: batch.partition, offset: m.offset, key: m.key, value: String(m.value) });
            }
            if (Number(batch.lastOffset()) >= end - 1) ends.delete(batch.partition);
            if (ends.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    await deleteGroupsEventually(admin, [groupId]);
    return messages;
  } finally {
    await admin.disconnect();
  }
}

/** A consumer collecting a topic's messages from the beginning while a test goes on. */
export interface TopicWatch {
  /** Every message so far, in arrival order. */
  readonly messages: ConsumedMessage[];
  /** Stops the consumer and deletes its group. */
  close(): Promise<void>;
}

/** Starts reading `topic` from the beginning with a throw-away group; resolves once the consumer has joined. */
export async function watchTopic(brokers: readonly string[], topic: string): Promise<TopicWatch> {
  const kafka = quietKafka(brokers);
  const groupId = `${topic}-watch-${randomBytes(4).toString('hex')}`;
  const consumer = kafka.consumer({ groupId });
  const messages: ConsumedMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      messages.push({ partition, offset: message.offset, key: message.key, value: String(message.value) });
    },
  });
  return {
    messages,
    async close() {
      await consumer.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      try {
        await deleteGroupsEventually(admin, [groupId]);
      } finally {
        await admin.disconnect();
      }
    },
  };
}
