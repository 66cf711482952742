import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeFetchV11, installFastFetchDecoder } from '../../spouts/kafka/fetch-decoder.js';

// kafkajs' own pieces: the encoders build the record batches, and its Fetch v11 decoder is the
// reference our decoder must equal.
const require = createRequire(import.meta.url);
interface Encoded {
  buffer: Buffer;
}
const RecordBatch = (require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: object) => Promise<Encoded> }).RecordBatch;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: object) => Encoded;
const kafkajsV11 = require('kafkajs/src/protocol/requests/fetch/v11/response.js') as { decode: (raw: Buffer) => Promise<unknown> };
const kafkajs = {
  decodeMessages: require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as (d: unknown) => Promise<unknown[]>,
  Decoder: require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown,
};
const fetchTable = require('kafkajs/src/protocol/requests/fetch/index.js') as {
  protocol: (o: { version: number }) => (args: object) => { response: { decode: (raw: Buffer) => Promise<unknown> }; requestTimeout?: unknown };
};

interface Msg {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | string[]>;
  timestampDelta?: number;
}

/** A record batch as the broker stores it: base offset, length, then the batch. */
async function batch(firstOffset: bigint | number, messages: Msg[], o: { compression?: number; firstTimestamp?: number; attributesOr?: number } = {}): Promise<Buffer> {
  const records = messages.map((m, i) => Record({ key: m.key ?? null, value: m.value, headers: m.headers ?? {}, offsetDelta: i, timestampDelta: m.timestampDelta ?? i * 3 }));
  const encoded = (
    await RecordBatch({
      compression: o.compression ?? 0,
      records,
      firstTimestamp: o.firstTimestamp ?? 1_764_300_000_000,
      maxTimestamp: (o.firstTimestamp ?? 1_764_300_000_000) + 500,
      lastOffsetDelta: messages.length - 1,
    })
  ).buffer;
  encoded.writeBigInt64BE(BigInt(firstOffset), 0);
  // Flags kafkajs' encoder does not set (log-append time, control): attributes sit at byte 21.
  if (o.attributesOr) encoded.writeInt16BE(encoded.readInt16BE(21) | o.attributesOr, 21);
  return encoded;
}

interface PartitionSpec {
  partition: number;
  errorCode?: number;
  aborted?: Array<[bigint, bigint]>;
  recordSet: Buffer;
}

/** A Fetch v11 response body (after the correlation id). */
function response(topics: Array<{ name: string; partitions: PartitionSpec[] }>): Buffer {
  const parts: Buffer[] = [];
  const i32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    parts.push(b);
  };
  const i16 = (v: number) => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    parts.push(b);
  };
  const i64 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    parts.push(b);
  };
  i32(0); // throttle
  i16(0); // error
  i32(77); // session
  i32(topics.length);
  for (const t of topics) {
    i16(Buffer.byteLength(t.name));
    parts.push(Buffer.from(t.name));
    i32(t.partitions.length);
    for (const p of t.partitions) {
      i32(p.partition);
      i16(p.errorCode ?? 0);
      i64(123_456n);
      i64(123_450n);
      i64(7n);
      i32(p.aborted?.length ?? 0);
      for (const [pid, first] of p.aborted ?? []) {
        i64(pid);
        i64(first);
      }
      i32(-1); // preferred read replica
      i32(p.recordSet.length);
      parts.push(p.recordSet);
    }
  }
  return Buffer.concat(parts);
}

const text = (i: number) => `{"flow_id":${i},"src_ip":"10.0.0.${i % 256}","note":"é→☃"}`;

describe('decodeFetchV11', () => {
  it('decodes topics, partitions and batches to exactly what kafkajs decodes: offsets, timestamps, keys, values, headers, null fields', async () => {
    const p0 = Buffer.concat([
      await batch(0, [{ key: '1', value: text(1) }, { key: null, value: text(2) }, { value: null }, { key: Buffer.from([0, 255]), value: '' }]),
      await batch(4, Array.from({ length: 200 }, (_, i) => ({ key: String(i), value: text(i), timestampDelta: i * 1000 }))),
    ]);
    const p1 = await batch(9_000_000_000, [
      { key: 'h', value: 'x', headers: { a: '1', b: ['2', '3'] } },
      { key: 'k', value: 'y'.repeat(20_000), headers: { 'é': 'v' } },
    ]);
    const raw = response([
      { name: 'netflow-json', partitions: [{ partition: 0, recordSet: p0 }, { partition: 3, recordSet: p1, aborted: [[5n, 9n]] }, { partition: 2, recordSet: Buffer.alloc(0) }] },
      { name: 'other', partitions: [{ partition: 1, errorCode: 6, recordSet: Buffer.alloc(0) }] },
    ]);
    const ours = await decodeFetchV11(raw, kafkajs);
    expect(ours).toEqual(await kafkajsV11.decode(raw));
    const first = (ours as { responses: Array<{ partitions: Array<{ messages: Array<{ offset: string; value: Buffer }> }> }> }).responses[0]!.partitions[0]!.messages;
    expect(first).toHaveLength(204);
    expect(first[203]!.offset).toBe('203');
    expect(first[0]!.value.toString()).toBe(text(1));
  });

  it('stops at a batch cut short by the fetch size, as kafkajs does', async () => {
    const whole = await batch(100, [{ key: '1', value: text(1) }, { key: '2', value: text(2) }]);
    const next = await batch(102, [{ key: '3', value: text(3) }]);
    for (const cut of [1, 20, 48, 60, next.length - 1]) {
      const raw = response([{ name: 't', partitions: [{ partition: 0, recordSet: Buffer.concat([whole, next.subarray(0, cut)]) }] }]);
      const ours = await decodeFetchV11(raw, kafkajs);
      expect(ours).toEqual(await kafkajsV11.decode(raw));
      expect((ours as { responses: Array<{ partitions: Array<{ messages: unknown[] }> }> }).responses[0]!.partitions[0]!.messages).toHaveLength(2);
    }
  });

  it('equals kafkajs on log-append-time and control batches, and on offsets and timestamps beyond 2^53', async () => {
    const raw = response([
      {
        name: 't',
        partitions: [
          { partition: 0, recordSet: await batch(10, [{ key: '1', value: 'a' }], { attributesOr: 0x08 }) },
          { partition: 1, recordSet: await batch(11, [{ key: null, value: Buffer.from([0, 0, 0, 0]) }], { attributesOr: 0x20 | 0x10 }) },
          { partition: 2, recordSet: await batch(2n ** 60n, [{ key: '1', value: 'big' }, { key: '2', value: 'big' }], { firstTimestamp: 2 ** 53 + 10 }) },
        ],
      },
    ]);
    expect(await decodeFetchV11(raw, kafkajs)).toEqual(await kafkajsV11.decode(raw));
  });

  it('leaves a compressed partition to kafkajs and still decodes the others itself, with the same result', async () => {
    const raw = response([
      {
        name: 't',
        partitions: [
          { partition: 0, recordSet: await batch(0, [{ key: '1', value: text(1) }]) },
          { partition: 1, recordSet: Buffer.concat([await batch(0, [{ key: '1', value: text(1) }]), await batch(1, [{ key: '2', value: text(2) }, { key: '3', value: text(3) }], { compression: 1 })]) },
        ],
      },
    ]);
    const ours = (await decodeFetchV11(raw, kafkajs)) as { responses: Array<{ partitions: Array<{ messages: Array<{ value: Buffer }> }> }> };
    expect(ours).toEqual(await kafkajsV11.decode(raw));
    expect(ours.responses[0]!.partitions[1]!.messages.map((m) => m.value.toString())).toEqual([text(1), text(2), text(3)]);
  });

  it('rejects a record set too short to hold a batch header as kafkajs does', async () => {
    const raw = response([{ name: 't', partitions: [{ partition: 0, recordSet: Buffer.alloc(10, 1) }] }]);
    await expect(kafkajsV11.decode(raw)).rejects.toThrow();
    await expect(decodeFetchV11(raw, kafkajs)).rejects.toThrow();
  });
});

describe('installFastFetchDecoder', () => {
  it('gives kafkajs Fetch v11 our decoder, keeps the request timeout, leaves other versions alone, and falls back to kafkajs on a malformed response', async () => {
    const args = { maxWaitTime: 100, minBytes: 1, maxBytes: 1024, topics: [] };
    const before = fetchTable.protocol({ version: 11 })(args);
    expect(installFastFetchDecoder()).toBe(true);
    expect(installFastFetchDecoder()).toBe(true);
    const after = fetchTable.protocol({ version: 11 })(args);
    expect(after.response.decode).not.toBe(before.response.decode);
    expect(after.requestTimeout).toEqual(before.requestTimeout);
    expect(fetchTable.protocol({ version: 10 })(args).response.decode).toBe(require('kafkajs/src/protocol/requests/fetch/v10/response.js').decode);

    const raw = response([{ name: 't', partitions: [{ partition: 0, recordSet: await batch(5, [{ key: '1', value: text(1) }]) }] }]);
    expect(await after.response.decode(raw)).toEqual(await kafkajsV11.decode(raw));
    // A record whose length runs past its batch: not ours to guess, kafkajs decodes it.
    const broken = Buffer.from(raw);
    const recordsAt = broken.length - (await batch(5, [{ key: '1', value: text(1) }])).length + 61;
    broken[recordsAt] = 0x7e; // record length varint: 63, past the batch end
    const theirs = await kafkajsV11.decode(broken).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    const mine = await after.response.decode(broken).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    expect(mine.ok).toBe(theirs.ok);
    if (mine.ok && theirs.ok) expect(mine.v).toEqual(theirs.v);
  });
});
