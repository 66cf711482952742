import { performance } from 'node:perf_hooks';
import type { Tuple } from '../contracts.js';

/**
 * The clock of sampled process latency: performance.now() in 10 µs ticks, kept as a signed 32-bit
 * integer. V8 holds that as a small integer in the tuple's field, where a fractional millisecond
 * would be a heap number allocated with every tuple. 0 means "not sampled".
 */
export function sampleTicks(): number {
  return ((performance.now() * 100) | 0) || 1;
}

/**
 * Milliseconds from tick `from` to tick `to`. The ticks wrap every 2^32 (about 12 hours); the
 * difference is taken modulo 2^32, right for any interval under about 6 hours.
 */
export function ticksToMs(from: number, to: number): number {
  return ((to - from) | 0) / 100;
}

/**
 * A tuple as it sits in an executor's inbox. Almost every tuple belongs to exactly one tuple tree,
 * so the first (root, edge id) pair is kept in fields and only further trees use the `more` array
 * (flat [root, edgeHi, edgeLo]*). `xHi/xLo` (and `moreXor`) accumulate, per root, the edge ids of
 * the tuples emitted anchored to this one; they are folded into the ack. root 0 = untracked.
 */
export class TupleImpl implements Tuple {
  xHi = 0;
  xLo = 0;
  moreXor: number[] | null = null;
  /** Set when the input has been acked or failed, so a second ack/fail is ignored. */
  done = false;
  parked = false;
  /** `sampleTicks()` at execute start, for sampled tuples only (process latency); 0 otherwise. */
  sampledAt = 0;
  /**
   * Set when this tuple was run directly inside the emit of the tuples it is anchored to (a chained
   * basic bolt): it has no edge of its own, and its ack folds the edges of its own children into
   * those anchors' XOR, per tree, instead of sending a message; the chain acks once, when the
   * outermost input is acked (or, from a spout, in the root's init).
   */
  chainAnchors: readonly TupleImpl[] | null = null;
  /** A tuple chained from this one failed: its trees are failed, so a spout sends no init for them. */
  chainFailed = false;

  constructor(
    public values: readonly unknown[],
    public sourceComponent: string,
    public sourceTask: number,
    public sourceStream: string,
    readonly destTask: number,
    private fields: readonly string[],
    public root: number,
    public eHi: number,
    public eLo: number,
    public more: number[] | null,
    readonly isTick: boolean,
  ) {}

  /** Makes a finished chained input (no edge of its own) the next one of the same task. */
  reuse(values: readonly unknown[], sourceComponent: string, sourceTask: number, sourceStream: string, fields: readonly string[], root: number, more: number[] | null): void {
    this.values = values;
    this.sourceComponent = sourceComponent;
    this.sourceTask = sourceTask;
    this.sourceStream = sourceStream;
    this.fields = fields;
    this.root = root;
    this.more = more;
    this.xHi = 0;
    this.xLo = 0;
    // Kept and zeroed rather than dropped: a slot past its end reads as 0 and grows on write.
    if (this.moreXor !== null) this.moreXor.fill(0);
    this.done = false;
    this.parked = false;
    this.sampledAt = 0;
    this.chainFailed = false;
  }

  getValueByField(field: string): unknown {
    const i = this.fields.indexOf(field);
    if (i < 0) throw new Error(`stream "${this.sourceStream}" of "${this.sourceComponent}" has no field "${field}" (fields: ${this.fields.join(', ')})`);
    return this.values[i];
  }
}

/** A FIFO of tuples with O(1) shift; compacts its backing array as it drains. */
export class TupleQueue {
  private items: TupleImpl[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }
  push(t: TupleImpl): void {
    this.items.push(t);
  }
  shift(): TupleImpl | undefined {
    if (this.head >= this.items.length) return undefined;
    const t = this.items[this.head]!;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return t;
  }
  peek(): TupleImpl | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
}
