import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { crc32c } from '../../spouts/kafka/crc32c.js';
import { canEncodeFast, encodeProduceBody, installFastProduceEncoder, type ProduceArgs } from '../../spouts/kafka/produce-encoder.js';

// kafkajs' own Produce v3 request and CRC, the reference our encoder must equal byte for byte.
const require = createRequire(import.meta.url);
interface KafkajsRequest {
  apiVersion: number;
  encode: () => Promise<{ buffer: Buffer }>;
}
type KafkajsBuilder = (args: ProduceArgs) => { request: KafkajsRequest };
// The request module itself, which the hook does not touch (it wraps the version table).
const kafkajsV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (args: ProduceArgs) => KafkajsRequest;
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: number | string): { toString(): string } };
const produceTable = require('kafkajs/src/protocol/requests/produce/index.js') as { protocol: (o: { version: number }) => KafkajsBuilder };

const NOW = 1_764_300_000_123;

afterEach(() => {
  vi.restoreAllMocks();
});

async function kafkajsBody(args: ProduceArgs): Promise<Buffer> {
  vi.spyOn(Date, 'now').mockReturnValue(NOW);
  const encoded = await kafkajsV3(args).encode();
  vi.restoreAllMocks();
  return encoded.buffer;
}

/** A deterministic mix of record shapes: lengths across the 1, 2 and 3 byte varint edges. */
function messages(n: number, seed: number): Array<{ key: string | Buffer | null; value: string | Buffer | null }> {
  const out: Array<{ key: string | Buffer | null; value: string | Buffer | null }> = [];
  let x = seed;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < n; i++) {
    const kind = next() % 7;
    const len = [0, 1, 63, 64, 200, 8191, 8192][next() % 7]!;
    const base = 'v'.repeat(len);
    const value = kind === 0 ? null : kind === 1 ? Buffer.from(base) : kind === 2 ? `é→${base}☃` : kind === 3 ? '' : `{"flow":${i},"s":"${base}"}`;
    const key = kind === 4 ? null : kind === 5 ? Buffer.from(String(i)) : String(1_000_000 + i);
    out.push({ key, value });
  }
  return out;
}

describe('crc32c', () => {
  it('gives the published check values, and equals kafkajs CRC-32C on every length from 0 to 100', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    const bytes = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff));
    for (let len = 0; len <= 100; len++) expect(crc32c(bytes, 0, len)).toBe(kafkajsCrc32c(bytes.subarray(0, len)));
  });

  it('checksums only the given range', () => {
    const buf = Buffer.from('xx123456789yy');
    expect(crc32c(buf, 2, 11)).toBe(0xe3069283);
  });
});

describe('encodeProduceBody', () => {
  it('writes one topic and partition exactly as kafkajs does', async () => {
    const args: ProduceArgs = { acks: -1, timeout: 30_000, topicData: [{ topic: 'scored-flows', partitions: [{ partition: 2, messages: [{ key: '17', value: '{"a":1}' }] }] }] };
    expect(encodeProduceBody(args, NOW).equals(await kafkajsBody(args))).toBe(true);
  });

  it('writes several topics and partitions, null and Buffer keys and values, UTF-8 text and every varint width exactly as kafkajs does', async () => {
    const args: ProduceArgs = {
      acks: -1,
      timeout: 5_000,
      topicData: [
        {
          topic: 'scored-flows',
          partitions: [
            { partition: 0, messages: messages(300, 1) },
            { partition: 3, messages: messages(5, 2) },
          ],
        },
        { topic: 'scored-flows-détail', partitions: [{ partition: 1, messages: messages(130, 3) }] },
      ],
    };
    const ours = encodeProduceBody(args, NOW);
    expect(ours.length).toBeGreaterThan(300 * 64);
    expect(ours.equals(await kafkajsBody(args))).toBe(true);
  });

  it('carries a transactional id, producer id (a kafkajs Long), epoch and first sequence as kafkajs does', async () => {
    const args: ProduceArgs = {
      acks: 1,
      timeout: 1_000,
      transactionalId: 'themis-tx',
      producerId: Long.fromValue(4242),
      producerEpoch: 3,
      topicData: [{ topic: 't', partitions: [{ partition: 0, firstSequence: 77, messages: messages(10, 9) }] }],
    };
    const ours = encodeProduceBody(args, NOW);
    expect(ours.equals(await kafkajsBody(args))).toBe(true);
    // The batch is marked transactional (attributes bit 4).
    expect(ours.includes(Buffer.from('themis-tx'))).toBe(true);
  });

  it('leaves compression, headers and explicit timestamps to kafkajs', () => {
    const topicData = (m: object) => [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: '1', value: 'v', ...m }] }] }];
    expect(canEncodeFast({ acks: -1, timeout: 1, topicData: topicData({}) })).toBe(true);
    expect(canEncodeFast({ acks: -1, timeout: 1, topicData: topicData({ headers: {} }) })).toBe(true);
    expect(canEncodeFast({ acks: -1, timeout: 1, compression: 1, topicData: topicData({}) })).toBe(false);
    expect(canEncodeFast({ acks: -1, timeout: 1, topicData: topicData({ headers: { h: 'x' } }) })).toBe(false);
    expect(canEncodeFast({ acks: -1, timeout: 1, topicData: topicData({ timestamp: '1700000000000' }) })).toBe(false);
  });
});

describe('installFastProduceEncoder', () => {
  it('makes kafkajs Produce requests of version 3 and up encode with our encoder, and is idempotent', async () => {
    expect(installFastProduceEncoder()).toBe(true);
    expect(installFastProduceEncoder()).toBe(true);
    const args: ProduceArgs = { acks: -1, timeout: 30_000, topicData: [{ topic: 'x', partitions: [{ partition: 0, messages: messages(40, 5) }] }] };
    for (const version of [3, 5, 7]) {
      const { request } = produceTable.protocol({ version })(args);
      expect(request.apiVersion).toBe(version);
      vi.spyOn(Date, 'now').mockReturnValue(NOW);
      const body = (await request.encode()).buffer;
      vi.restoreAllMocks();
      expect(body.equals(encodeProduceBody(args, NOW))).toBe(true);
    }
    // Compressed requests keep kafkajs' encoder (gzip output differs from ours by construction).
    const gz = produceTable.protocol({ version: 7 })({ ...args, compression: 1 });
    const gzBody = (await gz.request.encode()).buffer;
    expect(gzBody.equals(encodeProduceBody(args, Date.now()))).toBe(false);
  });
});
