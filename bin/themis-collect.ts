#!/usr/bin/env node
/**
 * themis-collect: a NetFlow v5/v9 and IPFIX collector. Listens on UDP, decodes what exporters send
 * (spouts/collector/), and writes each flow in the Themis input schema (reference §4.2):
 *
 *   themis-collect --listen 127.0.0.1:2055 [--output <file|->]     JSON lines (default: stdout)
 *   themis-collect --listen [::]:2055 --kafka <brokers> [--topic netflow-json]
 *
 * With --kafka the flows go to the input topic through themis-ingest's producer (ingest.ts): keyed
 * by conversation, in batches (--batch, sent early after --linger-ms when flows trickle in),
 * acknowledged by all in-sync replicas, --in-flight batches awaiting acks; several Themis
 * instances can then consume the topic. Ids are assigned as themis-ingest assigns them
 * (--first-id, default the start time in epoch ms × 1000, counted up).
 *
 * A progress line goes to stderr every 5 s with each exporter's datagrams, flows, sequence gaps,
 * template misses and malformed datagrams, and the datagrams the buffer dropped. SIGTERM or
 * Ctrl-C stops listening, decodes and writes or sends every datagram already received, prints the
 * summary on stdout (stderr when the flows go to stdout) and exits 0; a second signal quits at
 * once (130). Exit 1: the broker, the output or the socket failed; 2: bad options, or the
 * address is in use or not on this host (nothing started).
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { Command } from 'commander';
import { describeCollector, describeExporter } from '../spouts/collector/collector-metrics.js';
import { collectorSource, DEFAULT_LINGER_MS } from '../spouts/collector/collector-source.js';
import { FlowDecoder } from '../spouts/collector/flow-decoder.js';
import { formatListenAddress } from '../spouts/collector/listen-address.js';
import { ListenError, UdpListener } from '../spouts/collector/udp-listener.js';
import { IngestError } from '../spouts/ingest/errors.js';
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_INGEST_TOPIC,
  DEFAULT_MAX_BATCHES_IN_FLIGHT,
  ingest,
  ingestToFile,
  ingestToLines,
  LINES_HIGH_WATER_MARK,
  type IngestSummary,
  type PumpOptions,
} from '../spouts/ingest/ingest.js';
import type { IdCounter, SourceItem } from '../spouts/ingest/sources.js';
import { addCollectorOptions, parseCollectorFlags, type CollectorConfig, type CollectorFlags } from './collector-options.js';
import { isEntryPoint } from './is-entry-point.js';
import { checkTopicName, parseBatchesInFlight, parseBatchSize, parseBrokerList } from './kafka-options.js';
import { parseWholeNumber } from './option-values.js';
import { parseProgram } from './parse-program.js';

const EXIT_FAILED = 1;
const EXIT_INVALID_OPTIONS = 2;
const PROGRESS_EVERY_MS = 5_000;

export interface CollectIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Where `--output -` writes. */
  readonly stdout: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly nowMs: () => number;
  readonly setExitCode: (code: number) => void;
  /** Aborted by the first stop signal. */
  readonly signal?: AbortSignal;
  /** Told the bound address once listening (tests, --listen ...:0). */
  readonly onListening?: (address: string) => void;
}

interface CollectFlags extends CollectorFlags {
  output?: string;
  kafka?: string;
  topic?: string;
  batch?: string;
  inFlight?: string;
  lingerMs?: string;
}

type Destination =
  | { readonly kind: 'lines'; readonly path: string }
  | { readonly kind: 'kafka'; readonly brokers: readonly string[]; readonly topic: string; readonly batchSize: number; readonly maxBatchesInFlight: number };

interface CollectConfig {
  readonly collector: CollectorConfig;
  readonly destination: Destination;
  readonly lingerMs: number;
}

/** Every flag checked at once; one message per problem. */
function parseFlags(flags: CollectFlags, io: CollectIo, problems: string[]): CollectConfig | undefined {
  const collector = parseCollectorFlags(flags, io.nowMs(), problems);
  const lingerMs = flags.lingerMs === undefined ? DEFAULT_LINGER_MS : parseWholeNumber(flags.lingerMs);
  if (lingerMs === undefined || lingerMs > 60_000) problems.push(`--linger-ms (${flags.lingerMs}) must be a whole number of milliseconds from 0 to 60000`);
  const kafkaOnly: Array<[string, string | undefined]> = [['--topic', flags.topic], ['--batch', flags.batch], ['--in-flight', flags.inFlight]];
  let destination: Destination | undefined;
  if (flags.kafka !== undefined && flags.output !== undefined) {
    problems.push(`give --output or --kafka, not both (got --output ${flags.output} and --kafka ${flags.kafka})`);
  } else if (flags.kafka === undefined) {
    for (const [name, value] of kafkaOnly) if (value !== undefined) problems.push(`${name} applies only to --kafka`);
    destination = { kind: 'lines', path: flags.output ?? '-' };
  } else {
    const brokers = parseBrokerList(flags.kafka, '--kafka', problems);
    const topic = flags.topic ?? DEFAULT_INGEST_TOPIC;
    checkTopicName(topic, '--topic', problems);
    const batchSize = parseBatchSize(flags.batch, problems);
    const maxBatchesInFlight = parseBatchesInFlight(flags.inFlight, problems);
    if (batchSize !== undefined && maxBatchesInFlight !== undefined) destination = { kind: 'kafka', brokers, topic, batchSize, maxBatchesInFlight };
  }
  if (problems.length > 0 || collector === undefined || destination === undefined || lingerMs === undefined) return undefined;
  return Object.freeze({ collector, destination, lingerMs });
}

export function createProgram(io: CollectIo): Command {
  const program = new Command('themis-collect')
    .description('collect NetFlow v5/v9 and IPFIX from exporters and write the flows as Themis JSON lines or to the input topic')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) });
  addCollectorOptions(program, 'UDP address to listen on, e.g. 127.0.0.1:2055, 0.0.0.0:2055 or [::]:2055 (required)')
    .option('--output <file|->', 'write JSON lines to this file, - for stdout (the default without --kafka)')
    .option('--kafka <brokers>', 'send to the Kafka input topic instead: host:port[,host:port...]')
    .option('--topic <name>', `with --kafka: the input topic (default: ${DEFAULT_INGEST_TOPIC})`)
    .option('--batch <n>', `with --kafka: messages per sendBatch (default: ${DEFAULT_BATCH_SIZE})`)
    .option('--in-flight <n>', `with --kafka: batches awaiting acknowledgement (default: ${DEFAULT_MAX_BATCHES_IN_FLIGHT})`)
    .option('--linger-ms <n>', `send or write what has arrived after this long even when a batch is not full (default: ${DEFAULT_LINGER_MS})`)
    .action(async (flags: CollectFlags) => {
      const problems: string[] = [];
      const config = parseFlags(flags, io, problems);
      if (config === undefined) {
        for (const problem of problems) io.err(`themis-collect: ${problem}`);
        io.setExitCode(EXIT_INVALID_OPTIONS);
        return;
      }
      io.setExitCode(await collect(config, io));
    });
  return program;
}

/** Listens until the signal, then drains; gives the exit code. */
async function collect(config: CollectConfig, io: CollectIo): Promise<number> {
  const { collector, destination } = config;
  let listener: UdpListener;
  let socketFailure: Error | null = null;
  try {
    listener = await UdpListener.open({
      address: collector.listen,
      maxBufferedDatagrams: collector.maxBufferedDatagrams,
      recvBufferSize: collector.recvBufferSize,
      onError: (err) => {
        socketFailure = err;
        io.err(`themis-collect: ${err.message}; writing what was received, then exiting 1`);
      },
    });
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    io.err(`themis-collect: ${err.message} [${err.code}]`);
    return err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' ? EXIT_INVALID_OPTIONS : EXIT_FAILED;
  }
  const summaryOut = destination.kind === 'lines' && destination.path === '-' ? io.err : io.out;
  const address = formatListenAddress(listener.address);
  io.err(`themis-collect: listening on UDP ${address} (receive buffer ${listener.recvBufferSize()} bytes), flow ids from ${collector.firstId}`);
  io.onListening?.(address);
  const stop = () => void listener.close();
  if (io.signal?.aborted) stop();
  io.signal?.addEventListener('abort', stop, { once: true });

  const decoder = new FlowDecoder({ scaleBySampling: collector.scaleBySampling });
  const ids: IdCounter = { next: collector.firstId };
  const source = collectorSource(listener, decoder, ids, config.lingerMs);
  let delivered = 0;
  const ticker = setInterval(() => {
    // Data held for a template that never came counts as a template miss even when the exporter has gone quiet.
    decoder.expireHeld(Date.now());
    const what = destination.kind === 'kafka' ? 'sent' : 'written';
    io.err(`themis-collect: ${delivered.toLocaleString('en-US')} flows ${what}; ${describeCollector({ exporters: decoder.stats(), droppedDatagrams: listener.dropped, bufferedDatagrams: listener.buffered })}`);
  }, PROGRESS_EVERY_MS);
  let code = 0;
  try {
    const pumpOptions: PumpOptions = {
      batchSize: destination.kind === 'kafka' ? destination.batchSize : DEFAULT_BATCH_SIZE,
      sendInvalid: false,
      // Every batch done updates the count the progress line shows (a batch is up to --batch flows).
      progressIntervalMs: 0,
      onProgress: (progress) => (delivered = progress.sent),
      onInvalid: (record) => io.err(`themis-collect: ${record.location}: a decoded flow the topology would refuse, left out: ${record.reason}`),
    };
    if (destination.kind === 'kafka') {
      const summary = await ingest(source, { ...pumpOptions, brokers: destination.brokers, topic: destination.topic, maxBatchesInFlight: destination.maxBatchesInFlight });
      delivered = summary.sent;
      summaryOut(`topic: ${destination.topic}; sent: ${summary.sent}, refused: ${summary.invalid}`);
    } else {
      const summary = await writeLines(source, destination.path, io.stdout, pumpOptions);
      delivered = summary.sent;
      summaryOut(`output: ${destination.path === '-' ? 'stdout' : destination.path}; written: ${summary.sent}, refused: ${summary.invalid}`);
    }
  } catch (err) {
    if (!(err instanceof IngestError) && !isStreamError(err)) throw err;
    io.err(`themis-collect: ${(err as Error).message}${err instanceof IngestError ? ` [${err.code}]` : ''}`);
    code = EXIT_FAILED;
  } finally {
    clearInterval(ticker);
    io.signal?.removeEventListener('abort', stop);
    await listener.close();
  }
  // Data still waiting for its template cannot be decoded: counted as template misses.
  decoder.dropHeld();
  const stats = decoder.stats();
  const flows = stats.reduce((n, e) => n + e.flows, 0);
  summaryOut(`collected: ${stats.reduce((n, e) => n + e.datagrams, 0)} datagrams, ${flows} flows from ${stats.length} exporter(s); buffer drops ${listener.dropped}`);
  for (const e of stats) summaryOut(`  ${describeExporter(e)}`);
  summaryOut(ids.next === collector.firstId ? 'ids: none assigned' : `ids: ${collector.firstId} to ${ids.next - 1} (next run may use --first-id ${ids.next})`);
  return socketFailure !== null ? EXIT_FAILED : code;
}

function isStreamError(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).syscall !== undefined;
}

/** The lines to the file (appended) or stdout through themis-ingest's line writer; ends the file. */
async function writeLines(source: AsyncIterable<SourceItem>, path: string, stdout: Writable, options: PumpOptions): Promise<IngestSummary> {
  if (path === '-') return ingestToLines(source, stdout, options);
  return ingestToFile(source, createWriteStream(path, { flags: 'a', highWaterMark: LINES_HIGH_WATER_MARK }), options);
}

/** Runs the program; commander's own errors (unknown option, missing value) give exit 2. */
export async function runCli(argv: readonly string[], io: CollectIo): Promise<void> {
  await parseProgram(createProgram(io), argv, io.setExitCode);
}

if (isEntryPoint(import.meta.url)) {
  const stopped = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopped.signal.aborted) process.exit(130);
    process.stderr.write(`themis-collect: ${sig}: listening no more; writing what was received (${sig} again quits at once)\n`);
    stopped.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await runCli(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    stdout: process.stdout,
    env: process.env,
    nowMs: () => Date.now(),
    setExitCode: (code) => {
      process.exitCode = code;
    },
    signal: stopped.signal,
  });
}
