import { IntTable } from './int-table.js';
import { grow, SlotPool } from './slot-pool.js';

/**
 * A spout task's window of incomplete roots (pure; the clock is passed in).
 *
 * `inFlight` counts the roots that bound `nextTuple` (maxSpoutPending). A parked root, held by a
 * bolt on purpose (flow matching), leaves that count and the timeout, but stays incomplete: it
 * is neither acked nor forgotten until the bolt releases it, so a crash still replays it.
 *
 * Per-root state is in typed-array slots behind an integer hash table: nothing is allocated per
 * root. Expiry scans the table, which holds at most maxSpoutPending roots; callers run it a few
 * times per timeout, not per tuple.
 */
export interface PendingRoot {
  readonly msgId: unknown;
  readonly startMs: number;
}

/** What `take` returns for a root that is not pending. */
export const ABSENT: unique symbol = Symbol('absent');

export class PendingWindow {
  private readonly active = new IntTable(1024);
  private readonly parked = new IntTable(64);
  private msgIds: unknown[] = [];
  private start = new Float64Array(1024);
  private readonly pool = new SlotPool(1024, (n) => {
    this.start = grow(this.start, n);
  });

  get inFlight(): number {
    return this.active.size;
  }
  get parkedCount(): number {
    return this.parked.size;
  }
  get total(): number {
    return this.active.size + this.parked.size;
  }

  has(root: number): boolean {
    return this.active.has(root) || (this.parked.size > 0 && this.parked.has(root));
  }

  add(root: number, msgId: unknown, nowMs: number): void {
    const slot = this.pool.take();
    this.msgIds[slot] = msgId;
    this.start[slot] = nowMs;
    this.active.set(root, slot);
  }

  /** The start time of the root `take` (or expiry) last removed. */
  takenStartMs = 0;

  /**
   * Removes a completed or failed root, parked or not: its msgId (its start in `takenStartMs`, so
   * no object is made per root), or ABSENT when unknown (e.g. already timed out).
   */
  take(root: number): unknown {
    let slot = this.active.delete(root);
    if (slot === -1) {
      if (this.parked.size === 0) return ABSENT;
      slot = this.parked.delete(root);
      if (slot === -1) return ABSENT;
    }
    return this.release(slot);
  }

  park(root: number): void {
    const slot = this.active.delete(root);
    if (slot === -1) return;
    this.parked.set(root, slot);
  }

  /** The holder let the root go on: it counts again, and its timeout starts afresh. */
  unpark(root: number, nowMs: number): void {
    const slot = this.parked.delete(root);
    if (slot === -1) return;
    this.start[slot] = nowMs;
    this.active.set(root, slot);
  }

  /** Removes and returns the roots started at or before `nowMs - timeoutMs`, oldest first. */
  expire(nowMs: number, timeoutMs: number): Array<[number, PendingRoot]> {
    const limit = nowMs - timeoutMs;
    const expired: number[] = [];
    this.active.forEach((root, slot) => {
      if (this.start[slot]! <= limit) expired.push(root);
    });
    const out = expired.map((root): [number, PendingRoot] => [root, { msgId: this.release(this.active.delete(root)), startMs: this.takenStartMs }]);
    return out.sort((a, b) => a[1].startMs - b[1].startMs || a[0] - b[0]);
  }

  /** Frees a root's slot: its msgId, its start in `takenStartMs`. */
  private release(slot: number): unknown {
    const msgId = this.msgIds[slot];
    this.takenStartMs = this.start[slot]!;
    this.msgIds[slot] = undefined;
    this.pool.release(slot);
    return msgId;
  }
}
