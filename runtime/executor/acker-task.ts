import { newCounters, type TaskMetrics } from '../metrics-snapshot.js';
import type { AckLedger } from '../root-tracking.js';

/** An acker task: its ledger, run by the worker thread as control messages arrive. */
export class AckerTask {
  readonly kind = 'acker' as const;
  constructor(
    readonly taskId: number,
    readonly component: string,
    readonly ledger: AckLedger,
  ) {}
  metrics(): TaskMetrics {
    return { task: this.taskId, component: this.component, kind: 'acker', counters: newCounters(), execute: null, process: null, complete: null, pending: this.ledger.size, parked: 0, breakerOpen: false, custom: {}, customHistograms: {} };
  }
}
