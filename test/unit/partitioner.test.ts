import { createRequire } from 'node:module';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KeyHashPartitioner, murmur2 } from '../../spouts/kafka/partitioner.js';

// kafkajs' own murmur2 (64-bit Long emulation of Java's Utils.murmur2): the reference.
const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: unknown) => number;

function keys(): Array<string | Buffer> {
  const out: Array<string | Buffer> = ['', '0', '1', '21', '128', '2187', '16384', 'themis', '18446744073709551615'];
  let x = 12345;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 2000; i++) out.push(String(next()) + String(next() % 1000));
  for (let len = 0; len < 40; len++) out.push(Array.from({ length: len }, () => String.fromCharCode(32 + (next() % 95))).join(''));
  out.push('é', 'flow-é→☃', '𝄞𝄞', Buffer.from([0xff, 0x00, 0x80, 0x7f, 0x01]), Buffer.alloc(0), Buffer.from('1234567'));
  return out;
}

const metadata = (n: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: leaderless.includes(partitionId) ? -1 : 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));

describe('murmur2', () => {
  it('equals kafkajs murmur2 (Java Utils.murmur2) on ASCII, UTF-8 and Buffer keys of every tail length', () => {
    for (const k of keys()) expect(murmur2(k), JSON.stringify(String(k))).toBe(kafkajsMurmur2(k));
  });
});

describe('KeyHashPartitioner', () => {
  it('chooses the partition kafkajs DefaultPartitioner chooses for every keyed message, and honours an explicit partition', () => {
    const ours = KeyHashPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const n of [1, 3, 4, 12]) {
      const partitionMetadata = metadata(n);
      for (const key of keys()) {
        const args = { topic: 't', partitionMetadata, message: { key, value: 'v' } };
        expect(ours(args)).toBe(theirs(args));
      }
    }
    expect(ours({ topic: 't', partitionMetadata: metadata(4), message: { key: '1', value: 'v', partition: 3 } })).toBe(3);
  });

  it('spreads unkeyed messages round robin over the partitions that have a leader', () => {
    const partition = KeyHashPartitioner();
    const seen = Array.from({ length: 8 }, () => partition({ topic: 'u', partitionMetadata: metadata(4, [1]), message: { key: null, value: 'v' } }));
    expect(new Set(seen)).toEqual(new Set([0, 2, 3]));
    // Consecutive: each of the three is chosen once in any three in a row.
    for (let i = 0; i + 3 <= seen.length; i++) expect(new Set(seen.slice(i, i + 3)).size).toBe(3);
  });
});
