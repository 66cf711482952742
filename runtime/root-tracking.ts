import { IntTable, RecordTable } from './int-table.js';
import { grow, SlotPool } from './slot-pool.js';

/**
 * Root tracking: the life of a spout tuple's tree, from its emit to its one verdict. Every rule
 * about when a root completes, fails, waits or expires is in this file.
 *
 * A root is a spout tuple emitted with a msgId while acking is on. Its tree is every tuple emitted
 * anchored, directly or not, to it. Three places hold a part of its state:
 *
 *   - each tuple of the tree (a `TreeMember`): its edge id in each tree it belongs to, and the XOR
 *     of the edges of the tuples emitted anchored to it, folded into its ack;
 *   - an acker task (`AckLedger`): the XOR of every edge reported so far, and the spout task to
 *     tell. Each edge id enters twice, once when its tuple is emitted and once when it is acked, so
 *     zero (with the spout's init in) means every edge was acked;
 *   - the root's spout task (`RootWindow`): its msgId, whether it is parked, and its deadline. It
 *     holds the one clock: it alone decides that a root has waited too long.
 *
 * States of a root, as its spout task sees them, and what moves it:
 *
 *                 every child chained, nothing left to ack
 *     emit ───────────────────────────────────────────────────────────► ACKED
 *      │ otherwise
 *      ▼            Park (parks += 1)
 *   PENDING ─────────────────────────────► PARKED
 *      ▲   Unpark (parks -= 1, now 0):        │ Unpark (parks still > 0): stays PARKED
 *      └── deadline = now + timeout ──────────┘
 *
 *   PENDING or PARKED ── Complete ──► ACKED           (the acker's XOR is zero, init in)
 *   PENDING or PARKED ── Failed ────► FAILED(error)   (a bolt failed a tuple of the tree)
 *   PENDING ──────────── deadline ──► FAILED(timeout) (PARKED has no deadline)
 *
 *   While any bolt task of the topology has its circuit breaker open (a dependency it needs is
 *   down: `OutputCollector.dependencyLost`), every deadline stands still: an outage replays
 *   nothing, and no flow spends its retry budget on it.
 *
 *   - PENDING counts against maxSpoutPending and has a deadline: emit (or last unpark) + timeout.
 *   - PARKED: a bolt holds a tuple of the tree on purpose (flow matching waits for the reverse
 *     direction). It counts neither against maxSpoutPending nor against any timeout: the holder
 *     bounds how long it waits, and releases it (ack or fail) itself. A crash still replays it,
 *     since it is neither acked nor forgotten, and the Kafka spout commits no offset past it.
 *   - ACKED and FAILED are final: the spout's ack(msgId) or fail(msgId, reason) is called exactly
 *     once, and the root id leaves every table. A replay is the spout's own decision on fail: it
 *     emits the message again, as a new root.
 *
 * The acker's entry of a root, and what removes it:
 *   - Init (from the spout, with the XOR of the root's first edges and the spout task) and Ack
 *     (from a bolt: its input's edge XOR the edges it emitted anchored to it) fold into the XOR.
 *     Acks may arrive before the init; the entry completes only once the init is in.
 *   - Complete: XOR zero with the init in; the spout task is told, the entry goes.
 *   - Fail: a bolt failed a tuple of the tree; the spout task is told, the entry goes.
 *   - Forget: the spout task reached a verdict the acker did not give (timeout), or gave a failure
 *     that may have overtaken the init. The spout's messages to an acker are ordered, so a Forget
 *     never overtakes its root's init.
 *   - Acks of a root already failed or forgotten make an entry with no init: an orphan. Rotation
 *     (once per message timeout) drops orphans untouched for two rotations. An entry with its
 *     init in is never rotated away: its expiry is the spout's decision alone, so a parked root
 *     survives any wait. (An init leaves the spout at the root's emit, before any of its tuples
 *     exists; for acks to be swept as orphans before it arrives, a thread would have to stall for
 *     a whole timeout. The root then times out at its spout and is replayed: late, not lost.)
 *
 * Messages between threads are reliable and ordered per pair of threads; different pairs are not
 * ordered with each other, so a spout may see Complete before the Unpark of the same root (the
 * Unpark then finds nothing and is ignored), and an acker may see acks before the init.
 */

// ---- edge ids ----

// xorshift128 (Marsaglia), seeded per thread from the system's randomness. Only uniqueness matters
// (an accidental XOR of zero is 2^-64 per tree), and this allocates nothing. Edge halves and their
// XORs are kept as signed 32-bit integers (`^` gives one): V8 holds those as small integers, where
// an unsigned half above 2^31 would be a heap number in every tuple field and array slot.
const rngState = new Int32Array(4);
crypto.getRandomValues(rngState);
if ((rngState[0]! | rngState[1]! | rngState[2]! | rngState[3]!) === 0) rngState[0] = 1;

/** Half (32 bits) of a new random edge id. */
export function edgeHalf(): number {
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

// ---- the tuples of a tree ----

/** The tree bookkeeping of a tuple, as the engine's tuples carry it. root 0 = untracked. */
export interface TreeMember {
  /** The first tree the tuple belongs to (almost every tuple belongs to exactly one). */
  root: number;
  /** The tuple's edge id in `root`'s tree (0 when it ran chained: it has no edge of its own). */
  edgeHi: number;
  edgeLo: number;
  /** Further trees, flat [root, edgeHi, edgeLo]*; null when only one. */
  moreTrees: number[] | null;
  /** XOR of the edges of the tuples emitted anchored to this one, in `root`'s tree. */
  childXorHi: number;
  childXorLo: number;
  /** The same per further tree, flat [hi, lo]* in `moreTrees` order; null until needed. */
  moreChildXor: number[] | null;
  /** Acked or failed: a second ack or fail is ignored. */
  done: boolean;
  /** A bolt parked it (its trees are PARKED until it is acked or failed). */
  parked: boolean;
  /**
   * Set when the tuple was run inside the emit of the tuples it is anchored to (a chained basic
   * bolt): its ack folds its children's edges into those anchors, per tree, instead of sending a
   * message; the chain acks once, when the outermost input is acked (or in the root's init).
   */
  chainAnchors: readonly TreeMember[] | null;
  /** A tuple chained from this one failed: its trees are failed, so a spout sends no init. */
  chainFailed: boolean;
}

/** Control messages of root tracking (to an acker: Init, Ack, Fail, Forget; to a spout: the rest). */
export const enum ControlOp {
  Init = 1,
  Ack = 2,
  Fail = 3,
  Complete = 4,
  Failed = 5,
  Park = 6,
  Unpark = 7,
  Forget = 8,
}

/** Where a task's control messages go, and which acker and spout task own a root. */
export interface ControlSink {
  control(op: ControlOp, destTask: number, root: number, a: number, b: number, c: number): void;
  /**
   * What failed a root (bolt task `task`, with `error`), sent along the path of its Fail record
   * (to the root's acker, then with the Failed verdict to its spout task), ahead of the record.
   */
  noteFailure(root: number, task: number, error: string): void;
  ackerFor(root: number): number;
  spoutTaskOf(root: number): number;
}

/** Folds edge (h, l) of tree `root` into a flat [root, hi, lo]* list; returns the list. */
function addToTrees(trees: number[] | null, root: number, h: number, l: number): number[] {
  // Most tuples of several trees belong to two: the first extra tree gets an array of its size.
  if (trees === null) return [root, h, l];
  for (let k = 0; k < trees.length; k += 3) {
    if (trees[k] === root) {
      trees[k + 1] = trees[k + 1]! ^ h;
      trees[k + 2] = trees[k + 2]! ^ l;
      return trees;
    }
  }
  trees.push(root, h, l);
  return trees;
}

/** A new tuple's trees, filled by `anchorToMany` and `treesOf` (reused: read at once). */
export interface NewTrees {
  root: number;
  edgeHi: number;
  edgeLo: number;
  moreTrees: number[] | null;
}

/**
 * Anchors one new tuple to several tuples: a new edge id per (anchor, tree), folded into each
 * anchor's child XOR. Edges of the same tree are XORed into one entry, as Storm does: a join of
 * copies of one flow then carries a single root and allocates no extra array.
 */
export function anchorToMany(anchors: readonly TreeMember[], out: NewTrees): void {
  let root = 0;
  let hi = 0;
  let lo = 0;
  let more: number[] | null = null;
  for (let a = 0; a < anchors.length; a++) {
    const anchor = anchors[a]!;
    if (anchor.root !== 0) {
      const h = edgeHalf();
      const l = edgeHalf();
      anchor.childXorHi = anchor.childXorHi ^ h;
      anchor.childXorLo = anchor.childXorLo ^ l;
      // The common case (copies of one flow, all of one tree) stays in these locals.
      if (root === 0 || root === anchor.root) {
        root = anchor.root;
        hi = hi ^ h;
        lo = lo ^ l;
      } else more = addToTrees(more, anchor.root, h, l);
    }
    const am = anchor.moreTrees;
    if (!am) continue;
    anchor.moreChildXor ??= new Array<number>((am.length / 3) * 2).fill(0);
    for (let k = 0, j = 0; k < am.length; k += 3, j += 2) {
      const h = edgeHalf();
      const l = edgeHalf();
      anchor.moreChildXor[j] = anchor.moreChildXor[j]! ^ h;
      anchor.moreChildXor[j + 1] = anchor.moreChildXor[j + 1]! ^ l;
      if (root === 0 || root === am[k]!) {
        root = am[k]!;
        hi = hi ^ h;
        lo = lo ^ l;
      } else more = addToTrees(more, am[k]!, h, l);
    }
  }
  out.root = root;
  out.edgeHi = hi;
  out.edgeLo = lo;
  out.moreTrees = more;
}

/**
 * The trees of several anchors, for a tuple chained to them (no edges: a chained tuple has none):
 * the first root in `out.root`, the others as a flat [root, 0, 0]* list in `out.moreTrees`.
 */
export function treesOf(anchors: readonly TreeMember[], out: NewTrees): void {
  // Plain loops, no callback: this runs for every chained emit with several anchors (the join's).
  let root = 0;
  let more: number[] | null = null;
  for (let a = 0; a < anchors.length; a++) {
    const anchor = anchors[a]!;
    const am = anchor.moreTrees;
    const n = am === null ? 0 : am.length / 3;
    for (let k = -1; k < n; k++) {
      const r = k === -1 ? anchor.root : am![k * 3]!;
      if (r === 0) continue;
      if (root === 0) root = r;
      else if (r !== root) more = addToTrees(more, r, 0, 0);
    }
  }
  out.root = root;
  out.edgeHi = 0;
  out.edgeLo = 0;
  out.moreTrees = more;
}

/** Whether a tuple may run chained to these anchors: untracked, or every anchor still open. */
export function chainableTo(anchors: readonly TreeMember[] | null): boolean {
  if (anchors === null) return true;
  for (let a = 0; a < anchors.length; a++) if (anchors[a]!.done) return false;
  return true;
}

/** Folds a chained tuple's child XOR for tree `root` into the anchor that carries that tree. */
function foldIntoAnchors(anchors: readonly TreeMember[], root: number, h: number, l: number): void {
  if (h === 0 && l === 0) return;
  for (let a = 0; a < anchors.length; a++) {
    const anchor = anchors[a]!;
    if (anchor.root === root) {
      anchor.childXorHi = anchor.childXorHi ^ h;
      anchor.childXorLo = anchor.childXorLo ^ l;
      return;
    }
    const am = anchor.moreTrees;
    if (!am) continue;
    for (let k = 0, j = 0; k < am.length; k += 3, j += 2) {
      if (am[k] !== root) continue;
      anchor.moreChildXor ??= new Array<number>((am.length / 3) * 2).fill(0);
      anchor.moreChildXor[j] = anchor.moreChildXor[j]! ^ h;
      anchor.moreChildXor[j + 1] = anchor.moreChildXor[j + 1]! ^ l;
      return;
    }
  }
}

/**
 * A bolt acks a tuple: per tree, its edge XOR its children's edges to the acker (an Unpark to the
 * spout task first, if it was parked). A chained tuple sends nothing: what its children owe is
 * owed by its anchors, and a failure further down the chain is theirs to know of.
 */
export function ackMember(t: TreeMember, sink: ControlSink): void {
  const parents = t.chainAnchors;
  const more = t.moreTrees;
  if (parents !== null) {
    if (t.chainFailed) for (let a = 0; a < parents.length; a++) parents[a]!.chainFailed = true;
    foldIntoAnchors(parents, t.root, t.childXorHi, t.childXorLo);
    if (more) for (let k = 0, j = 0; k < more.length; k += 3, j += 2) foldIntoAnchors(parents, more[k]!, t.moreChildXor ? t.moreChildXor[j]! : 0, t.moreChildXor ? t.moreChildXor[j + 1]! : 0);
    return;
  }
  if (t.root !== 0) ackTree(sink, t.root, t.edgeHi ^ t.childXorHi, t.edgeLo ^ t.childXorLo, t.parked);
  if (!more) return;
  for (let k = 0, j = 0; k < more.length; k += 3, j += 2) {
    const childHi = t.moreChildXor ? t.moreChildXor[j]! : 0;
    const childLo = t.moreChildXor ? t.moreChildXor[j + 1]! : 0;
    ackTree(sink, more[k]!, more[k + 1]! ^ childHi, more[k + 2]! ^ childLo, t.parked);
  }
}

function ackTree(sink: ControlSink, root: number, hi: number, lo: number, parked: boolean): void {
  if (parked) sink.control(ControlOp.Unpark, sink.spoutTaskOf(root), root, 0, 0, 0);
  sink.control(ControlOp.Ack, sink.ackerFor(root), root, hi, lo, 0);
}

/**
 * Bolt task `task` fails a tuple with `error` (empty when none was given): each of its trees
 * fails, its spout task learning which task failed it and why (a chained tuple's anchors learn of it).
 */
export function failMember(t: TreeMember, sink: ControlSink, task: number, error: string): void {
  if (t.chainAnchors !== null) for (const a of t.chainAnchors) a.chainFailed = true;
  if (t.root !== 0) failTree(sink, t.root, task, error);
  const more = t.moreTrees;
  if (more) for (let k = 0; k < more.length; k += 3) failTree(sink, more[k]!, task, error);
}

function failTree(sink: ControlSink, root: number, task: number, error: string): void {
  sink.noteFailure(root, task, error);
  sink.control(ControlOp.Fail, sink.ackerFor(root), root, 0, 0, 0);
}

/** A bolt parks a tuple: each of its trees becomes PARKED at its spout task. Returns false if untracked. */
export function parkMember(t: TreeMember, sink: ControlSink): boolean {
  if (t.parked || t.done || (t.root === 0 && !t.moreTrees)) return false;
  t.parked = true;
  if (t.root !== 0) sink.control(ControlOp.Park, sink.spoutTaskOf(t.root), t.root, 0, 0, 0);
  const more = t.moreTrees;
  if (more) for (let k = 0; k < more.length; k += 3) sink.control(ControlOp.Park, sink.spoutTaskOf(more[k]!), more[k]!, 0, 0, 0);
  return true;
}

// ---- the acker's ledger ----

/** Int32s per ledger record: root, hi, lo, and META = spout task << 16 | generation touched (16 bits). */
const STRIDE = 4;
const HI = 1;
const LO = 2;
const META = 3;

const spoutOf = (meta: number): number => meta >>> 16;

/**
 * The XOR acker's ledger (pure), per acker task. Root ids are small positive integers and the
 * ledger holds every root in flight (parked ones included: hundreds of thousands), so a root's
 * whole entry (id, XOR halves, spout task and generation) is one 16-byte record of a RecordTable:
 * an ack costs one cache miss, and nothing is allocated per root.
 */
export class AckLedger {
  private readonly table: RecordTable;
  private generation = 1;

  constructor(initialCapacity = 1024) {
    this.table = new RecordTable(STRIDE, initialCapacity);
  }

  get size(): number {
    return this.table.size;
  }

  /**
   * The spout's init for a root: the XOR of its first edges (spoutTask > 0). Returns the spout
   * task to tell when this completes the tree, else 0 (so does `ack`).
   */
  init(root: number, hi: number, lo: number, spoutTask: number): number {
    return this.apply(root, hi, lo, spoutTask);
  }

  /** A bolt's ack: its input edge XOR the edges it emitted anchored to that input. */
  ack(root: number, hi: number, lo: number): number {
    return this.apply(root, hi, lo, 0);
  }

  /** Forgets the root (a Fail); returns its spout task when the init had arrived, else 0. */
  fail(root: number): number {
    const at = this.table.find(root);
    if (at === -1) return 0;
    const spout = spoutOf(this.table.data[at + META]!);
    this.table.removeAt(at);
    return spout;
  }

  /** The spout task decided the root's fate itself (timeout): its entry goes. */
  forget(root: number): void {
    const at = this.table.find(root);
    if (at !== -1) this.table.removeAt(at);
  }

  /**
   * Call once per message timeout. Drops the orphans (entries with no init) untouched for two
   * rotations, and returns how many; an entry with its init in stays until its verdict.
   */
  rotate(): number {
    this.generation++;
    const stale: number[] = [];
    const d = this.table.data;
    // Generations are 16 bits: an orphan is stale when two rotations passed without a touch.
    this.table.forEach((root, at) => {
      const meta = d[at + META]!;
      if (spoutOf(meta) === 0 && ((this.generation - (meta & 0xffff)) & 0xffff) >= 2) stale.push(root);
    });
    for (const root of stale) this.table.removeAt(this.table.find(root));
    return stale.length;
  }

  private apply(root: number, hi: number, lo: number, spoutTask: number): number {
    const at = this.table.findOrCreate(root);
    const d = this.table.data;
    // A new record's fields are zero, so the XOR is the same either way.
    d[at + HI] = d[at + HI]! ^ hi;
    d[at + LO] = d[at + LO]! ^ lo;
    const spout = spoutTask !== 0 ? spoutTask : spoutOf(d[at + META]!);
    d[at + META] = (spout << 16) | (this.generation & 0xffff);
    if (d[at + HI] === 0 && d[at + LO] === 0 && spout !== 0) {
      this.table.removeAt(at);
      return spout;
    }
    return 0;
  }
}

// ---- the spout task's window ----

/** What `settle` returns for a root that is not in the window. */
export const ABSENT: unique symbol = Symbol('absent');

/** The clock of root deadlines, in milliseconds (injected: tests drive it). */
export interface Clock {
  nowMs(): number;
}

/**
 * A spout task's roots that have no verdict yet (PENDING or PARKED), with their deadlines. Per-root
 * state is in typed-array slots behind integer hash tables: nothing is allocated per root. Expiry
 * scans the PENDING table, which holds at most maxSpoutPending roots; callers run it a few times
 * per timeout, not per tuple.
 */
export class RootWindow {
  private readonly pending = new IntTable(1024);
  private readonly parked = new IntTable(64);
  private msgIds: unknown[] = [];
  /** When the root became PENDING (emit, or last unpark). */
  private since = new Float64Array(1024);
  /** Tuples of the root parked and not yet released. */
  private parks = new Int32Array(1024);
  private readonly pool = new SlotPool(1024, (n) => {
    this.since = grow(this.since, n);
    this.parks = grow(this.parks, n);
  });
  private seq = 0;
  private readonly seqLimit: number;
  /**
   * Deadlines run on the window's own time: the clock less the time spent frozen (while a
   * dependency of the topology is down, no root's deadline runs). `since` holds that time.
   */
  private frozenMs = 0;
  private frozenAt: number | null = null;

  /**
   * Root ids of this spout task are `sequence * spoutCount + spoutIndex`, below `idLimit`, so
   * every thread knows a root's spout task from its id alone.
   */
  constructor(
    private readonly clock: Clock,
    readonly timeoutMs: number,
    /** Tells a root's acker to drop its entry (a Forget): this window decided the root's fate. */
    private readonly forget: (root: number) => void,
    private readonly spoutIndex = 0,
    private readonly spoutCount = 1,
    idLimit = 2 ** 30,
  ) {
    this.seqLimit = Math.floor((idLimit - 1) / spoutCount);
  }

  /** PENDING roots: what maxSpoutPending bounds. */
  get inFlight(): number {
    return this.pending.size;
  }
  get parkedCount(): number {
    return this.parked.size;
  }
  get total(): number {
    return this.pending.size + this.parked.size;
  }

  has(root: number): boolean {
    return this.pending.has(root) || (this.parked.size > 0 && this.parked.has(root));
  }

  /**
   * The next free root id. Sequences wrap long after any root could still be open (a wrap takes
   * 2^30 / spout tasks roots), and an id still open is skipped all the same.
   */
  nextRoot(): number {
    for (;;) {
      this.seq = this.seq + 1 >= this.seqLimit ? 1 : this.seq + 1;
      const root = this.seq * this.spoutCount + this.spoutIndex;
      if (!this.has(root)) return root;
    }
  }

  /** The window's time at clock reading `nowMs`: frozen time does not count. */
  private windowTime(nowMs: number): number {
    return (this.frozenAt ?? nowMs) - this.frozenMs;
  }

  /** Deadlines stand still from now on (a dependency is down). */
  freeze(): void {
    this.frozenAt ??= this.clock.nowMs();
  }

  /** Deadlines run again, each later by the time frozen. */
  thaw(): void {
    if (this.frozenAt === null) return;
    this.frozenMs += this.clock.nowMs() - this.frozenAt;
    this.frozenAt = null;
  }

  /** Time counted against the deadline since window time `sinceMs` (as `settledSinceMs`), at clock reading `nowMs`. */
  elapsedMs(sinceMs: number, nowMs: number): number {
    return this.windowTime(nowMs) - sinceMs;
  }

  /** emit: the root is PENDING from `nowMs` (the caller's reading of the clock, once per batch). */
  open(root: number, msgId: unknown, nowMs: number): void {
    const slot = this.pool.take();
    this.msgIds[slot] = msgId;
    this.since[slot] = this.windowTime(nowMs);
    this.parks[slot] = 0;
    this.pending.set(root, slot);
  }

  /** Park: one more tuple of the tree is held; the root is PARKED. Unknown roots are ignored. */
  park(root: number): void {
    let slot = this.pending.delete(root);
    if (slot !== -1) this.parked.set(root, slot);
    else if ((slot = this.parked.get(root)) === -1) return;
    this.parks[slot]!++;
  }

  /** Unpark: a held tuple was released; with none left the root is PENDING again, its deadline afresh. */
  unpark(root: number): void {
    const slot = this.parked.get(root);
    if (slot === -1) return;
    if (--this.parks[slot]! > 0) return;
    this.parked.delete(root);
    this.since[slot] = this.windowTime(this.clock.nowMs());
    this.pending.set(root, slot);
  }

  /** When (window time) the root `complete`, `fail` or `expire` last removed became PENDING. */
  settledSinceMs = 0;

  /**
   * Complete: removes the root, PENDING or PARKED, and returns its msgId (its start in
   * `settledSinceMs`, so no object is made per root), or ABSENT when it has no entry (it timed out
   * already).
   */
  complete(root: number): unknown {
    return this.settle(root);
  }

  /**
   * Failed: as `complete`, and the acker is told to forget the root, since the failure may have
   * overtaken the root's init there (an init arriving after the failure would open an entry that
   * nothing ends).
   */
  fail(root: number): unknown {
    const msgId = this.settle(root);
    if (msgId !== ABSENT) this.forget(root);
    return msgId;
  }

  private settle(root: number): unknown {
    let slot = this.pending.delete(root);
    if (slot === -1) {
      if (this.parked.size === 0) return ABSENT;
      slot = this.parked.delete(root);
      if (slot === -1) return ABSENT;
    }
    return this.release(slot);
  }

  /**
   * Removes the PENDING roots past their deadline, oldest first, and tells their ackers to forget
   * them. PARKED roots have no deadline, and none runs while the window is frozen.
   */
  expire(): Array<{ root: number; msgId: unknown; sinceMs: number }> {
    if (this.frozenAt !== null) return [];
    const limit = this.windowTime(this.clock.nowMs()) - this.timeoutMs;
    const expired: number[] = [];
    this.pending.forEach((root, slot) => {
      if (this.since[slot]! <= limit) expired.push(root);
    });
    const out = expired.map((root) => ({ root, msgId: this.release(this.pending.delete(root)), sinceMs: this.settledSinceMs }));
    for (const e of out) this.forget(e.root);
    return out.sort((a, b) => a.sinceMs - b.sinceMs || a.root - b.root);
  }

  private release(slot: number): unknown {
    const msgId = this.msgIds[slot];
    this.settledSinceMs = this.since[slot]!;
    this.msgIds[slot] = undefined;
    this.pool.release(slot);
    return msgId;
  }
}
