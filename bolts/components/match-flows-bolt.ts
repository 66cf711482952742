import type { Bolt, OutputCollector, OutputFields, TopologyContext, Tuple } from '../../runtime/index.js';
import type { Flow } from '../flow.js';
import { MatchTable, type ReleasedFlow } from '../match/match-table.js';
import { FLOW_FIELDS, type ThemisArgs } from './themis-args.js';

/** Held flows released per event-loop turn, on a tick or at the end of a finite input (see `onInputEnd`). */
export const DRAIN_SLICE = 1024;

/**
 * `match-flows` (reference §5.4, with §15 items 10-18 fixed): pairs the two directions of a
 * conversation. Inputs arrive fields-grouped by conversation key, so the table is per task and
 * in memory (no Redis round trip per flow, no cross-task race).
 *
 * A held flow's input is parked, not acked: its tuple tree stays incomplete, so a crash replays
 * it (the Kafka offset is not committed past it), but it no longer counts against max spout
 * pending or the message timeout, so one-way traffic cannot starve the spout. What bounds the
 * held work is the table's size (`windows.matchMaxHeld` per task): when full, the oldest flow is
 * released unmatched. The conversation record is anchored to both inputs, so both trees finish
 * with it; a released flow is anchored to its own input.
 */
export class MatchFlowsBolt implements Bolt {
  private table!: MatchTable<Tuple>;
  private collector!: OutputCollector;
  /** What is being released a slice per turn: the expired flows (a tick), or every flow (end of input). */
  private releasing: 'expired' | 'all' | null = null;
  readonly tickSecs: number;

  constructor(
    private readonly args: ThemisArgs,
    private readonly now: () => number = Date.now,
  ) {
    this.tickSecs = args.config.windows.tickSecs;
  }

  prepare(context: TopologyContext, collector: OutputCollector): void {
    this.collector = collector;
    this.table = new MatchTable<Tuple>({ now: this.now, windowMs: this.args.config.windows.matchWindowMs, maxSize: this.args.config.windows.matchMaxHeld });
    void context;
  }

  execute(input: Tuple): void {
    if (input.isTick) {
      if (this.releasing === null) {
        this.releasing = 'expired';
        this.releaseSlice();
      }
      return;
    }
    const flow = input.values[1] as Flow;
    const outcome = this.table.offer(flow, input);
    switch (outcome.kind) {
      case 'passthrough':
        this.collector.emit([flow.id, flow], input);
        this.collector.ack(input);
        break;
      case 'matched': {
        const [held, offered] = outcome.handles;
        this.collector.emit([outcome.record.id, outcome.record], [held, offered]);
        this.collector.ack(held);
        this.collector.ack(offered);
        break;
      }
      case 'held':
        this.collector.park(input);
        this.release(outcome.released);
        break;
    }
  }

  /**
   * End of a finite input: nothing more can match, so every held flow goes on alone now. Like the
   * flows a tick finds expired, they go a slice per event-loop turn: the engine's turn, scheduled
   * by the slice's emits, runs the slice through the rest of the topology before the next one is
   * released, so the queues stay near their capacity (released all at once, 50,000 held flows a
   * task queued about 277,000 tuples and raised the run's peak resident size by about 80 MB). The
   * flows stay parked until released, so the engine does not call the input done before the last
   * slice.
   */
  onInputEnd(): void {
    const idle = this.releasing === null;
    this.releasing = 'all';
    if (idle) this.releaseSlice();
  }

  private readonly releaseSlice = (): void => {
    if (this.releasing === null) return;
    const slice = this.releasing === 'all' ? this.table.drain(DRAIN_SLICE) : this.table.expire(DRAIN_SLICE);
    this.release(slice);
    const more = this.releasing === 'all' ? this.table.size > 0 : slice.length === DRAIN_SLICE;
    if (more) setImmediate(this.releaseSlice);
    else this.releasing = null;
  };

  /** A release in progress stops: what it has not released stays parked, for replay. */
  cleanup(): void {
    this.releasing = null;
  }

  private release(released: readonly ReleasedFlow<Tuple>[]): void {
    for (const r of released) {
      this.collector.emit([r.flow.id, r.flow], r.handle);
      this.collector.ack(r.handle);
    }
  }

  declareOutputFields(): OutputFields {
    return { default: FLOW_FIELDS };
  }
}
