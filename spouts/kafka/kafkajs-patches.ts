/**
 * A patch of kafkajs 2.2.4's sources, applied before kafkajs loads (kafkajs.ts imports this first).
 *
 * `src/producer/groupMessagesPerPartition.js` sorts a request's records into partitions by copying
 * the partition's whole array for every record (`[...current, message]`): quadratic in the records
 * per partition. At the output sink's 4,000 records a request, that was about 1 µs of CPU per
 * record, plus the garbage of every copy. Ours appends, with the same result: an object from
 * partition to that partition's records, in their order, and `{}` when the topic has no partitions.
 *
 * kafkajs' producer captures the function when it loads, so the module cache entry is replaced
 * before that; when kafkajs' producer is already loaded in this thread, nothing is changed.
 */
import { createRequire } from 'node:module';
import type { Message, PartitionMetadata } from 'kafkajs';

const require = createRequire(import.meta.url);

interface GroupArgs {
  readonly topic: string;
  readonly partitionMetadata: readonly PartitionMetadata[];
  readonly messages: readonly Message[];
  readonly partitioner: (args: { topic: string; partitionMetadata: readonly PartitionMetadata[]; message: Message }) => number;
}

export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, Message[]> {
  const result: Record<number, Message[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

function patchGrouping(): boolean {
  try {
    if (require.cache[require.resolve('kafkajs/src/producer/sendMessages.js')] !== undefined) return false;
    const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
    const original = require(path) as unknown;
    const cached = require.cache[path];
    if (typeof original !== 'function' || original.length !== 1 || cached === undefined) return false;
    cached.exports = groupMessagesPerPartition;
    return true;
  } catch {
    return false;
  }
}

/** Whether this thread's kafkajs groups records with ours (false: kafkajs was loaded before the patch). */
export const isGroupingPatched = patchGrouping();
