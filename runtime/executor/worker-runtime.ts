import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Bolt, BasicBolt, FailCause, Spout, StreamCodec } from '../contracts.js';
import { loadComponentFactory } from '../component-loader.js';
import type { TopologySpec } from '../spec.js';
import { MAX_TASKS } from '../spec.js';
import { describeError } from '../errors.js';
import type { ExecutorMetrics, TaskMetrics } from '../metrics-snapshot.js';
import { AckLedger, ControlOp, type TreeMember } from '../root-tracking.js';
import { AckerTask } from './acker-task.js';
import { BoltTask } from './bolt-task.js';
import type { TaskHost } from './emitting-task.js';
import { makeLogger } from './logger.js';
import type { PeerMessage, SupervisorToWorker, WorkerData, WorkerStatus, WorkerToSupervisor } from './messages.js';
import { buildRoutes, StreamTable } from './routing.js';
import { Executor, Scheduler } from './scheduler.js';
import { SpoutTask } from './spout-task.js';
import { Transport } from './transport.js';
import { TupleImpl } from './tuple-impl.js';

interface ExecuteTotals {
  executed: number;
  /** Execute latency: sum (seconds) and count of the sampled self times. */
  sum: number;
  count: number;
}

/**
 * Storm's capacity of a bolt executor over an interval: tuples executed × mean execute latency /
 * the interval. The latency is the self time, so a chained executor's runs count for it and not
 * for the executor whose emit ran them. The mean is the interval's samples', or the lifetime one
 * when the interval sampled none. An estimate from samples: it can pass 1 slightly.
 */
function capacity(now: ExecuteTotals, last: ExecuteTotals, intervalSecs: number): number {
  const executed = now.executed - last.executed;
  const samples = now.count - last.count;
  const mean = samples > 0 ? (now.sum - last.sum) / samples : now.count > 0 ? now.sum / now.count : 0;
  return (executed * mean) / intervalSecs;
}

/** Failure notes a thread keeps at most (each normally lives only until its root's verdict). */
const MAX_FAILURE_NOTES = 10_000;

/** The tasks (or executors) of this thread in an array indexed by task id. */
function present<T>(byId: ReadonlyArray<T | undefined>): T[] {
  return byId.filter((x): x is T => x !== undefined);
}

/**
 * One worker thread: builds its executors and tasks, hosts them (delivery, chaining, control
 * records), runs their timers (expiry, acker rotation, ticks, metrics), and answers the supervisor.
 * Transport and flow control are in transport.ts, the scheduling loop in scheduler.ts, the life
 * of a root in ../root-tracking.ts.
 */
export class WorkerRuntime implements TaskHost {
  readonly spec: TopologySpec;
  readonly me: number;
  readonly streams: StreamTable;
  readonly acking: boolean;
  readonly timeoutMs: number;
  private readonly workerOf: Int32Array;
  // This thread's tasks and executors by task id (an array index, not a hash, on the per-tuple paths).
  private readonly boltById: Array<BoltTask | undefined> = [];
  private readonly spoutById: Array<SpoutTask | undefined> = [];
  private readonly ackerById: Array<AckerTask | undefined> = [];
  /** Executor id by task id, for every task of the topology. */
  private readonly executorOf: Int32Array;
  private readonly executorById: Array<Executor | undefined> = [];
  private readonly executors: Executor[] = [];
  /** Codec per stream code, for tuples that cross threads. */
  private readonly codecs: Array<StreamCodec | undefined> = [];
  private readonly transport: Transport;
  /** Bolt tasks with an open circuit breaker, topology-wide (one shared cell). */
  private readonly breakers: Int32Array;
  /**
   * What failed a root, as far as this thread knows: kept where the root's Fail record goes (its
   * acker), then where its Failed verdict goes (its spout task), where the verdict takes it.
   */
  private readonly failureNotes = new Map<number, { task: number; error: string }>();
  /** When each of this thread's open breakers opened, by task id. */
  private readonly breakerOpenedAt = new Map<number, number>();
  private scheduler!: Scheduler;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastMetricsAt = performance.now();
  private lastLoop: EventLoopUtilization = performance.eventLoopUtilization();
  /** Per bolt executor, its tasks' executed count and execute latency sum and count at the last report. */
  private readonly lastExecuteTotals = new Map<number, ExecuteTotals>();
  readonly log;

  constructor(
    data: WorkerData,
    private readonly toSupervisor: (m: WorkerToSupervisor) => void,
  ) {
    this.spec = data.spec;
    this.me = data.workerIndex;
    this.streams = new StreamTable(this.spec);
    this.acking = this.spec.options.ackers > 0;
    this.timeoutMs = this.spec.options.messageTimeoutSecs * 1000;
    this.workerOf = new Int32Array(MAX_TASKS);
    this.executorOf = new Int32Array(MAX_TASKS);
    for (const t of this.spec.tasks) {
      this.workerOf[t.taskId] = this.spec.executors[t.executor]!.worker;
      this.executorOf[t.taskId] = t.executor;
    }
    this.log = makeLogger({ worker: this.me });
    this.breakers = new Int32Array(data.breakers);
    this.transport = new Transport(
      this.spec,
      this.me,
      data,
      this.streams,
      this.codecs,
      (t) => this.executorById[t.destTask]!.inbox.push(t),
      (op, dest, root, a, b, c) => this.applyControl(op, dest, root, a, b, c),
      (root, task, error) => this.keepFailureNote(root, task, error),
      () => this.scheduleTurn(),
    );
  }

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
    const { bolts, spouts } = this.computeDownstream();
    this.scheduler = new Scheduler(this.transport, bolts, spouts, this.boltById);
    for (const b of present(this.boltById)) await b.prepare();
    for (const s of present(this.spoutById)) await s.open();
    this.startTimers();
  }

  /**
   * For each executor of this thread, the executors its emits can queue tuples for: the tasks each
   * of its routes can choose (local ones only, for a local grouping that has some). A subscriber
   * that runs chained here (a basic bolt wired local-or-shuffle with a task on this thread) queues
   * nothing itself: its own subscribers count instead. Returns the bolt executors most downstream
   * first, and the spout executors.
   */
  private computeDownstream(): { bolts: Executor[]; spouts: Executor[] } {
    const depth = new Map<string, number>();
    const depthOf = (id: string): number => {
      const known = depth.get(id);
      if (known !== undefined) return known;
      const c = this.spec.components.find((x) => x.id === id)!;
      const d = c.inputs.length === 0 ? 0 : 1 + Math.max(...c.inputs.map((i) => depthOf(i.source)));
      depth.set(id, d);
      return d;
    };
    const collect = (id: string, into: Set<number>, seen: Set<string>): void => {
      for (const c of this.spec.components) {
        for (const i of c.inputs) {
          if (i.source !== id) continue;
          const all = this.spec.tasks.filter((t) => t.component === c.id).map((t) => t.taskId);
          const local = all.filter((t) => this.workerOf[t] === this.me);
          const isLocalGrouping = i.grouping === 'localOrShuffle' || i.grouping === 'localFields';
          const targets = isLocalGrouping && local.length > 0 ? local : all;
          const chained = i.grouping === 'localOrShuffle' && c.kind === 'bolt' && c.ref.basic === true && local.length > 0;
          if (chained) {
            if (!seen.has(c.id)) {
              seen.add(c.id);
              collect(c.id, into, seen);
            }
          } else {
            for (const t of targets) into.add(this.executorOf[t]!);
          }
        }
      }
    };
    for (const ex of this.executors) {
      const into = new Set<number>();
      collect(ex.component, into, new Set([ex.component]));
      ex.downstream = [...into];
    }
    const bolts = this.executors.filter((e) => e.kind === 'bolt').sort((a, b) => depthOf(b.component) - depthOf(a.component));
    const spouts = this.executors.filter((e) => e.kind === 'spout');
    return { bolts, spouts };
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
        this.scheduler.active = true;
        for (const s of present(this.spoutById)) s.activate();
        this.scheduleTurn();
        break;
      case 'deactivate':
        this.scheduler.active = false;
        for (const s of present(this.spoutById)) s.deactivate();
        break;
      case 'inputEnd':
        for (const ex of this.executors) if (ex.kind === 'bolt') for (const t of ex.tasks) (t as BoltTask).inputEnd();
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
    this.transport.onPeerMessage(m);
  }

  private status(): WorkerStatus {
    const queued = this.scheduler.queued + this.transport.pendingTuples + this.transport.unsent;
    const spouts = present(this.spoutById).map((s) => s.status());
    return { spouts, queued };
  }

  // ---- hosting the tasks ----

  /** Sends a tuple to a task, on this thread or another. */
  deliver(destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, edgeHi: number, edgeLo: number, moreTrees: number[] | null): void {
    const w = this.workerOf[destTask]!;
    if (w === this.me) {
      const info = this.streams.infos[streamCode]!;
      this.enqueueLocal(new TupleImpl(values, info.component, sourceTask, info.stream, destTask, info.fields, root, edgeHi, edgeLo, moreTrees, false));
      return;
    }
    this.transport.addressed(this.executorOf[destTask]!);
    this.transport.send(w, destTask, streamCode, sourceTask, values, root, edgeHi, edgeLo, moreTrees);
  }

  runChained(destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, moreTrees: number[] | null, anchors: readonly TreeMember[] | null): boolean {
    if (this.workerOf[destTask] !== this.me) return false;
    const info = this.streams.infos[streamCode]!;
    this.boltById[destTask]!.runChained(values, info.component, sourceTask, info.stream, info.fields, root, moreTrees, anchors);
    return true;
  }

  private enqueueLocal(t: TupleImpl): void {
    this.transport.addressed(this.executorOf[t.destTask]!);
    this.executorById[t.destTask]!.inbox.push(t);
  }

  /** Root-tracking records; applied at once when their task is on this thread. */
  control(op: ControlOp, destTask: number, root: number, a: number, b: number, c: number): void {
    const w = this.workerOf[destTask]!;
    if (w === this.me) this.applyControl(op, destTask, root, a, b, c);
    else this.transport.sendControl(w, op, destTask, root, a, b, c);
  }

  /** An acker applies Init, Ack, Fail and Forget to its ledger; a spout task queues the rest for its turn. */
  private applyControl(op: ControlOp, dest: number, root: number, a: number, b: number, c: number): void {
    switch (op) {
      case ControlOp.Init:
      case ControlOp.Ack: {
        const ledger = this.ackerById[dest]!.ledger;
        const completeFor = op === ControlOp.Init ? ledger.init(root, a, b, c) : ledger.ack(root, a, b);
        if (completeFor !== 0) this.control(ControlOp.Complete, completeFor, root, 0, 0, 0);
        return;
      }
      case ControlOp.Fail: {
        const spoutTask = this.ackerById[dest]!.ledger.fail(root) || this.spoutTaskOf(root);
        const note = this.failureNotes.get(root);
        if (note !== undefined) {
          this.failureNotes.delete(root);
          this.noteFailureTo(spoutTask, root, note.task, note.error);
        }
        this.control(ControlOp.Failed, spoutTask, root, 0, 0, 0);
        return;
      }
      case ControlOp.Forget:
        this.ackerById[dest]!.ledger.forget(root);
        return;
      default:
        this.spoutById[dest]!.controlOp(op, root);
        this.scheduleTurn();
    }
  }

  noteFailure(root: number, task: number, error: string): void {
    this.noteFailureTo(this.ackerFor(root), root, task, error);
  }

  private noteFailureTo(destTask: number, root: number, task: number, error: string): void {
    const w = this.workerOf[destTask]!;
    if (w === this.me) this.keepFailureNote(root, task, error);
    else this.transport.sendFailureNote(w, root, task, error);
  }

  /** Notes are few (failures only) and each is taken by its root's verdict; the cap guards against a flood. */
  private keepFailureNote(root: number, task: number, error: string): void {
    if (this.failureNotes.size >= MAX_FAILURE_NOTES && !this.failureNotes.has(root)) {
      const oldest = this.failureNotes.keys().next().value;
      if (oldest !== undefined) this.failureNotes.delete(oldest);
    }
    this.failureNotes.set(root, { task, error });
  }

  /** The failure note of a root, taken by its spout task with the Failed verdict. */
  takeFailureNote(root: number): FailCause | undefined {
    const note = this.failureNotes.get(root);
    if (note === undefined) return undefined;
    this.failureNotes.delete(root);
    const component = this.spec.tasks.find((t) => t.taskId === note.task)?.component ?? 'unknown';
    return { component, task: note.task, error: note.error };
  }

  spoutTaskOf(root: number): number {
    return this.spec.spoutTaskIds[root % this.spec.spoutTaskIds.length]!;
  }

  ackerFor(root: number): number {
    const list = this.spec.ackersBySpoutTask[this.spoutTaskOf(root)]!;
    return list.length === 1 ? list[0]! : list[((root / this.spec.spoutTaskIds.length) | 0) % list.length]!;
  }

  scheduleTurn(): void {
    this.scheduler.scheduleTurn();
  }

  wakeSpouts(): void {
    this.scheduler.wakeSpouts();
  }

  /**
   * A bolt task lost a dependency (open) or has it back (closed). While open, its executor takes
   * no input, so its producers and in the end the spouts wait; and while any breaker of the
   * topology is open, the spouts' root deadlines stand still (`expireRoots`).
   */
  setBreaker(task: number, component: string, open: boolean, dependency: string, err?: unknown): void {
    const ex = this.executorById[task]!;
    ex.breakersOpen += open ? 1 : -1;
    Atomics.add(this.breakers, 0, open ? 1 : -1);
    const bolt = this.boltById[task]!;
    if (open) {
      this.breakerOpenedAt.set(task, performance.now());
      bolt.counters.breakerOpens++;
      this.log.warn('circuit breaker open: a dependency is unavailable; the task takes no input and no root times out until it is back', {
        component,
        task,
        dependency,
        ...(err !== undefined ? { error: err instanceof Error ? err.message : String(err) } : {}),
      });
    } else {
      const openMs = Math.round(performance.now() - (this.breakerOpenedAt.get(task) ?? performance.now()));
      this.breakerOpenedAt.delete(task);
      this.log.info('circuit breaker closed: the dependency is back', { component, task, dependency, openMs });
      this.scheduleTurn();
    }
  }

  private expireRoots(): void {
    const frozen = Atomics.load(this.breakers, 0) > 0;
    let any = false;
    for (const s of present(this.spoutById)) {
      s.freezeDeadlines(frozen);
      if (s.expire()) any = true;
    }
    if (any) this.scheduleTurn();
  }

  // ---- metrics and shutdown ----

  private reportMetrics(): void {
    const now = performance.now();
    const intervalSecs = Math.max(1, now - this.lastMetricsAt) / 1000;
    this.lastMetricsAt = now;
    const tasks: TaskMetrics[] = [];
    const executors: ExecutorMetrics[] = [];
    for (const ex of this.executors) {
      const total = { executed: 0, sum: 0, count: 0 };
      for (const t of ex.tasks) {
        const m = t.metrics();
        tasks.push(m);
        total.executed += m.counters.executed;
        total.sum += m.execute?.sum ?? 0;
        total.count += m.execute?.count ?? 0;
      }
      if (ex.kind !== 'bolt') continue;
      const last = this.lastExecuteTotals.get(ex.id) ?? { executed: 0, sum: 0, count: 0 };
      this.lastExecuteTotals.set(ex.id, total);
      executors.push({ executor: ex.id, component: ex.component, capacity: capacity(total, last, intervalSecs), queueDepth: this.transport.loadOf(ex.id) });
    }
    const loop = performance.eventLoopUtilization();
    const busyRatio = performance.eventLoopUtilization(loop, this.lastLoop).utilization;
    this.lastLoop = loop;
    const heap = getHeapStatistics();
    const thread = { busyRatio, heapUsedBytes: heap.used_heap_size, heapLimitBytes: heap.heap_size_limit };
    this.toSupervisor({ type: 'metrics', snapshot: { worker: this.me, atMs: Date.now(), thread, tasks, executors } });
  }

  private async shutdown(): Promise<void> {
    this.scheduler.active = false;
    for (const s of present(this.spoutById)) await s.close();
    for (const b of present(this.boltById)) await b.cleanup();
    this.transport.flushAll();
    this.reportMetrics();
    this.scheduler.close();
    for (const t of this.timers) clearInterval(t);
    this.toSupervisor({ type: 'closed' });
  }

  reportFatal(err: unknown): void {
    this.toSupervisor({ type: 'fatal', message: describeError(err) });
  }
}
