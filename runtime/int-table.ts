/**
 * An open-addressing hash table from small positive integer keys (root ids, below 2^30) to
 * integer values, in one typed array of [key, value] pairs (a look-up touches one cache line):
 * linear probing, backward-shift deletion (no tombstones), load kept under one half. The home
 * slot is the top bits of a multiplicative hash, so keys that share their low bits (the roots of
 * one spout task among several) still spread. The JS Map rehashes constantly under the churn of
 * hundreds of thousands of insertions and deletions per second; this table allocates only when
 * it grows.
 */
export class IntTable {
  /** [key, value] pairs; key 0 marks an empty slot. */
  private slots: Int32Array;
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.slots = new Int32Array(cap * 2);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  get size(): number {
    return this.count;
  }

  private index(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  /** The value for key, or -1. */
  get(key: number): number {
    const s = this.slots;
    for (let i = this.index(key); ; i = (i + 1) & this.mask) {
      const k = s[i * 2]!;
      if (k === key) return s[i * 2 + 1]!;
      if (k === 0) return -1;
    }
  }

  has(key: number): boolean {
    return this.get(key) !== -1;
  }

  set(key: number, value: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    const s = this.slots;
    for (let i = this.index(key); ; i = (i + 1) & this.mask) {
      const k = s[i * 2]!;
      if (k === key) {
        s[i * 2 + 1] = value;
        return;
      }
      if (k === 0) {
        s[i * 2] = key;
        s[i * 2 + 1] = value;
        this.count++;
        return;
      }
    }
  }

  /** Removes key; returns its value, or -1 when absent. */
  delete(key: number): number {
    const s = this.slots;
    const mask = this.mask;
    let i = this.index(key);
    for (; ; i = (i + 1) & mask) {
      const k = s[i * 2]!;
      if (k === key) break;
      if (k === 0) return -1;
    }
    const value = s[i * 2 + 1]!;
    // Backward shift: pull later entries of the probe run into the hole so lookups stay correct.
    let hole = i;
    for (let j = (i + 1) & mask; s[j * 2] !== 0; j = (j + 1) & mask) {
      const home = this.index(s[j * 2]!);
      if (((hole - home) & mask) <= ((j - home) & mask)) {
        s[hole * 2] = s[j * 2]!;
        s[hole * 2 + 1] = s[j * 2 + 1]!;
        hole = j;
      }
    }
    s[hole * 2] = 0;
    this.count--;
    return value;
  }

  /** Calls fn for every entry; fn must not modify the table. */
  forEach(fn: (key: number, value: number) => void): void {
    const s = this.slots;
    for (let i = 0; i < s.length; i += 2) if (s[i] !== 0) fn(s[i]!, s[i + 1]!);
  }

  private resize(capacity: number): void {
    const old = this.slots;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0) this.set(old[i]!, old[i + 1]!);
  }
}
