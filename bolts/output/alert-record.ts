import type { Alert } from '../evidence/alert.js';
import type { KafkaRecord } from './format.js';

/** With file output the alerts go to `alerts.jsonl` (the name), not to `<topics.alerts>.jsonl`. */
export const ALERTS_FILE_TOPIC = 'alerts';

/** Where an alert stands: `raised` once, `updated` while the activity goes on, `closed` when its window has passed. */
export type AlertStatus = 'raised' | 'updated' | 'closed';

/** The value of an `alertRecord`, parsed: its fields as alertRecord writes them. */
export interface AlertRecordValue {
  readonly alert_id: string;
  readonly alert_type: string;
  readonly status: AlertStatus;
  readonly source_ip: string;
  readonly first_seen: number;
  readonly last_seen: number;
  readonly target_ips: readonly string[];
  readonly target_ports: readonly number[];
  readonly attempts: number;
  readonly flow_ids: readonly number[];
  readonly score: number;
}

/**
 * The `themis-alerts` record (`alerts.jsonl` with file output), keyed by the alert id, so a
 * compacted topic or a consumer keeping the last record per key holds each alert's latest state:
 * `{"alert_id","alert_type","status","source_ip","first_seen","last_seen","target_ips",
 * "target_ports","attempts","flow_ids","score"}`, times in epoch seconds (event time, the flows'
 * own), lists capped at `evidence.maxListed` (the first ones seen).
 */
export function alertRecord(alert: Alert, status: AlertStatus): KafkaRecord {
  const value =
    `{"alert_id":${JSON.stringify(alert.id)},"alert_type":"${alert.type}","status":"${status}"` +
    `,"source_ip":${JSON.stringify(alert.source)},"first_seen":${alert.firstSeenSecs},"last_seen":${alert.lastSeenSecs}` +
    `,"target_ips":${JSON.stringify(alert.targets)},"target_ports":${JSON.stringify(alert.ports)}` +
    `,"attempts":${alert.attempts},"flow_ids":${JSON.stringify(alert.flowIds)},"score":${alert.score}}`;
  return { key: alert.id, value };
}
