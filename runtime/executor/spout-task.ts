import { performance } from 'node:perf_hooks';
import type { Spout, SpoutOutputCollector } from '../contracts.js';
import { DEFAULT_STREAM } from '../contracts.js';
import { LatencyHistogram } from '../latency-histogram.js';
import type { TaskMetrics } from '../metrics-snapshot.js';
import { ABSENT, ControlOp, edgeHalf, RootWindow, type Clock } from '../root-tracking.js';
import type { ComponentSpec, TaskSpec } from '../spec.js';
import { ROOT_ID_LIMIT } from '../spec.js';
import { EmittingTask, type TaskHost } from './emitting-task.js';
import type { SpoutStatus } from './messages.js';
import type { Route } from './routing.js';
import { TupleImpl } from './tuple-impl.js';

const NO_VALUES: readonly unknown[] = [];
const NO_FIELDS: readonly string[] = [];
const engineClock: Clock = { nowMs: () => performance.now() };

export class SpoutTask extends EmittingTask {
  readonly kind = 'spout' as const;
  private readonly roots: RootWindow;
  /** [op, root]* pairs; `controlLength` counts them (the array is refilled, never shrunk). */
  private readonly control: number[] = [];
  private controlLength = 0;
  private readonly immediateAcks: unknown[] = [];
  private readonly collector: SpoutOutputCollector;
  private readonly maxPending: number;
  /** Roots completed by their acker (a tree that completes inside its emit is not timed). */
  private readonly completeLatency = new LatencyHistogram();
  private exhausted = false;
  private emits = 0;
  /**
   * The root's stand-in during one emit: what chained children owe is folded into it, then into
   * the root's init (reused: the chain has finished when emit returns).
   */
  private readonly rootStandIn: TupleImpl;
  private readonly rootStandInList: readonly TupleImpl[];
  /** Coarse clock for start times: read once per nextTuple batch, not per tuple. */
  private nowMs = performance.now();

  constructor(host: TaskHost, comp: ComponentSpec, ts: TaskSpec, private readonly instance: Spout, routes: Map<number, Route[]>, clock: Clock = engineClock) {
    super(host, comp, ts, routes);
    this.maxPending = comp.maxSpoutPending ?? 0;
    const spoutIds = host.spec.spoutTaskIds;
    const forget = (root: number) => host.control(ControlOp.Forget, host.ackerFor(root), root, 0, 0, 0);
    this.roots = new RootWindow(clock, host.timeoutMs, forget, spoutIds.indexOf(ts.taskId), spoutIds.length, ROOT_ID_LIMIT);
    this.rootStandIn = new TupleImpl(NO_VALUES, comp.id, ts.taskId, DEFAULT_STREAM, ts.taskId, NO_FIELDS, 0, 0, 0, null, false);
    this.rootStandInList = [this.rootStandIn];
    this.collector = {
      emit: (values, msgId, stream) => {
        this.emit(values, msgId, stream);
        this.host.scheduleTurn();
      },
      signalExhausted: () => {
        this.exhausted = true;
      },
      wake: () => this.host.wakeSpouts(),
      reportError: (err) => this.reportError(err),
    };
  }

  async open(): Promise<void> {
    await this.instance.open?.(this.context, this.collector);
  }
  activate(): void {
    this.guard(() => this.instance.activate?.(), 'activate');
  }
  deactivate(): void {
    this.guard(() => this.instance.deactivate?.(), 'deactivate');
  }
  async close(): Promise<void> {
    try {
      await this.instance.close?.();
    } catch (err) {
      this.reportError(err, { during: 'close' });
    }
  }

  /** The spout's ack, per completed root: no closure on this path. */
  private ackSpout(msgId: unknown): void {
    if (this.instance.ack === undefined) return;
    try {
      this.instance.ack(msgId);
    } catch (err) {
      this.reportError(err, { during: 'ack' });
    }
  }

  private guard(fn: () => void, during: string): void {
    try {
      fn();
    } catch (err) {
      this.reportError(err, { during });
    }
  }

  /** Calls nextTuple up to `budget` times while under maxSpoutPending and downstream has room. */
  run(budget: number, canRun: () => boolean): 'emitted' | 'idle' | 'full' {
    let emitted = false;
    this.nowMs = performance.now();
    for (let i = 0; i < budget; i++) {
      if (this.maxPending > 0 && this.roots.inFlight >= this.maxPending) return emitted ? 'emitted' : 'full';
      if (!canRun()) return emitted ? 'emitted' : 'full';
      const before = this.emits;
      try {
        this.instance.nextTuple();
      } catch (err) {
        this.reportError(err, { during: 'nextTuple' });
      }
      this.flushImmediateAcks();
      if (this.emits === before) return emitted ? 'emitted' : 'idle';
      emitted = true;
    }
    return 'emitted';
  }

  private emit(values: unknown[], msgId: unknown, stream: string | undefined): void {
    const code = this.streamCode(stream);
    const routes = this.lastRoutes;
    this.emits++;
    this.counters.emitted++;
    const tracked = msgId !== undefined && this.host.acking;
    let root = 0;
    let initXorHi = 0;
    let initXorLo = 0;
    // The root is opened in the window only if its tree outlives this emit (below): a tree that
    // completes inside it (every child chained, nothing left) never touches the window.
    if (tracked) root = this.roots.nextRoot();
    let copies = 0;
    let standIn: TupleImpl | null = null;
    for (let r = 0; r < routes.length; r++) {
      const route = routes[r]!;
      const targets = route.fixed ?? route.grouping.choose(values);
      for (let i = 0; i < targets.length; i++) {
        if (route.chainable) {
          if (tracked && standIn === null) {
            standIn = this.rootStandIn;
            standIn.reuse(NO_VALUES, this.comp.id, this.ts.taskId, stream ?? DEFAULT_STREAM, NO_FIELDS, root, null);
          }
          if (this.host.runChained(targets[i]!, code, this.ts.taskId, values, root, null, standIn !== null ? this.rootStandInList : null)) {
            this.counters.transferred++;
            continue;
          }
        }
        let hi = 0;
        let lo = 0;
        if (tracked) {
          hi = edgeHalf();
          lo = edgeHalf();
          initXorHi = initXorHi ^ hi;
          initXorLo = initXorLo ^ lo;
        }
        this.host.deliver(targets[i]!, code, this.ts.taskId, values, root, hi, lo, null);
        this.counters.transferred++;
        copies++;
      }
    }
    if (tracked) {
      if (standIn !== null) {
        initXorHi = initXorHi ^ standIn.childXorHi;
        initXorLo = initXorLo ^ standIn.childXorLo;
        // A chained bolt failed the tree: its acker reports the failure (applied on the spout's
        // next drain, which finds the root open); no init follows it.
        if (standIn.chainFailed) {
          this.roots.open(root, msgId, this.nowMs);
          return;
        }
      }
      if (copies === 0 && initXorHi === 0 && initXorLo === 0) {
        // Nothing left to wait for (every child ran chained and emitted nothing further).
        this.immediateAcks.push(msgId);
      } else {
        // Control ops of this root that chained bolts sent (park) are applied on the next drain, after this.
        this.roots.open(root, msgId, this.nowMs);
        this.host.control(ControlOp.Init, this.host.ackerFor(root), root, initXorHi, initXorLo, this.ts.taskId);
      }
    } else if (msgId !== undefined) {
      // No ackers: a spout tuple is acked as soon as it is emitted, as in Storm.
      this.immediateAcks.push(msgId);
    }
  }

  private flushImmediateAcks(): void {
    while (this.immediateAcks.length > 0) {
      const msgId = this.immediateAcks.shift();
      this.counters.acked++;
      this.ackSpout(msgId);
    }
  }

  /** Acker verdicts and park/unpark arrive here; they are applied on the spout's own turn. */
  controlOp(op: ControlOp, root: number): void {
    this.control[this.controlLength++] = op;
    this.control[this.controlLength++] = root;
  }

  drainControl(): boolean {
    this.flushImmediateAcks();
    if (this.controlLength === 0) return false;
    const now = performance.now();
    // A spout's ack or fail may lead to more control ops (a replay); they wait for the next drain.
    const n = this.controlLength;
    for (let i = 0; i < n; i += 2) {
      const op = this.control[i] as ControlOp;
      const root = this.control[i + 1]!;
      if (op === ControlOp.Park) {
        this.roots.park(root);
      } else if (op === ControlOp.Unpark) {
        this.roots.unpark(root);
      } else {
        const msgId = op === ControlOp.Complete ? this.roots.complete(root) : this.roots.fail(root);
        // The note goes with the verdict, even one that comes too late (the root timed out already).
        const cause = op === ControlOp.Failed ? this.host.takeFailureNote(root) : undefined;
        if (msgId === ABSENT) continue; // already timed out and failed
        if (op === ControlOp.Complete) {
          this.counters.acked++;
          this.completeLatency.observe(this.roots.elapsedMs(this.roots.settledSinceMs, now) / 1000);
          this.ackSpout(msgId);
        } else {
          this.counters.failed++;
          this.guard(() => this.instance.fail?.(msgId, 'error', cause), 'fail');
        }
      }
    }
    // Ops that arrived during the callbacks move to the front.
    for (let i = n; i < this.controlLength; i++) this.control[i - n] = this.control[i]!;
    this.controlLength -= n;
    return true;
  }

  /** While a dependency is down (a breaker open), no root's deadline runs. */
  freezeDeadlines(frozen: boolean): void {
    if (frozen) this.roots.freeze();
    else this.roots.thaw();
  }

  /** Fails the PENDING roots past their deadline; true when any did. */
  expire(): boolean {
    const expired = this.roots.expire();
    for (const p of expired) {
      this.counters.timedOut++;
      this.counters.failed++;
      this.guard(() => this.instance.fail?.(p.msgId, 'timeout'), 'fail');
    }
    return expired.length > 0;
  }

  status(): SpoutStatus {
    return { task: this.ts.taskId, component: this.comp.id, exhausted: this.exhausted, inFlight: this.roots.inFlight, parked: this.roots.parkedCount };
  }

  metrics(): TaskMetrics {
    // Read first: a reading or gauge that throws is counted in this report's errors.
    const readings = this.readingsField();
    return {
      task: this.ts.taskId,
      component: this.comp.id,
      kind: 'spout',
      counters: { ...this.counters },
      execute: null,
      process: null,
      complete: this.completeLatency.snapshot(),
      pending: this.roots.inFlight,
      parked: this.roots.parkedCount,
      breakerOpen: false,
      custom: { ...this.custom },
      customHistograms: this.customHistogramSnapshots(),
      ...readings,
    };
  }
}
