import { alertKey, type AlertBrief, type AlertTallyReport } from '../bolts/output/alert-tally.js';

/**
 * The live page's "Latest alerts": the last MAX_ALERTS alerts the evidence stage wrote, one row per
 * alert type and source. A later record of the same key (updated, closed, or the source's next
 * alert of that type) replaces the row where it stands; a new key goes on top and, past the bound,
 * pushes out the key that came first. Memory is MAX_ALERTS briefs, whatever the stage writes.
 */

export const MAX_ALERTS = 20;

export interface LatestAlertsState {
  /** Newest key first. */
  readonly alerts: readonly AlertBrief[];
  /** Alerts the output tasks' interval bounds left out since start. */
  readonly leftOut: number;
}

export class LatestAlerts {
  /** In the order the keys first came (a Map keeps it when a key's value is replaced). */
  private readonly byKey = new Map<string, AlertBrief>();
  private leftOut = 0;

  addReport(report: AlertTallyReport): void {
    this.leftOut += report.overflow;
    for (const a of report.alerts) this.add(a);
  }

  add(alert: AlertBrief): void {
    const key = alertKey(alert);
    this.byKey.set(key, alert);
    if (this.byKey.size > MAX_ALERTS) this.byKey.delete(this.byKey.keys().next().value!);
  }

  state(): LatestAlertsState {
    return { alerts: [...this.byKey.values()].reverse(), leftOut: this.leftOut };
  }
}
