import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorSource } from '../../spouts/collector/collector-source.js';
import { FlowDecoder } from '../../spouts/collector/flow-decoder.js';
import { UdpListener } from '../../spouts/collector/udp-listener.js';
import type { InputFlowRecord } from '../../spouts/ingest/nfdump-json.js';
import { comparable, freeUdpPort, nfdumpFlows, softflowdExport, startNfcapd, waitFor } from '../helpers/exporter-tools.js';
import { killChildren, requireNfdumpTools, requireTool, start as startProcess } from '../helpers/nfcapd-capture.js';
import { CAPTURE_PACKETS, IPV4_FLOWS, ALL_FLOWS } from '../helpers/exporter-capture.js';
import { buildPcap } from '../helpers/pcap-writer.js';

// Real exporters into the collector's code (listener, decoder, id assignment: collectorSource, as
// themis-collect runs it), compared field by field with what nfcapd 1.7.1 stores from the same
// export and `nfdump -o json` prints, converted by themis-ingest's convertNfdumpRecord. softflowd
// 1.1.0 reads a capture written here; its export is deterministic with -a, so it is run once
// towards each collector. Needs the Debian packages softflowd and nfdump.

let workDir: string;
let pcap: string;

beforeAll(async () => {
  requireNfdumpTools();
  requireTool('nfreplay', ['-V']);
  workDir = await mkdtemp(join(tmpdir(), 'themis-collector-exporters-'));
  pcap = join(workDir, 'capture.pcap');
  await writeFile(pcap, buildPcap(CAPTURE_PACKETS));
});

afterAll(async () => {
  killChildren();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

interface Collected {
  flows: InputFlowRecord[];
  decoder: FlowDecoder;
  listener: UdpListener;
}

/**
 * Listens on a free loopback port, lets `send` export to it, waits until the decoder has seen
 * `expected` flows (bounded), then stops the listener and takes every line the source gives.
 */
async function collect(send: (port: number) => Promise<number>, decoderOptions: { scaleBySampling?: boolean } = {}): Promise<Collected & { exported: number }> {
  const listener = await UdpListener.open({ address: { host: '127.0.0.1', port: 0, family: 'udp4' } });
  const decoder = new FlowDecoder(decoderOptions);
  const flows: InputFlowRecord[] = [];
  const source = collectorSource(listener, decoder, { next: 1 }, 10);
  const reading = (async () => {
    for await (const item of source) if (item.kind === 'line') flows.push(JSON.parse(item.text) as InputFlowRecord);
  })();
  let exported: number;
  try {
    exported = await send(listener.address.port);
    await waitFor(`${exported} flows decoded`, () => decoder.stats().reduce((n, e) => n + e.flows, 0) >= exported);
  } finally {
    await listener.close();
    await reading;
  }
  return { flows, decoder, listener, exported };
}

/** The same export into nfcapd, printed by nfdump. */
async function nfcapdOf(name: string, send: (port: number) => Promise<number>): Promise<{ flows: InputFlowRecord[]; file: string }> {
  const port = await freeUdpPort();
  const nfcapd = await startNfcapd(join(workDir, name), port);
  const exported = await send(port);
  const file = await nfcapd.stop(exported);
  return { flows: await nfdumpFlows(file), file };
}

const flowKey = (f: Pick<InputFlowRecord, 'protocol' | 'src_ip' | 'src_port' | 'dst_ip' | 'dst_port'>) => `${f.protocol} ${f.src_ip} ${f.src_port} ${f.dst_ip} ${f.dst_port}`;

/** nfdump's reading of softflowd's v9 ICMPv6 records: softflowd puts the type and code in the source port, which nfdump does not read for ICMP (test/fixtures/nfdump/README.md); the collector does, so its flows carry the capture's type. */
const asNfdumpReadsV9 = (f: InputFlowRecord): InputFlowRecord => (f.protocol === 58 ? { ...f, dst_port: 0 } : f);
const withoutFlags = ({ flags: _flags, ...f }: Omit<InputFlowRecord, 'id'>) => f;

describe('the collector with softflowd as the exporter', () => {
  const cases: ReadonlyArray<{ name: string; version: 5 | 9 | 10; flows: readonly string[] }> = [
    // NetFlow v5 carries IPv4 only: softflowd leaves the IPv6 flows out.
    { name: 'NetFlow v5', version: 5, flows: IPV4_FLOWS },
    { name: 'NetFlow v9', version: 9, flows: ALL_FLOWS },
    { name: 'IPFIX', version: 10, flows: ALL_FLOWS },
  ];
  for (const c of cases) {
    it(`decodes ${c.name} as nfcapd and nfdump do, field by field`, async () => {
      const export_ = (port: number) => softflowdExport(pcap, port, c.version);
      const ours = await collect(export_);
      const theirs = await nfcapdOf(`nfcapd-v${c.version}`, export_);

      expect(ours.flows).toHaveLength(ours.exported);
      // Every flow of the capture that the version can carry, no other.
      expect(new Set(ours.flows.map(flowKey))).toEqual(new Set(c.flows));
      expect(comparable(c.version === 9 ? ours.flows.map(asNfdumpReadsV9) : ours.flows)).toEqual(comparable(theirs.flows));
      // Ids are counted up from --first-id, one per flow.
      expect(ours.flows.map((f) => f.id).sort((a, b) => a - b)).toEqual(ours.flows.map((_, i) => i + 1));
      const [stats] = ours.decoder.stats();
      expect(stats).toMatchObject({ version: c.version, malformed: 0, templateMisses: 0, sequenceGaps: 0 });
      expect(ours.listener.dropped).toBe(0);
    }, 60_000);
  }

  it('turns IPFIX biflows (RFC 5103, softflowd -b) into both directions as nfdump does, each direction with its own TCP flags', async () => {
    const export_ = (port: number) => softflowdExport(pcap, port, 10, ['-b']);
    const ours = await collect(export_);
    const theirs = await nfcapdOf('nfcapd-v10-biflows', export_);
    // Fewer records than flows: a conversation's two directions travel in one record.
    expect(ours.exported).toBeLessThan(ours.flows.length);
    // nfdump keeps one flag set for both halves of a biflow (nfdump-json.ts); otherwise equal.
    expect(comparable(ours.flows).map(withoutFlags)).toEqual(comparable(theirs.flows).map(withoutFlags));
    // The collector reads reverseTcpControlBits: each TCP direction has the flags the same capture gives exported one way.
    const oneWay = new Map((await collect((port) => softflowdExport(pcap, port, 10))).flows.map((f) => [flowKey(f), f.flags]));
    const tcp = ours.flows.filter((f) => f.protocol === 6 && f.packets > 0);
    expect(tcp.length).toBeGreaterThan(5);
    for (const f of tcp) expect(f.flags, flowKey(f)).toBe(oneWay.get(flowKey(f)));
    expect(ours.decoder.stats()[0]).toMatchObject({ version: 10, malformed: 0, templateMisses: 0 });
  }, 60_000);
});

describe('the collector with a sampling exporter', () => {
  for (const version of [9, 10] as const) {
    it(`scales ${version === 9 ? 'NetFlow v9' : 'IPFIX'} counters by the sampling interval softflowd -s 2 announces, only when asked`, async () => {
      const export_ = (port: number) => softflowdExport(pcap, port, version, ['-s', '2']);
      const raw = await collect(export_);
      const scaled = await collect(export_, { scaleBySampling: true });
      expect(raw.flows.length).toBeGreaterThan(5);
      const times2 = comparable(raw.flows).map((f) => ({ ...f, packets: f.packets * 2, bytes: f.bytes * 2 }));
      expect(comparable(scaled.flows)).toEqual(times2);
    }, 60_000);
  }
});

describe('the collector with nfreplay as the exporter', () => {
  let nfcapdFile: string;
  let stored: InputFlowRecord[];

  beforeAll(async () => {
    // An nfcapd file of the capture (from softflowd's v9 export), which nfreplay then sends again.
    const made = await nfcapdOf('nfcapd-replay-source', (port) => softflowdExport(pcap, port, 9));
    nfcapdFile = made.file;
    stored = made.flows;
  }, 60_000);

  for (const version of [5, 9] as const) {
    it(`decodes nfreplay -v ${version} of an nfcapd file as nfdump reads that file`, async () => {
      const expected = version === 5 ? stored.filter((f) => !f.src_ip.includes(':')) : stored;
      const ours = await collect(async (port) => {
        const run = await startProcess('nfreplay', ['-r', nfcapdFile, '-H', '127.0.0.1', '-p', String(port), '-v', String(version)], workDir).finished;
        if (run.code !== 0) throw new Error(`nfreplay failed (${run.code}): ${run.stdout}${run.stderr}`);
        return expected.length;
      });
      expect(expected.length).toBeGreaterThan(5);
      expect(comparable(ours.flows)).toEqual(comparable(expected));
      expect(ours.decoder.stats()[0]).toMatchObject({ version, malformed: 0 });
    }, 60_000);
  }
});
