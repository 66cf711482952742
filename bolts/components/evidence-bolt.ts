import type { BasicBolt, BasicOutputCollector, Bolt, MetricCounter, MetricHistogram, OutputCollector, OutputFields, TopologyContext, Tuple } from '../../runtime/index.js';
import type { Alert } from '../evidence/alert.js';
import { contactOf, countsAsEvidence } from '../evidence/contact.js';
import { HeldConversations, type Held } from '../evidence/held-conversations.js';
import { SourceBook, type BookCounters } from '../evidence/source-book.js';
import type { Flow } from '../flow.js';
import { alertRecord, type AlertStatus } from '../output/alert-record.js';
import { STREAM_ALERTS } from './streams.js';
import { FLOW_FIELDS, type ThemisArgs } from './themis-args.js';

/** How long held conversations were held, exported as `themis_evidence_hold_seconds`. */
export const EVIDENCE_HOLD = 'evidence_hold';

/** The evidence stage's input: the flow keyed by its initiator's address, which it is fields-grouped on. */
export const EVIDENCE_FIELDS = ['source', 'flowId', 'flow'] as const;
/** An alert record: its id (the record's key) and the JSON line. */
export const ALERT_FIELDS = ['alertId', 'record'] as const;

/** The tag category of the stage: `EVIDENCE-<ALERT_TYPE>`. */
export const EVIDENCE_CATEGORY = 'EVIDENCE';

/** Held conversations released per event-loop turn at the end of a finite input (as match-flows). */
const DRAIN_SLICE = 1024;

/** Sources swept per event-loop turn on a tick (about two milliseconds' work: a source took about 1 µs in bench runs). */
const SWEEP_SLICE = 2048;

/**
 * How long the input must have been quiet after the end of a finite input before the held
 * conversations go: match-flows releases its unmatched flows (unanswered probes among them) after
 * the end too, a slice per turn, and their evidence should still tag what is held.
 */
const END_QUIET_MS = 250;

/**
 * `evidence-key`: names a scored conversation's initiator (bolts/evidence/contact.ts), the key
 * `evidence` is fields-grouped on. Chained behind the join, so it costs no hop.
 */
export class EvidenceKeyBolt implements BasicBolt {
  execute(input: Tuple, collector: BasicOutputCollector): void {
    const flow = input.values[1] as Flow;
    collector.emit([(flow.initiator === 'src' ? flow.srcIp : flow.dstIp).text, flow.id, flow]);
  }
  declareOutputFields(): OutputFields {
    return { default: EVIDENCE_FIELDS };
  }
}

/**
 * `evidence` (issue 14): runs the per-source detectors (SourceBook) on every scored conversation,
 * writes alerts on the `alerts` stream, and emits each conversation with an `EVIDENCE-<ALERT_TYPE>`
 * bad tag for each alert open on its source when it goes. A conversation that counts as evidence
 * (countsAsEvidence) from a source with no open alert is held (HeldConversations) until an alert
 * is raised on its source or its hold has passed; every other one goes at once.
 *
 * At-least-once: a held input is parked (out of max pending and the timeout, still incomplete, so
 * a crash replays it) and acked when its conversation is emitted, anchored to it: each delivery
 * is written once. Alert records are not anchored: they are derived from the conversations, and a
 * replay derives them again.
 */
export class EvidenceBolt implements Bolt {
  private book!: SourceBook;
  private held!: HeldConversations<Tuple>;
  private collector!: OutputCollector;
  private holds!: MetricHistogram;
  private readonly metrics = new Map<keyof BookCounters | 'heldReleasedEarly' | 'alertsRaised', { counter: MetricCounter; reported: number }>();
  private alertsRaised = 0;
  /** After the end of a finite input: `waiting` for the input to go quiet, then `draining`. */
  private ending: 'waiting' | 'draining' | null = null;
  private quietTimer: NodeJS.Timeout | null = null;
  private isSweeping = false;
  readonly tickSecs: number;

  constructor(
    private readonly args: ThemisArgs & { readonly channels: number },
    private readonly now: () => number = Date.now,
  ) {
    this.tickSecs = args.config.windows.tickSecs;
  }

  prepare(context: TopologyContext, collector: OutputCollector): void {
    const rule = this.args.config.evidence;
    this.collector = collector;
    this.book = new SourceBook(rule, this.args.channels);
    this.held = new HeldConversations<Tuple>({ holdSecs: rule.holdSecs, maxHoldMs: rule.maxHoldMs, maxHeld: rule.maxHeld, now: this.now });
    const metric = (key: Parameters<typeof this.metrics.set>[0], name: string) => this.metrics.set(key, { counter: context.counter(name), reported: 0 });
    metric('lateContacts', 'evidence_late_contacts');
    metric('sourcesEvicted', 'evidence_sources_evicted');
    metric('entriesRefused', 'evidence_entries_refused');
    metric('heldReleasedEarly', 'evidence_held_released_early');
    metric('alertsRaised', 'evidence_alerts_raised');
    this.holds = context.histogram(EVIDENCE_HOLD);
  }

  execute(input: Tuple): void {
    if (input.isTick) {
      if (!this.isSweeping) {
        this.isSweeping = true;
        this.sweepSlice();
      }
      return;
    }
    const flow = input.values[2] as Flow;
    const contact = contactOf(flow);
    const raised = this.book.observe(contact, input.sourceTask);
    for (const alert of raised) {
      this.alertsRaised++;
      alert.isDirty = false;
      this.emitAlert(alert, 'raised');
    }
    // The source's held conversations go now, with the new alert's tag.
    if (raised.length > 0) this.release(this.held.releaseSource(contact.source));
    // After the end of a finite input every conversation is held until the drain, whose end
    // writes the alerts they changed: nothing else would keep the topology from stopping first.
    const goesNow = this.ending === null && (this.book.hasOpenAlert(contact.source) || !countsAsEvidence(contact, this.args.config.evidence));
    if (this.ending === 'draining' || goesNow) {
      this.emitTagged(input, flow);
    } else {
      this.collector.park(input);
      this.release(this.held.hold(input, contact.source, contact.timeSecs));
      this.release(this.held.due(this.book.watermarkSecs));
      if (this.ending === 'waiting') this.waitForQuiet();
    }
  }

  onInputEnd(): void {
    this.book.freezeClock();
    // The alerts as they stand: the run may end before the drain if nothing is held.
    this.writeAlerts();
    this.report();
    this.ending = 'waiting';
    this.waitForQuiet();
  }

  cleanup(): void {
    this.isSweeping = false;
    if (this.quietTimer !== null) clearTimeout(this.quietTimer);
    this.ending = null;
  }

  /** A slice of the tick's sweep per event-loop turn, so the flows that arrive meanwhile do not wait for all of it; then the alerts it changed. */
  private readonly sweepSlice = (): void => {
    if (!this.isSweeping) return;
    if (!this.book.sweepSome(SWEEP_SLICE)) {
      setImmediate(this.sweepSlice);
      return;
    }
    this.isSweeping = false;
    this.writeAlerts();
    this.release(this.held.due(this.book.watermarkSecs));
    this.report();
  };

  private waitForQuiet(): void {
    if (this.quietTimer !== null) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => {
      this.quietTimer = null;
      this.ending = 'draining';
      this.drainSlice();
    }, END_QUIET_MS);
  }

  private readonly drainSlice = (): void => {
    if (this.ending !== 'draining') return;
    this.release(this.held.drain(DRAIN_SLICE));
    if (this.held.size > 0) setImmediate(this.drainSlice);
    else {
      this.writeAlerts();
      this.report();
    }
  };

  private release(released: readonly Held<Tuple>[]): void {
    if (released.length === 0) return;
    const now = this.now();
    for (const h of released) {
      const flow = h.handle.values[2] as Flow;
      flow.heldForEvidenceMs = now - h.heldAtMs;
      this.holds.observe(flow.heldForEvidenceMs / 1000);
      this.emitTagged(h.handle, flow);
    }
  }

  private emitTagged(input: Tuple, flow: Flow): void {
    const source = input.values[0] as string;
    for (const alert of this.book.activeAlerts(source)) flow.tags.push({ category: EVIDENCE_CATEGORY, code: alert.type, score: alert.score, isBad: true });
    this.collector.emit([flow.id, flow], input);
    this.collector.ack(input);
  }

  private writeAlerts(): void {
    for (const alert of this.book.takeClosed()) this.emitAlert(alert, 'closed');
    for (const alert of this.book.takeDirty()) this.emitAlert(alert, 'updated');
  }

  private emitAlert(alert: Alert, status: AlertStatus): void {
    const r = alertRecord(alert, status);
    this.collector.emit([r.key, r.value], null, STREAM_ALERTS);
  }

  /** Moves the task's counters to what the book and table have counted: on each tick and at the end of the drain. */
  private report(): void {
    const now: Record<string, number> = { ...this.book.counters, heldReleasedEarly: this.held.overflowed, alertsRaised: this.alertsRaised };
    for (const [key, m] of this.metrics) {
      const value = now[key]!;
      if (value > m.reported) {
        m.counter.inc(value - m.reported);
        m.reported = value;
      }
    }
  }

  declareOutputFields(): OutputFields {
    return { default: FLOW_FIELDS, [STREAM_ALERTS]: ALERT_FIELDS };
  }
}
