import type { MessagePort } from 'node:worker_threads';
import type { TopologySpec } from '../spec.js';
import type { WorkerMetricsSnapshot } from '../metrics-snapshot.js';

/**
 * Everything that crosses a thread boundary. Tuples and acker traffic travel in batches between
 * worker threads over a mesh of MessagePorts; the supervisor (main thread) only steers and
 * collects metrics.
 */

export interface WorkerData {
  readonly spec: TopologySpec;
  readonly workerIndex: number;
  /** peers[i] is the port to worker i (undefined for this worker itself). */
  readonly peers: ReadonlyArray<MessagePort | undefined>;
  /** Int32Array over W*W cells: data batches sent by `from` and not yet taken in by `to`. */
  readonly inflight: SharedArrayBuffer;
  /** Int32Array, a cell per executor: tuples addressed to it and not yet executed (transport.ts). */
  readonly load: SharedArrayBuffer;
  /** Int32Array over executors * W cells: 1 when worker w waits for room at executor E. */
  readonly waiting: SharedArrayBuffer;
  /** Int32Array of one cell: bolt tasks whose circuit breaker is open, topology-wide. */
  readonly breakers: SharedArrayBuffer;
  readonly entry: string;
}

/**
 * A batch between workers. `data` holds tuples flattened, each as TUPLE_HEADER slots — destTask,
 * streamCode, sourceTask, root (0 = untracked), edgeHi, edgeLo, more roots (flat
 * [root, edgeHi, edgeLo]* or null), value count n — followed by its n values inline. Structured
 * clone pays per object, so a tuple of primitives costs no object at all.
 * `control` holds root-tracking records (`ControlOp`), CONTROL_STRIDE numbers each: op, destTask,
 * root, a, b, c.
 */
export interface PeerBatch {
  readonly type: 'batch';
  readonly from: number;
  readonly data: unknown[] | null;
  readonly tuples: number;
  /** Transferred, not copied; edge halves are stored as int32 bit patterns. */
  readonly control: Int32Array | null;
  /**
   * What failed a root, flat [root, task, error]*: sent along the path of the root's Fail record
   * and applied before the control records of the same message, so it is there when the Fail is.
   */
  readonly failureNotes: Array<number | string> | null;
}
/** The receiver took a batch in: the sender may send another. */
export interface PeerCredit {
  readonly type: 'credit';
}
/** An executor the receiver was waiting on has room again. */
export interface PeerWake {
  readonly type: 'wake';
}
export type PeerMessage = PeerBatch | PeerCredit | PeerWake;

export const TUPLE_HEADER = 8;
export const CONTROL_STRIDE = 6;

export type SupervisorToWorker =
  | { readonly type: 'activate' }
  | { readonly type: 'deactivate' }
  | { readonly type: 'inputEnd' }
  | { readonly type: 'status'; readonly requestId: number }
  | { readonly type: 'shutdown' };

export interface SpoutStatus {
  readonly task: number;
  readonly component: string;
  readonly exhausted: boolean;
  readonly inFlight: number;
  readonly parked: number;
}

export interface WorkerStatus {
  readonly spouts: readonly SpoutStatus[];
  /** Tuples queued in this worker: executor inboxes, unsent outboxes and undispatched batches. */
  readonly queued: number;
}

export type WorkerToSupervisor =
  | { readonly type: 'ready' }
  | { readonly type: 'fatal'; readonly message: string }
  | { readonly type: 'metrics'; readonly snapshot: WorkerMetricsSnapshot }
  | { readonly type: 'status'; readonly requestId: number; readonly status: WorkerStatus }
  | { readonly type: 'closed' };
