import { performance } from 'node:perf_hooks';
import type {
  BasicBolt,
  BasicOutputCollector,
  Bolt,
  Logger,
  OutputCollector,
  Spout,
  SpoutOutputCollector,
  TopologyContext,
  Tuple,
} from '../contracts.js';
import { DEFAULT_STREAM } from '../contracts.js';
import type { AckLedger } from '../ack-ledger.js';
import { ComponentError, describeError } from '../errors.js';
import { newCounters, type TaskMetrics } from '../metrics-snapshot.js';
import { ABSENT, PendingWindow } from '../pending-window.js';
import type { ComponentSpec, TaskSpec, TopologySpec } from '../spec.js';
import { ROOT_ID_LIMIT } from '../spec.js';
import type { Route, StreamTable } from './routing.js';
import { SysOp } from './messages.js';
import { sampleTicks, ticksToMs, TupleImpl } from './tuple-impl.js';

const NO_VALUES: readonly unknown[] = [];
const NO_FIELDS: readonly string[] = [];

/** What a task needs from the worker thread that hosts it. */
export interface TaskHost {
  readonly spec: TopologySpec;
  readonly me: number;
  readonly streams: StreamTable;
  readonly acking: boolean;
  readonly timeoutMs: number;
  deliver(destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, eHi: number, eLo: number, more: number[] | null): void;
  sys(op: SysOp, destTask: number, root: number, a: number, b: number, c: number): void;
  ackerFor(root: number): number;
  spoutTaskOf(root: number): number;
  /**
   * Runs a tuple at once in a basic bolt task on this thread, inside the caller's emit, as a child
   * of `anchors` in the trees `root` and `more` (flat [root, 0, 0]*); false if the task is elsewhere.
   */
  runChained(destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, more: number[] | null, anchors: readonly TupleImpl[] | null): boolean;
  scheduleTurn(): void;
}

/** Structured JSON logs on stderr; errors are rate-limited per logger so bad input cannot flood them. */
export function makeLogger(base: Record<string, unknown>): Logger {
  let errors = 0;
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields })}\n`);
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => {
      errors++;
      if (errors <= 20 || errors % 10_000 === 0) write('error', msg, errors > 20 ? { ...fields, errorsSoFar: errors } : fields);
    },
  };
}

// Edge ids: xorshift128 (Marsaglia), seeded per thread from the system's randomness. Only
// uniqueness matters (an accidental XOR of zero is 2^-64 per tree), and this allocates nothing.
// Edge halves and their XORs are kept as signed 32-bit integers (`^` gives one): V8 holds those
// as small integers, where an unsigned half above 2^31 would be a heap number in every tuple field
// and array slot it is stored in.
const rngState = new Int32Array(4);
crypto.getRandomValues(rngState);
if ((rngState[0]! | rngState[1]! | rngState[2]! | rngState[3]!) === 0) rngState[0] = 1;

function rand32(): number {
  const s = rngState;
  let t = s[3]!;
  const x = s[0]!;
  s[3] = s[2]!;
  s[2] = s[1]!;
  s[1] = x;
  t ^= t << 11;
  t ^= t >>> 8;
  s[0] = t ^ x ^ (x >>> 19);
  return s[0]!;
}

function forEachRoot(t: TupleImpl, fn: (root: number) => void): void {
  if (t.root !== 0) fn(t.root);
  if (t.more) for (let k = 0; k < t.more.length; k += 3) fn(t.more[k]!);
}

function toAnchorList(anchors: Tuple | readonly Tuple[] | null | undefined): readonly TupleImpl[] | null {
  if (!anchors) return null;
  if (Array.isArray(anchors)) return anchors as readonly TupleImpl[];
  return [anchors as TupleImpl];
}

abstract class EmittingTask {
  readonly counters = newCounters();
  readonly log: Logger;
  protected readonly context: TopologyContext;
  private readonly codes = new Map<string, number>();
  protected readonly custom: Record<string, number> = {};

  constructor(
    protected readonly host: TaskHost,
    protected readonly comp: ComponentSpec,
    protected readonly ts: TaskSpec,
    protected readonly routes: Map<number, Route[]>,
  ) {
    this.log = makeLogger({ component: comp.id, task: ts.taskId });
    this.context = {
      topologyName: host.spec.options.name,
      componentId: comp.id,
      taskId: ts.taskId,
      taskIndex: ts.taskIndex,
      componentTasks: comp.tasks,
      workerIndex: host.me,
      log: this.log,
      counter: (name) => {
        if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`metric name "${name}" must be snake_case`);
        this.custom[name] ??= 0;
        return { inc: (by = 1) => void (this.custom[name] = (this.custom[name] ?? 0) + by) };
      },
    };
    for (const stream of Object.keys(comp.outputs)) this.codes.set(stream, host.streams.code(comp.id, stream)!);
  }

  get taskId(): number {
    return this.ts.taskId;
  }
  get component(): string {
    return this.comp.id;
  }

  // The stream of the last emit, its code and routes: most tasks emit on one stream.
  private lastStream: string | undefined | null = null;
  private lastCode = -1;
  protected lastRoutes: Route[] = [];

  /** The code of an emit's stream; its routes are then in `lastRoutes`. */
  protected streamCode(stream: string | undefined): number {
    if (stream === this.lastStream) return this.lastCode;
    const code = this.codeOf(stream);
    this.lastStream = stream;
    this.lastCode = code;
    this.lastRoutes = this.routes.get(code)!;
    return code;
  }

  private codeOf(stream: string | undefined): number {
    const code = this.codes.get(stream ?? DEFAULT_STREAM);
    if (code === undefined) {
      throw new ComponentError(`"${this.comp.id}" emitted on undeclared stream "${stream ?? DEFAULT_STREAM}" (declared: ${[...this.codes.keys()].join(', ')})`, {
        component: this.comp.id,
        task: this.ts.taskId,
        stream: stream ?? DEFAULT_STREAM,
      });
    }
    return code;
  }

  protected reportError(err: unknown, fields?: Record<string, unknown>): void {
    this.counters.errors++;
    this.log.error('component error', { error: describeError(err), ...fields });
  }
}

/** Folds edge (h, l) of tree `root` into a flat [root, hi, lo]* list; returns the list. */
function addEdge(more: number[] | null, root: number, h: number, l: number): number[] {
  // Most tuples of several trees belong to two: the first extra tree gets an array of its size.
  if (more === null) return [root, h, l];
  const list = more;
  for (let k = 0; k < list.length; k += 3) {
    if (list[k] === root) {
      list[k + 1] = list[k + 1]! ^ h;
      list[k + 2] = list[k + 2]! ^ l;
      return list;
    }
  }
  list.push(root, h, l);
  return list;
}

/**
 * The trees of several anchors, for a tuple chained to them: the first root is returned, the
 * others as a flat [root, 0, 0]* list in `scratchRoots.more`.
 */
const scratchRoots: { more: number[] | null } = { more: null };
function rootsOf(anchors: readonly TupleImpl[]): number {
  // Plain loops, no callback: this runs for every chained emit with several anchors (the join's).
  let root = 0;
  let more: number[] | null = null;
  for (let a = 0; a < anchors.length; a++) {
    const anchor = anchors[a]!;
    const am = anchor.more;
    const n = am === null ? 0 : am.length / 3;
    for (let k = -1; k < n; k++) {
      const r = k === -1 ? anchor.root : am![k * 3]!;
      if (r === 0) continue;
      if (root === 0) root = r;
      else if (r !== root) more = addEdge(more, r, 0, 0);
    }
  }
  scratchRoots.more = more;
  return root;
}

/** Folds a chained tuple's pending XOR for tree `root` into the anchor that carries that tree. */
function foldInto(anchors: readonly TupleImpl[], root: number, h: number, l: number): void {
  if (h === 0 && l === 0) return;
  for (let a = 0; a < anchors.length; a++) {
    const anchor = anchors[a]!;
    if (anchor.root === root) {
      anchor.xHi = anchor.xHi ^ h;
      anchor.xLo = anchor.xLo ^ l;
      return;
    }
    const am = anchor.more;
    if (!am) continue;
    for (let k = 0, j = 0; k < am.length; k += 3, j += 2) {
      if (am[k] !== root) continue;
      anchor.moreXor ??= new Array<number>((am.length / 3) * 2).fill(0);
      anchor.moreXor[j] = anchor.moreXor[j]! ^ h;
      anchor.moreXor[j + 1] = anchor.moreXor[j + 1]! ^ l;
      return;
    }
  }
}

/** Whether a tuple may be run chained to these anchors: untracked, or every anchor still open. */
function chainableTo(anchors: readonly TupleImpl[] | null): boolean {
  if (anchors === null) return true;
  for (let a = 0; a < anchors.length; a++) if (anchors[a]!.done) return false;
  return true;
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
  private readonly collector: OutputCollector;
  private readonly basicCollector: BasicOutputCollector;

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
        this.fail(input as TupleImpl);
        this.host.scheduleTurn();
      },
      park: (input) => this.park(input as TupleImpl),
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
  runChained(values: readonly unknown[], sourceComponent: string, sourceTask: number, sourceStream: string, fields: readonly string[], root: number, more: number[] | null, anchors: readonly TupleImpl[] | null): void {
    let t = this.spare;
    if (t !== null) {
      this.spare = null;
      t.reuse(values, sourceComponent, sourceTask, sourceStream, fields, root, more);
    } else {
      t = new TupleImpl(values, sourceComponent, sourceTask, sourceStream, this.ts.taskId, fields, root, 0, 0, more, false);
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
    const sampled = ++this.sampleCounter >= this.sampleEvery;
    let t0 = 0;
    if (sampled) {
      this.sampleCounter = 0;
      t0 = performance.now();
      t.sampledAt = sampleTicks();
    }
    if (this.isBasic) {
      this.current = t;
      this.currentList[0] = t;
      try {
        (this.instance as BasicBolt).execute(t, this.basicCollector);
        this.ack(t);
      } catch (err) {
        this.reportError(err, { sourceComponent: t.sourceComponent, stream: t.sourceStream });
        this.fail(t);
      } finally {
        this.current = null;
      }
    } else {
      try {
        (this.instance as Bolt).execute!(t);
      } catch (err) {
        this.reportError(err, { sourceComponent: t.sourceComponent, stream: t.sourceStream });
        this.fail(t);
      }
    }
    if (sampled) {
      this.counters.executeMsSum += performance.now() - t0;
      this.counters.executeCount++;
    }
  }

  runBatch(batch: TupleImpl[]): void {
    this.counters.executed += batch.length;
    const t0 = performance.now();
    try {
      (this.instance as Bolt).executeBatch!(batch);
    } catch (err) {
      this.reportError(err, { batch: batch.length });
      for (const t of batch) this.fail(t);
    }
    this.counters.executeMsSum += (performance.now() - t0) / Math.max(1, batch.length);
    this.counters.executeCount++;
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
    const single = tracked && anchors.length === 1 && anchors[0]!.more === null ? anchors[0]! : null;
    // Operator chaining: an emit to a local basic bolt runs it right here, as a child of the anchors.
    let chainRoot = -1;
    let chainMore: number[] | null = null;
    for (let r = 0; r < routes.length; r++) {
      const route = routes[r]!;
      const targets = route.fixed ?? route.grouping.choose(values);
      for (let i = 0; i < targets.length; i++) {
        if (route.chainable && chainableTo(tracked ? anchors : null)) {
          if (!tracked) chainRoot = 0;
          else if (chainRoot === -1) {
            if (anchors.length === 1) {
              // One anchor: the chained tuple belongs to its trees (its root list is only read).
              chainRoot = anchors[0]!.root;
              chainMore = anchors[0]!.more;
            } else {
              chainRoot = rootsOf(anchors);
              chainMore = scratchRoots.more;
            }
          }
          if (this.host.runChained(targets[i]!, code, this.ts.taskId, values, chainRoot, chainMore, chainRoot !== 0 ? anchors : null)) {
            this.counters.transferred++;
            continue;
          }
        }
        if (!tracked || (single !== null && single.root === 0)) {
          this.host.deliver(targets[i]!, code, this.ts.taskId, values, 0, 0, 0, null);
        } else if (single !== null) {
          const hi = rand32();
          const lo = rand32();
          single.xHi = single.xHi ^ hi;
          single.xLo = single.xLo ^ lo;
          this.host.deliver(targets[i]!, code, this.ts.taskId, values, single.root, hi, lo, null);
        } else {
          this.deliverMultiAnchored(targets[i]!, code, values, anchors!);
        }
        this.counters.transferred++;
      }
    }
  }

  /**
   * One copy anchored to several tuples: a new edge id per (anchor, tree), folded into each
   * anchor's pending XOR. Edges of the same tree are XORed into one entry, as Storm does: a join
   * of copies of one flow then carries a single root and allocates no extra array.
   */
  private deliverMultiAnchored(dest: number, code: number, values: unknown[], anchors: readonly TupleImpl[]): void {
    let root = 0;
    let hi = 0;
    let lo = 0;
    let more: number[] | null = null;
    for (let a = 0; a < anchors.length; a++) {
      const anchor = anchors[a]!;
      if (anchor.root !== 0) {
        const h = rand32();
        const l = rand32();
        anchor.xHi = anchor.xHi ^ h;
        anchor.xLo = anchor.xLo ^ l;
        // The common case (copies of one flow, all of one tree) stays in these locals.
        if (root === 0 || root === anchor.root) {
          root = anchor.root;
          hi = hi ^ h;
          lo = lo ^ l;
        } else more = addEdge(more, anchor.root, h, l);
      }
      const am = anchor.more;
      if (!am) continue;
      anchor.moreXor ??= new Array<number>((am.length / 3) * 2).fill(0);
      for (let k = 0, j = 0; k < am.length; k += 3, j += 2) {
        const h = rand32();
        const l = rand32();
        anchor.moreXor[j] = anchor.moreXor[j]! ^ h;
        anchor.moreXor[j + 1] = anchor.moreXor[j + 1]! ^ l;
        if (root === 0 || root === am[k]!) {
          root = am[k]!;
          hi = hi ^ h;
          lo = lo ^ l;
        } else more = addEdge(more, am[k]!, h, l);
      }
    }
    this.host.deliver(dest, code, this.ts.taskId, values, root, hi, lo, more);
  }

  private ack(t: TupleImpl): void {
    if (t.done) return;
    t.done = true;
    this.counters.acked++;
    if (t.sampledAt !== 0) {
      this.counters.processMsSum += ticksToMs(t.sampledAt, sampleTicks());
      this.counters.processCount++;
    }
    if (!this.host.acking) return;
    const parents = t.chainAnchors;
    if (parents !== null) {
      // A chained tuple had no edge: what its children still owe is owed by its anchors, and a
      // failure further down the chain is theirs to know of.
      if (t.chainFailed) for (let a = 0; a < parents.length; a++) parents[a]!.chainFailed = true;
      foldInto(parents, t.root, t.xHi, t.xLo);
      const more = t.more;
      if (more) for (let k = 0, j = 0; k < more.length; k += 3, j += 2) foldInto(parents, more[k]!, t.moreXor ? t.moreXor[j]! : 0, t.moreXor ? t.moreXor[j + 1]! : 0);
      return;
    }
    if (t.root !== 0) this.ackRoot(t.root, t.eHi ^ t.xHi, t.eLo ^ t.xLo, t.parked);
    const more = t.more;
    if (!more) return;
    for (let k = 0, j = 0; k < more.length; k += 3, j += 2) {
      const xHi = t.moreXor ? t.moreXor[j]! : 0;
      const xLo = t.moreXor ? t.moreXor[j + 1]! : 0;
      this.ackRoot(more[k]!, more[k + 1]! ^ xHi, more[k + 2]! ^ xLo, t.parked);
    }
  }

  private ackRoot(root: number, hi: number, lo: number, parked: boolean): void {
    if (parked) this.host.sys(SysOp.Unpark, this.host.spoutTaskOf(root), root, 0, 0, 0);
    this.host.sys(SysOp.Ack, this.host.ackerFor(root), root, hi, lo, 0);
  }

  private fail(t: TupleImpl): void {
    if (t.done) return;
    t.done = true;
    this.counters.failed++;
    if (!this.host.acking) return;
    if (t.chainAnchors !== null) for (const a of t.chainAnchors) a.chainFailed = true;
    forEachRoot(t, (root) => this.host.sys(SysOp.Fail, this.host.ackerFor(root), root, 0, 0, 0));
  }

  private park(t: TupleImpl): void {
    if (!this.host.acking || t.parked || t.done || (t.root === 0 && !t.more)) return;
    t.parked = true;
    forEachRoot(t, (root) => this.host.sys(SysOp.Park, this.host.spoutTaskOf(root), root, 0, 0, 0));
  }

  metrics(): TaskMetrics {
    return { task: this.ts.taskId, component: this.comp.id, kind: 'bolt', counters: { ...this.counters }, pending: 0, parked: 0, custom: { ...this.custom } };
  }
}

export class SpoutTask extends EmittingTask {
  readonly kind = 'spout' as const;
  private readonly pending = new PendingWindow();
  /** [op, root]* pairs; `controlLength` counts them (the array is refilled, never shrunk). */
  private readonly control: number[] = [];
  private controlLength = 0;
  private readonly immediateAcks: unknown[] = [];
  private readonly collector: SpoutOutputCollector;
  private readonly maxPending: number;
  private exhausted = false;
  private seq = 0;
  private emits = 0;
  private readonly spoutIndex: number;
  private readonly spoutCount: number;
  private readonly seqLimit: number;
  /**
   * What chained children owe is folded into this stand-in for the root during one emit (reused:
   * the chain has finished when emit returns), then into the root's init.
   */
  private readonly holder: TupleImpl;
  private readonly holderList: readonly TupleImpl[];
  /** Coarse clock for start times: read once per nextTuple batch, not per tuple. */
  private nowMs = performance.now();

  constructor(host: TaskHost, comp: ComponentSpec, ts: TaskSpec, private readonly instance: Spout, routes: Map<number, Route[]>) {
    super(host, comp, ts, routes);
    this.maxPending = comp.maxSpoutPending ?? 0;
    this.spoutIndex = host.spec.spoutTaskIds.indexOf(ts.taskId);
    this.spoutCount = host.spec.spoutTaskIds.length;
    this.seqLimit = Math.floor((ROOT_ID_LIMIT - 1) / this.spoutCount);
    this.holder = new TupleImpl(NO_VALUES, comp.id, ts.taskId, DEFAULT_STREAM, ts.taskId, NO_FIELDS, 0, 0, 0, null, false);
    this.holderList = [this.holder];
    this.collector = {
      emit: (values, msgId, stream) => {
        this.emit(values, msgId, stream);
        this.host.scheduleTurn();
      },
      signalExhausted: () => {
        this.exhausted = true;
      },
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
      if (this.maxPending > 0 && this.pending.inFlight >= this.maxPending) return emitted ? 'emitted' : 'full';
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
    let xhi = 0;
    let xlo = 0;
    // The root enters the pending window only if its tree outlives this emit (below): a tree that
    // completes inside it (every child chained, nothing left) never touches the window.
    if (tracked) root = this.nextRoot();
    let copies = 0;
    // A chained basic bolt runs inside this emit; what its children owe is folded into `holder`.
    let holder: TupleImpl | null = null;
    for (let r = 0; r < routes.length; r++) {
      const route = routes[r]!;
      const targets = route.fixed ?? route.grouping.choose(values);
      for (let i = 0; i < targets.length; i++) {
        if (route.chainable) {
          if (tracked && holder === null) {
            holder = this.holder;
            holder.reuse(NO_VALUES, this.comp.id, this.ts.taskId, stream ?? DEFAULT_STREAM, NO_FIELDS, root, null);
          }
          if (this.host.runChained(targets[i]!, code, this.ts.taskId, values, root, null, holder !== null ? this.holderList : null)) {
            this.counters.transferred++;
            continue;
          }
        }
        let hi = 0;
        let lo = 0;
        if (tracked) {
          hi = rand32();
          lo = rand32();
          xhi = xhi ^ hi;
          xlo = xlo ^ lo;
        }
        this.host.deliver(targets[i]!, code, this.ts.taskId, values, root, hi, lo, null);
        this.counters.transferred++;
        copies++;
      }
    }
    if (tracked) {
      if (holder !== null) {
        xhi = xhi ^ holder.xHi;
        xlo = xlo ^ holder.xLo;
        // A chained bolt failed the tree: its acker reports the failure (applied on the spout's
        // next drain, which finds the root pending); no init follows it.
        if (holder.chainFailed) {
          this.pending.add(root, msgId, this.nowMs);
          return;
        }
      }
      if (copies === 0 && xhi === 0 && xlo === 0) {
        // Nothing left to wait for (every child ran chained and emitted nothing further).
        this.immediateAcks.push(msgId);
      } else {
        // Control ops of this root that chained bolts sent (park) are applied on the next drain, after this.
        this.pending.add(root, msgId, this.nowMs);
        this.host.sys(SysOp.Init, this.host.ackerFor(root), root, xhi, xlo, this.ts.taskId);
      }
    } else if (msgId !== undefined) {
      // No ackers: a spout tuple is acked as soon as it is emitted, as in Storm.
      this.immediateAcks.push(msgId);
    }
  }

  /**
   * The next free root id of this spout task. Sequences wrap long after any root could still be
   * pending (timeouts and parking are minutes; a wrap takes 2^30 / spout tasks roots), and an id
   * still pending is skipped all the same.
   */
  private nextRoot(): number {
    for (;;) {
      this.seq = this.seq + 1 >= this.seqLimit ? 1 : this.seq + 1;
      const root = this.seq * this.spoutCount + this.spoutIndex;
      if (!this.pending.has(root)) return root;
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
  controlOp(op: SysOp, root: number): void {
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
      const op = this.control[i] as SysOp;
      const root = this.control[i + 1]!;
      if (op === SysOp.Park) {
        this.pending.park(root);
      } else if (op === SysOp.Unpark) {
        this.pending.unpark(root, now);
      } else {
        const msgId = this.pending.take(root);
        if (msgId === ABSENT) continue; // already timed out and failed
        if (op === SysOp.Complete) {
          this.counters.acked++;
          this.counters.completeMsSum += now - this.pending.takenStartMs;
          this.counters.completeCount++;
          this.ackSpout(msgId);
        } else {
          this.counters.failed++;
          this.guard(() => this.instance.fail?.(msgId, 'error'), 'fail');
        }
      }
    }
    // Ops that arrived during the callbacks move to the front.
    for (let i = n; i < this.controlLength; i++) this.control[i - n] = this.control[i]!;
    this.controlLength -= n;
    return true;
  }

  /** Fails the roots older than the message timeout; true when any did. */
  expire(nowMs: number): boolean {
    const expired = this.pending.expire(nowMs, this.host.timeoutMs);
    for (const [, p] of expired) {
      this.counters.timedOut++;
      this.counters.failed++;
      this.guard(() => this.instance.fail?.(p.msgId, 'timeout'), 'fail');
    }
    return expired.length > 0;
  }

  status(): { task: number; component: string; exhausted: boolean; inFlight: number; parked: number } {
    return { task: this.ts.taskId, component: this.comp.id, exhausted: this.exhausted, inFlight: this.pending.inFlight, parked: this.pending.parkedCount };
  }

  metrics(): TaskMetrics {
    return { task: this.ts.taskId, component: this.comp.id, kind: 'spout', counters: { ...this.counters }, pending: this.pending.inFlight, parked: this.pending.parkedCount, custom: { ...this.custom } };
  }
}

export class AckerTask {
  readonly kind = 'acker' as const;
  constructor(
    readonly taskId: number,
    readonly component: string,
    readonly ledger: AckLedger,
  ) {}
  metrics(): TaskMetrics {
    return { task: this.taskId, component: this.component, kind: 'acker', counters: newCounters(), pending: this.ledger.size, parked: 0, custom: {} };
  }
}
