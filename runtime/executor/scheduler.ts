import { performance } from 'node:perf_hooks';
import type { AckerTask } from './acker-task.js';
import type { BoltTask } from './bolt-task.js';
import type { SpoutTask } from './spout-task.js';
import type { Transport } from './transport.js';
import { TupleQueue, type TupleImpl } from './tuple-impl.js';

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
/**
 * A spout whose nextTuple emitted nothing is asked again after a pause that doubles from the
 * first to the last while it stays idle, and starts again at the first once it emits. A spout
 * that calls its collector's `wake()` when data arrives is asked at once.
 */
const SPOUT_IDLE_FIRST_MS = 1;
const SPOUT_IDLE_LAST_MS = 50;

export class Executor {
  readonly inbox = new TupleQueue();
  /** Executors (by id, on any thread) that this one's emits can queue tuples for. */
  downstream: number[] = [];
  /** Tasks of this executor whose circuit breaker is open: while any is, the executor takes no input. */
  breakersOpen = 0;
  constructor(
    readonly id: number,
    readonly component: string,
    readonly kind: 'spout' | 'bolt' | 'acker',
    readonly tasks: Array<BoltTask | SpoutTask | AckerTask>,
  ) {}
}

/**
 * The scheduling loop of one worker thread: a turn takes received batches in, runs the bolt
 * executors most downstream first (so queues drain before their producers run again), drains the
 * spouts' control records, asks the spouts for tuples, and flushes the outboxes; it repeats while
 * anything progressed, for at most TURN_SLICE_MS, then yields to the event loop. Before each tuple
 * a producer runs, every executor it can queue tuples for must have room (transport.ts).
 */
export class Scheduler {
  private turnScheduled = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleMs = SPOUT_IDLE_FIRST_MS;
  active = false;
  closed = false;

  constructor(
    private readonly transport: Transport,
    /** Bolt executors, most downstream first. */
    private readonly bolts: readonly Executor[],
    private readonly spouts: readonly Executor[],
    private readonly boltById: ReadonlyArray<BoltTask | undefined>,
  ) {}

  scheduleTurn(): void {
    if (this.turnScheduled || this.closed) return;
    this.turnScheduled = true;
    setImmediate(this.turn);
  }

  /** A spout has something to emit again: ask it now rather than after its idle pause. */
  wakeSpouts(): void {
    this.idleMs = SPOUT_IDLE_FIRST_MS;
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    this.scheduleTurn();
  }

  /** Tuples waiting in this thread's inboxes. */
  get queued(): number {
    let n = 0;
    for (const ex of this.bolts) n += ex.inbox.size;
    return n;
  }

  private readonly turn = (): void => {
    this.turnScheduled = false;
    if (this.closed) return;
    const until = performance.now() + TURN_SLICE_MS;
    let progress: boolean;
    let spoutIdle: boolean;
    do {
      progress = this.transport.takeIn();
      for (const ex of this.bolts) {
        if (ex.inbox.size > 0 && ex.breakersOpen === 0 && this.runBoltExecutor(ex)) progress = true;
      }
      spoutIdle = false;
      for (const ex of this.spouts) {
        for (const t of ex.tasks) if ((t as SpoutTask).drainControl()) progress = true;
        if (!this.active) continue;
        const r = this.runSpoutExecutor(ex);
        if (r === 'emitted') progress = true;
        else if (r === 'idle') spoutIdle = true;
      }
      this.transport.flushAll();
    } while (progress && performance.now() < until);
    if (progress || this.hasRunnableWork()) {
      this.scheduleTurn();
    } else if (spoutIdle && this.active && this.idleTimer === null) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.scheduleTurn();
      }, this.idleMs);
      this.idleMs = Math.min(SPOUT_IDLE_LAST_MS, this.idleMs * 2);
    }
  };

  private hasRunnableWork(): boolean {
    if (this.transport.pendingBatches > 0) return true;
    for (const ex of this.bolts) if (ex.inbox.size > 0 && ex.breakersOpen === 0 && this.canRun(ex)) return true;
    return false;
  }

  /** Whether every executor that `ex` can queue tuples for has room (marking it waiting if not). */
  private canRun(ex: Executor): boolean {
    const d = ex.downstream;
    for (let i = 0; i < d.length; i++) if (!this.transport.hasRoom(d[i]!)) return false;
    return true;
  }

  /** Runs up to EXECUTOR_BUDGET tuples of the executor's inbox, each only while downstream has room. */
  private runBoltExecutor(ex: Executor): boolean {
    let n = 0;
    if (ex.tasks.length === 1 && (ex.tasks[0] as BoltTask).batchMode) {
      // A batch is one execute: its room is checked once, before it.
      if (!this.canRun(ex)) return false;
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
      // A task that loses a dependency during its execute stops its executor at once.
      while (n < EXECUTOR_BUDGET && ex.breakersOpen === 0 && this.canRun(ex) && (t = ex.inbox.shift())) {
        this.boltById[t.destTask]!.runOne(t);
        n++;
      }
    }
    if (n === 0) return false;
    this.transport.executed(ex.id, n);
    return true;
  }

  private runSpoutExecutor(ex: Executor): 'emitted' | 'idle' | 'full' {
    let result: 'emitted' | 'idle' | 'full' = 'full';
    for (const t of ex.tasks) {
      const r = (t as SpoutTask).run(SPOUT_BUDGET, () => this.canRun(ex));
      if (r === 'emitted') result = 'emitted';
      else if (r === 'idle' && result !== 'emitted') result = 'idle';
    }
    if (result === 'emitted') this.idleMs = SPOUT_IDLE_FIRST_MS;
    return result;
  }

  close(): void {
    this.closed = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
  }
}
