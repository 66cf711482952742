import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationKey } from '../../bolts/match/conversation-key.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';
import type { InputFlowRecord } from '../../spouts/ingest/nfdump-json.js';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { runCli } from '../helpers/cli.js';
import { consumeTopic } from '../helpers/consume-topic.js';
import { ALL_FLOWS, CAPTURE_PACKETS } from '../helpers/exporter-capture.js';
import { comparable, freeUdpPort, nfdumpFlows, softflowdExport, startNfcapd, waitFor } from '../helpers/exporter-tools.js';
import { killChildren, requireNfdumpTools, start as startProcess } from '../helpers/nfcapd-capture.js';
import { useTestBroker } from '../helpers/kafka.js';
import { buildPcap } from '../helpers/pcap-writer.js';
import { parseSamples, scrape, select } from '../helpers/prometheus.js';

// themis-collect and `themis-topology submit --listen` as users run them (child processes from
// the TypeScript sources), fed by softflowd exporting a capture written here, stopped by SIGTERM.
// Needs softflowd and nfdump (Debian) and the broker of `npm run kafka:up`.

const broker = useTestBroker('themis-test-collector-commands');
/** The version softflowd exports in these tests: IPFIX, which carries every flow of the capture. */
const VERSION = 10;
let workDir: string;
let pcap: string;
const running: BackgroundCli[] = [];

beforeAll(async () => {
  requireNfdumpTools();
  workDir = await mkdtemp(join(tmpdir(), 'themis-collector-commands-'));
  pcap = join(workDir, 'capture.pcap');
  await writeFile(pcap, buildPcap(CAPTURE_PACKETS));
});

afterAll(async () => {
  for (const cli of running) cli.child.kill('SIGKILL');
  killChildren();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

function start(program: string, args: string[]): BackgroundCli {
  const cli = startCli(program, args);
  running.push(cli);
  return cli;
}

const readLines = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as T)
    : [];

/** The port themis-collect bound (it logs `listening on UDP <addr>:<port>`, IPv6 as `[addr]:port`). */
async function boundPort(cli: BackgroundCli): Promise<number> {
  let port = 0;
  await waitFor('themis-collect to listen', () => {
    const match = /listening on UDP (?:127\.0\.0\.1|\[::1\]):(\d+)/.exec(cli.stderr());
    if (match !== null) port = Number(match[1]);
    return match !== null;
  }, 30_000);
  return port;
}

describe('themis-collect', () => {
  it('writes the exported flows as JSON lines, equal to what nfcapd and nfdump decode, and on SIGTERM writes the rest and exits 0', async () => {
    const output = join(workDir, 'collected.jsonl');
    const cli = start('themis-collect', ['--listen', '127.0.0.1:0', '--output', output, '--first-id', '500']);
    const exported = await softflowdExport(pcap, await boundPort(cli), VERSION);
    // The lines are written within --linger-ms of their arrival, before any stop.
    await waitFor(`${exported} lines in ${output}`, () => readLines(output).length >= exported, 15_000);
    // The progress line (every 5 s) gives the lines written and each exporter's figures.
    const progress = new RegExp(`themis-collect: ${exported} flows written; 127\\.0\\.0\\.1:\\d+ v10: \\d+ datagrams, ${exported} flows, 0 sequence gaps, 0 template misses, 0 malformed; buffer drops 0`);
    await waitFor('a progress line', () => progress.test(cli.stderr()), 15_000);
    const result = await cli.stop('SIGTERM');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`written: ${exported}`);
    expect(result.stdout).toContain(`ids: 500 to ${500 + exported - 1}`);
    expect(result.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:\\d+ v${VERSION}: \\d+ datagrams, \\d+ flows, 0 sequence gaps, 0 template misses, 0 malformed`));

    const port = await freeUdpPort();
    const nfcapd = await startNfcapd(join(workDir, 'nfcapd-collect'), port);
    const file = await nfcapd.stop(await softflowdExport(pcap, port, VERSION));
    const flows = readLines<InputFlowRecord>(output);
    expect(comparable(flows)).toEqual(comparable(await nfdumpFlows(file)));
    expect(flows.map((f) => f.id).sort((a, b) => a - b)).toEqual(flows.map((_, i) => 500 + i));
  }, 90_000);

  it('listens on IPv6 too', async () => {
    const output = join(workDir, 'collected-v6.jsonl');
    const cli = start('themis-collect', ['--listen', '[::1]:0', '--output', output]);
    const port = await boundPort(cli);
    const run = await startProcess('softflowd', ['-r', pcap, '-n', `[::1]:${port}`, '-v', String(VERSION), '-a', '-d'], workDir).finished;
    expect(run.code, run.stderr).toBe(0);
    await waitFor(`${ALL_FLOWS.length} lines in ${output}`, () => readLines(output).length >= ALL_FLOWS.length, 15_000);
    const result = await cli.stop('SIGTERM');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\[::1\]:\d+ v10: 1 datagrams, 15 flows/);
    expect(new Set(readLines<InputFlowRecord>(output).map((f) => `${f.protocol} ${f.src_ip} ${f.src_port} ${f.dst_ip} ${f.dst_port}`))).toEqual(new Set(ALL_FLOWS));
  }, 60_000);

  it('sends the flows to the input topic keyed by conversation, every one acknowledged', async () => {
    const topic = broker.topic('themis-it-collect');
    await createTopics({ brokers: broker.brokers, topics: [topic], partitions: 3, retentionMs: 3_600_000 });
    const cli = start('themis-collect', ['--listen', '127.0.0.1:0', '--kafka', broker.brokers.join(','), '--topic', topic, '--first-id', '7000']);
    const exported = await softflowdExport(pcap, await boundPort(cli), VERSION);
    // Sent after --linger-ms: the messages arrive while the collector still runs.
    const messages = await consumeTopic(broker.brokers, topic, exported, { timeoutMs: 30_000 });
    const result = await cli.stop('SIGTERM');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`sent: ${exported}, refused: 0`);
    expect(messages).toHaveLength(exported);
    const keys = new Set<string>();
    for (const message of messages) {
      const parsed = parseFlowLine(message.value, 0);
      if (!parsed.ok) throw new Error(`message ${message.value} does not parse: ${parsed.reason}`);
      const flow = parsed.flow;
      keys.add(`${flow.protocol} ${flow.srcIp.text} ${flow.srcPort} ${flow.dstIp.text} ${flow.dstPort}`);
      // Keyed as themis-ingest keys: both directions of a conversation share a key, hence a partition.
      expect(message.key?.toString('utf16le')).toBe(conversationKey(flow).key);
    }
    expect(keys).toEqual(new Set(ALL_FLOWS));
  }, 90_000);

  it('refuses bad options at once with exit 2, naming each problem', async () => {
    const run = await runCli('themis-collect', ['--listen', 'localhost:99999', '--output', 'x', '--kafka', '127.0.0.1:9092', '--buffer-datagrams', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--listen "localhost:99999"');
    expect(run.stderr).toContain('give --output or --kafka, not both');
    expect(run.stderr).toContain('--buffer-datagrams (0) must be a whole number from 1');
    // 0 is no flow id (the parser refuses it), and --batch is checked as themis-ingest checks it.
    const ids = await runCli('themis-collect', ['--listen', '127.0.0.1:0', '--kafka', '127.0.0.1:9092', '--first-id', '0', '--batch', '0']);
    expect(ids.code).toBe(2);
    expect(ids.stderr).toContain('--first-id (0) must be a whole number from 1');
    expect(ids.stderr).toContain('--batch (0) must be a whole number of messages from 1 to 100000');
    const missing = await runCli('themis-collect', []);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--listen <addr:port> is required');
  }, 60_000);
});

describe('themis-topology submit --listen', () => {
  it('scores exported flows with no other service, shows per-exporter metrics, and on SIGTERM writes every output and exits 0', async () => {
    const port = await freeUdpPort();
    const out = join(workDir, 'topology-out');
    const firstId = 9000;
    const cli = start('themis-topology', [
      'submit', '1', '1', '1000', '0', 'collect-it',
      '--listen', `127.0.0.1:${port}`, '--first-id', String(firstId),
      '--output-dir', out, '--workers', '1', '--metrics-port', '0',
    ]);
    let metricsUrl = '';
    await waitFor('the topology to start', () => {
      const match = /metrics on (http:\S+)/.exec(cli.stderr());
      if (match !== null) metricsUrl = match[1]!;
      return match !== null;
    }, 60_000);
    const exported = await softflowdExport(pcap, port, VERSION);
    const flowsTotal = async () => select(parseSamples(await scrape(metricsUrl)), 'themis_collector_flows_total').reduce((n, s) => n + s.value, 0);
    await waitFor(`${exported} flows on the metrics endpoint`, async () => (await flowsTotal()) >= exported, 30_000);
    const samples = parseSamples(await scrape(metricsUrl));
    const datagrams = select(samples, 'themis_collector_datagrams_total', { instance: 'collect-it' });
    expect(datagrams).toHaveLength(1);
    expect(datagrams[0]!.labels['exporter']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(datagrams[0]!.value).toBeGreaterThan(0);
    expect(select(samples, 'themis_collector_malformed_total')[0]?.value).toBe(0);
    expect(select(samples, 'themis_collector_dropped_datagrams_total', { instance: 'collect-it' })[0]?.value).toBe(0);

    const result = await cli.stop('SIGTERM', 60_000);
    expect(result.code, result.stderr).toBe(0);
    // The summary ends with the exporter's figures, as the progress line gives them.
    expect(result.stderr).toMatch(new RegExp(`themis: collector: 127\\.0\\.0\\.1:\\d+ v10: \\d+ datagrams, ${exported} flows, 0 sequence gaps, 0 template misses, 0 malformed; buffer drops 0`));
    // Every flow collected is in an output: scored (alone or as a pair) or ignored with a reason.
    const scored = readLines<{ flow_id: number; pair_flow_id: number | null; tags: string[] }>(join(out, 'scored-flows.jsonl'));
    const ignored = readLines<{ flow_id: number | null; reason: string }>(join(out, 'ignored-flows.jsonl'));
    const seen = new Set<number>();
    for (const record of scored) {
      seen.add(record.flow_id);
      if (record.pair_flow_id !== null) seen.add(record.pair_flow_id);
    }
    for (const record of ignored) if (record.flow_id !== null) seen.add(record.flow_id);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: exported }, (_, i) => firstId + i));
    expect(scored.length).toBeGreaterThan(0);
    expect(scored.some((r) => r.tags.includes('POSSIBLE_SCAN-SYN_ONLY'))).toBe(true);
  }, 150_000);

  it('refuses --listen with --input, and an address in use, with exit 2', async () => {
    const port = await freeUdpPort();
    const holder = start('themis-collect', ['--listen', `127.0.0.1:${port}`, '--output', join(workDir, 'holder.jsonl')]);
    await boundPort(holder);
    const run = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'x', '--listen', `127.0.0.1:${port}`, '--input', 'data_sources/sample-flows.jsonl', '--no-metrics-port']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--input applies to file input, and the flows come from exporters (--listen 127.0.0.1:${port}): give one or the other`);
    expect(run.stderr).toContain(`--listen 127.0.0.1:${port}: cannot listen on UDP 127.0.0.1 port ${port}`);
    expect((await holder.stop('SIGTERM')).code).toBe(0);
  }, 60_000);
});
