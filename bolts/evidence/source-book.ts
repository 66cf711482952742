import { addToAlert, raiseAlert, type Alert, type AlertEvidence } from './alert.js';
import { isProbe, PORT_OF_SERVICE_KEY, type Contact } from './contact.js';
import { EntryBudget, TaskBudget } from './entry-budget.js';
import { EventClock } from './event-clock.js';
import type { AlertType, EvidenceRule } from './evidence-rule.js';
import { GuessingState, isPasswordGuessing, type GuessingOutcome } from './password-guessing.js';
import { AddressScanState, isAddressScan, isPortScan, PortScanState } from './port-scan.js';
import { RandomWalkState, walkSteps, type WalkSteps } from './random-walk.js';

/**
 * The evidence of one task, per source (the conversations' initiators): the one owner of its
 * windows, its alerts and their expiry, on one clock, the event time of `EventClock`.
 *
 * A source's state: created by its first contact; each contact moves the watermark and runs the
 * detectors; `sweep` (the bolt's tick) drops what the watermark has passed by a detector's window,
 * closes each alert whose last contact is a window behind it, and forgets a source left with
 * nothing. Bounds: `maxEntriesPerSource` distinct entries per source (its EntryBudget, refusals
 * counted), `maxEntries` in all (TaskBudget), and `maxSources` sources: past either of the last
 * two, a source not seen lately is forgotten, alerts and all (its open alerts are written
 * closed). "Lately" is the clock algorithm's second chance: a contact only marks its source, and
 * eviction moves marked sources to the back, unmarked, and forgets the first unmarked one; moving
 * every source on every contact (a Map delete and set per flow) cost more than all the detectors
 * together. Expiry compares event times only, so a replay in the same order finds the same alerts.
 */
export interface BookCounters {
  /** Contacts that started before the watermark: written, but no evidence. */
  lateContacts: number;
  sourcesEvicted: number;
  entriesRefused: number;
}

/**
 * A source's state. Most sources are seen a few times and never probe or log in: the scan and
 * guessing states and the alerts are made on first use, so such a source costs its walk alone.
 */
interface SourceState {
  readonly budget: EntryBudget;
  portScan: PortScanState | undefined;
  addressScan: AddressScanState | undefined;
  readonly walk: RandomWalkState;
  guessing: GuessingState | undefined;
  alerts: Map<AlertType, Alert> | undefined;
  /** Seen since eviction last passed it (the second chance of the clock algorithm). */
  isReferenced: boolean;
}

const NO_GUESS: GuessingOutcome = { kind: 'none' };
/** What most contacts raise: shared, never written to. */
const NONE_RAISED: Alert[] = [];
const isIdle = (state: { readonly isEmpty: boolean } | undefined): boolean => state === undefined || state.isEmpty;

export class SourceBook {
  private readonly clock: EventClock;
  /** In the order eviction passes them (see isReferenced). */
  private readonly sources = new Map<string, SourceState>();
  private readonly steps: WalkSteps;
  private readonly entries: TaskBudget;
  private closed: Alert[] = [];
  /** Alerts that may have changed since takeDirty (each listed once while dirty): no walk over every source. */
  private dirty: Alert[] = [];
  /** The sweep pass under way (sweepSome), and how many more sources it visits at most. */
  private sweeping: MapIterator<[string, SourceState]> | null = null;
  private sweepLeft = 0;
  /** The alerts the contact being observed raised. */
  private raised: Alert[] = NONE_RAISED;
  readonly counters: BookCounters = { lateContacts: 0, sourcesEvicted: 0, entriesRefused: 0 };

  /** `channels`: the upstream tasks, each sending its flows in its own time order. */
  constructor(
    private readonly rule: EvidenceRule,
    channels = 1,
  ) {
    this.clock = new EventClock(rule.allowedLatenessSecs, channels);
    this.steps = walkSteps(rule.randomWalk);
    this.entries = new TaskBudget(rule.maxEntries);
  }

  get watermarkSecs(): number {
    return this.clock.watermarkSecs;
  }

  get size(): number {
    return this.sources.size;
  }

  /** Entries held by all sources (at most `maxEntries`). */
  get entriesUsed(): number {
    return this.entries.used;
  }

  /** After the end of a finite input no contact is late (see EventClock). */
  freezeClock(): void {
    this.clock.isFrozen = true;
  }

  /**
   * Runs the detectors on one contact from an upstream `channel` (its task); returns the alerts it
   * raised. A late contact adds nothing.
   */
  observe(c: Contact, channel = 0): Alert[] {
    if (!this.clock.observe(c.timeSecs, channel)) {
      this.counters.lateContacts++;
      return [];
    }
    // The task's entries are spent: sources not seen lately are forgotten until a tenth is free.
    if (this.entries.isSpent) while (this.entries.used > this.entries.max * 0.9 && this.sources.size > 0) this.evictOldest();
    const s = this.touch(c.source);
    const refusedBefore = s.budget.refused;
    this.raised = NONE_RAISED;
    const r = this.rule;
    const wm = this.clock.watermarkSecs;
    const bump = this.bump;

    if (isProbe(c, r.probeMaxPackets)) {
      const portScan = (s.portScan ??= new PortScanState());
      const ports = portScan.observe(c, wm, r.portScan.windowSecs, s.budget);
      if (isPortScan(ports, r.portScan)) {
        bump(s, c, 'PORT_SCAN', ports, r.portScan.score, r.portScan.windowSecs, () => ({
          ports: portScan.valuesOf(c, r.maxListed).map(PORT_OF_SERVICE_KEY),
          firstSeenSecs: portScan.oldestOf(c),
        }));
      }
      const addressScan = (s.addressScan ??= new AddressScanState());
      const targets = addressScan.observe(c, wm, r.addressScan.windowSecs, s.budget);
      if (isAddressScan(targets, r.addressScan)) {
        bump(s, c, 'ADDRESS_SCAN', targets, r.addressScan.score, r.addressScan.windowSecs, () => ({
          targets: addressScan.valuesOf(c, r.maxListed),
          firstSeenSecs: addressScan.oldestOf(c),
        }));
      }
    }
    const walk = s.walk.observe(c, wm, r.randomWalk, this.steps, s.budget);
    if (walk.isScanner && walk.isFailedFirstContact) {
      // Raised with the first contacts of the walk as its attempts; each later failed one adds one.
      const first = s.walk.firstContacts;
      bump(s, c, 'RANDOM_WALK_SCAN', first.count, r.randomWalk.score, r.randomWalk.windowSecs, () => ({ firstSeenSecs: first.sinceSecs }));
    }

    const guessing = r.passwordGuessing.ports.includes(c.port) ? (s.guessing ??= new GuessingState()) : s.guessing;
    const guess = guessing?.observe(c, wm, r.passwordGuessing, r.compromise, s.budget) ?? NO_GUESS;
    if (guess.kind === 'attempt' && isPasswordGuessing(guess.similar, r.passwordGuessing)) {
      if (guess.group.length > 0) guessing!.markGuessed(guess.service, guess.group);
      bump(s, c, 'PASSWORD_GUESSING', guess.similar, r.passwordGuessing.score, r.passwordGuessing.windowSecs, () => ({
        flowIds: guess.group.slice(0, r.maxListed).map((a) => a.flowId),
        firstSeenSecs: Math.min(...guess.group.map((a) => a.timeSecs)),
      }));
    } else if (guess.kind === 'departure') {
      bump(s, c, 'POSSIBLE_COMPROMISE', 1, r.compromise.score, r.passwordGuessing.windowSecs);
    }
    this.counters.entriesRefused += s.budget.refused - refusedBefore;
    return this.raised;
  }

  /**
   * A detector's threshold is reached: the open alert of that type takes the contact, or one is
   * raised, its evidence (computed only then) listed. A method, not a closure per contact.
   */
  private readonly bump = (s: SourceState, c: Contact, type: AlertType, attempts: number, score: number, windowSecs: number, evidence?: () => AlertEvidence): void => {
    const maxListed = this.rule.maxListed;
    const open = s.alerts?.get(type);
    if (open !== undefined) {
      if (!open.isDirty) this.dirty.push(open);
      addToAlert(open, c, maxListed);
      return;
    }
    const alert = raiseAlert(type, c, { attempts, score, windowSecs, maxListed }, evidence?.());
    this.dirty.push(alert);
    (s.alerts ??= new Map()).set(type, alert);
    if (this.raised === NONE_RAISED) this.raised = [];
    this.raised.push(alert);
  };

  hasOpenAlert(source: string): boolean {
    const s = this.sources.get(source);
    return s?.alerts !== undefined && s.alerts.size > 0;
  }

  /** The source's open alerts: its conversations are tagged with them. */
  activeAlerts(source: string): Iterable<Alert> {
    return this.sources.get(source)?.alerts?.values() ?? [];
  }

  /** Drops what the watermark has passed; closed alerts are then in `takeClosed`. */
  sweep(): void {
    while (!this.sweepSome(Number.POSITIVE_INFINITY));
  }

  /**
   * One slice of a sweep: at most `limit` sources, from where the last slice stopped; true when
   * the pass has reached every source it began with (the next call begins a new one). A task of
   * 100,000 sources takes tens of milliseconds to sweep whole, a stall every flow behind it
   * waits for: the bolt sweeps a slice per event-loop turn instead.
   */
  sweepSome(limit: number): boolean {
    if (this.sweeping === null) {
      // A live iterator: sources added or moved (by eviction) meanwhile may be seen twice, which
      // expiry does not mind; the pass ends after as many sources as there were when it began.
      this.sweeping = this.sources.entries();
      this.sweepLeft = this.sources.size;
    }
    const wm = this.clock.watermarkSecs;
    const r = this.rule;
    for (let n = 0; n < limit; n++) {
      const next = this.sweepLeft > 0 ? this.sweeping.next() : null;
      if (next === null || next.done === true) {
        this.sweeping = null;
        return true;
      }
      this.sweepLeft--;
      const [source, s] = next.value;
      s.portScan?.expire(wm, r.portScan.windowSecs, s.budget);
      s.addressScan?.expire(wm, r.addressScan.windowSecs, s.budget);
      s.walk.expire(wm, r.randomWalk, s.budget);
      s.guessing?.expire(wm, r.passwordGuessing, s.budget);
      for (const [type, alert] of s.alerts ?? []) {
        if (alert.lastSeenSecs < wm - alert.windowSecs) {
          s.alerts!.delete(type);
          this.closed.push(alert);
        }
      }
      if ((s.alerts?.size ?? 0) === 0 && isIdle(s.portScan) && isIdle(s.addressScan) && s.walk.isEmpty && isIdle(s.guessing)) {
        s.budget.release();
        this.sources.delete(source);
      }
    }
    return false;
  }

  /** Alerts closed (by sweep or eviction) since the last call. */
  takeClosed(): Alert[] {
    const out = this.closed;
    this.closed = [];
    return out;
  }

  /** Open alerts changed since the last call, marked clean, in the order they first changed. */
  takeDirty(): Alert[] {
    const out: Alert[] = [];
    for (const alert of this.dirty) {
      if (!alert.isDirty || this.sources.get(alert.source)?.alerts?.get(alert.type) !== alert) continue;
      alert.isDirty = false;
      out.push(alert);
    }
    this.dirty = [];
    return out;
  }

  private touch(source: string): SourceState {
    let s = this.sources.get(source);
    if (s !== undefined) {
      s.isReferenced = true;
      return s;
    }
    if (this.sources.size >= this.rule.maxSources) this.evictOldest();
    s = {
      budget: new EntryBudget(this.rule.maxEntriesPerSource, this.entries),
      portScan: undefined,
      addressScan: undefined,
      walk: new RandomWalkState(),
      guessing: undefined,
      alerts: undefined,
      isReferenced: true,
    };
    this.sources.set(source, s);
    return s;
  }

  /** Forgets the first source not seen since eviction last passed it; every marked source before it goes to the back, unmarked. */
  private evictOldest(): void {
    for (const [source, s] of this.sources) {
      this.sources.delete(source);
      if (s.isReferenced) {
        s.isReferenced = false;
        this.sources.set(source, s);
        continue;
      }
      for (const alert of s.alerts?.values() ?? []) this.closed.push(alert);
      s.budget.release();
      this.counters.sourcesEvicted++;
      return;
    }
  }
}
