/**
 * The contracts a topology's components implement, in Apache Storm's shape. The engine builds
 * each task's instance on whichever worker thread its executor lands on, from a module reference
 * and serialisable arguments (never a closure), so these types are all a component sees.
 */

export const DEFAULT_STREAM = 'default';
/** Tick tuples arrive on this stream from the `__system` component when a bolt asks for them. */
export const TICK_STREAM = '__tick';
export const SYSTEM_COMPONENT = '__system';

/** Where a component's code lives: an ES module and the export that builds an instance. */
export interface ComponentRef<A = unknown> {
  /** An absolute file path or file: URL of an ES module (.js, or .ts in development). */
  readonly module: string;
  /** A class (constructed with `new X(args)`) or a factory function (called with `args`). */
  readonly export: string;
  /** Structured-cloneable arguments handed to every task's instance. */
  readonly args?: A;
  /** The component is a `BasicBolt` (auto-anchoring, auto-acking); see `basicBolt()`. */
  readonly basic?: boolean;
}

/** Marks a bolt reference as a basic bolt. */
export function basicBolt<A>(ref: ComponentRef<A>): ComponentRef<A> {
  return { ...ref, basic: true };
}

/**
 * Turns a stream's tuple values into a compact wire form and back, used only when a tuple crosses
 * threads (as Storm serialises only between workers). Structured clone pays per property name of
 * every object; a flat array of primitives costs a fraction of that.
 */
export interface StreamCodec {
  encode(values: readonly unknown[]): unknown[];
  decode(wire: unknown[]): unknown[];
}

export interface Tuple {
  readonly values: readonly unknown[];
  readonly sourceComponent: string;
  readonly sourceTask: number;
  readonly sourceStream: string;
  /** Value of a declared field of the source stream. */
  getValueByField(field: string): unknown;
  readonly isTick: boolean;
}

export interface TopologyContext {
  readonly topologyName: string;
  readonly componentId: string;
  readonly taskId: number;
  /** This task's index among its component's tasks (0-based). */
  readonly taskIndex: number;
  readonly componentTasks: number;
  readonly workerIndex: number;
  readonly log: Logger;
  /**
   * A counter of this task, exported as `themis_<name>_total` with the instance, component and
   * task labels (name in snake_case, e.g. `flows_discarded`).
   */
  counter(name: string): MetricCounter;
  /**
   * A latency histogram of this task, exported as `themis_<name>_seconds` (a Prometheus histogram
   * with the engine's fixed buckets, 10 µs to 1,000 s) with the instance, component and task labels.
   */
  histogram(name: string): MetricHistogram;
  /**
   * A reading of this task for the live page: `read` is called on the task's thread at each
   * metrics report (every `metricsIntervalMs`), and what it returns (small and structured-cloneable;
   * undefined for nothing) crosses to the supervisor as `TaskMetrics.readings[name]`. The component
   * keeps it bounded; reading it may reset it (an interval's summary).
   */
  reading(name: string, read: () => unknown): void;
  /**
   * A gauge of this task, exported as `themis_<name>` (snake_case ending in its unit, e.g.
   * `kafka_consumer_lag_messages`) with the instance, component and task labels plus each sample's
   * own labels (snake_case; not `instance`, `component`, `task` or `le`). `read` is called on the
   * task's thread at each metrics report, and its samples replace those of the last report: a label
   * set that stops appearing stops being served. The component keeps them few.
   */
  gauge(name: string, read: () => readonly GaugeSample[]): void;
}

/** One series of a component's gauge. */
export interface GaugeSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricCounter {
  inc(by?: number): void;
}

export interface MetricHistogram {
  observe(seconds: number): void;
}

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface OutputFields {
  /** stream id -> field names. */
  readonly [stream: string]: readonly string[];
}

/** Why a spout is told that a root failed. */
export type FailReason = 'error' | 'timeout';

/** Which bolt failed a tuple of the tree, and with what error (reason `error` only, when known). */
export interface FailCause {
  readonly component: string;
  readonly task: number;
  /** The error's message, or empty when the bolt failed the tuple without one. */
  readonly error: string;
}

export interface SpoutOutputCollector {
  /**
   * Emits a new root tuple. With a msgId the tuple tree is tracked (ack/fail come back for it);
   * without one it is fire-and-forget.
   */
  emit(values: unknown[], msgId?: unknown, stream?: string): void;
  /** A finite spout says its input is exhausted; the topology may then drain and stop. */
  signalExhausted(): void;
  /**
   * Data arrived for a spout whose nextTuple emitted nothing: it is asked again at once, instead of
   * after its idle pause (which grows to 50 ms while it stays idle).
   */
  wake(): void;
  reportError(err: unknown): void;
}

export interface Spout {
  open?(context: TopologyContext, collector: SpoutOutputCollector): void | Promise<void>;
  /** Emit zero or more tuples; the engine calls this while the task has room under maxSpoutPending. */
  nextTuple(): void;
  ack?(msgId: unknown): void;
  fail?(msgId: unknown, reason: FailReason, cause?: FailCause): void;
  activate?(): void;
  deactivate?(): void;
  close?(): void | Promise<void>;
  declareOutputFields(): OutputFields;
}

export interface OutputCollector {
  /** Emits anchored to the given inputs (none: unanchored, outside any tuple tree). */
  emit(values: unknown[], anchors?: Tuple | readonly Tuple[] | null, stream?: string): void;
  ack(input: Tuple): void;
  fail(input: Tuple, err?: unknown): void;
  /**
   * The bolt holds this input for longer than a message timeout (flow matching): its tree stops
   * counting against maxSpoutPending and the timeout until the bolt acks or fails it. The tree
   * stays incomplete, so a crash replays it.
   */
  park(input: Tuple): void;
  /**
   * A dependency the bolt needs (a database, a broker) is unavailable: the failure is not the
   * tuples' fault. The bolt keeps the inputs it could not finish and retries on its own; the
   * engine opens this task's circuit breaker: the task gets no more input (its inbox fills, its
   * producers wait, the spouts stop taking input), and while any breaker of the topology is open
   * no root's timeout runs, so nothing is replayed for the outage. Logged and counted once per
   * opening; `dependencyRestored` closes it.
   */
  dependencyLost(dependency: string, err?: unknown): void;
  /** The dependency is back: the task gets input again (the breaker closes once all its dependencies are back). */
  dependencyRestored(dependency: string): void;
  reportError(err: unknown): void;
}

export interface Bolt {
  prepare?(context: TopologyContext, collector: OutputCollector): void | Promise<void>;
  /** Called per input tuple unless `executeBatch` is defined. */
  execute?(input: Tuple): void;
  /** Optional: the executor hands over every queued input of this task at once (batched I/O). */
  executeBatch?(inputs: Tuple[]): void;
  /** Called once on every task after all spouts are exhausted and every non-parked tree is done. */
  onInputEnd?(): void;
  cleanup?(): void | Promise<void>;
  declareOutputFields(): OutputFields;
  /** Seconds between tick tuples for this bolt, or undefined for none. */
  readonly tickSecs?: number;
}

/**
 * The basic-bolt form: emits are anchored to the input, and the input is acked when `execute`
 * returns, or failed when it throws. The input tuple is the bolt's only during `execute` (a task
 * run chained reuses the tuple object): keep its values, not the tuple.
 */
export interface BasicOutputCollector {
  emit(values: unknown[], stream?: string): void;
  reportError(err: unknown): void;
}

export interface BasicBolt {
  prepare?(context: TopologyContext): void | Promise<void>;
  execute(input: Tuple, collector: BasicOutputCollector): void;
  onInputEnd?(collector: BasicOutputCollector): void;
  cleanup?(): void | Promise<void>;
  declareOutputFields(): OutputFields;
  readonly tickSecs?: number;
}
