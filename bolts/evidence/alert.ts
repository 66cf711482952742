import type { Contact } from './contact.js';
import type { AlertType } from './evidence-rule.js';

/**
 * One alert: a source's activity of one type, raised once and then updated while it goes on
 * (`lastSeenSecs`, `attempts` and the capped lists grow); written on raise, on a tick when it
 * changed, and once more when it closes. Its id is fixed at raise, so a consumer keeps the latest
 * record per id.
 */
export interface Alert {
  readonly id: string;
  readonly type: AlertType;
  readonly source: string;
  readonly firstSeenSecs: number;
  lastSeenSecs: number;
  attempts: number;
  readonly targets: string[];
  readonly ports: number[];
  readonly flowIds: number[];
  readonly score: number;
  /** The detector's window: the alert closes once the watermark is this far past its last contact. */
  readonly windowSecs: number;
  /** Changed since it was last written. */
  isDirty: boolean;
}

/**
 * The evidence behind a new alert, from the detector's window: listed first (capped), so the
 * record that raises an alert names the targets, ports and flows that raised it.
 */
export interface AlertEvidence {
  /** The time of the first contact in the evidence: the alert's first_seen (else the raising contact's). */
  readonly firstSeenSecs?: number;
  readonly targets?: readonly string[];
  readonly ports?: readonly number[];
  readonly flowIds?: readonly number[];
}

export function raiseAlert(
  type: AlertType,
  c: Contact,
  o: { attempts: number; score: number; windowSecs: number; maxListed: number },
  evidence: AlertEvidence = {},
): Alert {
  const alert: Alert = {
    id: `${type}:${c.source}:${c.timeSecs}`,
    type,
    source: c.source,
    firstSeenSecs: Math.min(c.timeSecs, evidence.firstSeenSecs ?? c.timeSecs),
    lastSeenSecs: c.timeSecs,
    attempts: o.attempts - 1,
    targets: [],
    ports: [],
    flowIds: [],
    score: o.score,
    windowSecs: o.windowSecs,
    isDirty: true,
  };
  for (const target of evidence.targets ?? []) listOnce(alert.targets, target, o.maxListed);
  for (const port of evidence.ports ?? []) listOnce(alert.ports, port, o.maxListed);
  for (const flowId of evidence.flowIds ?? []) listOnce(alert.flowIds, flowId, o.maxListed);
  addToAlert(alert, c, o.maxListed);
  return alert;
}

export function addToAlert(alert: Alert, c: Contact, maxListed: number): void {
  alert.attempts++;
  if (c.timeSecs > alert.lastSeenSecs) alert.lastSeenSecs = c.timeSecs;
  listOnce(alert.targets, c.target, maxListed);
  listOnce(alert.ports, c.port, maxListed);
  listOnce(alert.flowIds, c.flowId, maxListed);
  alert.isDirty = true;
}

function listOnce<T>(list: T[], value: T, max: number): void {
  if (list.length < max && !list.includes(value)) list.push(value);
}
