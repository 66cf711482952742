import type { EntryBudget } from './entry-budget.js';
import { SmallMap } from './small-map.js';

/** What `DistinctWindow.touch` did with a key: `Refused` (new, and the source's budget was spent: not recorded), `Added` (new: recorded) or `Again` (already in the window: its time moved). */
export const Touched = { Refused: 0, Added: 1, Again: 2 } as const;
export type Touched = (typeof Touched)[keyof typeof Touched];

/**
 * Distinct keys with the event time each was last seen, oldest first: a key seen again moves to
 * the end, so expiry stops at the first key young enough. Flows out of order within the allowed
 * lateness can leave a key a little out of place; it then expires at most that much later.
 *
 * Most windows never hold more than one key (a source that contacts one service, a scanner's one
 * probe of a target), so the keys are in a SmallMap: no Map until a second distinct key. A Map
 * costs several hundred bytes, and its allocation showed as the largest share of the evidence
 * stage's time and garbage.
 */
export class DistinctWindow<K> {
  private readonly lastSeen = new SmallMap<K, number>();

  get size(): number {
    return this.lastSeen.size;
  }

  /** Up to `max` keys, the longest-standing first: the evidence an alert lists when it is raised. */
  keys(max: number): K[] {
    const out: K[] = [];
    for (const [key] of this.lastSeen) {
      if (out.length >= max) break;
      out.push(key);
    }
    return out;
  }

  /** When the longest-standing key was last seen: where the evidence of an alert begins. */
  get oldestSecs(): number | undefined {
    return this.lastSeen.firstValue();
  }

  has(key: K): boolean {
    return this.lastSeen.has(key);
  }

  /** Records `key` at `timeSecs`, taking an entry from the source's budget when it is new. */
  touch(key: K, timeSecs: number, budget: EntryBudget): Touched {
    const previous = this.lastSeen.get(key);
    if (previous === undefined) {
      if (!budget.take()) return Touched.Refused;
      this.lastSeen.set(key, timeSecs);
      return Touched.Added;
    }
    // Deleted and set again: to the end of the order.
    this.lastSeen.delete(key);
    this.lastSeen.set(key, Math.max(previous, timeSecs));
    return Touched.Again;
  }

  /** Forgets the keys last seen before `cutoffSecs`, giving their entries back to the budget. */
  expire(cutoffSecs: number, budget: EntryBudget): void {
    // Most calls find nothing to forget: the first key says so without an iterator.
    const oldest = this.lastSeen.firstValue();
    if (oldest === undefined || oldest >= cutoffSecs) return;
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
