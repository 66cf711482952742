/**
 * A faster encoder for kafkajs' Produce requests (versions 3 and up: record batches of magic 2).
 *
 * kafkajs builds every record in its own growable encoder, converts each string value to a Buffer,
 * concatenates the records into the batch and the batch into the request, and checksums the batch
 * with a byte-at-a-time CRC: about 13 µs of CPU per scored record in a Themis worker, a third of
 * the worker's time in the Kafka run. This encoder measures the request first and writes it into
 * one buffer of exactly that size, strings straight into it, with a sliced CRC-32C.
 *
 * Everything else stays kafkajs': connections, TLS and SASL, metadata and partition leaders, the
 * partitioner, idempotence, retries and the decoding of the broker's answer. The hook replaces only
 * the `encode` of the request kafkajs built, and only for what it encodes byte for byte as kafkajs
 * would (test/unit/produce-encoder.test.ts compares the two): no compression, no headers, no
 * explicit timestamps. Anything else is left to kafkajs' own encoder.
 * The hook is kafkajs-hook.ts.
 */
import { crc32c } from './crc32c.js';
import { hookKafkajsRequests } from './kafkajs-hook.js';

/** A message as kafkajs hands it to the Produce request (after partitioning). */
export interface ProduceMessage {
  readonly key?: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly headers?: unknown;
  readonly timestamp?: unknown;
}

export interface ProducePartitionData {
  readonly partition: number;
  readonly firstSequence?: number;
  readonly messages: readonly ProduceMessage[];
}

export interface ProduceTopicData {
  readonly topic: string;
  readonly partitions: readonly ProducePartitionData[];
}

/** The arguments kafkajs passes to a Produce request builder. */
export interface ProduceArgs {
  readonly acks: number;
  readonly timeout: number;
  readonly compression?: number;
  readonly topicData: readonly ProduceTopicData[];
  readonly transactionalId?: string | null;
  readonly producerId?: number | bigint | { toString(): string };
  readonly producerEpoch?: number;
}

/** Record batch header, from the base offset to the record count: 8+4+4+1+4+2+4+8+8+8+2+4+4. */
const BATCH_HEADER = 61;
/** Offset of the attributes field, where the checksummed part of a batch starts. */
const ATTRIBUTES_AT = 21;
const MAGIC = 2;
const TRANSACTIONAL = 0x10;

/** Whether this encoder writes these messages exactly as kafkajs would. */
export function canEncodeFast(args: ProduceArgs): boolean {
  if ((args.compression ?? 0) !== 0) return false;
  for (const t of args.topicData) {
    for (const p of t.partitions) {
      for (const m of p.messages) {
        if (m.timestamp != null) return false;
        const h = m.headers;
        if (h != null && (typeof h !== 'object' || Object.keys(h).length > 0)) return false;
      }
    }
  }
  return true;
}

/**
 * Per record of the request being encoded, as the first pass measured them: key bytes, value
 * bytes (-1: null) and the record's body size. Reused from request to request.
 */
let lengths = new Int32Array(3 * 4096);

function byteLen(v: string | Buffer | null | undefined): number {
  if (v == null) return -1;
  return typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
}

/** Bytes of a zigzag varint holding `n`. */
function varintSize(n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    buf[at++] = (z & 0x7f) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[at++] = z;
  return at;
}

function writeBytesField(buf: Buffer, at: number, v: string | Buffer | null | undefined, len: number): number {
  at = writeVarint(buf, at, len);
  if (len <= 0) return at;
  if (typeof v === 'string') buf.write(v, at, len, 'utf8');
  else (v as Buffer).copy(buf, at);
  return at + len;
}

function toBigInt(v: ProduceArgs['producerId']): bigint {
  if (v === undefined) return -1n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  return BigInt(v.toString());
}

/**
 * The body of a Produce request (v3 to v7 share it): transactional id, acks, timeout and the
 * record batches by topic and partition, every record stamped `nowMs` as kafkajs stamps them.
 */
export function encodeProduceBody(args: ProduceArgs, nowMs: number): Buffer {
  const transactionalId = args.transactionalId ?? null;
  let messages = 0;
  for (const t of args.topicData) for (const p of t.partitions) messages += p.messages.length;
  if (lengths.length < messages * 3) lengths = new Int32Array(messages * 3);

  // First pass: every length, so the request is written into one buffer of exactly its size.
  let size = 2 + (transactionalId === null ? 0 : Buffer.byteLength(transactionalId, 'utf8')) + 2 + 4 + 4;
  let li = 0;
  for (const t of args.topicData) {
    size += 2 + Buffer.byteLength(t.topic, 'utf8') + 4;
    for (const p of t.partitions) {
      size += 4 + 4 + BATCH_HEADER;
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        const kl = byteLen(m.key);
        const vl = byteLen(m.value);
        // attributes, timestamp delta (0), offset delta, key, value, header count (0)
        const body = 2 + varintSize(i) + varintSize(kl) + Math.max(kl, 0) + varintSize(vl) + Math.max(vl, 0) + 1;
        lengths[li++] = kl;
        lengths[li++] = vl;
        lengths[li++] = body;
        size += varintSize(body) + body;
      }
    }
  }

  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  if (transactionalId === null) at = buf.writeInt16BE(-1, at);
  else {
    at = buf.writeInt16BE(Buffer.byteLength(transactionalId, 'utf8'), at);
    at += buf.write(transactionalId, at, 'utf8');
  }
  at = buf.writeInt16BE(args.acks, at);
  at = buf.writeInt32BE(args.timeout, at);
  at = buf.writeInt32BE(args.topicData.length, at);
  const producerId = toBigInt(args.producerId);
  const attributes = transactionalId !== null ? TRANSACTIONAL : 0;
  li = 0;
  for (const t of args.topicData) {
    at = buf.writeInt16BE(Buffer.byteLength(t.topic, 'utf8'), at);
    at += buf.write(t.topic, at, 'utf8');
    at = buf.writeInt32BE(t.partitions.length, at);
    for (const p of t.partitions) {
      at = buf.writeInt32BE(p.partition, at);
      const sizeAt = at;
      at += 4;
      const batchAt = at;
      at = buf.writeBigInt64BE(0n, at); // base offset: the broker assigns offsets
      const lengthAt = at;
      at += 4;
      at = buf.writeInt32BE(0, at); // partition leader epoch, as kafkajs sends it
      at = buf.writeInt8(MAGIC, at);
      const crcAt = at;
      at += 4;
      at = buf.writeInt16BE(attributes, at);
      at = buf.writeInt32BE(p.messages.length - 1, at); // last offset delta
      at = buf.writeBigInt64BE(BigInt(nowMs), at); // first timestamp
      at = buf.writeBigInt64BE(BigInt(nowMs), at); // max timestamp
      at = buf.writeBigInt64BE(producerId, at);
      at = buf.writeInt16BE(args.producerEpoch ?? 0, at);
      at = buf.writeInt32BE(p.firstSequence ?? 0, at);
      at = buf.writeInt32BE(p.messages.length, at);
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        const kl = lengths[li++]!;
        const vl = lengths[li++]!;
        at = writeVarint(buf, at, lengths[li++]!);
        buf[at++] = 0; // attributes
        buf[at++] = 0; // timestamp delta: every record has the batch's timestamp
        at = writeVarint(buf, at, i); // offset delta
        at = writeBytesField(buf, at, m.key, kl);
        at = writeBytesField(buf, at, m.value, vl);
        buf[at++] = 0; // no headers
      }
      buf.writeInt32BE(at - batchAt, sizeAt);
      buf.writeInt32BE(at - lengthAt - 4, lengthAt);
      buf.writeUInt32BE(crc32c(buf, batchAt + ATTRIBUTES_AT, at), crcAt);
    }
  }
  if (at !== size) throw new Error(`produce request encoding wrote ${at} bytes, measured ${size}`);
  return buf;
}

interface KafkajsRequest {
  readonly apiVersion: number;
  encode: () => Promise<unknown>;
}
type Builder = (args: ProduceArgs) => { request: KafkajsRequest; response: unknown };

let installed: boolean | null = null;

/**
 * Makes every kafkajs producer of this thread encode its Produce requests with
 * `encodeProduceBody`. Idempotent; returns false, leaving kafkajs as it is, if kafkajs' request
 * table does not have the shape this hook was written for.
 */
export function installFastProduceEncoder(): boolean {
  installed ??= hookKafkajsRequests<Builder>('produce', Symbol.for('themis.fastProduceEncoder'), '3', (build, version) => {
    if (version < 3) return build;
    return (args) => {
      const built = build(args);
      if (built.request.apiVersion < 3 || !canEncodeFast(args)) return built;
      built.request.encode = () => {
        const body = encodeProduceBody(args, Date.now());
        // kafkajs' request framing copies `buffer` from anything whose `buf` is a Buffer.
        return Promise.resolve({ buf: body, buffer: body });
      };
      return built;
    };
  });
  return installed;
}
