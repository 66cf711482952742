/**
 * Produces lines to a Kafka topic at a steady offered rate, as an exporter's stream arrives: every
 * tick it sends what the rate owes since the start (so a slow tick is made up by the next), keyed
 * by conversation as themis-ingest keys them (both directions in one partition). Lines that do not
 * parse go unkeyed, as `themis-ingest --send-invalid` sends them.
 *
 * Sends are acknowledged by all in-sync replicas; at most `maxInFlight` are outstanding, and
 * while that many are the feed falls behind rather than queueing without bound (the shortfall is
 * what `behind` reports). The first failed send stops the feed and is thrown by `stop`.
 */
import type { Message, Producer } from '../../spouts/kafka/kafkajs.js';
import { conversationKey } from '../../bolts/match/conversation-key.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';

export interface SteadyFeedOptions {
  readonly producer: Producer;
  readonly topic: string;
  readonly ratePerSec: number;
  readonly lines: Iterator<string>;
  /** Default 50 ms. */
  readonly tickMs?: number;
  /** Default 8. */
  readonly maxInFlight?: number;
}

export class SteadyFeed {
  /** Lines the broker acknowledged. */
  acknowledged = 0;
  private taken = 0;
  private inFlight = 0;
  private startMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private failure: unknown = undefined;
  private isExhausted = false;
  private readonly sends = new Set<Promise<void>>();

  constructor(private readonly o: SteadyFeedOptions) {}

  start(): void {
    this.startMs = performance.now();
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 50);
  }

  /** Lines the rate owed so far and not yet taken from the generator. */
  get behind(): number {
    return Math.max(0, this.owed() - this.taken);
  }

  /** True once the line source has no more lines (every line is then taken). */
  get isDone(): boolean {
    return this.isExhausted;
  }

  /** Stops sending; resolves once every send made is acknowledged, and throws the first failure. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.sends]);
    if (this.failure !== undefined) throw this.failure;
  }

  private owed(): number {
    return Math.floor((this.o.ratePerSec * (performance.now() - this.startMs)) / 1000);
  }

  private tick(): void {
    if (this.failure !== undefined || this.isExhausted || this.inFlight >= (this.o.maxInFlight ?? 8)) return;
    // At most one second's lines in one request, so a long stall is not made up by one huge batch.
    const n = Math.min(this.owed() - this.taken, Math.ceil(this.o.ratePerSec));
    if (n <= 0) return;
    const messages: Message[] = [];
    for (let i = 0; i < n; i++) {
      const next = this.o.lines.next();
      if (next.done === true) {
        this.isExhausted = true;
        break;
      }
      const parsed = parseFlowLine(next.value, 0);
      messages.push({ key: parsed.ok ? Buffer.from(conversationKey(parsed.flow).key, 'utf16le') : null, value: next.value });
    }
    this.taken += messages.length;
    if (messages.length === 0) return;
    this.inFlight++;
    const send = this.o.producer.send({ topic: this.o.topic, acks: -1, messages }).then(
      () => {
        this.acknowledged += messages.length;
      },
      (err: unknown) => {
        this.failure ??= new Error(`producing ${messages.length} lines to ${this.o.topic} failed after ${this.acknowledged} were acknowledged: ${(err as Error).message}`, { cause: err });
        if (this.timer !== null) clearInterval(this.timer);
      },
    );
    const tracked = send.finally(() => {
      this.inFlight--;
      this.sends.delete(tracked);
    });
    this.sends.add(tracked);
  }
}
