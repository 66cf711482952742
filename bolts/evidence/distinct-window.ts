import type { EntryBudget } from './entry-budget.js';

/** What `DistinctWindow.touch` did with a key: `Refused` (new, and the source's budget was spent: not recorded), `Added` (new: recorded) or `Again` (already in the window: its time moved). */
export const Touched = { Refused: 0, Added: 1, Again: 2 } as const;
export type Touched = (typeof Touched)[keyof typeof Touched];

/**
 * Distinct keys with the event time each was last seen, oldest first: a key seen again moves to
 * the end, so expiry stops at the first key young enough. Flows out of order within the allowed
 * lateness can leave a key a little out of place; it then expires at most that much later.
 *
 * Most windows never hold more than one key (a source that contacts one service, a scanner's
 * one probe of a target): the first key is kept in two fields, and a Map is made only for a
 * second distinct key. A Map costs several hundred bytes and its allocation showed as the largest
 * share of the evidence stage's time and garbage.
 */
export class DistinctWindow<K> {
  /** The one key while `map` is undefined (when `hasOne`). */
  private onlyKey: K | undefined = undefined;
  private onlySecs = 0;
  private hasOne = false;
  private map: Map<K, number> | undefined = undefined;

  get size(): number {
    return this.map !== undefined ? this.map.size : this.hasOne ? 1 : 0;
  }

  /** Up to `max` keys, the longest-standing first: the evidence an alert lists when it is raised. */
  keys(max: number): K[] {
    if (this.map === undefined) return this.hasOne && max > 0 ? [this.onlyKey as K] : [];
    const out: K[] = [];
    for (const key of this.map.keys()) {
      if (out.length >= max) break;
      out.push(key);
    }
    return out;
  }

  /** When the longest-standing key was last seen: where the evidence of an alert begins. */
  get oldestSecs(): number | undefined {
    if (this.map === undefined) return this.hasOne ? this.onlySecs : undefined;
    for (const seen of this.map.values()) return seen;
    return undefined;
  }

  has(key: K): boolean {
    return this.map !== undefined ? this.map.has(key) : this.hasOne && this.onlyKey === key;
  }

  /** Records `key` at `timeSecs`, taking an entry from the source's budget when it is new. */
  touch(key: K, timeSecs: number, budget: EntryBudget): Touched {
    const map = this.map;
    if (map === undefined) {
      if (this.hasOne && this.onlyKey === key) {
        if (timeSecs > this.onlySecs) this.onlySecs = timeSecs;
        return Touched.Again;
      }
      if (!budget.take()) return Touched.Refused;
      if (!this.hasOne) {
        this.onlyKey = key;
        this.onlySecs = timeSecs;
        this.hasOne = true;
        return Touched.Added;
      }
      this.map = new Map([[this.onlyKey as K, this.onlySecs]]);
      this.map.set(key, timeSecs);
      this.onlyKey = undefined;
      return Touched.Added;
    }
    const previous = map.get(key);
    if (previous === undefined) {
      if (!budget.take()) return Touched.Refused;
      map.set(key, timeSecs);
      return Touched.Added;
    }
    map.delete(key);
    map.set(key, Math.max(previous, timeSecs));
    return Touched.Again;
  }

  /** Forgets the keys last seen before `cutoffSecs`, giving their entries back to the budget. */
  expire(cutoffSecs: number, budget: EntryBudget): void {
    const map = this.map;
    if (map === undefined) {
      if (this.hasOne && this.onlySecs < cutoffSecs) this.forgetOnly(budget);
      return;
    }
    let n = 0;
    for (const [key, seen] of map) {
      if (seen >= cutoffSecs) break;
      map.delete(key);
      n++;
    }
    budget.give(n);
  }

  clear(budget: EntryBudget): void {
    budget.give(this.size);
    this.map = undefined;
    this.hasOne = false;
    this.onlyKey = undefined;
  }

  private forgetOnly(budget: EntryBudget): void {
    this.hasOne = false;
    this.onlyKey = undefined;
    budget.give(1);
  }
}
