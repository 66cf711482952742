import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Message, PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { groupMessagesPerPartition } from '../../spouts/kafka/kafkajs-patches.js';
import { KeyHashPartitioner } from '../../spouts/kafka/partitioner.js';

// kafkajs' own groupMessagesPerPartition, evaluated from its file (the module cache may hold ours).
const require = createRequire(import.meta.url);
type Group = typeof groupMessagesPerPartition;
function kafkajsGroup(): Group {
  const source = readFileSync(require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js'), 'utf8');
  const module = { exports: {} as unknown };
  new Function('module', 'exports', source)(module, module.exports);
  return module.exports as Group;
}

const metadata = (n: number): PartitionMetadata[] => Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));

describe('kafkajs patch: groupMessagesPerPartition', () => {
  it('groups records as kafkajs does: every record once, in its order, under the partition the partitioner chooses', () => {
    const theirs = kafkajsGroup();
    let x = 7;
    const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    // Each grouping gets a fresh partitioner: keyed records by key hash, explicit partitions kept,
    // null keys round robin from 0 (both groupings call it once per record, in order).
    const partitioner = () => {
      const keyed = KeyHashPartitioner();
      let turn = 0;
      return (a: { topic: string; partitionMetadata: readonly PartitionMetadata[]; message: Message }) =>
        a.message.key === null && a.message.partition === undefined ? turn++ % a.partitionMetadata.length : keyed({ ...a, partitionMetadata: [...a.partitionMetadata] });
    };
    for (const [partitions, count] of [[1, 1], [4, 0], [4, 1000], [7, 333], [12, 5]] as const) {
      const messages: Message[] = Array.from({ length: count }, (_, i) => ({ key: next() % 5 === 0 ? null : `k${next() % 97}`, value: `v${i}`, ...(i % 50 === 0 ? { partition: i % partitions } : {}) }));
      const ours = groupMessagesPerPartition({ topic: 't', partitionMetadata: metadata(partitions), messages, partitioner: partitioner() });
      const reference = theirs({ topic: 't', partitionMetadata: metadata(partitions), messages, partitioner: partitioner() });
      expect(ours).toEqual(reference);
      expect(Object.values(ours).reduce((n, ms) => n + ms.length, 0)).toBe(count);
    }
  });

  it('returns an empty grouping for a topic without partitions', () => {
    expect(groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages: [{ key: 'a', value: 'b' }], partitioner: () => 0 })).toEqual({});
  });
});
