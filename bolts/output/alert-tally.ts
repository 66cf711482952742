import type { AlertRecordValue, AlertStatus } from './alert-record.js';

/**
 * One metrics interval's alert records (raised, updated, closed), kept by the alerts output task
 * for the live page and taken (and reset) at each report (`TopologyContext.reading`). A record
 * replaces the earlier one of the same alert type and source, so the report holds each one's latest
 * state. Bounded whatever the evidence stage writes: at most MAX_ALERTS an interval (a new one
 * past that is counted in `overflow` only) and MAX_LISTED targets and ports each.
 */

export const MAX_ALERTS = 50;
const MAX_LISTED = 5;

/** An alert as the page lists it: the `themis-alerts` record, its lists shortened. */
export interface AlertBrief {
  readonly alertId: string;
  readonly type: string;
  readonly status: AlertStatus;
  readonly sourceIp: string;
  /** Event time, epoch seconds. */
  readonly firstSeenSecs: number;
  readonly lastSeenSecs: number;
  readonly attempts: number;
  readonly score: number;
  /** The first MAX_LISTED of the record's lists. */
  readonly targets: readonly string[];
  readonly ports: readonly number[];
}

export interface AlertTallyReport {
  readonly alerts: readonly AlertBrief[];
  /** Alerts that found the table full this interval. */
  readonly overflow: number;
}

/** The page's key of an alert: its type and source (a source's later alert of the same type replaces the earlier). */
export const alertKey = (a: Pick<AlertBrief, 'type' | 'sourceIp'>): string => `${a.type} ${a.sourceIp}`;

/** The brief of an `alertRecord` value (alert-record.ts); the record is ours, so its shape is trusted. */
export function alertBriefOf(recordValue: string): AlertBrief {
  const r = JSON.parse(recordValue) as AlertRecordValue;
  return {
    alertId: r.alert_id,
    type: r.alert_type,
    status: r.status,
    sourceIp: r.source_ip,
    firstSeenSecs: r.first_seen,
    lastSeenSecs: r.last_seen,
    attempts: r.attempts,
    score: r.score,
    targets: r.target_ips.slice(0, MAX_LISTED),
    ports: r.target_ports.slice(0, MAX_LISTED),
  };
}

export class AlertTally {
  private alerts = new Map<string, AlertBrief>();
  private overflow = 0;

  add(recordValue: string): void {
    const brief = alertBriefOf(recordValue);
    const key = alertKey(brief);
    if (!this.alerts.has(key) && this.alerts.size >= MAX_ALERTS) {
      this.overflow++;
      return;
    }
    this.alerts.set(key, brief);
  }

  /** The interval's alerts in the order first seen, and a fresh interval; undefined when none was written. */
  take(): AlertTallyReport | undefined {
    if (this.alerts.size === 0 && this.overflow === 0) return undefined;
    const report = { alerts: [...this.alerts.values()], overflow: this.overflow };
    this.alerts = new Map();
    this.overflow = 0;
    return report;
  }
}
