import { performance } from 'node:perf_hooks';
import type { BasicBolt, BasicOutputCollector, Bolt, OutputCollector, Tuple } from '../contracts.js';
import { LatencyHistogram } from '../latency-histogram.js';
import type { TaskMetrics } from '../metrics-snapshot.js';
import { ackMember, anchorToMany, chainableTo, edgeHalf, failMember, parkMember, treesOf, type NewTrees, type TreeMember } from '../root-tracking.js';
import type { ComponentSpec, TaskSpec } from '../spec.js';
import { EmittingTask, type TaskHost } from './emitting-task.js';
import type { Route } from './routing.js';
import { sampleTicks, ticksToMs, TupleImpl } from './tuple-impl.js';

/** An error's message travels with the failure this far, at most. */
const MAX_ERROR_CHARS = 500;

function toAnchorList(anchors: Tuple | readonly Tuple[] | null | undefined): readonly TupleImpl[] | null {
  if (!anchors) return null;
  if (Array.isArray(anchors)) return anchors as readonly TupleImpl[];
  return [anchors as TupleImpl];
}

/** Filled by `anchorToMany` and `treesOf`, read at once (a task never emits inside its own emit's loop body). */
const scratchTrees: NewTrees = { root: 0, edgeHi: 0, edgeLo: 0, moreTrees: null };

/**
 * Self time. A chained bolt runs inside the emit of the bolt before it, so a run's duration holds
 * the runs it chained. A timed run therefore times every run nested in it, sampled or not, and
 * subtracts them: `timedDepth` counts the timed runs on this thread's stack (0 on the untimed
 * path, where a chained run costs one comparison), and `chainedMs` is the time the innermost timed
 * run has spent in nested runs so far. Each timed run saves the outer value, starts at 0, and on
 * return adds its whole duration to the outer one. Module state is per worker thread.
 */
let timedDepth = 0;
let chainedMs = 0;

/** Starts a timed run; returns the outer run's nested time, for `endTimed`. */
function beginTimed(): number {
  const outer = chainedMs;
  chainedMs = 0;
  timedDepth++;
  return outer;
}

/** Ends a timed run that took `totalMs` in all; returns the part of it spent in nested runs. */
function endTimed(outer: number, totalMs: number): number {
  timedDepth--;
  const nested = chainedMs;
  chainedMs = outer + totalMs;
  return nested;
}

export class BoltTask extends EmittingTask {
  readonly kind = 'bolt' as const;
  readonly batchMode: boolean;
  private readonly isBasic: boolean;
  private current: TupleImpl | null = null;
  /** `[current]`, kept rather than allocated per emit (a task never runs inside its own execute). */
  private readonly currentList: TupleImpl[] = [];
  /** The tuple object of the last chained input, free for the next one. */
  private spare: TupleImpl | null = null;
  private sampleCounter = 0;
  private readonly sampleEvery: number;
  private readonly executeLatency = new LatencyHistogram();
  private readonly processLatency = new LatencyHistogram();
  /** The sampled tuple whose run is under way, and when it started (process latency of an ack inside it). */
  private timedTuple: TupleImpl | null = null;
  private timedStart = 0;
  private readonly collector: OutputCollector;
  private readonly basicCollector: BasicOutputCollector;
  /** Dependencies the bolt reported lost and not yet restored: its breaker is open while any is. */
  private readonly lostDependencies = new Set<string>();

  constructor(host: TaskHost, comp: ComponentSpec, ts: TaskSpec, private readonly instance: Bolt | BasicBolt, routes: Map<number, Route[]>) {
    super(host, comp, ts, routes);
    this.isBasic = comp.ref.basic === true;
    this.batchMode = !this.isBasic && typeof (instance as Bolt).executeBatch === 'function';
    this.sampleEvery = host.spec.options.latencySampleEvery;
    this.collector = {
      emit: (values, anchors, stream) => {
        this.emit(values, toAnchorList(anchors), stream);
        this.host.scheduleTurn();
      },
      ack: (input) => {
        this.ack(input as TupleImpl);
        this.host.scheduleTurn();
      },
      fail: (input, err) => {
        if (err !== undefined) this.reportError(err, { sourceComponent: input.sourceComponent });
        this.fail(input as TupleImpl, err);
        this.host.scheduleTurn();
      },
      park: (input) => {
        if (this.host.acking) parkMember(input as TupleImpl, this.host);
      },
      dependencyLost: (dependency, err) => {
        const wasOpen = this.lostDependencies.size > 0;
        if (this.lostDependencies.has(dependency)) return;
        this.lostDependencies.add(dependency);
        if (!wasOpen) this.host.setBreaker(this.ts.taskId, this.comp.id, true, dependency, err);
      },
      dependencyRestored: (dependency) => {
        if (!this.lostDependencies.delete(dependency)) return;
        if (this.lostDependencies.size === 0) this.host.setBreaker(this.ts.taskId, this.comp.id, false, dependency);
      },
      reportError: (err) => this.reportError(err),
    };
    this.basicCollector = {
      emit: (values, stream) => this.emit(values, this.current ? this.currentList : null, stream),
      reportError: (err) => this.reportError(err),
    };
  }

  async prepare(): Promise<void> {
    if (this.isBasic) await (this.instance as BasicBolt).prepare?.(this.context);
    else await (this.instance as Bolt).prepare?.(this.context, this.collector);
  }

  /**
   * Runs an input inside the emit that produced it (operator chaining). A basic bolt is done with
   * its input when execute returns, so the task reuses one tuple object for its chained inputs.
   */
  runChained(values: readonly unknown[], sourceComponent: string, sourceTask: number, sourceStream: string, fields: readonly string[], root: number, moreTrees: number[] | null, anchors: readonly TreeMember[] | null): void {
    let t = this.spare;
    if (t !== null) {
      this.spare = null;
      t.reuse(values, sourceComponent, sourceTask, sourceStream, fields, root, moreTrees);
    } else {
      t = new TupleImpl(values, sourceComponent, sourceTask, sourceStream, this.ts.taskId, fields, root, 0, 0, moreTrees, false);
    }
    t.chainAnchors = anchors;
    this.runOne(t);
    if (t.done) {
      t.chainAnchors = null;
      this.spare = t;
    }
  }

  runOne(t: TupleImpl): void {
    this.counters.executed++;
    if (++this.sampleCounter >= this.sampleEvery) {
      this.sampleCounter = 0;
      this.runTimed(t, true);
    } else if (timedDepth > 0) {
      this.runTimed(t, false);
    } else {
      this.executeInput(t);
    }
  }

  /** Runs `t` timed: its self time is recorded when `sampled`, and its whole time is the outer run's nested time. */
  private runTimed(t: TupleImpl, sampled: boolean): void {
    const outer = beginTimed();
    const t0 = performance.now();
    if (sampled) {
      t.sampledAt = sampleTicks();
      this.timedTuple = t;
      this.timedStart = t0;
    }
    this.executeInput(t); // catches what the component throws
    const total = performance.now() - t0;
    const nested = endTimed(outer, total);
    if (!sampled) return;
    this.timedTuple = null;
    this.executeLatency.observe((total - nested) / 1000);
    // Acked later (outside this run): its process latency starts after the nested runs, in effect.
    if (!t.done) t.sampledAt = (t.sampledAt + Math.round(nested * 100)) | 0 || 1;
  }

  private executeInput(t: TupleImpl): void {
    if (this.isBasic) {
      this.current = t;
      this.currentList[0] = t;
      try {
        (this.instance as BasicBolt).execute(t, this.basicCollector);
        this.ack(t);
      } catch (err) {
        this.reportError(err, { sourceComponent: t.sourceComponent, stream: t.sourceStream });
        this.fail(t, err);
      } finally {
        this.current = null;
      }
    } else {
      try {
        (this.instance as Bolt).execute!(t);
      } catch (err) {
        this.reportError(err, { sourceComponent: t.sourceComponent, stream: t.sourceStream });
        this.fail(t, err);
      }
    }
  }

  /** A batch is one execute, always timed; its self time counts as `batch.length` tuples of its mean. */
  runBatch(batch: TupleImpl[]): void {
    const n = batch.length;
    this.counters.executed += n;
    let at = 0;
    for (let i = 0; i < n; i++) {
      if (++this.sampleCounter < this.sampleEvery) continue;
      this.sampleCounter = 0;
      if (at === 0) at = sampleTicks();
      batch[i]!.sampledAt = at;
    }
    const outer = beginTimed();
    const t0 = performance.now();
    try {
      (this.instance as Bolt).executeBatch!(batch);
    } catch (err) {
      this.reportError(err, { batch: n });
      for (const t of batch) this.fail(t, err);
    }
    const total = performance.now() - t0;
    const nested = endTimed(outer, total);
    if (n === 0) return;
    this.executeLatency.observe((total - nested) / 1000 / n, n);
    if (at === 0 || nested === 0) return;
    const shift = Math.round(nested * 100);
    for (let i = 0; i < n; i++) {
      const t = batch[i]!;
      if (t.sampledAt !== 0 && !t.done) t.sampledAt = (t.sampledAt + shift) | 0 || 1;
    }
  }

  inputEnd(): void {
    try {
      if (this.isBasic) (this.instance as BasicBolt).onInputEnd?.(this.basicCollector);
      else (this.instance as Bolt).onInputEnd?.();
    } catch (err) {
      this.reportError(err, { during: 'onInputEnd' });
    }
  }

  async cleanup(): Promise<void> {
    try {
      await this.instance.cleanup?.();
    } catch (err) {
      this.reportError(err, { during: 'cleanup' });
    }
  }

  private emit(values: unknown[], anchors: readonly TupleImpl[] | null, stream: string | undefined): void {
    const code = this.streamCode(stream);
    const routes = this.lastRoutes;
    this.counters.emitted++;
    const tracked = this.host.acking && anchors !== null && anchors.length > 0;
    // The common case, one anchor in one tree, allocates nothing beyond the tuple itself.
    const single = tracked && anchors.length === 1 && anchors[0]!.moreTrees === null ? anchors[0]! : null;
    // Operator chaining: an emit to a local basic bolt runs it right here, as a child of the anchors.
    let chainRoot = -1;
    let chainTrees: number[] | null = null;
    for (let r = 0; r < routes.length; r++) {
      const route = routes[r]!;
      const targets = route.fixed ?? route.grouping.choose(values);
      for (let i = 0; i < targets.length; i++) {
        if (route.chainable && chainableTo(tracked ? anchors : null)) {
          if (!tracked) chainRoot = 0;
          else if (chainRoot === -1) {
            if (anchors.length === 1) {
              // One anchor: the chained tuple belongs to its trees (its tree list is only read).
              chainRoot = anchors[0]!.root;
              chainTrees = anchors[0]!.moreTrees;
            } else {
              treesOf(anchors, scratchTrees);
              chainRoot = scratchTrees.root;
              chainTrees = scratchTrees.moreTrees;
            }
          }
          if (this.host.runChained(targets[i]!, code, this.ts.taskId, values, chainRoot, chainTrees, chainRoot !== 0 ? anchors : null)) {
            this.counters.transferred++;
            continue;
          }
        }
        if (!tracked || (single !== null && single.root === 0)) {
          this.host.deliver(targets[i]!, code, this.ts.taskId, values, 0, 0, 0, null);
        } else if (single !== null) {
          const hi = edgeHalf();
          const lo = edgeHalf();
          single.childXorHi = single.childXorHi ^ hi;
          single.childXorLo = single.childXorLo ^ lo;
          this.host.deliver(targets[i]!, code, this.ts.taskId, values, single.root, hi, lo, null);
        } else {
          anchorToMany(anchors!, scratchTrees);
          this.host.deliver(targets[i]!, code, this.ts.taskId, values, scratchTrees.root, scratchTrees.edgeHi, scratchTrees.edgeLo, scratchTrees.moreTrees);
        }
        this.counters.transferred++;
      }
    }
  }

  private ack(t: TupleImpl): void {
    if (t.done) return;
    t.done = true;
    this.counters.acked++;
    if (t.sampledAt !== 0) {
      // Inside its own timed run, the nested runs so far are known exactly: they are left out.
      const ms = t === this.timedTuple ? performance.now() - this.timedStart - chainedMs : ticksToMs(t.sampledAt, sampleTicks());
      this.processLatency.observe(ms / 1000);
    }
    if (this.host.acking) ackMember(t, this.host);
  }

  private fail(t: TupleImpl, err?: unknown): void {
    if (t.done) return;
    t.done = true;
    this.counters.failed++;
    if (!this.host.acking) return;
    const error = err === undefined ? '' : (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS);
    failMember(t, this.host, this.ts.taskId, error);
  }

  metrics(): TaskMetrics {
    // Read first: a reading or gauge that throws is counted in this report's errors.
    const readings = this.readingsField();
    return {
      task: this.ts.taskId,
      component: this.comp.id,
      kind: 'bolt',
      counters: { ...this.counters },
      execute: this.executeLatency.snapshot(),
      process: this.processLatency.snapshot(),
      complete: null,
      pending: 0,
      parked: 0,
      breakerOpen: this.lostDependencies.size > 0,
      custom: { ...this.custom },
      customHistograms: this.customHistogramSnapshots(),
      ...readings,
    };
  }
}
