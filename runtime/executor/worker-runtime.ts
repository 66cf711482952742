import { performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import type { Bolt, BasicBolt, Spout, StreamCodec, Tuple } from '../contracts.js';
import { DEFAULT_STREAM } from '../contracts.js';
import { AckLedger } from '../ack-ledger.js';
import { loadComponentFactory } from '../component-loader.js';
import type { TopologySpec } from '../spec.js';
import { MAX_TASKS } from '../spec.js';
import { describeError } from '../errors.js';
import type { ExecutorMetrics, TaskMetrics } from '../metrics-snapshot.js';
import { buildRoutes, StreamTable } from './routing.js';
import { TupleImpl, TupleQueue } from './tuple-impl.js';
import { SYS_STRIDE, SysOp, TUPLE_HEADER, type PeerMessage, type SupervisorToWorker, type WorkerData, type WorkerStatus, type WorkerToSupervisor } from './messages.js';
import { BoltTask, SpoutTask, AckerTask, makeLogger, type TaskHost } from './tasks.js';

/** Tuples a bolt executor runs per scheduling pass before the next executor gets its turn. */
const EXECUTOR_BUDGET = 1024;
/**
 * nextTuple calls a spout executor makes per pass. Smaller than a bolt's budget, so queues drain
 * before the spout fills them again: flows complete sooner, fewer of them outlive a scavenge, and
 * less is copied and promoted. Measured on the Themis topology (1,000,000 flows file to file,
 * max pending 20,000): bolts 256 / spouts 256 ran at 103,413-105,619 flows/s with 17.3-17.4 s of
 * user CPU; bolts 1,024 / spouts 64 at 110,558-113,289 with 15.9-16.4 s, and a lower peak RSS.
 */
const SPOUT_BUDGET = 64;
/** A scheduling turn yields to the event loop (incoming batches, timers) after this long. */
const TURN_SLICE_MS = 10;
/** A spout whose nextTuple emitted nothing is asked again after this pause. */
const SPOUT_IDLE_MS = 1;

export class Executor {
  readonly inbox = new TupleQueue();
  busyMs = 0;
  /** Local executors this one can send to (backpressure: their inbox must have room). */
  localDownstream: Executor[] = [];
  /** Other workers this one can send to (backpressure: their outbox must have room). */
  remoteDownstream: number[] = [];
  constructor(
    readonly id: number,
    readonly component: string,
    readonly kind: 'spout' | 'bolt' | 'acker',
    readonly tasks: Array<BoltTask | SpoutTask | AckerTask>,
  ) {}
}

interface Outbox {
  data: unknown[];
  /** Tuples in `data` (its length also counts inline values). */
  tuples: number;
  sys: number[];
}

/** The tasks (or executors) of this thread in an array indexed by task id. */
function present<T>(byId: ReadonlyArray<T | undefined>): T[] {
  return byId.filter((x): x is T => x !== undefined);
}

export class WorkerRuntime implements TaskHost {
  readonly spec: TopologySpec;
  readonly me: number;
  readonly streams: StreamTable;
  readonly acking: boolean;
  readonly timeoutMs: number;
  private readonly nWorkers: number;
  private readonly workerOf: Int32Array;
  // This thread's tasks and executors by task id (an array index, not a hash, on the per-tuple paths).
  private readonly boltById: Array<BoltTask | undefined> = [];
  private readonly spoutById: Array<SpoutTask | undefined> = [];
  private readonly ackerById: Array<AckerTask | undefined> = [];
  private readonly executorById: Array<Executor | undefined> = [];
  private readonly executors: Executor[] = [];
  /** Bolt executors, most downstream first, so queues drain before their producers run. */
  private boltOrder: Executor[] = [];
  private spoutOrder: Executor[] = [];
  private readonly outboxes: Outbox[];
  private readonly netQueue: Array<{ from: number; data: unknown[]; tuples: number }> = [];
  private readonly inflight: Int32Array;
  private queued = 0;
  private turnScheduled = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private active = false;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastMetricsAt = performance.now();
  readonly log = makeLogger({ worker: 0 });

  constructor(
    private readonly data: WorkerData,
    private readonly toSupervisor: (m: WorkerToSupervisor) => void,
  ) {
    this.spec = data.spec;
    this.me = data.workerIndex;
    this.nWorkers = data.spec.options.workers;
    this.streams = new StreamTable(this.spec);
    this.acking = this.spec.options.ackers > 0;
    this.timeoutMs = this.spec.options.messageTimeoutSecs * 1000;
    this.inflight = new Int32Array(data.inflight);
    this.outboxes = Array.from({ length: this.nWorkers }, () => ({ data: [], tuples: 0, sys: [] }));
    this.workerOf = new Int32Array(MAX_TASKS);
    for (const t of this.spec.tasks) this.workerOf[t.taskId] = this.spec.executors[t.executor]!.worker;
    (this as { log: unknown }).log = makeLogger({ worker: this.me });
  }

  /** Codec per stream code, for tuples that cross threads. */
  private readonly codecs: Array<StreamCodec | undefined> = [];

  async start(): Promise<void> {
    for (const c of this.spec.codecs) {
      const code = this.streams.code(c.component, c.stream);
      if (code !== undefined) this.codecs[code] = (await loadComponentFactory(c.ref))() as StreamCodec;
    }
    const factories = new Map<string, () => unknown>();
    for (const c of this.spec.components) {
      if (c.kind !== 'acker' && this.spec.executors.some((e) => e.worker === this.me && e.component === c.id)) {
        factories.set(c.id, await loadComponentFactory(c.ref));
      }
    }
    for (const e of this.spec.executors) {
      if (e.worker !== this.me) continue;
      const comp = this.spec.components.find((c) => c.id === e.component)!;
      const tasks: Array<BoltTask | SpoutTask | AckerTask> = [];
      for (const taskId of e.taskIds) {
        const ts = this.spec.tasks.find((t) => t.taskId === taskId)!;
        const routes = buildRoutes(this.spec, this.streams, comp.id, taskId, (t) => this.workerOf[t]!, this.me);
        if (comp.kind === 'acker') {
          const a = new AckerTask(taskId, comp.id, new AckLedger());
          this.ackerById[taskId] = a;
          tasks.push(a);
        } else if (comp.kind === 'spout') {
          const s = new SpoutTask(this, comp, ts, factories.get(comp.id)!() as Spout, routes);
          this.spoutById[taskId] = s;
          tasks.push(s);
        } else {
          const b = new BoltTask(this, comp, ts, factories.get(comp.id)!() as Bolt | BasicBolt, routes);
          this.boltById[taskId] = b;
          tasks.push(b);
        }
      }
      const ex = new Executor(e.executorId, comp.id, comp.kind, tasks);
      this.executors.push(ex);
      for (const t of e.taskIds) this.executorById[t] = ex;
    }
    this.computeDownstream();
    for (const b of present(this.boltById)) await b.prepare();
    for (const s of present(this.spoutById)) await s.open();
    this.startTimers();
  }

  private computeDownstream(): void {
    const depth = new Map<string, number>();
    const depthOf = (id: string): number => {
      const known = depth.get(id);
      if (known !== undefined) return known;
      const c = this.spec.components.find((x) => x.id === id)!;
      const d = c.inputs.length === 0 ? 0 : 1 + Math.max(...c.inputs.map((i) => depthOf(i.source)));
      depth.set(id, d);
      return d;
    };
    // A subscriber that runs chained (a basic bolt wired local-or-shuffle) queues nothing itself:
    // what it emits lands in its own subscribers' queues, so those count as downstream too.
    const subscribersOf = (id: string, into: Set<string>): Set<string> => {
      for (const c of this.spec.components) {
        for (const i of c.inputs) {
          if (i.source !== id || into.has(c.id)) continue;
          into.add(c.id);
          if (i.grouping === 'localOrShuffle' && c.kind === 'bolt' && c.ref.basic === true) subscribersOf(c.id, into);
        }
      }
      return into;
    };
    for (const ex of this.executors) {
      const subscribers = [...subscribersOf(ex.component, new Set())];
      const targetTasks = this.spec.tasks.filter((t) => subscribers.includes(t.component)).map((t) => t.taskId);
      const local = new Set<Executor>();
      const remote = new Set<number>();
      for (const t of targetTasks) {
        const w = this.workerOf[t]!;
        if (w === this.me) local.add(this.executorById[t]!);
        else remote.add(w);
      }
      ex.localDownstream = [...local];
      ex.remoteDownstream = [...remote];
    }
    this.boltOrder = this.executors.filter((e) => e.kind === 'bolt').sort((a, b) => depthOf(b.component) - depthOf(a.component));
    this.spoutOrder = this.executors.filter((e) => e.kind === 'spout');
  }

  private startTimers(): void {
    const o = this.spec.options;
    this.timers.push(setInterval(() => this.expireRoots(), Math.max(50, Math.min(1000, this.timeoutMs / 4))));
    const ackers = present(this.ackerById);
    if (ackers.length > 0) {
      this.timers.push(setInterval(() => {
        for (const a of ackers) a.ledger.rotate();
      }, this.timeoutMs));
    }
    this.timers.push(setInterval(() => this.reportMetrics(), o.metricsIntervalMs));
    for (const c of this.spec.components) {
      if (c.kind !== 'bolt' || !c.tickSecs || c.tickSecs <= 0) continue;
      const mine = present(this.boltById).filter((b) => b.component === c.id);
      if (mine.length === 0) continue;
      this.timers.push(setInterval(() => {
        for (const b of mine) this.enqueueLocal(new TupleImpl([], '__system', 0, '__tick', b.taskId, [], 0, 0, 0, null, true));
        this.scheduleTurn();
      }, c.tickSecs * 1000));
    }
    for (const t of this.timers) t.unref?.();
  }

  // ---- supervisor and peer messages ----

  onSupervisorMessage(m: SupervisorToWorker): void {
    switch (m.type) {
      case 'activate':
        this.active = true;
        for (const s of present(this.spoutById)) s.activate();
        this.scheduleTurn();
        break;
      case 'deactivate':
        this.active = false;
        for (const s of present(this.spoutById)) s.deactivate();
        break;
      case 'inputEnd':
        for (const ex of [...this.boltOrder].reverse()) for (const t of ex.tasks) (t as BoltTask).inputEnd();
        this.scheduleTurn();
        break;
      case 'status':
        this.toSupervisor({ type: 'status', requestId: m.requestId, status: this.status() });
        break;
      case 'shutdown':
        void this.shutdown();
        break;
    }
  }

  onPeerMessage(m: PeerMessage): void {
    if (m.type === 'credit') {
      this.scheduleTurn();
      return;
    }
    if (m.sys) this.handleSys(m.sys);
    if (m.data) this.netQueue.push({ from: m.from, data: m.data, tuples: m.tuples });
    this.scheduleTurn();
  }

  private status(): WorkerStatus {
    let queued = this.queued;
    for (const b of this.netQueue) queued += b.tuples;
    for (const o of this.outboxes) queued += o.tuples;
    const spouts = present(this.spoutById).map((s) => s.status());
    return { spouts, queued };
  }

  // ---- delivery ----

  /** Sends a tuple to a task, on this thread or another. */
  deliver(destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, eHi: number, eLo: number, more: number[] | null): void {
    const w = this.workerOf[destTask]!;
    if (w === this.me) {
      const info = this.streams.infos[streamCode]!;
      this.enqueueLocal(new TupleImpl(values, info.component, sourceTask, info.stream, destTask, info.fields, root, eHi, eLo, more, false));
      return;
    }
    const out = this.outboxes[w]!;
    const data = out.data;
    const codec = this.codecs[streamCode];
    const wire = codec ? codec.encode(values) : values;
    data.push(destTask, streamCode, sourceTask, root, eHi, eLo, more, wire.length);
    for (let i = 0; i < wire.length; i++) data.push(wire[i]);
    if (++out.tuples >= this.spec.options.batchSize) this.flushTo(w);
  }

  runChained(destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, more: number[] | null, anchors: readonly TupleImpl[] | null): boolean {
    if (this.workerOf[destTask] !== this.me) return false;
    const info = this.streams.infos[streamCode]!;
    this.boltById[destTask]!.runChained(values, info.component, sourceTask, info.stream, info.fields, root, more, anchors);
    return true;
  }

  private enqueueLocal(t: TupleImpl): void {
    this.executorById[t.destTask]!.inbox.push(t);
    this.queued++;
  }

  /** Acker and spout control traffic; handled at once when local. */
  sys(op: SysOp, destTask: number, root: number, a: number, b: number, c: number): void {
    const w = this.workerOf[destTask]!;
    if (w === this.me) {
      this.handleSysOne(op, destTask, root, a, b, c);
      return;
    }
    this.outboxes[w]!.sys.push(op, destTask, root, a, b, c);
  }

  private handleSys(sys: Int32Array): void {
    for (let i = 0; i < sys.length; i += SYS_STRIDE) {
      this.handleSysOne(sys[i]! as SysOp, sys[i + 1]!, sys[i + 2]!, sys[i + 3]!, sys[i + 4]!, sys[i + 5]!);
    }
  }

  /** Control records travel as a transferred Int32Array: no per-number cloning. */
  private packSys(out: Outbox): Int32Array | null {
    if (out.sys.length === 0) return null;
    const packed = Int32Array.from(out.sys);
    out.sys = [];
    return packed;
  }

  private handleSysOne(op: SysOp, dest: number, root: number, a: number, b: number, c: number): void {
    if (op === SysOp.Init || op === SysOp.Ack || op === SysOp.Fail) {
      const acker = this.ackerById[dest]!;
      if (op === SysOp.Fail) {
        const spoutTask = acker.ledger.fail(root) || this.spoutTaskOf(root);
        this.sys(SysOp.Failed, spoutTask, root, 0, 0, 0);
        return;
      }
      const completeFor = op === SysOp.Init ? acker.ledger.init(root, a, b, c) : acker.ledger.ack(root, a, b);
      if (completeFor !== 0) this.sys(SysOp.Complete, completeFor, root, 0, 0, 0);
      return;
    }
    const spout = this.spoutById[dest]!;
    spout.controlOp(op, root);
    this.scheduleTurn();
  }

  spoutTaskOf(root: number): number {
    return this.spec.spoutTaskIds[root % this.spec.spoutTaskIds.length]!;
  }

  ackerFor(root: number): number {
    const list = this.spec.ackersBySpoutTask[this.spoutTaskOf(root)]!;
    return list.length === 1 ? list[0]! : list[((root / this.spec.spoutTaskIds.length) | 0) % list.length]!;
  }

  private flushTo(w: number): void {
    const out = this.outboxes[w]!;
    const hasData = out.data.length > 0;
    const idx = this.me * this.nWorkers + w;
    if (hasData && Atomics.load(this.inflight, idx) >= this.spec.options.maxInflightBatches) {
      // No credit: data waits (its producers are held back); control traffic still goes.
      const sys = this.packSys(out);
      if (sys) this.data.peers[w]!.postMessage({ type: 'batch', from: this.me, data: null, tuples: 0, sys } satisfies PeerMessage, [sys.buffer as ArrayBuffer]);
      return;
    }
    if (!hasData && out.sys.length === 0) return;
    if (hasData) Atomics.add(this.inflight, idx, 1);
    const sys = this.packSys(out);
    this.data.peers[w]!.postMessage({ type: 'batch', from: this.me, data: hasData ? out.data : null, tuples: out.tuples, sys } satisfies PeerMessage, sys ? [sys.buffer as ArrayBuffer] : []);
    if (hasData) {
      out.data = [];
      out.tuples = 0;
    }
  }

  private flushAll(): void {
    for (let w = 0; w < this.nWorkers; w++) if (w !== this.me) this.flushTo(w);
  }

  /** Moves received batches into inboxes while there is room, and returns their credit. */
  private dispatchNet(): boolean {
    let moved = false;
    const cap = this.spec.options.queueCapacity * Math.max(1, this.executors.length);
    while (this.netQueue.length > 0 && this.queued < cap) {
      const { from, data } = this.netQueue.shift()!;
      for (let i = 0; i < data.length; ) {
        const code = data[i + 1] as number;
        const info = this.streams.infos[code]!;
        const n = data[i + 7] as number;
        const wire = data.slice(i + TUPLE_HEADER, i + TUPLE_HEADER + n);
        const codec = this.codecs[code];
        const values = codec ? codec.decode(wire) : wire;
        this.enqueueLocal(
          new TupleImpl(values, info.component, data[i + 2] as number, info.stream, data[i] as number, info.fields, data[i + 3] as number, data[i + 4] as number, data[i + 5] as number, data[i + 6] as number[] | null, false),
        );
        i += TUPLE_HEADER + n;
      }
      const idx = from * this.nWorkers + this.me;
      const before = Atomics.sub(this.inflight, idx, 1);
      if (before >= this.spec.options.maxInflightBatches) this.data.peers[from]!.postMessage({ type: 'credit' } satisfies PeerMessage);
      moved = true;
    }
    return moved;
  }

  // ---- scheduling ----

  scheduleTurn(): void {
    if (this.turnScheduled || this.closed) return;
    this.turnScheduled = true;
    setImmediate(this.turn);
  }

  private readonly turn = (): void => {
    this.turnScheduled = false;
    if (this.closed) return;
    const until = performance.now() + TURN_SLICE_MS;
    let progress: boolean;
    let spoutIdle: boolean;
    do {
      progress = this.dispatchNet();
      for (const ex of this.boltOrder) {
        if (ex.inbox.size === 0 || !this.canRun(ex)) continue;
        this.runBoltExecutor(ex);
        progress = true;
      }
      spoutIdle = false;
      for (const ex of this.spoutOrder) {
        for (const t of ex.tasks) if ((t as SpoutTask).drainControl()) progress = true;
        if (!this.active || !this.canRun(ex)) continue;
        const r = this.runSpoutExecutor(ex);
        if (r === 'emitted') progress = true;
        else if (r === 'idle') spoutIdle = true;
      }
      this.flushAll();
    } while (progress && performance.now() < until);
    if (progress || this.hasRunnableWork()) {
      this.scheduleTurn();
    } else if (spoutIdle && this.active && !this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.scheduleTurn();
      }, SPOUT_IDLE_MS);
    }
  };

  private hasRunnableWork(): boolean {
    if (this.netQueue.length > 0 && this.queued < this.spec.options.queueCapacity * Math.max(1, this.executors.length)) return true;
    for (const ex of this.boltOrder) if (ex.inbox.size > 0 && this.canRun(ex)) return true;
    return false;
  }

  private canRun(ex: Executor): boolean {
    const cap = this.spec.options.queueCapacity;
    for (const d of ex.localDownstream) if (d.inbox.size >= cap) return false;
    const outCap = this.spec.options.batchSize * 2;
    for (const w of ex.remoteDownstream) if (this.outboxes[w]!.tuples >= outCap) return false;
    return true;
  }

  private runBoltExecutor(ex: Executor): void {
    const start = performance.now();
    let n = 0;
    if (ex.tasks.length === 1 && (ex.tasks[0] as BoltTask).batchMode) {
      const task = ex.tasks[0] as BoltTask;
      const batch: TupleImpl[] = [];
      let t: TupleImpl | undefined;
      while (n < EXECUTOR_BUDGET && (t = ex.inbox.shift())) {
        batch.push(t);
        n++;
      }
      task.runBatch(batch);
    } else {
      let t: TupleImpl | undefined;
      while (n < EXECUTOR_BUDGET && (t = ex.inbox.shift())) {
        this.boltById[t.destTask]!.runOne(t);
        n++;
      }
    }
    this.queued -= n;
    ex.busyMs += performance.now() - start;
  }

  private runSpoutExecutor(ex: Executor): 'emitted' | 'idle' | 'full' {
    const start = performance.now();
    let result: 'emitted' | 'idle' | 'full' = 'full';
    for (const t of ex.tasks) {
      const r = (t as SpoutTask).run(SPOUT_BUDGET, () => this.canRun(ex));
      if (r === 'emitted') result = 'emitted';
      else if (r === 'idle' && result !== 'emitted') result = 'idle';
    }
    ex.busyMs += performance.now() - start;
    return result;
  }

  private expireRoots(): void {
    const now = performance.now();
    let any = false;
    for (const s of present(this.spoutById)) if (s.expire(now)) any = true;
    if (any) this.scheduleTurn();
  }

  // ---- metrics and shutdown ----

  private reportMetrics(): void {
    const now = performance.now();
    const interval = Math.max(1, now - this.lastMetricsAt);
    this.lastMetricsAt = now;
    const tasks: TaskMetrics[] = [];
    for (const ex of this.executors) for (const t of ex.tasks) tasks.push(t.metrics());
    const executors: ExecutorMetrics[] = this.executors.map((ex) => {
      const m = { executor: ex.id, component: ex.component, capacity: Math.min(1, ex.busyMs / interval), queueDepth: ex.inbox.size };
      ex.busyMs = 0;
      return m;
    });
    this.toSupervisor({ type: 'metrics', snapshot: { worker: this.me, atMs: Date.now(), tasks, executors } });
  }

  private async shutdown(): Promise<void> {
    this.active = false;
    for (const s of present(this.spoutById)) await s.close();
    for (const b of present(this.boltById)) await b.cleanup();
    this.flushAll();
    this.reportMetrics();
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.toSupervisor({ type: 'closed' });
  }

  emitCodeFor(component: string, stream: string | undefined): number | undefined {
    return this.streams.code(component, stream ?? DEFAULT_STREAM);
  }

  closePorts(): void {
    for (const p of this.data.peers) (p as MessagePort | undefined)?.close();
  }

  reportFatal(err: unknown): void {
    this.toSupervisor({ type: 'fatal', message: describeError(err) });
  }
}

export type { Tuple };
