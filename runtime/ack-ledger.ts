/**
 * The XOR acker's ledger (pure). For each root id it keeps the XOR of every edge id reported so
 * far, in two 32-bit halves (64-bit edge ids, as Storm). Each edge id enters the XOR twice, once
 * when its tuple is emitted (anchored) and once when that tuple is acked, so zero means every
 * edge of the tree was acked. The spout's init carries the XOR of the root's first edges and
 * which spout task to tell.
 *
 * Entries that never complete (lost messages, failed roots whose acks still trickle in) are
 * dropped by rotation: an entry untouched for two rotations is forgotten. The spout side owns
 * the timeout that fails the root; the ledger only bounds its own memory.
 */
interface Entry {
  hi: number;
  lo: number;
  spoutTask: number;
}

export type LedgerResult = { kind: 'pending' } | { kind: 'complete'; spoutTask: number };

const PENDING: LedgerResult = { kind: 'pending' };

export class AckLedger {
  private current = new Map<number, Entry>();
  private previous = new Map<number, Entry>();

  get size(): number {
    return this.current.size + this.previous.size;
  }

  /** The spout's init for a root: the XOR of its first edges (spoutTask > 0). */
  init(root: number, hi: number, lo: number, spoutTask: number): LedgerResult {
    return this.apply(root, hi, lo, spoutTask);
  }

  /** A bolt's ack: its input edge XOR the edges it emitted anchored to that input. */
  ack(root: number, hi: number, lo: number): LedgerResult {
    return this.apply(root, hi, lo, 0);
  }

  /** Forgets the root; returns its spout task when the init had arrived, else 0. */
  fail(root: number): number {
    const e = this.take(root);
    return e ? e.spoutTask : 0;
  }

  /** Call once per message timeout. Returns how many stale entries were dropped. */
  rotate(): number {
    const dropped = this.previous.size;
    this.previous = this.current;
    this.current = new Map();
    return dropped;
  }

  private take(root: number): Entry | undefined {
    let e = this.current.get(root);
    if (e) {
      this.current.delete(root);
      return e;
    }
    e = this.previous.get(root);
    if (e) this.previous.delete(root);
    return e;
  }

  private apply(root: number, hi: number, lo: number, spoutTask: number): LedgerResult {
    let e = this.current.get(root);
    if (!e) {
      e = this.previous.get(root);
      if (e) {
        this.previous.delete(root);
        this.current.set(root, e);
      } else {
        e = { hi: 0, lo: 0, spoutTask: 0 };
        this.current.set(root, e);
      }
    }
    e.hi = (e.hi ^ hi) >>> 0;
    e.lo = (e.lo ^ lo) >>> 0;
    if (spoutTask !== 0) e.spoutTask = spoutTask;
    if (e.hi === 0 && e.lo === 0 && e.spoutTask !== 0) {
      this.current.delete(root);
      return { kind: 'complete', spoutTask: e.spoutTask };
    }
    return PENDING;
  }
}
