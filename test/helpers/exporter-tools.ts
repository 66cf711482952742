import { createSocket } from 'node:dgram';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { InputFlowRecord } from '../../spouts/ingest/nfdump-json.js';
import { nfdumpJsonSource } from '../../spouts/ingest/sources.js';
import { start } from './nfcapd-capture.js';

/**
 * The real exporters and collectors the collector is compared with: softflowd (a probe that
 * exports NetFlow v5, v9 and IPFIX from a capture), nfcapd + nfdump (the reference decoder) and
 * nfreplay (re-exports an nfcapd file as v5 or v9). Debian packages softflowd and nfdump. Child
 * processes are started with nfcapd-capture.ts's `start` (its `killChildren` ends them).
 */

export async function waitFor(description: string, isDone: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isDone())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A UDP port free on 127.0.0.1 at the time of asking. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * softflowd reads the capture and exports every flow to 127.0.0.1:port as NetFlow `version` (5, 9
 * or 10 for IPFIX), then exits; gives the number of flow records it says it exported. -a dates
 * flows by the capture's own clock (else v9 uptimes wrap); -c must not be given with -r (softflowd
 * 1.1.0 then blocks on its control socket).
 */
export async function softflowdExport(pcap: string, port: number, version: 5 | 9 | 10, extra: string[] = []): Promise<number> {
  const run = await start('softflowd', ['-r', pcap, '-n', `127.0.0.1:${port}`, '-v', String(version), '-a', '-d', ...extra], dirname(pcap)).finished;
  if (run.code !== 0) throw new Error(`softflowd -v ${version} failed (${run.code}): ${run.stdout}${run.stderr}`);
  const exported = /Flows exported: \d+ \((\d+) records\)/.exec(run.stdout);
  if (exported === null) throw new Error(`softflowd printed no export count: ${run.stdout}`);
  return Number(exported[1]);
}

/** An nfcapd on 127.0.0.1:port writing to a fresh `dir`; `stop` ends it and gives the file it closed. */
export async function startNfcapd(dir: string, port: number): Promise<{ stop: (expectedFlows: number) => Promise<string> }> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const nfcapd = start('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1'], dir);
  await waitFor('nfcapd to start', () => nfcapd.output().includes('Startup nfcapd'));
  return {
    async stop(expectedFlows: number) {
      // nfcapd counts what it stored only when it stops: wait for its exporter line, then a moment.
      await waitFor('nfcapd to see the exporter', () => /New (v\d+|ipfix) exporter|New exporter/i.test(nfcapd.output()));
      await new Promise((resolve) => setTimeout(resolve, 300));
      nfcapd.child.kill('SIGTERM');
      const stopped = await nfcapd.finished;
      const stored = /Flows: (\d+)/.exec(stopped.stdout + stopped.stderr);
      if (Number(stored?.[1]) !== expectedFlows) throw new Error(`nfcapd stored ${stored?.[1]} flows, not ${expectedFlows}: ${stopped.stdout}${stopped.stderr}`);
      const files = (await readdir(dir)).filter((name) => name.startsWith('nfcapd.') && !name.startsWith('nfcapd.current.'));
      if (files.length !== 1) throw new Error(`nfcapd should have written one closed file, wrote ${files.join(' ')}`);
      return join(dir, files[0]!);
    },
  };
}

/** `TZ=UTC nfdump -r <file> -o json`, converted with themis-ingest's converter (convertNfdumpRecord); ids from 0. */
export async function nfdumpFlows(file: string): Promise<InputFlowRecord[]> {
  const run = await start('env', ['TZ=UTC', 'nfdump', '-r', file, '-o', 'json'], dirname(file)).finished;
  if (run.code !== 0) throw new Error(`nfdump -r ${file} failed (${run.code}): ${run.stderr}`);
  const flows: InputFlowRecord[] = [];
  for await (const item of nfdumpJsonSource(Readable.from([run.stdout]), file, { next: 0 }, { utcOffsetMinutes: 0 })) {
    if (item.kind !== 'line') throw new Error(`nfdump output not converted: ${JSON.stringify(item)}`);
    flows.push(JSON.parse(item.text) as InputFlowRecord);
  }
  return flows;
}

/** Flows without their ids, in one order, for comparing two decoders' output field by field. */
export function comparable(flows: readonly InputFlowRecord[]): Omit<InputFlowRecord, 'id'>[] {
  const key = (f: Omit<InputFlowRecord, 'id'>) =>
    `${f.start_timestamp_unix_secs} ${f.protocol} ${f.src_ip} ${f.src_port} ${f.dst_ip} ${f.dst_port} ${f.end_timestamp_unix_secs} ${f.packets} ${f.bytes}`;
  return flows.map(({ id: _id, ...flow }) => flow).sort((a, b) => key(a).localeCompare(key(b)));
}
