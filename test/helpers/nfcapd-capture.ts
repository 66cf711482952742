import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPcap, type PacketSpec } from './pcap-writer.js';

/**
 * nfcapd files made the way a user's are: a capture written by the test → softflowd 1.1.0 (NetFlow
 * v9) → nfcapd 1.7.1. Needs the Debian packages nfdump and softflowd.
 */

const INSTALL_HINT = 'install them with: apt-get update && apt-get install -y nfdump softflowd';
const children: ChildProcess[] = [];

/** Fails the test by name when a tool it needs is missing (as a missing broker does). */
export function requireTool(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.error !== undefined) {
    throw new Error(`${command} is not installed (${result.error.message}); this test needs nfdump and softflowd: ${INSTALL_HINT}`);
  }
}

export function requireNfdumpTools(): void {
  requireTool('nfdump', ['-V']);
  requireTool('nfcapd', ['-V']);
  requireTool('softflowd', ['-h']);
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts a child with its output kept; killChildren() ends whatever is left. */
export function start(command: string, args: string[], cwd: string): { child: ChildProcess; finished: Promise<Finished>; output: () => string } {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const finished = new Promise<Finished>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, finished, output: () => stdout + stderr };
}

export function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function waitFor(description: string, isDone: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isDone()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * Writes the capture, runs softflowd into a fresh nfcapd in `<workDir>/flows`, and returns the file
 * nfcapd closed with the number of records softflowd exported (which nfcapd must all have stored).
 */
export async function captureToNfcapd(workDir: string, packets: readonly PacketSpec[]): Promise<{ file: string; records: number }> {
  const pcap = join(workDir, 'capture.pcap');
  await writeFile(pcap, buildPcap(packets));
  const flowDir = join(workDir, 'flows');
  await rm(flowDir, { recursive: true, force: true });
  await mkdir(flowDir);
  const port = await freeUdpPort();

  const collector = start('nfcapd', ['-w', flowDir, '-p', String(port), '-b', '127.0.0.1'], workDir);
  await waitFor('nfcapd to start', () => collector.output().includes('Startup nfcapd'));

  // -a dates flows by the capture's own clock; without it softflowd's v9 uptime wraps and nfdump
  // shows times about 49.7 days off. With -r, -c must not be given: softflowd 1.1.0 then blocks
  // in accept() on the control socket instead of reading the file.
  const exporter = await start('softflowd', ['-r', pcap, '-n', `127.0.0.1:${port}`, '-v', '9', '-a', '-d'], workDir).finished;
  if (exporter.code !== 0) throw new Error(`softflowd failed: ${exporter.stdout}${exporter.stderr}`);
  const exported = /Flows exported: \d+ \((\d+) records\)/.exec(exporter.stdout);
  if (exported === null) throw new Error(`softflowd printed no export count: ${exporter.stdout}`);
  const records = Number(exported[1]);

  // nfcapd writes and renames its file when it stops; give it a moment to read the datagrams.
  await waitFor('nfcapd to see the exporter', () => collector.output().includes('New v9 exporter'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  collector.child.kill('SIGTERM');
  const stopped = await collector.finished;
  const received = /Flows: (\d+)/.exec(stopped.stdout + stopped.stderr);
  if (Number(received?.[1]) !== records) throw new Error(`nfcapd did not store every exported record (${records}): ${stopped.stdout}${stopped.stderr}`);

  const files = (await readdir(flowDir)).filter((name) => name.startsWith('nfcapd.') && !name.startsWith('nfcapd.current.'));
  if (files.length !== 1) throw new Error(`nfcapd should have written one closed file, found ${files.join(', ') || 'none'}`);
  return { file: join(flowDir, files[0]!), records };
}
