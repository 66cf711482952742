import { serviceKey, type Contact } from './contact.js';
import { DistinctWindow, Touched } from './distinct-window.js';
import type { EntryBudget } from './entry-budget.js';
import type { AddressScanRule, PortScanRule } from './evidence-rule.js';
import { SmallMap } from './small-map.js';

const targetOf = (c: Contact): string => c.target;

/**
 * One source's probes, grouped by one side of the contact, counting distinct values of the other
 * within a window: the state of both scan detectors.
 */
class DistinctByGroup<G, V> {
  private readonly groups = new SmallMap<G, DistinctWindow<V>>();

  constructor(
    private readonly groupOf: (c: Contact) => G,
    private readonly valueOf: (c: Contact) => V,
  ) {}

  /** Records the probe; returns the distinct values of its group within the window. */
  observe(c: Contact, watermarkSecs: number, windowSecs: number, budget: EntryBudget): number {
    const group = this.groupOf(c);
    const values = this.groups.get(group);
    if (values === undefined) {
      // A group is made only for a value the budget took: a refused probe leaves nothing behind.
      const fresh = new DistinctWindow<V>();
      if (fresh.touch(this.valueOf(c), c.timeSecs, budget) === Touched.Refused) return 0;
      this.groups.set(group, fresh);
      return 1;
    }
    values.expire(watermarkSecs - windowSecs, budget);
    values.touch(this.valueOf(c), c.timeSecs, budget);
    return values.size;
  }

  /** Up to `max` distinct values in the window of `c`'s group. */
  valuesOf(c: Contact, max: number): V[] {
    return this.groups.get(this.groupOf(c))?.keys(max) ?? [];
  }

  /** When the window of `c`'s group begins. */
  oldestOf(c: Contact): number | undefined {
    return this.groups.get(this.groupOf(c))?.oldestSecs;
  }

  expire(watermarkSecs: number, windowSecs: number, budget: EntryBudget): void {
    for (const [group, values] of this.groups) {
      values.expire(watermarkSecs - windowSecs, budget);
      if (values.size === 0) this.groups.delete(group);
    }
  }

  get isEmpty(): boolean {
    return this.groups.size === 0;
  }
}

/**
 * Vertical port scan (Zeek scan policy, `Scan::port_scan_threshold` 15 in 5 min): one source's
 * probes of one target on many distinct ports (protocol and port).
 */
export class PortScanState extends DistinctByGroup<string, number> {
  constructor() {
    super(targetOf, serviceKey);
  }
}

export function isPortScan(distinctPorts: number, rule: PortScanRule): boolean {
  return distinctPorts >= rule.minPorts;
}

/**
 * Horizontal address scan (Zeek scan policy, `Scan::addr_scan_threshold` 25 in 5 min): one
 * source's probes of many distinct targets on one port.
 */
export class AddressScanState extends DistinctByGroup<number, string> {
  constructor() {
    super(serviceKey, targetOf);
  }
}

export function isAddressScan(distinctTargets: number, rule: AddressScanRule): boolean {
  return distinctTargets >= rule.minTargets;
}
