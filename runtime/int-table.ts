/**
 * An open-addressing hash table of fixed-width integer records keyed by small positive integers
 * (root ids, below 2^30), in one typed array: a record is its key followed by `width - 1` fields,
 * so a look-up touches one cache line, not one per field. Linear probing, backward-shift deletion
 * (no tombstones), load kept under one half. The home slot is the top bits of a multiplicative
 * hash, so keys that share their low bits (the roots of one spout task among several) still
 * spread. The JS Map rehashes constantly under the churn of hundreds of thousands of insertions
 * and deletions per second; this table allocates only when it grows.
 *
 * Callers read and write a record's fields in `data` at the offset the table gives; an offset is
 * valid until the next insertion or removal.
 */
export class RecordTable {
  /** The records; a key of 0 marks an empty slot. */
  data: Int32Array;
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(
    /** Int32s per record, the key included. */
    readonly width: number,
    initialCapacity = 1024,
  ) {
    let slots = 16;
    while (slots < initialCapacity * 2) slots *= 2;
    this.data = new Int32Array(slots * width);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
  }

  get size(): number {
    return this.count;
  }

  private home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  /** The offset of key's record, or -1. */
  find(key: number): number {
    const d = this.data;
    const w = this.width;
    for (let i = this.home(key); ; i = (i + 1) & this.mask) {
      const k = d[i * w]!;
      if (k === key) return i * w;
      if (k === 0) return -1;
    }
  }

  /**
   * The offset of key's record, made (fields zero) when absent. Grows the table first when one
   * more record would pass half full.
   */
  findOrCreate(key: number): number {
    if ((this.count + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    const d = this.data;
    const w = this.width;
    for (let i = this.home(key); ; i = (i + 1) & this.mask) {
      const k = d[i * w]!;
      if (k === key) {
        return i * w;
      }
      if (k === 0) {
        d[i * w] = key;
        this.count++;
        return i * w;
      }
    }
  }

  /** Removes the record at `at` (an offset from `find` or `findOrCreate`). */
  removeAt(at: number): void {
    const d = this.data;
    const w = this.width;
    const mask = this.mask;
    // Backward shift: pull later records of the probe run into the hole so look-ups stay correct.
    let hole = at / w;
    for (let j = (hole + 1) & mask; d[j * w] !== 0; j = (j + 1) & mask) {
      const home = this.home(d[j * w]!);
      if (((hole - home) & mask) <= ((j - home) & mask)) {
        d.copyWithin(hole * w, j * w, j * w + w);
        hole = j;
      }
    }
    d.fill(0, hole * w, hole * w + w);
    this.count--;
  }

  /** Calls fn with every record's key and offset; fn must not modify the table. */
  forEach(fn: (key: number, at: number) => void): void {
    const d = this.data;
    for (let at = 0; at < d.length; at += this.width) if (d[at] !== 0) fn(d[at]!, at);
  }

  private resize(slots: number): void {
    const old = this.data;
    const w = this.width;
    this.data = new Int32Array(slots * w);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
    for (let at = 0; at < old.length; at += w) {
      if (old[at] === 0) continue;
      let i = this.home(old[at]!);
      while (this.data[i * w] !== 0) i = (i + 1) & this.mask;
      this.data.set(old.subarray(at, at + w), i * w);
    }
  }
}

/** Small positive integer keys to integer values: a RecordTable of [key, value] records. */
export class IntTable {
  private readonly t: RecordTable;

  constructor(initialCapacity = 1024) {
    this.t = new RecordTable(2, initialCapacity);
  }

  get size(): number {
    return this.t.size;
  }

  /** The value for key, or -1. */
  get(key: number): number {
    const at = this.t.find(key);
    return at === -1 ? -1 : this.t.data[at + 1]!;
  }

  has(key: number): boolean {
    return this.t.find(key) !== -1;
  }

  set(key: number, value: number): void {
    const at = this.t.findOrCreate(key);
    this.t.data[at + 1] = value;
  }

  /** Removes key; returns its value, or -1 when absent. */
  delete(key: number): number {
    const at = this.t.find(key);
    if (at === -1) return -1;
    const value = this.t.data[at + 1]!;
    this.t.removeAt(at);
    return value;
  }

  /** Calls fn for every entry; fn must not modify the table. */
  forEach(fn: (key: number, value: number) => void): void {
    const d = this.t.data;
    this.t.forEach((key, at) => fn(key, d[at + 1]!));
  }
}
