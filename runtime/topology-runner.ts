import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import type { TopologySpec } from './spec.js';
import type { SupervisorToWorker, WorkerData, WorkerStatus, WorkerToSupervisor } from './executor/messages.js';
import type { WorkerMetricsSnapshot } from './metrics-snapshot.js';
import { RuntimeError } from './errors.js';

/** What the supervisor knows of the whole topology at one moment. */
export interface TopologyStatus {
  readonly exhausted: boolean;
  readonly inFlight: number;
  readonly parked: number;
  readonly queued: number;
  /** Data batches posted between threads and not yet taken in. */
  readonly inTransit: number;
}

export interface ShutdownOptions {
  /** How long in-flight trees may take to complete before close (default: the message timeout). */
  readonly drainTimeoutMs?: number;
}

function workerEntry(): { file: URL; entry: string } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return { file: new URL('./executor/worker-boot.mjs', here), entry: new URL('./executor/worker-main.ts', here).href };
  }
  const main = new URL('./executor/worker-main.js', here);
  return { file: main, entry: main.href };
}

/**
 * The supervisor: runs a placed topology on its worker threads, steers activation and shutdown,
 * and merges the threads' metrics. Emits 'metrics' (snapshots by worker) and 'error'.
 *
 * A worker thread that dies (an error that escaped every task, a heap cap reached, an exit) ends
 * the topology: its tasks and in-flight tuples are gone, so nothing can complete. `crashed()`
 * resolves with the reason, `status()` and `waitUntilDone()` reject with it, and `shutdown()`
 * ends the other threads at once; the trees that were in flight are replayed by a restart.
 */
export class RunningTopology extends EventEmitter {
  readonly snapshots: Array<WorkerMetricsSnapshot | undefined>;
  private readonly workers: Worker[] = [];
  private readonly inflight: Int32Array;
  private readonly load: SharedArrayBuffer;
  private readonly waiting: SharedArrayBuffer;
  private readonly breakers: SharedArrayBuffer;
  private readonly statusWaiters = new Map<number, { resolve: (s: WorkerStatus) => void; reject: (e: Error) => void }>();
  private nextRequest = 1;
  private closedCount = 0;
  private closing: Promise<void> | null = null;
  private readonly closedWaiters: Array<() => void> = [];
  private exited = false;
  /** Set by stopInput: the input ends where the spouts stopped, not where they are exhausted. */
  private inputStopped = false;
  private crash: RuntimeError | null = null;
  private readonly crashWaiters: Array<(e: RuntimeError) => void> = [];

  private constructor(readonly spec: TopologySpec) {
    super();
    this.snapshots = new Array(spec.options.workers).fill(undefined);
    this.inflight = new Int32Array(new SharedArrayBuffer(4 * spec.options.workers * spec.options.workers));
    this.load = new SharedArrayBuffer(4 * spec.executors.length);
    this.waiting = new SharedArrayBuffer(4 * spec.executors.length * spec.options.workers);
    this.breakers = new SharedArrayBuffer(4);
  }

  /** Starts the worker threads, builds every task (open/prepare) and activates the spouts. */
  static async start(spec: TopologySpec, options: { activate?: boolean } = {}): Promise<RunningTopology> {
    const t = new RunningTopology(spec);
    await t.spawn();
    if (options.activate !== false) t.activate();
    return t;
  }

  private async spawn(): Promise<void> {
    const n = this.spec.options.workers;
    const ports: Array<Array<MessagePort | undefined>> = Array.from({ length: n }, () => new Array<MessagePort | undefined>(n).fill(undefined));
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const ch = new MessageChannel();
        ports[i]![j] = ch.port1;
        ports[j]![i] = ch.port2;
      }
    }
    const { file, entry } = workerEntry();
    const ready: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) {
      const peers = ports[i]!;
      const data: WorkerData = { spec: this.spec, workerIndex: i, peers, inflight: this.inflight.buffer as SharedArrayBuffer, load: this.load, waiting: this.waiting, breakers: this.breakers, entry };
      const w = new Worker(file, {
        workerData: data,
        transferList: peers.filter((p): p is MessagePort => p !== undefined),
        name: `themis-worker-${i}`,
        // Tuples are short-lived: a larger young generation lets the scavenger free them before
        // they are promoted (measured: GC share of worker CPU falls markedly).
        resourceLimits: {
          maxYoungGenerationSizeMb: this.spec.options.youngGenerationMb,
          ...(this.spec.options.maxOldGenerationMb > 0 ? { maxOldGenerationSizeMb: this.spec.options.maxOldGenerationMb } : {}),
        },
      });
      this.workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.on('message', (m: WorkerToSupervisor) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'fatal') reject(new RuntimeError('THEMIS_WORKER_START', `worker ${i} failed to start: ${m.message}`));
            else this.onWorkerMessage(i, m);
          });
          w.on('exit', (code) => {
            // Workers end only when terminated; an exit before that (or before shutdown) is a death.
            if (!this.exited && this.closing === null) this.onCrash(new RuntimeError('THEMIS_WORKER_CRASH', `worker ${i} exited unexpectedly (exit code ${code})`));
          });
          w.on('error', (err) => {
            const cap = this.spec.options.maxOldGenerationMb;
            const outOfMemory = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
            const hint = outOfMemory
              ? cap > 0
                ? ` (its heap cap, maxOldGenerationMb, is ${cap} MB: raise it, or hold less: max spout pending, match table size)`
                : ' (V8 heap limit reached)'
              : '';
            const e = new RuntimeError('THEMIS_WORKER_CRASH', `worker ${i} crashed: ${err.message}${hint}`, { cause: err });
            reject(e);
            this.onCrash(e);
          });
        }),
      );
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      await this.terminate();
      throw err;
    }
  }

  private onCrash(e: RuntimeError): void {
    if (this.crash !== null) return;
    this.crash = e;
    for (const w of this.statusWaiters.values()) w.reject(e);
    this.statusWaiters.clear();
    for (const w of this.crashWaiters.splice(0)) w(e);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  /** Resolves with the reason once a worker thread has died (never, if none does). */
  crashed(): Promise<RuntimeError> {
    if (this.crash !== null) return Promise.resolve(this.crash);
    return new Promise((resolve) => this.crashWaiters.push(resolve));
  }

  private onWorkerMessage(i: number, m: WorkerToSupervisor): void {
    switch (m.type) {
      case 'metrics':
        this.snapshots[i] = m.snapshot;
        this.emit('metrics', this.snapshots);
        break;
      case 'status': {
        const waiter = this.statusWaiters.get(m.requestId);
        this.statusWaiters.delete(m.requestId);
        waiter?.resolve(m.status);
        break;
      }
      case 'closed':
        this.closedCount++;
        if (this.closedCount === this.workers.length) for (const w of this.closedWaiters.splice(0)) w();
        break;
      default:
        break;
    }
  }

  private broadcast(m: SupervisorToWorker): void {
    for (const w of this.workers) w.postMessage(m);
  }

  activate(): void {
    this.broadcast({ type: 'activate' });
  }
  deactivate(): void {
    this.broadcast({ type: 'deactivate' });
  }

  async status(): Promise<TopologyStatus> {
    if (this.crash !== null) throw this.crash;
    const replies = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<WorkerStatus>((resolve, reject) => {
            const requestId = this.nextRequest++;
            this.statusWaiters.set(requestId, { resolve, reject });
            w.postMessage({ type: 'status', requestId } satisfies SupervisorToWorker);
          }),
      ),
    );
    let inFlight = 0;
    let parked = 0;
    let queued = 0;
    let exhausted = true;
    let spouts = 0;
    for (const r of replies) {
      queued += r.queued;
      for (const s of r.spouts) {
        spouts++;
        inFlight += s.inFlight;
        parked += s.parked;
        if (!s.exhausted) exhausted = false;
      }
    }
    let inTransit = 0;
    for (let i = 0; i < this.inflight.length; i++) inTransit += Atomics.load(this.inflight, i);
    return { exhausted: exhausted && spouts > 0, inFlight, parked, queued, inTransit };
  }

  /**
   * For finite input: waits until every spout is exhausted (or stopped, see stopInput) and every
   * tree not held by a bolt is complete, tells the bolts the input has ended (flow matching
   * releases what it holds), then waits until nothing is in flight, parked or queued anywhere.
   */
  async waitUntilDone(pollMs = 20): Promise<void> {
    const quiet = (s: TopologyStatus, withParked: boolean, stopped: boolean) =>
      (s.exhausted || stopped) && s.inFlight === 0 && s.queued === 0 && s.inTransit === 0 && (!withParked || s.parked === 0);
    const sleep = () => new Promise((r) => setTimeout(r, pollMs));
    // Two quiet readings in a row: a batch can be between a worker's queue and its peer's port.
    // `stopped` is read before the request, so it holds only for readings taken after the deactivation.
    for (let streak = 0; streak < 2; ) {
      const stopped = this.inputStopped;
      streak = quiet(await this.status(), false, stopped) ? streak + 1 : 0;
      if (streak < 2) await sleep();
    }
    this.broadcast({ type: 'inputEnd' });
    for (let streak = 0; streak < 2; ) {
      streak = quiet(await this.status(), true, this.inputStopped) ? streak + 1 : 0;
      if (streak < 2) await sleep();
    }
  }

  /**
   * Ends a finite input where it is (a stop signal): the spouts are deactivated and emit nothing
   * more, replays included, and waitUntilDone no longer waits for them to be exhausted: it lets
   * what is in flight complete, tells the bolts the input has ended, and drains.
   */
  stopInput(): void {
    this.inputStopped = true;
    this.deactivate();
  }

  /**
   * Graceful stop: deactivate the spouts, let in-flight trees complete (bounded), then close the
   * spouts, clean up the bolts and end the threads.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.closing ??= this.doShutdown(options.drainTimeoutMs ?? this.spec.options.messageTimeoutSecs * 1000);
    return this.closing;
  }

  private async doShutdown(drainTimeoutMs: number): Promise<void> {
    if (this.exited) return;
    if (this.crash !== null) return this.terminate();
    this.deactivate();
    const deadline = Date.now() + drainTimeoutMs;
    try {
      while (Date.now() < deadline) {
        const s = await this.status();
        if (s.inFlight === 0 && s.queued === 0 && s.inTransit === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch {
      return this.terminate(); // a worker died while draining: nothing more can complete
    }
    const closed = new Promise<void>((resolve) => this.closedWaiters.push(resolve));
    this.broadcast({ type: 'shutdown' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, this.crashed(), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    await this.terminate();
  }

  private async terminate(): Promise<void> {
    this.exited = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
