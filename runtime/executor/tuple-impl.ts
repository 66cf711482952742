import { performance } from 'node:perf_hooks';
import type { Tuple } from '../contracts.js';
import type { TreeMember } from '../root-tracking.js';

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
 * A tuple as it sits in an executor's inbox. Its tree bookkeeping (root, edge ids, child XORs,
 * chaining) is described with `TreeMember` in `../root-tracking.ts`, which alone reads and writes it.
 */
export class TupleImpl implements Tuple, TreeMember {
  childXorHi = 0;
  childXorLo = 0;
  moreChildXor: number[] | null = null;
  done = false;
  parked = false;
  /** `sampleTicks()` at execute start, for sampled tuples only (process latency); 0 otherwise. */
  sampledAt = 0;
  chainAnchors: readonly TreeMember[] | null = null;
  chainFailed = false;

  constructor(
    public values: readonly unknown[],
    public sourceComponent: string,
    public sourceTask: number,
    public sourceStream: string,
    readonly destTask: number,
    private fields: readonly string[],
    public root: number,
    public edgeHi: number,
    public edgeLo: number,
    public moreTrees: number[] | null,
    readonly isTick: boolean,
  ) {}

  /** Makes a finished chained input (no edge of its own) the next one of the same task. */
  reuse(values: readonly unknown[], sourceComponent: string, sourceTask: number, sourceStream: string, fields: readonly string[], root: number, moreTrees: number[] | null): void {
    this.values = values;
    this.sourceComponent = sourceComponent;
    this.sourceTask = sourceTask;
    this.sourceStream = sourceStream;
    this.fields = fields;
    this.root = root;
    this.moreTrees = moreTrees;
    this.childXorHi = 0;
    this.childXorLo = 0;
    // Kept and zeroed rather than dropped: a slot past its end reads as 0 and grows on write.
    if (this.moreChildXor !== null) this.moreChildXor.fill(0);
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
}
