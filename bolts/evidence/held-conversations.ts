/**
 * Conversations the evidence stage holds until their hold has passed, in arrival order, so that
 * an alert raised meanwhile still tags them. The bolt parks each held input (no timeout, no
 * max-pending slot) and acks it when it is released; this table is what bounds them.
 *
 * A conversation is released when the watermark passes its start plus `holdSecs` (event time:
 * a replay releases it with the same evidence), or once held `maxHoldMs` by the injected clock
 * (an idle stream's watermark does not move), or early when the table is full (`maxHeld`, oldest
 * first). Release goes in arrival order: one held a little out of order (within the lateness)
 * waits for those before it.
 */
export interface Held<H> {
  readonly handle: H;
  readonly source: string;
  readonly releaseAtSecs: number;
  readonly heldAtMs: number;
}

export class HeldConversations<H> {
  private queue: (Held<H> | undefined)[] = [];
  private head = 0;
  /** Released early because the table was full. */
  overflowed = 0;

  constructor(private readonly o: { readonly holdSecs: number; readonly maxHoldMs: number; readonly maxHeld: number; readonly now: () => number }) {}

  get size(): number {
    return this.queue.length - this.head;
  }

  /** Holds a conversation; returns the oldest one when the table was full. */
  hold(handle: H, source: string, startSecs: number): Held<H>[] {
    const out = this.size >= this.o.maxHeld ? this.take(1) : [];
    this.overflowed += out.length;
    this.queue.push({ handle, source, releaseAtSecs: startSecs + this.o.holdSecs, heldAtMs: this.o.now() });
    return out;
  }

  /** The conversations whose hold has passed, at most `limit`. */
  due(watermarkSecs: number, limit = Number.MAX_SAFE_INTEGER): Held<H>[] {
    const oldestAllowedMs = this.o.now() - this.o.maxHoldMs;
    let n = 0;
    while (n < limit && this.head + n < this.queue.length) {
      const h = this.queue[this.head + n]!;
      if (h.releaseAtSecs > watermarkSecs && h.heldAtMs > oldestAllowedMs) break;
      n++;
    }
    return this.take(n);
  }

  /** Every conversation, at most `limit`: the end of a finite input. */
  drain(limit: number): Held<H>[] {
    return this.take(Math.min(limit, this.size));
  }

  private take(n: number): Held<H>[] {
    const out: Held<H>[] = [];
    for (let i = 0; i < n; i++) {
      out.push(this.queue[this.head]!);
      this.queue[this.head++] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
