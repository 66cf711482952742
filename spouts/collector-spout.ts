import type { FailCause, FailReason, MetricCounter, OutputFields, Spout, SpoutOutputCollector, TopologyContext } from '../runtime/index.js';
import { conversationHashOf } from './conversation-share.js';
import { describeFailure } from './failure-reason.js';
import { COLLECTOR_READING, type CollectorReading } from './collector/collector-metrics.js';
import { FlowDecoder, type DecodedFlow } from './collector/flow-decoder.js';
import { decodeDatagramLines } from './collector/flow-lines.js';
import type { ListenAddress } from './collector/listen-address.js';
import { UdpListener } from './collector/udp-listener.js';
import type { IdCounter } from './ingest/sources.js';

export interface CollectorSpoutArgs {
  readonly listen: ListenAddress;
  /** SO_RCVBUF asked of the kernel, bytes (default: the system's). */
  readonly recvBufferSize?: number;
  /** Datagrams buffered between the socket and the topology; more are dropped and counted. */
  readonly maxBufferedDatagrams?: number;
  /** A flow whose tree fails this many times goes to the `ignored` stream instead of looping. */
  readonly maxRetries: number;
  /** Id of the first flow; later flows count up (bin/themis-ingest.ts explains the default). */
  readonly firstId: number;
  /** Multiply counters by the exporter's sampling interval (from its options template). */
  readonly scaleBySampling?: boolean;
}

/** A flow emitted and not yet acked: the msgId the engine keeps for it, with the line itself (UDP cannot be read again). */
interface InFlightFlow {
  readonly line: string;
  readonly origin: string;
  readonly hash: number;
  failures: number;
  lastReason: string | null;
}

/** Datagrams decoded per nextTuple call at most when they yield no flow (templates, malformed ones). */
const DATAGRAMS_PER_CALL = 32;
const HELD_EXPIRY_EVERY_MS = 1_000;

/**
 * Flows straight from NetFlow v5/v9 and IPFIX exporters: a UDP socket (udp-listener.ts) on the
 * spout's thread, decoded by FlowDecoder, one tuple per flow: `[line, origin, share]` as the file
 * spout emits them, the line in the input schema with an id counted up from `firstId`, origin
 * `udp <exporter>`, share the conversation hash (the parsers are fields-grouped on it). Only task
 * 0 listens: one socket per address; further tasks emit nothing.
 *
 * At least once, as far as UDP allows: a datagram lost on the wire or dropped because the buffer
 * was full is gone (counted: the exporter's sequence gaps, `themis_collector_dropped_datagrams_total`).
 * A flow once emitted is kept in memory, in its msgId, until its tree completes: a failed tree
 * (an error or the message timeout) is emitted again from that copy, and after `maxRetries`
 * failures the flow goes once to the `ignored` stream with the reason of its last failure, as the
 * file spout does. A crash of the process loses what was in memory: the exporter does not resend.
 *
 * Stopping (deactivate: a stop signal, or shutdown) closes the socket. The engine calls no
 * nextTuple once the spouts are deactivated, so the spout emits at once every flow received and
 * not yet emitted (the buffered datagrams: normally none, at most --buffer-datagrams' worth when
 * the topology was falling behind), and from then on emits a failed flow again as soon as it is
 * told: a stop finishes every flow received. Data still waiting for a template is counted as a
 * template miss.
 */
export class CollectorSpout implements Spout {
  private collector!: SpoutOutputCollector;
  private context!: TopologyContext;
  private listener: UdpListener | null = null;
  private decoder!: FlowDecoder;
  private readonly ids: IdCounter;
  /** Lines decoded from the last datagram and not emitted yet. */
  private ready: string[] = [];
  private readyAt = 0;
  private readonly scratch: DecodedFlow[] = [];
  private readonly replay: InFlightFlow[] = [];
  private readonly poison: InFlightFlow[] = [];
  private origin = '';
  /** Set by deactivate: the socket is closed and flows are emitted as they come (see deactivate). */
  private isStopped = false;
  private expiry: NodeJS.Timeout | undefined;
  private flowsRead!: MetricCounter;
  private flowsFinished!: MetricCounter;

  constructor(private readonly args: CollectorSpoutArgs) {
    this.ids = { next: args.firstId };
  }

  async open(context: TopologyContext, collector: SpoutOutputCollector): Promise<void> {
    this.collector = collector;
    this.context = context;
    // The same names as the file spout's: the run's "unfinished" count reads them.
    this.flowsRead = context.counter('lines_read');
    this.flowsFinished = context.counter('lines_finished');
    if (context.taskIndex !== 0) return;
    this.decoder = new FlowDecoder({ scaleBySampling: this.args.scaleBySampling === true });
    this.listener = await UdpListener.open({
      address: this.args.listen,
      ...(this.args.recvBufferSize !== undefined ? { recvBufferSize: this.args.recvBufferSize } : {}),
      ...(this.args.maxBufferedDatagrams !== undefined ? { maxBufferedDatagrams: this.args.maxBufferedDatagrams } : {}),
      onReadable: () => collector.wake(),
      onError: (err) => collector.reportError(err),
    });
    // Data held for a template that never came counts as a template miss even when the exporter has gone quiet.
    this.expiry = setInterval(() => this.decoder.expireHeld(Date.now()), HELD_EXPIRY_EVERY_MS);
    this.expiry.unref();
    const listener = this.listener;
    context.reading(COLLECTOR_READING, (): CollectorReading => ({
      exporters: this.decoder.stats(),
      droppedDatagrams: listener.dropped,
      bufferedDatagrams: listener.buffered,
    }));
    context.log.info('collector listening', { address: `${listener.address.host}:${listener.address.port}`, recvBufferBytes: listener.recvBufferSize() });
  }

  nextTuple(): void {
    const failed = this.poison.shift() ?? this.replay.shift();
    if (failed !== undefined) {
      this.emitAgain(failed);
      return;
    }
    // A live input is never exhausted: it ends by a stop (deactivate).
    if (this.readyAt === this.ready.length && !this.decodeMore()) return;
    this.emitFirst(this.ready[this.readyAt++]!);
  }

  private emitFirst(line: string): void {
    const bytes = Buffer.from(line);
    const flow: InFlightFlow = { line, origin: this.origin, hash: conversationHashOf(bytes, 0, bytes.length) ?? this.ids.next, failures: 0, lastReason: null };
    this.collector.emit([line, flow.origin, flow.hash], flow);
    this.flowsRead.inc();
  }

  /** A failed flow again, or, past maxRetries, to the `ignored` stream with the reason of its last failure. */
  private emitAgain(flow: InFlightFlow): void {
    if (flow.failures >= this.args.maxRetries) {
      this.collector.emit([`failed ${flow.failures} times (last: ${flow.lastReason ?? 'error'})`, flow.line, flow.origin], flow, 'ignored');
    } else {
      this.collector.emit([flow.line, flow.origin, flow.hash], flow);
    }
  }

  /** Decodes buffered datagrams until one yields flows; false when none is left. */
  private decodeMore(): boolean {
    if (this.listener === null) return false;
    this.ready = [];
    this.readyAt = 0;
    for (let i = 0; i < DATAGRAMS_PER_CALL; i++) {
      const datagram = this.listener.shift();
      if (datagram === undefined) return false;
      decodeDatagramLines(this.decoder, datagram, this.ids, this.scratch, this.ready);
      if (this.ready.length > 0) {
        this.origin = `udp ${datagram.exporter}`;
        return true;
      }
    }
    return false;
  }

  ack(_msgId: unknown): void {
    this.flowsFinished.inc();
  }

  fail(msgId: unknown, reason: FailReason, cause?: FailCause): void {
    const flow = msgId as InFlightFlow;
    // A poison record that fails to be written is tried again, as a poison record.
    if (flow.failures < this.args.maxRetries) flow.failures++;
    flow.lastReason = describeFailure(reason, cause);
    // Once stopped, the engine asks for no more tuples: the flow goes out again from here.
    if (this.isStopped) this.emitAgain(flow);
    else if (flow.failures >= this.args.maxRetries) this.poison.push(flow);
    else this.replay.push(flow);
  }

  /**
   * The stop (see the class comment): the socket closes for good, and every flow received and not
   * yet emitted is emitted now, with the replays waiting, since the engine calls no nextTuple
   * after this. At most the buffered datagrams' flows: a burst past maxSpoutPending, once.
   */
  deactivate(): void {
    if (this.isStopped || this.listener === null) return;
    this.isStopped = true;
    void this.listener.close();
    clearInterval(this.expiry);
    let emitted = 0;
    for (let failed = this.poison.shift() ?? this.replay.shift(); failed !== undefined; failed = this.poison.shift() ?? this.replay.shift()) this.emitAgain(failed);
    // decodeMore gives up after DATAGRAMS_PER_CALL datagrams without flows (templates): go on until the buffer is empty.
    for (;;) {
      for (; this.readyAt < this.ready.length; emitted++) this.emitFirst(this.ready[this.readyAt++]!);
      if (!this.decodeMore() && this.listener.buffered === 0) break;
    }
    // Data still waiting for its template cannot be decoded: counted as template misses.
    this.decoder.dropHeld();
    this.context.log.info('collector stopped listening', { flowsEmittedAtStop: emitted });
  }

  async close(): Promise<void> {
    clearInterval(this.expiry);
    await this.listener?.close();
  }

  declareOutputFields(): OutputFields {
    return { default: ['line', 'origin', 'share'], ignored: ['reason', 'line', 'origin'] };
  }
}
