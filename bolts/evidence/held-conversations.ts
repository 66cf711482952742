/**
 * Conversations the evidence stage holds so that an alert raised meanwhile still tags them: the
 * ones that count as evidence (a probe, a failed contact, a short connection to a login service)
 * from a source with no open alert. Everything else passes at once, so holding costs latency only
 * where an alert may follow. The bolt parks each held input (no timeout, no max-pending slot) and
 * acks it when it is released; this table is what bounds them.
 *
 * A conversation is released:
 * - with the rest of its source's, as soon as an alert is raised on that source (`releaseSource`);
 * - when the watermark passes its start plus `holdSecs` (event time: a replay releases it with the
 *   same evidence), or once held `maxHoldMs` by the injected clock (an idle stream's watermark does
 *   not move), in arrival order: one held a little out of order (within the lateness) waits for
 *   those before it;
 * - early when the table is full (`maxHeld`, oldest first), counted in `overflowed`.
 */
export interface Held<H> {
  readonly handle: H;
  readonly source: string;
  readonly releaseAtSecs: number;
  readonly heldAtMs: number;
  /** Already released with its source: the arrival queue skips it. */
  isReleased: boolean;
}

/** One source's held conversations in arrival order; those before `head` have left. */
interface SourceQueue<H> {
  readonly items: (Held<H> | undefined)[];
  head: number;
}

export class HeldConversations<H> {
  private queue: (Held<H> | undefined)[] = [];
  private head = 0;
  private readonly bySource = new Map<string, SourceQueue<H>>();
  private live = 0;
  /** Released early because the table was full. */
  overflowed = 0;

  constructor(private readonly o: { readonly holdSecs: number; readonly maxHoldMs: number; readonly maxHeld: number; readonly now: () => number }) {}

  get size(): number {
    return this.live;
  }

  /** Holds a conversation; returns the oldest one when the table was full. */
  hold(handle: H, source: string, startSecs: number): Held<H>[] {
    const out = this.live >= this.o.maxHeld ? this.take(1) : [];
    this.overflowed += out.length;
    const held: Held<H> = { handle, source, releaseAtSecs: startSecs + this.o.holdSecs, heldAtMs: this.o.now(), isReleased: false };
    this.queue.push(held);
    let q = this.bySource.get(source);
    if (q === undefined) this.bySource.set(source, (q = { items: [], head: 0 }));
    q.items.push(held);
    this.live++;
    return out;
  }

  /** Every conversation held from `source`, in arrival order: an alert was raised on it. */
  releaseSource(source: string): Held<H>[] {
    const q = this.bySource.get(source);
    if (q === undefined) return [];
    this.bySource.delete(source);
    const out = q.items.slice(q.head) as Held<H>[];
    for (const h of out) h.isReleased = true;
    this.live -= out.length;
    return out;
  }

  /** The conversations whose hold has passed, at most `limit`. */
  due(watermarkSecs: number, limit = Number.MAX_SAFE_INTEGER): Held<H>[] {
    const oldestAllowedMs = this.o.now() - this.o.maxHoldMs;
    let n = 0;
    for (let i = this.head; n < limit && i < this.queue.length; i++) {
      const h = this.queue[i]!;
      if (h.isReleased) continue;
      if (h.releaseAtSecs > watermarkSecs && h.heldAtMs > oldestAllowedMs) break;
      n++;
    }
    return this.take(n);
  }

  /** Every conversation, at most `limit`: the end of a finite input. */
  drain(limit: number): Held<H>[] {
    return this.take(Math.min(limit, this.live));
  }

  /** The `n` oldest live conversations, leaving their source queues too. */
  private take(n: number): Held<H>[] {
    const out: Held<H>[] = [];
    while (out.length < n && this.head < this.queue.length) {
      const h = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (h.isReleased) continue;
      out.push(h);
      // The oldest live entry of the queue is the oldest of its source's too.
      const q = this.bySource.get(h.source)!;
      q.items[q.head++] = undefined;
      if (q.head === q.items.length) this.bySource.delete(h.source);
      else if (q.head > 64 && q.head * 2 > q.items.length) {
        q.items.splice(0, q.head);
        q.head = 0;
      }
    }
    this.live -= out.length;
    // Released entries at the front leave too, so the queue's head is a live one.
    while (this.head < this.queue.length && this.queue[this.head]!.isReleased) this.queue[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
