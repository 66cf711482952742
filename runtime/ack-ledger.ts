import { RecordTable } from './int-table.js';

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
 * Root ids are small positive integers, and the ledger holds every root in flight (parked ones
 * included: hundreds of thousands). They are kept in a RecordTable, a root's whole entry (id,
 * XOR halves, spout task and generation) in one 16-byte record: an ack costs one cache miss, not
 * one per field, and the ledger allocates nothing per root.
 */

/** Int32s per record: root, hi, lo, and META = spout task << 16 | generation touched (16 bits). */
const STRIDE = 4;
const HI = 1;
const LO = 2;
const META = 3;

const spoutOf = (meta: number): number => meta >>> 16;

export class AckLedger {
  private readonly table: RecordTable;
  private generation = 1;

  constructor(initialCapacity = 1024) {
    this.table = new RecordTable(STRIDE, initialCapacity);
  }

  get size(): number {
    return this.table.size;
  }

  /**
   * The spout's init for a root: the XOR of its first edges (spoutTask > 0). Returns the spout
   * task to tell when this completes the tree, else 0 (so is every other op's result).
   */
  init(root: number, hi: number, lo: number, spoutTask: number): number {
    return this.apply(root, hi, lo, spoutTask);
  }

  /** A bolt's ack: its input edge XOR the edges it emitted anchored to that input. */
  ack(root: number, hi: number, lo: number): number {
    return this.apply(root, hi, lo, 0);
  }

  /** Forgets the root; returns its spout task when the init had arrived, else 0. */
  fail(root: number): number {
    const at = this.table.find(root);
    if (at === -1) return 0;
    const spout = spoutOf(this.table.data[at + META]!);
    this.table.removeAt(at);
    return spout;
  }

  /** Call once per message timeout. Returns how many stale entries were dropped. */
  rotate(): number {
    this.generation++;
    const stale: number[] = [];
    const d = this.table.data;
    // Generations are 16 bits: an entry is stale when two rotations passed without a touch.
    this.table.forEach((root, at) => {
      if (((this.generation - (d[at + META]! & 0xffff)) & 0xffff) >= 2) stale.push(root);
    });
    for (const root of stale) this.table.removeAt(this.table.find(root));
    return stale.length;
  }

  private apply(root: number, hi: number, lo: number, spoutTask: number): number {
    const at = this.table.findOrCreate(root);
    const d = this.table.data;
    // A new record's fields are zero, so the XOR is the same either way.
    d[at + HI] = d[at + HI]! ^ hi;
    d[at + LO] = d[at + LO]! ^ lo;
    const spout = spoutTask !== 0 ? spoutTask : spoutOf(d[at + META]!);
    d[at + META] = (spout << 16) | (this.generation & 0xffff);
    if (d[at + HI] === 0 && d[at + LO] === 0 && spout !== 0) {
      this.table.removeAt(at);
      return spout;
    }
    return 0;
  }
}
