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
 * included: hundreds of thousands). It is one open-addressing table in a single typed array, a
 * root's whole entry (id, XOR halves, spout task and generation) in one 16-byte record: an ack
 * costs one cache miss, not one per field, and the ledger allocates nothing per root. Linear
 * probing, backward-shift deletion (no tombstones), load kept under one half.
 */

/** Int32 fields per record: root, hi, lo, and META = spout task << 16 | generation touched (16 bits). */
const STRIDE = 4;
const ROOT = 0;
const HI = 1;
const LO = 2;
const META = 3;

const spoutOf = (meta: number): number => meta >>> 16;

export class AckLedger {
  private table: Int32Array;
  /** Records in the table minus one (a power of two minus one). */
  private mask: number;
  /** 32 minus log2(records): the home record is the top bits of a multiplicative hash. */
  private shift: number;
  private count = 0;
  private generation = 1;

  constructor(initialCapacity = 1024) {
    let records = 16;
    while (records < initialCapacity * 2) records *= 2;
    this.table = new Int32Array(records * STRIDE);
    this.mask = records - 1;
    this.shift = 32 - Math.log2(records);
  }

  get size(): number {
    return this.count;
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
    const at = this.find(root);
    if (at === -1) return 0;
    const spout = spoutOf(this.table[at + META]!);
    this.removeAt(at);
    return spout;
  }

  /** Call once per message timeout. Returns how many stale entries were dropped. */
  rotate(): number {
    this.generation++;
    const stale: number[] = [];
    const t = this.table;
    for (let at = 0; at < t.length; at += STRIDE) {
      // Generations are 16 bits: an entry is stale when two rotations passed without a touch.
      if (t[at + ROOT] !== 0 && ((this.generation - (t[at + META]! & 0xffff)) & 0xffff) >= 2) stale.push(t[at + ROOT]!);
    }
    for (const root of stale) this.removeAt(this.find(root));
    return stale.length;
  }

  private home(root: number): number {
    return Math.imul(root, 0x9e3779b1) >>> this.shift;
  }

  /** The record offset of root, or -1. */
  private find(root: number): number {
    const t = this.table;
    for (let i = this.home(root); ; i = (i + 1) & this.mask) {
      const k = t[i * STRIDE + ROOT]!;
      if (k === root) return i * STRIDE;
      if (k === 0) return -1;
    }
  }

  private apply(root: number, hi: number, lo: number, spoutTask: number): number {
    let t = this.table;
    let i = this.home(root);
    for (; ; i = (i + 1) & this.mask) {
      const k = t[i * STRIDE + ROOT]!;
      if (k === root || k === 0) break;
    }
    let at = i * STRIDE;
    if (t[at + ROOT] === 0) {
      if ((this.count + 1) * 2 > this.mask + 1) {
        this.resize((this.mask + 1) * 2);
        t = this.table;
        at = this.insertSlot(root);
      }
      t[at + ROOT] = root;
      t[at + HI] = hi;
      t[at + LO] = lo;
      t[at + META] = (spoutTask << 16) | (this.generation & 0xffff);
      this.count++;
    } else {
      t[at + HI] = t[at + HI]! ^ hi;
      t[at + LO] = t[at + LO]! ^ lo;
      const spout = spoutTask !== 0 ? spoutTask : spoutOf(t[at + META]!);
      t[at + META] = (spout << 16) | (this.generation & 0xffff);
    }
    if (t[at + HI] === 0 && t[at + LO] === 0 && t[at + META]! >>> 16 !== 0) {
      const task = spoutOf(t[at + META]!);
      this.removeAt(at);
      return task;
    }
    return 0;
  }

  /** The offset of the empty record where root goes (root is known to be absent). */
  private insertSlot(root: number): number {
    const t = this.table;
    let i = this.home(root);
    while (t[i * STRIDE + ROOT] !== 0) i = (i + 1) & this.mask;
    return i * STRIDE;
  }

  private removeAt(at: number): void {
    const t = this.table;
    const mask = this.mask;
    // Backward shift: pull later records of the probe run into the hole so look-ups stay correct.
    let hole = at / STRIDE;
    for (let j = (hole + 1) & mask; t[j * STRIDE + ROOT] !== 0; j = (j + 1) & mask) {
      const home = this.home(t[j * STRIDE + ROOT]!);
      if (((hole - home) & mask) <= ((j - home) & mask)) {
        t.copyWithin(hole * STRIDE, j * STRIDE, j * STRIDE + STRIDE);
        hole = j;
      }
    }
    t.fill(0, hole * STRIDE, hole * STRIDE + STRIDE);
    this.count--;
  }

  private resize(records: number): void {
    const old = this.table;
    this.table = new Int32Array(records * STRIDE);
    this.mask = records - 1;
    this.shift = 32 - Math.log2(records);
    for (let at = 0; at < old.length; at += STRIDE) {
      if (old[at + ROOT] === 0) continue;
      const to = this.insertSlot(old[at + ROOT]!);
      this.table.set(old.subarray(at, at + STRIDE), to);
    }
  }
}
