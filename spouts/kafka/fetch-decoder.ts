/**
 * A faster decoder for kafkajs' Fetch responses (version 11, what kafkajs uses with Kafka 2.3 and
 * later), the counterpart of produce-encoder.ts on the consumer side.
 *
 * kafkajs decodes every record through its own Decoder object, reads each varlong and adds each
 * offset and timestamp with a 64-bit Long emulation (objects per step), and spreads every batch's
 * records into the partition's list. This decoder walks the response buffer once with plain
 * numbers and builds the same objects kafkajs builds (the same fields, the same values, key and
 * value as views of the response buffer), so the rest of kafkajs' consumer is none the wiser.
 *
 * It decodes what it knows byte for byte like kafkajs (test/unit/fetch-decoder.test.ts compares
 * the two): record batches of magic 2 without compression. A partition holding anything else
 * (compressed or legacy batches, offsets or timestamps beyond 2^53) is decoded by kafkajs' own
 * code, and so is a whole response this decoder finds malformed.
 */
import { hookKafkajsRequests, kafkajsModule } from './kafkajs-hook.js';

/** kafkajs' record, as its consumer reads it. */
export interface FetchedRecord {
  magicByte: number;
  attributes: number;
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | Array<Buffer | null>>;
  isControlRecord: boolean;
  batchContext: BatchContext;
}

interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  timestampType: number;
  magicByte: number;
}

type DecodeMessages = (decoder: unknown) => Promise<unknown[]>;
type DecoderClass = new (buffer: Buffer) => unknown;

const TIMESTAMP_TYPE_FLAG = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;
const COMPRESSION_MASK = 0x07;
const LOG_APPEND_TIME = 1;
const CREATE_TIME = 0;
/** Bytes before a batch's records: offset, length, epoch, magic, crc, attributes ... count. */
const BATCH_OVERHEAD = 61;
/** Where the magic byte sits in any message format (kafkajs reads it there too). */
const MAGIC_OFFSET = 16;
/** kafkajs stops reading a record set when fewer bytes than this remain. */
const RECORD_BATCH_OVERHEAD = 49;

/** This decoder met something it does not decode like kafkajs: the caller falls back. */
class NotMine extends Error {}

/** A cursor over the response buffer, with kafkajs' integer arithmetic. */
class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}
  /** Moves past `n` bytes and returns where they start; a response too short is not ours. */
  private take(n: number): number {
    const at = this.at;
    if (n < 0 || at + n > this.buf.length) throw new NotMine('short');
    this.at = at + n;
    return at;
  }
  int8(): number {
    return this.buf.readInt8(this.take(1));
  }
  int16(): number {
    return this.buf.readInt16BE(this.take(2));
  }
  int32(): number {
    return this.buf.readInt32BE(this.take(4));
  }
  int64String(): string {
    return this.buf.readBigInt64BE(this.take(8)).toString();
  }
  /** An int16-length string; -1: null. */
  string(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    const at = this.take(len);
    return this.buf.toString('utf8', at, at + len);
  }
  /** A varint-length string; -1: null. */
  varString(): string | null {
    const len = this.varint();
    if (len === -1) return null;
    const at = this.take(len);
    return this.buf.toString('utf8', at, at + len);
  }
  /** kafkajs' readVarInt, to the bit: 7-bit groups summed as 32-bit shifts, then zigzag. */
  varint(): number {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      if (this.at >= this.buf.length) throw new NotMine('short varint');
      byte = this.buf[this.at++]!;
      result += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    return (result >>> 1) ^ -(result & 1);
  }
  /** A zigzag varlong as a number; values beyond ±2^53 are left to kafkajs. */
  varlong(): number {
    let result = 0;
    let scale = 1;
    let byte: number;
    do {
      if (this.at >= this.buf.length) throw new NotMine('short varlong');
      if (scale > 2 ** 42) throw new NotMine('varlong beyond 49 bits');
      byte = this.buf[this.at++]!;
      result += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte >= 0x80);
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }
  /** varint length, then that many bytes as a view of the buffer; -1: null. */
  varBytes(): Buffer | null {
    const len = this.varint();
    if (len === -1) return null;
    const at = this.take(len);
    return this.buf.subarray(at, at + len);
  }
}

/** The decimal of `base + delta` for a decimal `base` (an int64 as kafkajs prints it). */
function addToDecimal(base: string, baseNum: number, delta: number): string {
  const sum = baseNum + delta;
  if (Number.isSafeInteger(baseNum) && Number.isSafeInteger(sum)) return String(sum);
  return (BigInt(base) + BigInt(delta)).toString();
}

function decodeHeaders(r: Reader): FetchedRecord['headers'] {
  const count = r.varint();
  const headers: FetchedRecord['headers'] = {};
  for (let i = 0; i < count; i++) {
    const key = r.varString();
    const value = r.varBytes();
    const k = String(key);
    const prev = headers[k];
    headers[k] = prev === undefined ? value : Array.isArray(prev) ? prev.concat([value]) : [prev, value];
  }
  return headers;
}

/**
 * The records of one partition's record set (`r` at its first batch, `end` after its last byte),
 * or null when a batch is one this decoder leaves to kafkajs.
 */
function decodeRecordSet(r: Reader, end: number): FetchedRecord[] | null {
  const records: FetchedRecord[] = [];
  // kafkajs reads the magic byte of the first batch to choose its decoder (and throws when the
  // set is too short to hold one): anything but magic 2 is left to it.
  if (end - r.at <= MAGIC_OFFSET || r.buf.readInt8(r.at + MAGIC_OFFSET) !== 2) return null;
  while (end - r.at >= RECORD_BATCH_OVERHEAD) {
    const firstOffset = r.int64String();
    const length = r.int32();
    // A batch cut short by the fetch size: kafkajs stops there.
    if (length > end - r.at) break;
    const batchEnd = r.at + length;
    if (length < BATCH_OVERHEAD - 12) return null;
    const partitionLeaderEpoch = r.int32();
    const magicByte = r.int8();
    if (magicByte !== 2) return null;
    r.int32(); // crc: kafkajs does not check it either
    const attributes = r.int16();
    if ((attributes & COMPRESSION_MASK) !== 0) return null;
    const lastOffsetDelta = r.int32();
    const firstTimestamp = r.int64String();
    const maxTimestamp = r.int64String();
    const producerId = r.int64String();
    const producerEpoch = r.int16();
    const firstSequence = r.int32();
    const context: BatchContext = {
      firstOffset,
      firstTimestamp,
      partitionLeaderEpoch,
      inTransaction: (attributes & TRANSACTIONAL_FLAG) > 0,
      isControlBatch: (attributes & CONTROL_FLAG) > 0,
      lastOffsetDelta,
      producerId,
      producerEpoch,
      firstSequence,
      maxTimestamp,
      timestampType: (attributes & TIMESTAMP_TYPE_FLAG) > 0 ? LOG_APPEND_TIME : CREATE_TIME,
      magicByte,
    };
    const firstOffsetNum = Number(firstOffset);
    const firstTimestampNum = Number(firstTimestamp);
    // kafkajs takes maxTimestamp when it is truthy; a decimal int64 always is.
    const logAppend = context.timestampType === LOG_APPEND_TIME;
    let count = r.int32();
    if (count === -1) count = 0;
    for (let i = 0; i < count; i++) {
      const recordLength = r.varint();
      const recordEnd = r.at + recordLength;
      if (recordLength < 0 || recordEnd > batchEnd) throw new NotMine('record beyond its batch');
      const recordAttributes = r.int8();
      const timestampDelta = r.varlong();
      const offsetDelta = r.varint();
      const key = r.varBytes();
      const value = r.varBytes();
      const headers = decodeHeaders(r);
      r.at = recordEnd;
      records.push({
        magicByte,
        attributes: recordAttributes,
        timestamp: logAppend ? maxTimestamp : addToDecimal(firstTimestamp, firstTimestampNum, timestampDelta),
        offset: addToDecimal(firstOffset, firstOffsetNum, offsetDelta),
        key,
        value,
        headers,
        isControlRecord: context.isControlBatch,
        batchContext: context,
      });
    }
    if (r.at > batchEnd) throw new NotMine('records beyond their batch');
    r.at = batchEnd;
  }
  return records;
}

interface Kafkajs {
  decodeMessages: DecodeMessages;
  Decoder: DecoderClass;
}

/**
 * Decodes a Fetch v11 response body as kafkajs' `fetch/v11/response.decode` does. A partition
 * whose record set this decoder leaves to kafkajs goes through `kafkajs.decodeMessages`.
 */
export async function decodeFetchV11(raw: Buffer, kafkajs: Kafkajs): Promise<unknown> {
  const r = new Reader(raw);
  const clientSideThrottleTime = r.int32();
  const errorCode = r.int16();
  const sessionId = r.int32();
  const topicCount = r.int32();
  const responses: unknown[] = [];
  for (let t = 0; t < topicCount; t++) {
    const topicName = r.string();
    const partitionCount = r.int32();
    const partitions: unknown[] = [];
    for (let p = 0; p < partitionCount; p++) {
      const partition = r.int32();
      const partitionError = r.int16();
      const highWatermark = r.int64String();
      const lastStableOffset = r.int64String();
      const lastStartOffset = r.int64String();
      const abortedCount = r.int32();
      const abortedTransactions: Array<{ producerId: string; firstOffset: string }> = [];
      for (let a = 0; a < abortedCount; a++) abortedTransactions.push({ producerId: r.int64String(), firstOffset: r.int64String() });
      const preferredReadReplica = r.int32();
      const setStart = r.at;
      const size = r.int32();
      let messages: unknown[];
      if (size <= 0) messages = [];
      else {
        // kafkajs returns nothing for a record set longer than the response, and reads on from
        // there: a response like that is left to kafkajs whole.
        if (size > raw.length - r.at) throw new NotMine('record set beyond the response');
        const end = r.at + size;
        const mine = decodeRecordSet(r, end);
        messages = mine ?? (await kafkajs.decodeMessages(new kafkajs.Decoder(raw.subarray(setStart, end))));
        r.at = end;
      }
      partitions.push({ partition, errorCode: partitionError, highWatermark, lastStableOffset, lastStartOffset, abortedTransactions, preferredReadReplica, messages });
    }
    responses.push({ topicName, partitions });
  }
  return { throttleTime: 0, clientSideThrottleTime, errorCode, sessionId, responses };
}

interface FetchResponse {
  decode: (raw: Buffer) => Promise<unknown>;
  parse: (data: unknown) => Promise<unknown>;
}
type FetchBuilder = (args: Record<string, unknown>) => { request: unknown; response: FetchResponse; requestTimeout?: unknown };

let installed: boolean | null = null;

/**
 * Makes every kafkajs consumer of this thread decode Fetch v11 responses with `decodeFetchV11`
 * (kafkajs' own decoder for other versions, and for any response this decoder finds malformed).
 * Idempotent; returns false, leaving kafkajs as it is, when kafkajs does not have the shape this
 * hook was written for.
 */
export function installFastFetchDecoder(): boolean {
  if (installed !== null) return installed;
  const decodeMessages = kafkajsModule<DecodeMessages>('protocol/requests/fetch/v4/decodeMessages.js');
  const Decoder = kafkajsModule<DecoderClass>('protocol/decoder.js');
  if (decodeMessages === null || Decoder === null) return (installed = false);
  const kafkajs: Kafkajs = { decodeMessages, Decoder };
  installed = hookKafkajsRequests<FetchBuilder>('fetch', Symbol.for('themis.fastFetchDecoder'), '11', (build, version) => {
    if (version !== 11) return build;
    return (args) => {
      const built = build(args);
      const theirs = built.response;
      const decode = (raw: Buffer): Promise<unknown> =>
        decodeFetchV11(raw, kafkajs).catch((err: unknown) => {
          if (err instanceof NotMine) return theirs.decode(raw);
          throw err;
        });
      return { ...built, response: { ...theirs, decode } };
    };
  });
  return installed;
}
