/**
 * An open-addressing hash table from small positive integer keys (root ids, below 2^30) to
 * integer values, on typed arrays: linear probing, backward-shift deletion (no tombstones), load
 * kept under one half. The JS Map rehashes constantly under the churn of hundreds of thousands of
 * insertions and deletions per second; this table allocates only when it grows.
 */
export class IntTable {
  private keys: Int32Array;
  private vals: Int32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.keys = new Int32Array(cap);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  private index(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> 0 & this.mask;
  }

  /** The value for key, or -1. */
  get(key: number): number {
    const keys = this.keys;
    for (let i = this.index(key); ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === key) return this.vals[i]!;
      if (k === 0) return -1;
    }
  }

  has(key: number): boolean {
    return this.get(key) !== -1;
  }

  set(key: number, value: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.resize(this.keys.length * 2);
    const keys = this.keys;
    for (let i = this.index(key); ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === key) {
        this.vals[i] = value;
        return;
      }
      if (k === 0) {
        keys[i] = key;
        this.vals[i] = value;
        this.count++;
        return;
      }
    }
  }

  /** Removes key; returns its value, or -1 when absent. */
  delete(key: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.index(key);
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) break;
      if (k === 0) return -1;
    }
    const value = this.vals[i]!;
    // Backward shift: pull later entries of the probe run into the hole so lookups stay correct.
    let hole = i;
    for (let j = (i + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const home = this.index(keys[j]!);
      const distJ = (j - home) & mask;
      const distHole = (hole - home) & mask;
      if (distHole <= distJ) {
        keys[hole] = keys[j]!;
        this.vals[hole] = this.vals[j]!;
        hole = j;
      }
    }
    keys[hole] = 0;
    this.count--;
    return value;
  }

  /** Calls fn for every entry; fn must not modify the table. */
  forEach(fn: (key: number, value: number) => void): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) fn(keys[i]!, this.vals[i]!);
  }

  private resize(capacity: number): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Int32Array(capacity);
    this.vals = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== 0) this.set(oldKeys[i]!, oldVals[i]!);
  }
}
