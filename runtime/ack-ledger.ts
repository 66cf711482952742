import { IntTable } from './int-table.js';
import { grow, SlotPool } from './slot-pool.js';

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
 *
 * Root ids are small integers: the table and the per-root state live in typed arrays, so the
 * ledger allocates nothing per root.
 */
export type LedgerResult = { kind: 'pending' } | { kind: 'complete'; spoutTask: number };

const PENDING: LedgerResult = { kind: 'pending' };

export class AckLedger {
  private readonly slots = new IntTable(4096);
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  private spout = new Int32Array(1024);
  private touched = new Uint32Array(1024);
  private generation = 1;
  private readonly pool = new SlotPool(1024, (n) => {
    this.hi = grow(this.hi, n);
    this.lo = grow(this.lo, n);
    this.spout = grow(this.spout, n);
    this.touched = grow(this.touched, n);
  });

  get size(): number {
    return this.slots.size;
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
    const slot = this.slots.delete(root);
    if (slot === -1) return 0;
    this.pool.release(slot);
    return this.spout[slot]!;
  }

  /** Call once per message timeout. Returns how many stale entries were dropped. */
  rotate(): number {
    this.generation++;
    const stale: number[] = [];
    this.slots.forEach((root, slot) => {
      if (this.touched[slot]! < this.generation - 1) stale.push(root);
    });
    for (const root of stale) this.pool.release(this.slots.delete(root));
    return stale.length;
  }

  private apply(root: number, hi: number, lo: number, spoutTask: number): LedgerResult {
    let slot = this.slots.get(root);
    if (slot === -1) {
      slot = this.pool.take();
      this.slots.set(root, slot);
      this.hi[slot] = hi;
      this.lo[slot] = lo;
      this.spout[slot] = spoutTask;
    } else {
      this.hi[slot] = this.hi[slot]! ^ hi;
      this.lo[slot] = this.lo[slot]! ^ lo;
      if (spoutTask !== 0) this.spout[slot] = spoutTask;
    }
    this.touched[slot] = this.generation;
    if (this.hi[slot] === 0 && this.lo[slot] === 0 && this.spout[slot] !== 0) {
      const task = this.spout[slot]!;
      this.slots.delete(root);
      this.pool.release(slot);
      return { kind: 'complete', spoutTask: task };
    }
    return PENDING;
  }
}
