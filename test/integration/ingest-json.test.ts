import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';
import { conversationKey } from '../../bolts/match/conversation-key.js';
import { runCli, type CliIo } from '../../bin/themis-ingest.js';
import { uniqueTopic, useTestBroker } from '../helpers/kafka.js';
import { consumeTopic, type ConsumedMessage } from '../helpers/consume-topic.js';

// `themis-ingest json` run in-process against the broker that `npm run kafka:up` starts; every
// topic is unique to this file and deleted afterwards.
const broker = useTestBroker('themis-test-ingest-json');
const BROKERS = broker.brokers;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'themis-ingest-json-'));
});

afterAll(async () => {
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

async function newTopic(prefix: string, partitions = 4): Promise<string> {
  const topic = broker.topic(prefix);
  await createTopics({ brokers: BROKERS, topics: [topic], partitions, retentionMs: 3_600_000 });
  return topic;
}

function captureIo(stdinText = ''): CliIo & { lines: string[]; errors: string[]; exitCode: number } {
  const io = {
    lines: [] as string[],
    errors: [] as string[],
    exitCode: 0,
    out: (line: string) => io.lines.push(line),
    err: (line: string) => io.errors.push(line),
    writeErr: (text: string) => io.errors.push(text),
    isErrTty: false,
    stdin: Readable.from([stdinText]),
    env: { THEMIS_KAFKA_BROKERS: BROKERS.join(',') },
    nowMs: () => Date.now(),
    setExitCode: (code: number) => {
      io.exitCode = code;
    },
  };
  return io;
}

/** One direction of a conversation in the input schema (reference §4.2). */
function flowLine(id: number, src: string, srcPort: number, dst: string, dstPort: number, protocol = 6): string {
  return JSON.stringify({
    id,
    protocol,
    src_ip: src,
    dst_ip: dst,
    src_port: srcPort,
    dst_port: dstPort,
    packets: 3,
    bytes: 180,
    flags: protocol === 6 ? '.A..S.' : undefined,
    tos: 0,
    start_timestamp_unix_secs: 1_484_033_957,
    end_timestamp_unix_secs: 1_484_033_958,
  });
}

/** 20 conversations, both directions each: 40 flows, ids 1-40; every fourth one over IPv6. */
function conversationLines(): string[] {
  const lines: string[] = [];
  for (let n = 0; n < 20; n++) {
    const client = n % 4 === 3 ? `2001:db8::${(n + 1).toString(16)}` : `198.51.100.${n + 1}`;
    const server = n % 4 === 3 ? '2001:db8:0:1::80' : '192.0.2.10';
    const port = 40_000 + n;
    const protocol = n % 5 === 4 ? 17 : 6;
    lines.push(flowLine(2 * n + 1, client, port, server, 443, protocol), flowLine(2 * n + 2, server, 443, client, port, protocol));
  }
  return lines;
}

function parsedFlows(messages: ConsumedMessage[]) {
  return messages.map((message) => {
    const parsed = parseFlowLine(message.value, 0);
    if (!parsed.ok) throw new Error(`message ${message.value} does not parse: ${parsed.reason}`);
    return { flow: parsed.flow, message };
  });
}

describe('themis-ingest json', () => {
  it('sends valid lines keyed by conversation and reports invalid ones by line number without sending them', async () => {
    const topic = await newTopic('themis-it-ingest-json');
    const valid = conversationLines();
    const lines = [
      ...valid.slice(0, 10),
      '{"id": 101, "protocol": 6', // line 11
      ...valid.slice(10, 20),
      '', // line 22: blank, skipped without a count
      flowLine(102, '198.51.100.1', 70_000, '192.0.2.10', 443), // line 23
      ...valid.slice(20, 30),
      JSON.stringify({ id: 103, protocol: 6 }), // line 34
      ...valid.slice(30),
    ];
    const file = join(workDir, 'flows.jsonl');
    await writeFile(file, `${lines.join('\n')}\n`);
    const io = captureIo();

    await runCli(['json', file, '--topic', topic, '--batch', '7'], io);

    expect(io.exitCode).toBe(0);
    expect(io.errors).toEqual([
      expect.stringMatching(new RegExp(`^${file}:11: invalid JSON: `)),
      `${file}:23: src_port must be an integer 0-65535, got 70000`,
      `${file}:34: missing field start_timestamp_unix_secs`,
    ]);
    expect(io.lines).toEqual([
      `topic: ${topic}`,
      'read: 43, sent: 40, invalid: 3 (not sent)',
      expect.stringMatching(/^elapsed: \d+\.\d s, rate: \d+ flows\/s$/),
    ]);

    const messages = await consumeTopic(BROKERS, topic, 40);
    expect(messages).toHaveLength(40);
    const flows = parsedFlows(messages);
    // The value is the line as read.
    expect(new Set(messages.map((message) => message.value))).toEqual(new Set(valid));
    const byKey = new Map<string, { partition: number; sourceFirst: boolean; id: number }[]>();
    for (const { flow, message } of flows) {
      const { key, sourceFirst } = conversationKey(flow);
      expect(message.key?.toString('utf16le')).toBe(key);
      byKey.set(key, [...(byKey.get(key) ?? []), { partition: message.partition, sourceFirst, id: flow.id }]);
    }
    expect(byKey.size).toBe(20);
    for (const sides of byKey.values()) {
      expect(sides).toHaveLength(2);
      expect(sides[0]!.partition).toBe(sides[1]!.partition);
      expect(sides[0]!.sourceFirst).not.toBe(sides[1]!.sourceFirst);
      // Both directions of conversation n are ids 2n+1 and 2n+2.
      expect(Math.ceil(sides[0]!.id / 2)).toBe(Math.ceil(sides[1]!.id / 2));
    }
    expect(new Set(messages.map((message) => message.partition)).size).toBeGreaterThan(1);
  });

  it('with --send-invalid also sends the invalid lines, unkeyed, for ignored-flows to record', async () => {
    const topic = await newTopic('themis-it-ingest-json-invalid', 1);
    const valid = conversationLines().slice(0, 4);
    const invalid = ['not json at all', flowLine(9, '198.51.100.1', 1, '192.0.2.10', 443).replace('"tos":0', '"tos":300')];
    const io = captureIo([valid[0], invalid[0], ...valid.slice(1), invalid[1]].join('\n'));

    await runCli(['json', '-', '--topic', topic, '--send-invalid'], io);

    expect(io.exitCode).toBe(0);
    expect(io.errors).toEqual([
      expect.stringMatching(/^stdin:2: invalid JSON: .* \(sent anyway\)$/),
      'stdin:6: tos must be an integer 0-255, got 300 (sent anyway)',
    ]);
    expect(io.lines[1]).toBe('read: 6, sent: 6, invalid: 2 (2 sent anyway)');
    const messages = await consumeTopic(BROKERS, topic, 6);
    const unkeyed = messages.filter((message) => message.key === null).map((message) => message.value);
    expect(unkeyed.sort()).toEqual([...invalid].sort());
    expect(messages.filter((message) => message.key !== null)).toHaveLength(4);
  });

  it('fails with exit 1 naming the topic when it does not exist, sending nothing', async () => {
    const file = join(workDir, 'one.jsonl');
    await writeFile(file, `${conversationLines()[0]}\n`);
    const topic = uniqueTopic('themis-it-ingest-json-missing');
    const io = captureIo();

    await runCli(['json', file, '--topic', topic], io);

    expect(io.exitCode).toBe(1);
    expect(io.errors[0]).toContain(`topic "${topic}" does not exist`);
    expect(io.errors[0]).toContain(`themis-kafka create-topics --topics ${topic}`);
    expect(await broker.admin.listTopics()).not.toContain(topic);
  });

  it('fails with exit 1 and a hint when no broker answers', async () => {
    const file = join(workDir, 'one.jsonl');
    await writeFile(file, `${conversationLines()[0]}\n`);
    const io = captureIo();

    await runCli(['json', file, '--brokers', '127.0.0.1:9'], io);

    expect(io.exitCode).toBe(1);
    expect(io.errors[0]).toMatch(/^themis-ingest: cannot reach Kafka brokers 127\.0\.0\.1:9: .*ECONNREFUSED.*\[THEMIS_INGEST_KAFKA\]$/);
    expect(io.errors[1]).toContain('npm run kafka:up');
  });

  it('rejects bad options with exit 2, naming each option, before contacting Kafka', async () => {
    const io = captureIo();

    await runCli(['json', join(workDir, 'missing.jsonl'), '--brokers', 'localhost', '--batch', '0', '--in-flight', 'many', '--topic', 'a/b'], io);

    expect(io.exitCode).toBe(2);
    expect(io.lines).toEqual([]);
    expect(io.errors).toEqual([
      'themis-ingest json: --brokers entry "localhost" must be host:port with a port from 1 to 65535',
      'themis-ingest json: --topic "a/b" is not a legal Kafka topic name (letters, digits, ".", "_", "-"; at most 249)',
      'themis-ingest json: --batch (0) must be a whole number of messages from 1 to 100000',
      'themis-ingest json: --in-flight (many) must be a whole number of batches from 1 to 64',
      `themis-ingest json: <file> ${join(workDir, 'missing.jsonl')}: no such file`,
    ]);
  });

  it('exits 2 on an unknown option, naming it', async () => {
    const io = captureIo();

    await runCli(['json', '-', '--bacth', '10'], io);

    expect(io.exitCode).toBe(2);
    expect(io.errors.join('\n')).toContain("unknown option '--bacth'");
  });
});
