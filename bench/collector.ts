/**
 * What the collector sustains: IPFIX datagrams (30 flows each, built once by the test encoder)
 * sent over loopback at a set rate to themis-collect running as its own process (`--kafka`: the
 * listener, the decoder and themis-ingest's producer to a fresh topic, acks=all), then SIGTERM.
 * With `--target topology`, to `themis-topology submit 2 2 20000 0 --listen` (file outputs in a
 * temporary directory) instead, written to bench/results/collector-topology.json.
 * Reports the rate offered, the rate decoded (flows decoded over the sending time), the flows the
 * broker acknowledged, the datagrams the collector's buffer dropped, how long it took after the
 * last datagram to send the rest, and the pure decode rate on one thread (runDecodeBench of
 * bench:collector-decode). Prints a table and writes bench/results/collector.json.
 *
 *   npm run bench:collector [-- --flows-per-sec 50000 --seconds 10 --brokers 127.0.0.1:9092 --target collect|topology]
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { createTopics } from '../spouts/kafka/create-topics.js';
import { freeUdpPort } from '../test/helpers/exporter-tools.js';
import { encodeIpfix, type FieldSpec } from '../test/helpers/flow-export-encoder.js';
import { runDecodeBench } from './lib/collector-decode.js';
import { benchArgs, printTable, resultsFile, writeResults } from './lib/report.js';

const argv = benchArgs();
const brokers = (argv.get('brokers') ?? '127.0.0.1:9092').split(',');
const offeredFlowsPerSec = Number(argv.get('flows-per-sec') ?? 50_000);
const seconds = Number(argv.get('seconds') ?? 10);
const FLOWS_PER_DATAGRAM = 30;
const DISTINCT_DATAGRAMS = 64;
const TICK_MS = 5;

/** Addresses, ports, protocol, flags, tos, 64-bit counters, start and end in ms: 47 octets a record. */
const FIELDS: FieldSpec[] = [
  { id: 8, length: 4 },
  { id: 12, length: 4 },
  { id: 7, length: 2 },
  { id: 11, length: 2 },
  { id: 4, length: 1 },
  { id: 6, length: 1 },
  { id: 5, length: 1 },
  { id: 2, length: 8 },
  { id: 1, length: 8 },
  { id: 152, length: 8 },
  { id: 153, length: 8 },
];

/** A fixed-seed generator (xorshift32), so every run sends the same flows. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function buildDatagrams(): { template: Buffer; data: Buffer[] } {
  const random = xorshift(15);
  const header = { exportSecs: 1_700_000_000, sequence: 0, domainId: 1 };
  const template = Buffer.from(encodeIpfix(header, [{ kind: 'template', templates: [{ id: 256, fields: FIELDS }] }]));
  const data = Array.from({ length: DISTINCT_DATAGRAMS }, () => {
    const records = Array.from({ length: FLOWS_PER_DATAGRAM }, (_, i) => [
      `10.${random() & 255}.${random() & 255}.${random() & 255}`,
      `192.0.2.${random() & 255}`,
      1024 + (random() % 60_000),
      [443, 80, 53, 22][random() % 4]!,
      6,
      0x1b,
      0,
      1 + (random() % 1000),
      40 + (random() % 1_000_000),
      1_699_999_990_000 + i,
      1_699_999_999_000 + i,
    ]);
    return Buffer.from(encodeIpfix(header, [{ kind: 'data', templateId: 256, fields: FIELDS, records }]));
  });
  return { template, data };
}

const target = argv.get('target') ?? 'collect';
if (target !== 'collect' && target !== 'topology') throw new Error(`--target ${target}: must be collect or topology`);
const binDir = new URL('../bin/', import.meta.url);
const topic = `bench-collector-${Date.now()}`;
const outDir = mkdtempSync(join(tmpdir(), 'bench-collector-'));
let args: string[];
if (target === 'collect') {
  await createTopics({ brokers, topics: [topic], partitions: 4 });
  args = [fileURLToPath(new URL('themis-collect.js', binDir)), '--listen', '127.0.0.1:0', '--kafka', brokers.join(','), '--topic', topic, '--first-id', '1'];
} else {
  args = [fileURLToPath(new URL('themis-topology.js', binDir)), 'submit', '2', '2', '20000', '0', 'bench-collector', '--listen', `127.0.0.1:${await freeUdpPort()}`];
  args.push('--first-id', '1', '--output-dir', outDir, '--metrics-port', '0');
}
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
const deadline = Date.now() + 60_000;
let port = 0;
// themis-collect says where it listens; the topology is listening once its metrics endpoint is up.
const ready = target === 'collect' ? /listening on UDP 127\.0\.0\.1:(\d+)/ : /metrics on http/;
while (port === 0) {
  const match = ready.exec(stderr);
  if (match !== null) port = target === 'collect' ? Number(match[1]) : Number(args[args.indexOf('--listen') + 1]!.split(':')[1]);
  else if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${target} did not start:\n${stderr}`);
  else await new Promise((r) => setTimeout(r, 50));
}

const { template, data } = buildDatagrams();
const socket = createSocket('udp4');
const send = (payload: Buffer) => new Promise<void>((resolve, reject) => socket.send(payload, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
await send(template);
const datagramsPerSec = offeredFlowsPerSec / FLOWS_PER_DATAGRAM;
const total = Math.round(datagramsPerSec * seconds);
let sent = 0;
const t0 = performance.now();
// Every tick sends what is due by then: the offered rate holds however the ticks fall.
while (sent < total) {
  const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * datagramsPerSec));
  for (; sent < due; sent++) {
    const payload = data[sent % DISTINCT_DATAGRAMS]!;
    // IPFIX sequence numbers count records: consecutive, so the collector sees no gap.
    payload.writeUInt32BE((sent * FLOWS_PER_DATAGRAM) >>> 0, 8);
    await send(payload);
  }
  await new Promise((r) => setTimeout(r, TICK_MS));
}
const sendSecs = (performance.now() - t0) / 1000;
socket.close();
// Give the last datagrams a moment to leave the socket, then stop: the collector sends the rest.
await new Promise((r) => setTimeout(r, 200));
const stopAt = performance.now();
child.kill('SIGTERM');
const code = await exited;
const drainMs = performance.now() - stopAt;
if (code !== 0) throw new Error(`${target} exited ${code}:\n${stderr}\n${stdout}`);
if (argv.get('verbose') !== undefined) console.log(stderr.split('\n').slice(-40).join('\n'));

// themis-collect prints its summary on stdout; the topology prints its own and the collector's on stderr.
const summaryText = target === 'collect' ? stdout : stderr;
const acked = target === 'collect' ? Number(/sent: (\d+)/.exec(stdout)?.[1] ?? NaN) : Number(/themis: done in [\d.]+ s: ([\d,]+) lines/.exec(stderr)?.[1]?.replace(/,/g, '') ?? NaN);
const collected =
  target === 'collect'
    ? /collected: (\d+) datagrams, (\d+) flows .*buffer drops (\d+)/.exec(stdout)
    : // The last collector line: the one after the topology's summary.
      [...stderr.matchAll(/themis: collector: \S+ v10: ([\d,]+) datagrams, ([\d,]+) flows.*buffer drops ([\d,]+)/g)].pop() ?? null;
if (collected === null) throw new Error(`no summary from ${target}:\n${summaryText}`);
const count = (text: string) => Number(text.replace(/,/g, ''));
const decodedFlows = count(collected[2]!);
const dropped = count(collected[3]!);
const gaps = count(/([\d,]+) sequence gaps/.exec(summaryText)?.[1] ?? 'NaN');

const [ipfix] = runDecodeBench({ secondsPerVersion: 2 }).filter((r) => r.version === 'ipfix');
if (target === 'collect') {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING, clientId: topic }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
}
rmSync(outDir, { recursive: true, force: true });

const row = {
  target,
  offeredFlowsPerSec,
  seconds: Number(sendSecs.toFixed(2)),
  offeredFlows: sent * FLOWS_PER_DATAGRAM,
  decodedFlows,
  decodedFlowsPerSec: Math.round(decodedFlows / sendSecs),
  /** collect: flows the broker acknowledged; topology: flows finished (scored, discarded or ignored). */
  deliveredFlows: acked,
  dropped,
  sequenceGaps: gaps,
  drainMs: Math.round(drainMs),
  pureDecodeFlowsPerSec: ipfix?.flowsPerSec ?? 0,
};
printTable([row]);
writeResults(resultsFile(target === 'collect' ? 'collector.json' : 'collector-topology.json'), [row], { ...row, flowsPerDatagram: FLOWS_PER_DATAGRAM, brokers });
