import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpoutOutputCollector, TopologyContext } from '../../runtime/index.js';
import { CollectorSpout } from '../../spouts/collector-spout.js';
import type { CollectorReading } from '../../spouts/collector/collector-metrics.js';
import { encodeV5, type V5Record } from '../helpers/flow-export-encoder.js';
import { waitFor } from '../helpers/exporter-tools.js';

// The collector spout on a real loopback socket, driven as the engine drives it (open, nextTuple,
// ack, fail, deactivate) with a recording collector: what it emits, and what a stop does.

interface Emitted {
  values: unknown[];
  msgId: unknown;
  stream: string;
}

interface Harness {
  spout: CollectorSpout;
  emitted: Emitted[];
  port: number;
  reading: () => CollectorReading;
  counters: Map<string, number>;
}

const spouts: CollectorSpout[] = [];
afterEach(async () => {
  for (const spout of spouts.splice(0)) await spout.close();
});

async function openSpout(maxRetries = 2): Promise<Harness> {
  const emitted: Emitted[] = [];
  const counters = new Map<string, number>();
  let reading: () => unknown = () => undefined;
  let port = 0;
  const context = {
    taskIndex: 0,
    counter: (name: string) => ({ inc: (by = 1) => counters.set(name, (counters.get(name) ?? 0) + by) }),
    reading: (_name: string, read: () => unknown) => (reading = read),
    log: {
      info: (_msg: string, fields?: Record<string, unknown>) => {
        if (typeof fields?.['address'] === 'string') port = Number(fields['address'].split(':').pop());
      },
      warn: () => undefined,
      error: () => undefined,
    },
  } as unknown as TopologyContext;
  const collector: SpoutOutputCollector = {
    emit: (values, msgId, stream) => emitted.push({ values, msgId, stream: stream ?? 'default' }),
    signalExhausted: () => undefined,
    wake: () => undefined,
    reportError: (err) => {
      throw err;
    },
  };
  const spout = new CollectorSpout({ listen: { host: '127.0.0.1', port: 0, family: 'udp4' }, maxRetries, firstId: 100 });
  spouts.push(spout);
  await spout.open(context, collector);
  return { spout, emitted, port, reading: () => reading() as CollectorReading, counters };
}

const record = (n: number): V5Record => ({
  src: '192.0.2.10',
  dst: `203.0.113.${n}`,
  srcPort: 40_000 + n,
  dstPort: 443,
  packets: n,
  bytes: 100 * n,
  first: 9_000_000,
  last: 9_001_000,
  flags: 0x1b,
  protocol: 6,
  tos: 0,
});

async function sendV5(port: number, datagrams: Buffer[]): Promise<void> {
  const socket = createSocket('udp4');
  for (const datagram of datagrams) await new Promise<void>((resolve, reject) => socket.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  socket.close();
}

const v5 = (sequence: number, records: V5Record[]) => Buffer.from(encodeV5({ sysUptimeMs: 9_500_000, unixSecs: 1_710_234_000, sequence }, records));
const lineOf = (e: Emitted) => JSON.parse(e.values[0] as string) as { id: number; dst_ip: string; packets: number; start_timestamp_unix_secs: number };

describe('CollectorSpout', () => {
  it('emits each flow received once, as a line with its id, origin and conversation share, and counts the exporter', async () => {
    const h = await openSpout();
    await sendV5(h.port, [v5(0, [record(1), record(2)]), Buffer.from('not netflow'), v5(2, [record(3)])]);
    await waitFor('three flows emitted', () => {
      h.spout.nextTuple();
      return h.emitted.length >= 3;
    });
    for (let i = 0; i < 5; i++) h.spout.nextTuple();
    expect(h.emitted).toHaveLength(3);
    expect(h.emitted.map((e) => [lineOf(e).id, lineOf(e).dst_ip, lineOf(e).packets])).toEqual([
      [100, '203.0.113.1', 1],
      [101, '203.0.113.2', 2],
      [102, '203.0.113.3', 3],
    ]);
    // Uptime 9,000,000 ms at the first packet, 9,500,000 at export: 500 s before the export time.
    expect(lineOf(h.emitted[0]!).start_timestamp_unix_secs).toBe(1_710_234_000 - 500);
    expect(h.emitted[0]!.values[1]).toMatch(/^udp 127\.0\.0\.1:\d+$/);
    expect(typeof h.emitted[0]!.values[2]).toBe('number');
    const [stats] = h.reading().exporters;
    expect(stats).toMatchObject({ version: 5, datagrams: 3, flows: 3, malformed: 1, sequenceGaps: 0 });
    expect(h.counters.get('lines_read')).toBe(3);
  });

  it('replays a failed flow from its copy, and past maxRetries sends it to the ignored stream with the reason', async () => {
    const h = await openSpout(2);
    await sendV5(h.port, [v5(0, [record(7)])]);
    await waitFor('the flow emitted', () => {
      h.spout.nextTuple();
      return h.emitted.length === 1;
    });
    const first = h.emitted[0]!;
    h.spout.fail(first.msgId, 'timeout');
    h.spout.nextTuple();
    expect(h.emitted[1]).toEqual({ values: first.values, msgId: first.msgId, stream: 'default' });
    h.spout.fail(first.msgId, 'error', { component: 'score-ssh', task: 3, error: 'boom' });
    h.spout.nextTuple();
    expect(h.emitted[2]).toEqual({ values: ['failed 2 times (last: error in score-ssh: boom)', first.values[0], first.values[1]], msgId: first.msgId, stream: 'ignored' });
    h.spout.ack(first.msgId);
    expect(h.counters.get('lines_finished')).toBe(1);
  });

  it('on stop emits at once every flow still buffered, and after it emits a failed flow again without waiting for nextTuple', async () => {
    const h = await openSpout(3);
    // Behind more datagrams without flows than one decoding pass takes (32).
    const empty = Array.from({ length: 40 }, () => Buffer.from('no flows here'));
    await sendV5(h.port, [...empty, v5(0, [record(1), record(2)]), v5(2, [record(3)])]);
    await waitFor('42 datagrams buffered', () => h.reading().bufferedDatagrams === 42);
    h.spout.deactivate();
    expect(h.emitted.map((e) => lineOf(e).id)).toEqual([100, 101, 102]);
    expect(h.reading().bufferedDatagrams).toBe(0);
    h.spout.fail(h.emitted[1]!.msgId, 'timeout');
    expect(h.emitted).toHaveLength(4);
    expect(lineOf(h.emitted[3]!).id).toBe(101);
    // The socket is closed: nothing sent after the stop arrives.
    await sendV5(h.port, [v5(3, [record(4)])]).catch(() => undefined);
    h.spout.nextTuple();
    expect(h.emitted).toHaveLength(4);
  });
});
