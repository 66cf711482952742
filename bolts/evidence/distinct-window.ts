import type { EntryBudget } from './entry-budget.js';

/**
 * Distinct keys with the event time each was last seen, oldest first: a key seen again moves to
 * the end, so expiry stops at the first key young enough. Flows out of order within the allowed
 * lateness can leave a key a little out of place; it then expires at most that much later.
 */
export class DistinctWindow<K> {
  private readonly lastSeen = new Map<K, number>();

  get size(): number {
    return this.lastSeen.size;
  }

  /** Up to `max` keys, the longest-standing first: the evidence an alert lists when it is raised. */
  keys(max: number): K[] {
    const out: K[] = [];
    for (const key of this.lastSeen.keys()) {
      if (out.length >= max) break;
      out.push(key);
    }
    return out;
  }

  /** When the longest-standing key was last seen: where the evidence of an alert begins. */
  get oldestSecs(): number | undefined {
    for (const seen of this.lastSeen.values()) return seen;
    return undefined;
  }

  has(key: K): boolean {
    return this.lastSeen.has(key);
  }

  /** Records `key` at `timeSecs`; false when it is new and the source's budget is spent. */
  touch(key: K, timeSecs: number, budget: EntryBudget): boolean {
    const previous = this.lastSeen.get(key);
    if (previous === undefined) {
      if (!budget.take()) return false;
    } else this.lastSeen.delete(key);
    this.lastSeen.set(key, previous === undefined ? timeSecs : Math.max(previous, timeSecs));
    return true;
  }

  /** Forgets the keys last seen before `cutoffSecs`, giving their entries back to the budget. */
  expire(cutoffSecs: number, budget: EntryBudget): void {
    let n = 0;
    for (const [key, seen] of this.lastSeen) {
      if (seen >= cutoffSecs) break;
      this.lastSeen.delete(key);
      n++;
    }
    budget.give(n);
  }

  clear(budget: EntryBudget): void {
    budget.give(this.lastSeen.size);
    this.lastSeen.clear();
  }
}
