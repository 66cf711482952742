import type { ComponentRef, OutputFields } from './contracts.js';

/** The serialisable description of a submitted topology, as every worker thread receives it. */

export type GroupingType = 'shuffle' | 'fields' | 'localFields' | 'all' | 'global' | 'localOrShuffle';

export interface InputSpec {
  readonly source: string;
  readonly stream: string;
  readonly grouping: GroupingType;
  readonly fields?: readonly string[];
}

export interface ComponentSpec {
  readonly id: string;
  readonly kind: 'spout' | 'bolt' | 'acker';
  readonly ref: ComponentRef;
  readonly executors: number;
  readonly tasks: number;
  readonly inputs: readonly InputSpec[];
  /** Filled at submit time from the component's declareOutputFields(). */
  readonly outputs: OutputFields;
  readonly tickSecs?: number;
  /** Spouts only; 0 = unbounded. */
  readonly maxSpoutPending?: number;
}

export interface TopologyOptions {
  readonly name: string;
  /** Worker threads; default one per core. */
  readonly workers: number;
  /** `topology.ackers`: acker tasks; 0 acks spout tuples as soon as they are emitted. */
  readonly ackers: number;
  readonly messageTimeoutSecs: number;
  readonly maxSpoutPending: number;
  /** Tuples per cross-thread batch. */
  readonly batchSize: number;
  /** Tuples an executor's inbox may hold before its producers are held back. */
  readonly queueCapacity: number;
  /** Batches one worker may have in flight to another before it stops sending. */
  readonly maxInflightBatches: number;
  /** How often workers report metrics to the supervisor. */
  readonly metricsIntervalMs: number;
  /** Latency is timed on one tuple in this many (Storm samples too). */
  readonly latencySampleEvery: number;
  /**
   * V8 young-generation size of each worker thread, MB (default 128). Tuples and the objects of a
   * flow live for a few milliseconds: the larger it is, the fewer outlive a scavenge and get
   * promoted. Measured on the Themis topology, 1,000,000 flows file to file, alternating: 128 MB ran
   * at 80,671-95,822 flows/s against 80,032-88,984 with 64 MB, with less user CPU and a lower peak
   * resident size; 256 MB was 3 % faster again but peaked about 70 MB higher.
   */
  readonly youngGenerationMb: number;
  /**
   * V8 old-generation cap of each worker thread, MB; 0 = V8's default (a share of the machine's
   * memory). Without a cap V8 lets the old generation grow to several times the live data before
   * it collects; a cap keeps the resident size near what the topology holds, at the cost of more
   * frequent major collections. A worker whose live data exceeds the cap dies with
   * THEMIS_WORKER_CRASH naming the cap.
   */
  readonly maxOldGenerationMb: number;
}

export interface TaskSpec {
  readonly taskId: number;
  readonly component: string;
  readonly taskIndex: number;
  readonly executor: number;
}

export interface ExecutorSpec {
  readonly executorId: number;
  readonly component: string;
  readonly worker: number;
  readonly taskIds: readonly number[];
}

/** A stream whose tuples are encoded by a codec when they cross threads (Storm: Kryo registration). */
export interface StreamCodecSpec {
  readonly component: string;
  readonly stream: string;
  readonly ref: ComponentRef;
}

export interface TopologySpec {
  readonly options: TopologyOptions;
  readonly codecs: readonly StreamCodecSpec[];
  readonly components: readonly ComponentSpec[];
  readonly tasks: readonly TaskSpec[];
  readonly executors: readonly ExecutorSpec[];
  /** For each spout task id, the acker task ids its roots are mapped to. */
  readonly ackersBySpoutTask: Readonly<Record<number, readonly number[]>>;
  /**
   * Every spout task id, in order. Root ids are small integers (below 2^30, so never boxed):
   * root = sequence * spoutTaskIds.length + index of the spout task here.
   */
  readonly spoutTaskIds: readonly number[];
}

export const ACKER_COMPONENT = '__acker';
/** Task ids are small integers below this bound. */
export const MAX_TASKS = 4096;
/** Root ids stay below this, so they are V8 small integers everywhere (Map keys, batch arrays). */
export const ROOT_ID_LIMIT = 2 ** 30;
