import type { Command } from 'commander';
import { parseListenAddress, type ListenAddress } from '../spouts/collector/listen-address.js';
import { DEFAULT_MAX_BUFFERED_DATAGRAMS, ListenError, UdpListener } from '../spouts/collector/udp-listener.js';
import { parseFirstId, parseWholeNumber } from './option-values.js';

/** The collector's flags, shared by themis-collect and `themis-topology submit --listen`. */
export interface CollectorFlags {
  listen?: string;
  recvBufferBytes?: string;
  bufferDatagrams?: string;
  firstId?: string;
  scaleBySampling?: boolean;
}

export interface CollectorConfig {
  readonly listen: ListenAddress;
  readonly recvBufferSize: number;
  readonly maxBufferedDatagrams: number;
  readonly firstId: number;
  readonly scaleBySampling: boolean;
}

const MAX_RECV_BUFFER_BYTES = 1 << 30;
/**
 * Asked by default: Linux's own default (208 KiB, about 150 datagrams of 1,400 octets) overflows
 * while the decoder works through a burst (bench:collector lost a third of 50,000 flows/s with it).
 * Linux grants at most net.core.rmem_max (4 MiB here) doubled; the startup line shows what it gave.
 */
export const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;
const MAX_BUFFERED_DATAGRAMS = 1_000_000;

/** The collector's options; `withFirstId: false` when the command declares --first-id for other inputs too. */
export function addCollectorOptions(command: Command, listenHelp: string, { withFirstId = true }: { withFirstId?: boolean } = {}): Command {
  command
    .option('--listen <addr:port>', listenHelp)
    .option('--recv-buffer-bytes <n>', `socket receive buffer asked of the kernel, bytes (default: ${DEFAULT_RECV_BUFFER_BYTES}; Linux caps it at net.core.rmem_max)`)
    .option('--buffer-datagrams <n>', `datagrams buffered between the socket and the decoder; more are dropped and counted (default: ${DEFAULT_MAX_BUFFERED_DATAGRAMS})`)
    .option('--scale-by-sampling', "multiply packets and bytes by the exporter's sampling interval (from its options template)");
  if (withFirstId) command.option('--first-id <n>', 'id of the first flow (default: epoch milliseconds at start × 1000)');
  return command;
}

/**
 * Checks the collector flags (`--listen` required); one message per problem, each naming the flag,
 * the value and what it must be. Undefined when any is wrong.
 */
export function parseCollectorFlags(flags: CollectorFlags, nowMs: number, problems: string[]): CollectorConfig | undefined {
  const before = problems.length;
  let listen: ListenAddress | undefined;
  if (flags.listen === undefined) problems.push('--listen <addr:port> is required, e.g. --listen 127.0.0.1:2055 or --listen [::]:2055');
  else {
    const parsed = parseListenAddress(flags.listen);
    if (parsed.ok) listen = parsed.address;
    else problems.push(parsed.reason);
  }
  const recvBufferSize = flags.recvBufferBytes === undefined ? DEFAULT_RECV_BUFFER_BYTES : parseWholeNumber(flags.recvBufferBytes);
  if (recvBufferSize === undefined || recvBufferSize < 1024 || recvBufferSize > MAX_RECV_BUFFER_BYTES) {
    problems.push(`--recv-buffer-bytes (${flags.recvBufferBytes}) must be a whole number of bytes from 1024 to ${MAX_RECV_BUFFER_BYTES}`);
  }
  const maxBufferedDatagrams = flags.bufferDatagrams === undefined ? DEFAULT_MAX_BUFFERED_DATAGRAMS : parseWholeNumber(flags.bufferDatagrams);
  if (maxBufferedDatagrams === undefined || maxBufferedDatagrams < 1 || maxBufferedDatagrams > MAX_BUFFERED_DATAGRAMS) {
    problems.push(`--buffer-datagrams (${flags.bufferDatagrams}) must be a whole number from 1 to ${MAX_BUFFERED_DATAGRAMS}`);
  }
  const firstId = parseFirstId(flags.firstId, nowMs, problems);
  if (problems.length > before || listen === undefined || recvBufferSize === undefined || maxBufferedDatagrams === undefined || firstId === undefined) return undefined;
  return Object.freeze({
    listen,
    recvBufferSize,
    maxBufferedDatagrams,
    firstId,
    scaleBySampling: flags.scaleBySampling === true,
  });
}

/**
 * Binds the address once and lets it go, so that an address in use or not on this host is
 * refused with the options (exit 2) rather than when the spout opens on a worker thread.
 */
export async function checkListenAddress(listen: ListenAddress): Promise<string | null> {
  try {
    const listener = await UdpListener.open({ address: listen, maxBufferedDatagrams: 1 });
    await listener.close();
    return null;
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    const hint = err.code === 'EADDRINUSE' ? ' (another collector, nfcapd or softflowd collector may hold it: choose another port)' : err.code === 'EADDRNOTAVAIL' ? ' (the address is not one of this host)' : '';
    return `--listen ${listen.family === 'udp6' ? `[${listen.host}]` : listen.host}:${listen.port}: ${err.message}${hint}`;
  }
}
