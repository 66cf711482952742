/**
 * The partitioner of the Themis producers: the same choice as kafkajs' DefaultPartitioner (Java's
 * default before 2.4: an explicit partition, else murmur2 of the key modulo the partition count,
 * else round robin over the partitions that have a leader), computed without its costs: kafkajs
 * hashes with a 64-bit Long emulation (an object per multiply) after copying the key into a
 * Buffer, and filters the partition list for every message. Here murmur2 is 32-bit integer
 * arithmetic (`Math.imul`), as Java's, over the key's bytes read from the string when it is ASCII.
 */
import { randomInt } from 'node:crypto';
import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Java's `Utils.murmur2` of a byte sequence given by length and accessor, as a signed 32-bit int. */
function murmur2Of(length: number, at: (i: number) => number): number {
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (at(i4) & 0xff) | ((at(i4 + 1) & 0xff) << 8) | ((at(i4 + 2) & 0xff) << 16) | ((at(i4 + 3) & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= (at(tail + 2) & 0xff) << 16;
  if (rest >= 2) h ^= (at(tail + 1) & 0xff) << 8;
  if (rest >= 1) {
    h ^= at(tail) & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Java's murmur2 of a key: a Buffer's bytes, or a string's UTF-8 bytes (anything else: its String). */
export function murmur2(key: string | Buffer | unknown): number {
  if (Buffer.isBuffer(key)) return murmur2Of(key.length, (i) => key[i]!);
  const s = String(key);
  if (isAscii(s)) return murmur2Of(s.length, (i) => s.charCodeAt(i));
  const bytes = Buffer.from(s, 'utf8');
  return murmur2Of(bytes.length, (i) => bytes[i]!);
}

/** For kafkajs' `createPartitioner`: one round-robin counter per topic, from a random start. */
export const KeyHashPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const numPartitions = partitionMetadata.length;
    if (message.key !== null && message.key !== undefined) return (murmur2(message.key) & 0x7fffffff) % numPartitions;
    const next = (counters.get(topic) ?? randomInt(0x7fffffff)) + 1;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[(next & 0x7fffffff) % available.length]!.partitionId;
    return (next & 0x7fffffff) % numPartitions;
  };
};
