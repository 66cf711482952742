/**
 * A Map for the per-source state of the evidence stage, where most maps only ever hold one entry
 * (a source that probes one target, or logs in to one service): the first entry is kept in two
 * fields, and a Map is made for a second key. A Map costs a few hundred bytes; a hundred thousand
 * sources of a task hold several each. Same order and semantics as Map: insertion order, and
 * setting a key already there keeps its place.
 */
export class SmallMap<K, V> {
  private onlyKey: K | undefined = undefined;
  private onlyValue: V | undefined = undefined;
  private hasOne = false;
  private map: Map<K, V> | undefined = undefined;

  get size(): number {
    return this.map !== undefined ? this.map.size : this.hasOne ? 1 : 0;
  }

  has(key: K): boolean {
    return this.map !== undefined ? this.map.has(key) : this.hasOne && this.onlyKey === key;
  }

  /** The value of the first key in insertion order (undefined when empty), without an iterator while one entry is held. */
  firstValue(): V | undefined {
    if (this.map !== undefined) return this.map.values().next().value;
    return this.hasOne ? this.onlyValue : undefined;
  }

  get(key: K): V | undefined {
    if (this.map !== undefined) return this.map.get(key);
    return this.hasOne && this.onlyKey === key ? this.onlyValue : undefined;
  }

  set(key: K, value: V): void {
    if (this.map !== undefined) this.map.set(key, value);
    else if (!this.hasOne || this.onlyKey === key) {
      this.onlyKey = key;
      this.onlyValue = value;
      this.hasOne = true;
    } else {
      this.map = new Map([[this.onlyKey as K, this.onlyValue as V]]);
      this.map.set(key, value);
      this.onlyKey = undefined;
      this.onlyValue = undefined;
    }
  }

  delete(key: K): boolean {
    if (this.map !== undefined) return this.map.delete(key);
    if (!this.hasOne || this.onlyKey !== key) return false;
    this.hasOne = false;
    this.onlyKey = undefined;
    this.onlyValue = undefined;
    return true;
  }

  clear(): void {
    this.map = undefined;
    this.hasOne = false;
    this.onlyKey = undefined;
    this.onlyValue = undefined;
  }

  /** Entries in insertion order; deleting the current entry while iterating is safe, as with Map. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    if (this.map !== undefined) return this.map.entries();
    return (this.hasOne ? [[this.onlyKey as K, this.onlyValue as V] as [K, V]] : [])[Symbol.iterator]();
  }

  values(): IterableIterator<V> {
    return this.map !== undefined ? this.map.values() : (this.hasOne ? [this.onlyValue as V] : [])[Symbol.iterator]();
  }
}
