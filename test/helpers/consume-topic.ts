import { deleteGroupsEventually } from './kafka.js';
import { Kafka, logLevel } from 'kafkajs';

export interface ConsumedMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: string;
}

/**
 * Reads a topic from the beginning with a throw-away consumer group until `count` messages have
 * arrived, then waits `settleMs` more so that extra (duplicate or unexpected) messages show up
 * too. Fails naming how many arrived when the count is not reached within `timeoutMs`. The group
 * is deleted afterwards.
 */
export async function consumeTopic(
  brokers: string[],
  topic: string,
  count: number,
  { timeoutMs = 30_000, settleMs = 500 }: { timeoutMs?: number; settleMs?: number } = {},
): Promise<ConsumedMessage[]> {
  const kafka = new Kafka({ clientId: 'themis-test-consume', brokers, logLevel: logLevel.NOTHING });
  const groupId = `${topic}-reader`;
  const consumer = kafka.consumer({ groupId });
  const messages: ConsumedMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${messages.length} of ${count} messages arrived on ${topic} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        // kafkajs restarts the consumer after a retriable crash (e.g. coordinator not ready yet).
        if (payload.restart) return;
        clearTimeout(timer);
        reject(payload.error);
      });
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          messages.push({ partition, offset: message.offset, key: message.key, value: String(message.value) });
          if (messages.length === count) {
            clearTimeout(timer);
            setTimeout(resolve, settleMs);
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    await deleteGroupsEventually(admin, [groupId]);
  } finally {
    await admin.disconnect();
  }
  return messages;
}
