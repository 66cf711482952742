import type { StreamCodec } from '../contracts.js';
import type { TopologySpec } from '../spec.js';
import type { ControlOp } from '../root-tracking.js';
import { CONTROL_STRIDE, TUPLE_HEADER, type PeerBatch, type PeerMessage, type WorkerData } from './messages.js';
import type { StreamTable } from './routing.js';
import { TupleImpl } from './tuple-impl.js';

/**
 * Transport between worker threads, and the flow control of every executor's inbox.
 *
 * What moves: tuples, in batches per pair of threads (an outbox per peer, flushed at the end of a
 * scheduling turn or when it holds `batchSize` tuples), and control records (acks, inits,
 * verdicts, park and unpark) in the same messages, as a transferred Int32Array.
 *
 * Flow control. Each executor E has a load: the tuples addressed to it and not yet executed,
 * wherever they are (a sender's outbox, a message in flight, the receiver's net queue, E's inbox).
 * It lives in shared memory, `load[E]`, added to by whoever addresses a tuple to E and subtracted
 * by E's thread once E has run it. A producer (spout or bolt executor) runs one more tuple only
 * while every executor downstream of it has load < queueCapacity (`hasRoom`); a producer turned
 * away marks itself waiting on E, and E's thread wakes it (a `wake` message, or its own next
 * pass) when E's load falls below the capacity. Every other step is unconditional:
 *
 *   - a received batch is always taken into the inboxes (its tuples are already counted in the
 *     loads of their executors, so this needs no room of its own) and its credit returned at once;
 *   - control records never wait: they go with the next message to their thread, credit or not;
 *   - an outbox waits only for a credit (at most `maxInflightBatches` data batches in flight per
 *     pair of threads, which batches messages under load), and credits come back as soon as the
 *     peer's next turn takes the batch in, which waits for nothing.
 *
 * Why this cannot deadlock (for a topology whose components form a DAG, as every topology built
 * by the builder does): the only wait that depends on another executor is "producer P waits for
 * an executor E downstream of it". Take, among the executors that hold tuples, one furthest
 * downstream, F. Its own downstream executors hold nothing, so they have room, so F runs its
 * inbox; tuples addressed to F but not in its inbox yet reach it without waiting on any executor
 * (credits return unconditionally). So F's load falls, and whoever waits on F is woken. Applied
 * again, every tuple is executed: no set of threads can wait on each other in a cycle. The waits
 * of the old design that made cycles (a receive gate that refused a batch while the receiver's
 * own inboxes were full, and outbox caps shared by every executor of a thread) are gone.
 *
 * Bounds: a producer checks before each tuple it runs (each nextTuple, each execute), so E's load
 * exceeds queueCapacity by at most what the single executes that passed the check emit, one per
 * producer executor. Acks, verdicts and ticks do not count against any bound.
 */

/** One received batch waiting to be taken in. */
interface Received {
  readonly from: number;
  readonly data: unknown[];
  readonly tuples: number;
}

interface Outbox {
  data: unknown[];
  /** Tuples in `data` (its length also counts inline values). */
  tuples: number;
  control: number[];
  /** Failure notes, flat [root, task, error]*. */
  notes: Array<number | string>;
}

export class Transport {
  private readonly nWorkers: number;
  private readonly outboxes: Outbox[];
  private readonly received: Received[] = [];
  /** W*W cells: data batches sent by `from` to `to` and not yet taken in (from * W + to). */
  private readonly inflight: Int32Array;
  /** Per executor: tuples addressed to it and not yet executed. */
  private readonly load: Int32Array;
  /** Per executor and worker (E * W + w): 1 when worker w waits for room at E. */
  private readonly waiting: Int32Array;
  private readonly capacity: number;
  private readonly batchSize: number;
  private readonly maxInflight: number;

  constructor(
    spec: TopologySpec,
    private readonly me: number,
    private readonly data: WorkerData,
    private readonly streams: StreamTable,
    private readonly codecs: ReadonlyArray<StreamCodec | undefined>,
    /** Takes a received tuple into its executor's inbox. */
    private readonly enqueue: (t: TupleImpl) => void,
    /** Applies a received control record. */
    private readonly onControl: (op: ControlOp, dest: number, root: number, a: number, b: number, c: number) => void,
    /** Keeps a received failure note. */
    private readonly onFailureNote: (root: number, task: number, error: string) => void,
    /** Asks for a scheduling turn on this thread. */
    private readonly wakeSelf: () => void,
  ) {
    this.nWorkers = spec.options.workers;
    this.outboxes = Array.from({ length: this.nWorkers }, () => ({ data: [], tuples: 0, control: [], notes: [] }));
    this.inflight = new Int32Array(data.inflight);
    this.load = new Int32Array(data.load);
    this.waiting = new Int32Array(data.waiting);
    this.capacity = spec.options.queueCapacity;
    this.batchSize = spec.options.batchSize;
    this.maxInflight = spec.options.maxInflightBatches;
  }

  // ---- flow control ----

  /** A tuple is addressed to executor `ex` (on any thread). */
  addressed(ex: number): void {
    Atomics.add(this.load, ex, 1);
  }

  /**
   * Whether executor `ex` has room for more; when it has not, this worker is marked as waiting on
   * it (and the load read again, so a release between the two readings is not missed).
   */
  hasRoom(ex: number): boolean {
    if (Atomics.load(this.load, ex) < this.capacity) return true;
    Atomics.store(this.waiting, ex * this.nWorkers + this.me, 1);
    return Atomics.load(this.load, ex) < this.capacity;
  }

  /** Executor `ex` (of this thread) ran `n` tuples: its load falls, and its waiting producers are woken. */
  executed(ex: number, n: number): void {
    const after = Atomics.sub(this.load, ex, n) - n;
    if (after >= this.capacity) return;
    const base = ex * this.nWorkers;
    for (let w = 0; w < this.nWorkers; w++) {
      if (Atomics.load(this.waiting, base + w) === 0 || Atomics.exchange(this.waiting, base + w, 0) === 0) continue;
      if (w === this.me) this.wakeSelf();
      else this.data.peers[w]!.postMessage({ type: 'wake' } satisfies PeerMessage);
    }
  }

  /** The load of executor `ex` (status and metrics). */
  loadOf(ex: number): number {
    return Atomics.load(this.load, ex);
  }

  // ---- sending ----

  /** Queues a tuple for a task on worker `w` (not this one); `addressed` was called for its executor. */
  send(w: number, destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, edgeHi: number, edgeLo: number, moreTrees: number[] | null): void {
    const out = this.outboxes[w]!;
    const data = out.data;
    const codec = this.codecs[streamCode];
    const wire = codec ? codec.encode(values) : values;
    data.push(destTask, streamCode, sourceTask, root, edgeHi, edgeLo, moreTrees, wire.length);
    for (let i = 0; i < wire.length; i++) data.push(wire[i]);
    if (++out.tuples >= this.batchSize) this.flushTo(w);
  }

  /** Queues a control record for worker `w` (not this one). */
  sendControl(w: number, op: ControlOp, destTask: number, root: number, a: number, b: number, c: number): void {
    this.outboxes[w]!.control.push(op, destTask, root, a, b, c);
  }

  /** Queues a failure note for worker `w` (not this one): it goes with the next message, like control records. */
  sendFailureNote(w: number, root: number, task: number, error: string): void {
    this.outboxes[w]!.notes.push(root, task, error);
  }

  /** Tuples in outboxes not yet sent. */
  get unsent(): number {
    let n = 0;
    for (const o of this.outboxes) n += o.tuples;
    return n;
  }

  flushAll(): void {
    for (let w = 0; w < this.nWorkers; w++) if (w !== this.me) this.flushTo(w);
  }

  private flushTo(w: number): void {
    const out = this.outboxes[w]!;
    const idx = this.me * this.nWorkers + w;
    // Data waits for a credit; control records never do.
    const sendData = out.tuples > 0 && Atomics.load(this.inflight, idx) < this.maxInflight;
    if (!sendData && out.control.length === 0 && out.notes.length === 0) return;
    let control: Int32Array | null = null;
    if (out.control.length > 0) {
      control = Int32Array.from(out.control);
      out.control = [];
    }
    if (sendData) Atomics.add(this.inflight, idx, 1);
    const notes = out.notes.length > 0 ? out.notes : null;
    if (notes !== null) out.notes = [];
    const batch: PeerBatch = { type: 'batch', from: this.me, data: sendData ? out.data : null, tuples: sendData ? out.tuples : 0, control, failureNotes: notes };
    this.data.peers[w]!.postMessage(batch, control ? [control.buffer as ArrayBuffer] : []);
    if (sendData) {
      out.data = [];
      out.tuples = 0;
    }
  }

  // ---- receiving ----

  /** A message from a peer: control records are applied at once, data waits for `takeIn`. */
  onPeerMessage(m: PeerMessage): void {
    if (m.type === 'batch') {
      const n = m.failureNotes;
      if (n) for (let i = 0; i < n.length; i += 3) this.onFailureNote(n[i] as number, n[i + 1] as number, n[i + 2] as string);
      const c = m.control;
      if (c) for (let i = 0; i < c.length; i += CONTROL_STRIDE) this.onControl(c[i]! as ControlOp, c[i + 1]!, c[i + 2]!, c[i + 3]!, c[i + 4]!, c[i + 5]!);
      if (m.data) this.received.push({ from: m.from, data: m.data, tuples: m.tuples });
    }
    // A credit or a wake only asks for a turn: the flush or the waiting producer runs there.
    this.wakeSelf();
  }

  /** Batches received and not taken in yet. */
  get pendingBatches(): number {
    return this.received.length;
  }
  get pendingTuples(): number {
    let n = 0;
    for (const b of this.received) n += b.tuples;
    return n;
  }

  /** Takes every received batch into the inboxes and returns its credit: this waits for nothing. */
  takeIn(): boolean {
    if (this.received.length === 0) return false;
    for (let b = 0; b < this.received.length; b++) {
      const { from, data } = this.received[b]!;
      for (let i = 0; i < data.length; ) {
        const code = data[i + 1] as number;
        const info = this.streams.infos[code]!;
        const n = data[i + 7] as number;
        const wire = data.slice(i + TUPLE_HEADER, i + TUPLE_HEADER + n);
        const codec = this.codecs[code];
        const values = codec ? codec.decode(wire) : wire;
        this.enqueue(
          new TupleImpl(values, info.component, data[i + 2] as number, info.stream, data[i] as number, info.fields, data[i + 3] as number, data[i + 4] as number, data[i + 5] as number, data[i + 6] as number[] | null, false),
        );
        i += TUPLE_HEADER + n;
      }
      const before = Atomics.sub(this.inflight, from * this.nWorkers + this.me, 1);
      if (before >= this.maxInflight) this.data.peers[from]!.postMessage({ type: 'credit' } satisfies PeerMessage);
    }
    this.received.length = 0;
    return true;
  }
}
