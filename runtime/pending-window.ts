/**
 * A spout task's window of incomplete roots (pure; the clock is passed in).
 *
 * `inFlight` counts the roots that bound `nextTuple` (maxSpoutPending). A parked root, held by a
 * bolt on purpose (flow matching), leaves that count and the timeout, but stays incomplete: it
 * is neither acked nor forgotten until the bolt releases it, so a crash still replays it.
 */
export interface PendingRoot {
  readonly msgId: unknown;
  startMs: number;
}

export class PendingWindow {
  private readonly active = new Map<number, PendingRoot>();
  private readonly parked = new Map<number, PendingRoot>();

  get inFlight(): number {
    return this.active.size;
  }
  get parkedCount(): number {
    return this.parked.size;
  }
  get total(): number {
    return this.active.size + this.parked.size;
  }

  add(root: number, msgId: unknown, nowMs: number): void {
    this.active.set(root, { msgId, startMs: nowMs });
  }

  /** Removes a completed or failed root; returns it, or undefined if unknown (e.g. already timed out). */
  remove(root: number): PendingRoot | undefined {
    let p = this.active.get(root);
    if (p) {
      this.active.delete(root);
      return p;
    }
    p = this.parked.get(root);
    if (p) this.parked.delete(root);
    return p;
  }

  park(root: number): void {
    const p = this.active.get(root);
    if (!p) return;
    this.active.delete(root);
    this.parked.set(root, p);
  }

  /** The holder let the root go on: it counts again, and its timeout starts afresh. */
  unpark(root: number, nowMs: number): void {
    const p = this.parked.get(root);
    if (!p) return;
    this.parked.delete(root);
    p.startMs = nowMs;
    this.active.set(root, p);
  }

  /**
   * Removes and returns the roots started before `nowMs - timeoutMs`. Insertion order is start
   * order (an unparked root is re-inserted with its new start), so the scan stops at the first
   * root still in time.
   */
  expire(nowMs: number, timeoutMs: number): Array<[number, PendingRoot]> {
    const out: Array<[number, PendingRoot]> = [];
    const limit = nowMs - timeoutMs;
    for (const [root, p] of this.active) {
      if (p.startMs > limit) break;
      out.push([root, p]);
    }
    for (const [root] of out) this.active.delete(root);
    return out;
  }
}
