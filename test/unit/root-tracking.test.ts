import { describe, expect, it } from 'vitest';
import {
  ABSENT,
  AckLedger,
  ackMember,
  anchorToMany,
  ControlOp,
  edgeHalf,
  failMember,
  parkMember,
  RootWindow,
  type ControlSink,
  type NewTrees,
  type TreeMember,
} from '../../runtime/root-tracking.js';
import { prng } from '../../data_sources/tools/generate-lists.js';

/**
 * Root tracking under random interleavings: one spout task, one acker and a few bolt threads,
 * with every message on an ordered channel per pair of threads and the channels delivered in a
 * random order (so an ack may reach the acker before its root's init, a Complete may reach the
 * spout before an Unpark). Bolts emit children (anchored to one or several tuples, or run
 * chained), ack, fail, lose tuples, park and later release them; the clock moves and the
 * acker's ledger rotates at random. Every seed is checked against these properties:
 *   - every root gets exactly one verdict (acked, failed, or timed out);
 *   - a root is acked only when every tuple of its tree was acked and none failed;
 *   - a root whose parked tuple the spout knows of never times out;
 *   - at the end, every table is empty (the window, and the ledger once orphans rotate away).
 */


interface Member extends TreeMember {
  readonly id: number;
}

type Message = [op: ControlOp, dest: 'acker' | 'spout', root: number, a: number, b: number, c: number, sentAtMs?: number];

const SPOUT = 0;
const ACKER = 1;
const TIMEOUT_MS = 1000;

function member(id: number, root: number, edgeHi: number, edgeLo: number, moreTrees: number[] | null): Member {
  return { id, root, edgeHi, edgeLo, moreTrees, childXorHi: 0, childXorLo: 0, moreChildXor: null, done: false, parked: false, chainAnchors: null, chainFailed: false };
}

function treesOfMember(t: TreeMember): number[] {
  const roots = t.root !== 0 ? [t.root] : [];
  if (t.moreTrees) for (let k = 0; k < t.moreTrees.length; k += 3) roots.push(t.moreTrees[k]!);
  return roots;
}

function simulate(seed: number): { roots: number; verdicts: number } {
  const draw = prng(seed);
  const rnd = () => draw() / 4294967296;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const clock = { t: 0, nowMs: () => clock.t };
  const window = new RootWindow(clock, TIMEOUT_MS, (root) => send(SPOUT, ACKER, [ControlOp.Forget, 'acker', root, 0, 0, 0]));
  const ledger = new AckLedger(16);
  const threads = 2 + 1 + Math.floor(rnd() * 3); // spout, acker, 1-3 bolt threads
  const channels = new Map<string, Message[]>();
  const send = (from: number, to: number, m: Message) => {
    const key = `${from}>${to}`;
    const ch = channels.get(key) ?? [];
    m[6] = clock.t;
    ch.push(m);
    channels.set(key, ch);
  };
  const sinkOf = (thread: number): ControlSink => ({
    control: (op, _dest, root, a, b, c) => send(thread, op === ControlOp.Park || op === ControlOp.Unpark ? SPOUT : ACKER, [op, op === ControlOp.Park || op === ControlOp.Unpark ? 'spout' : 'acker', root, a, b, c]),
    ackerFor: () => ACKER,
    spoutTaskOf: () => SPOUT,
    // Failure notes only name the cause (test/runtime/acking.test.ts follows them between threads).
    noteFailure: () => undefined,
  });

  const verdicts = new Map<number, string>();
  const liveTuples = new Map<number, number>(); // root -> tuples of its tree not yet acked
  const failedRoots = new Set<number>();
  const lostRoots = new Set<number>();
  const pool: Array<{ t: Member; thread: number }> = [];
  const parkedPool: Array<{ t: Member; thread: number }> = [];
  let nextId = 1;
  let rootsEmitted = 0;
  const maxRoots = 20 + Math.floor(rnd() * 40);
  const scratch: NewTrees = { root: 0, edgeHi: 0, edgeLo: 0, moreTrees: null };

  const live = (root: number, d: number) => liveTuples.set(root, (liveTuples.get(root) ?? 0) + d);
  const verdict = (root: number, v: string) => {
    expect(verdicts.has(root), `seed ${seed}: root ${root} got a second verdict ${v} after ${verdicts.get(root)}`).toBe(false);
    if (v === 'acked') {
      expect(liveTuples.get(root) ?? 0, `seed ${seed}: root ${root} acked with tuples still open`).toBe(0);
      expect(failedRoots.has(root), `seed ${seed}: root ${root} acked after a failure`).toBe(false);
    }
    verdicts.set(root, v);
  };

  const emitRoot = () => {
    const root = window.nextRoot();
    rootsEmitted++;
    let initXorHi = 0;
    let initXorLo = 0;
    const copies = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < copies; i++) {
      const hi = edgeHalf();
      const lo = edgeHalf();
      initXorHi ^= hi;
      initXorLo ^= lo;
      pool.push({ t: member(nextId++, root, hi, lo, null), thread: 2 + Math.floor(rnd() * (threads - 2)) });
      live(root, 1);
    }
    window.open(root, `msg-${root}`, clock.t);
    send(SPOUT, ACKER, [ControlOp.Init, 'acker', root, initXorHi, initXorLo, 1]);
  };

  /** A child of `anchors` (open tuples), sent to a random bolt thread. */
  const emitChild = (anchors: Member[]) => {
    let child: Member;
    if (anchors.length === 1 && anchors[0]!.moreTrees === null) {
      const a = anchors[0]!;
      const hi = edgeHalf();
      const lo = edgeHalf();
      a.childXorHi ^= hi;
      a.childXorLo ^= lo;
      child = member(nextId++, a.root, hi, lo, null);
    } else {
      anchorToMany(anchors, scratch);
      child = member(nextId++, scratch.root, scratch.edgeHi, scratch.edgeLo, scratch.moreTrees);
    }
    for (const r of treesOfMember(child)) live(r, 1);
    pool.push({ t: child, thread: 2 + Math.floor(rnd() * (threads - 2)) });
  };

  const ack = (t: Member, thread: number) => {
    t.done = true;
    ackMember(t, sinkOf(thread));
    for (const r of treesOfMember(t)) live(r, -1);
  };
  const fail = (t: Member, thread: number) => {
    t.done = true;
    failMember(t, sinkOf(thread), thread, 'fixture failure');
    for (const r of treesOfMember(t)) {
      live(r, -1);
      failedRoots.add(r);
    }
  };

  /** A bolt executes tuple `t`: children (maybe through a chained bolt), then ack, fail, park or loss. */
  const execute = (t: Member, thread: number) => {
    const action = rnd();
    const children = Math.floor(rnd() * 3);
    const other = pool.length > 0 && rnd() < 0.2 ? pick(pool).t : null;
    for (let i = 0; i < children; i++) emitChild(other && other !== t && !other.done ? [t, other] : [t]);
    if (rnd() < 0.15) {
      // A chained basic bolt runs inside this execute: no edge of its own; its children are owed by t.
      const c = member(nextId++, t.root, 0, 0, t.moreTrees);
      c.chainAnchors = [t];
      for (let i = 0; i < Math.floor(rnd() * 3); i++) emitChild([c]);
      c.done = true;
      if (rnd() < 0.1) {
        failMember(c, sinkOf(thread), thread, 'fixture failure');
        for (const r of treesOfMember(c)) failedRoots.add(r);
      } else ackMember(c, sinkOf(thread));
    }
    if (action < 0.08) fail(t, thread);
    else if (action < 0.1) {
      // Lost: never acked; only the timeout ends its root.
      t.done = true;
      for (const r of treesOfMember(t)) lostRoots.add(r);
    } else if (action < 0.3 && parkMember(t, sinkOf(thread))) {
      parkedPool.push({ t, thread });
    } else ack(t, thread);
  };

  const deliver = (key: string) => {
    const ch = channels.get(key)!;
    const [op, , root, a, b, c] = ch.shift()!;
    if (ch.length === 0) channels.delete(key);
    switch (op) {
      case ControlOp.Init:
      case ControlOp.Ack: {
        const done = op === ControlOp.Init ? ledger.init(root, a, b, c) : ledger.ack(root, a, b);
        if (done !== 0) send(ACKER, SPOUT, [ControlOp.Complete, 'spout', root, 0, 0, 0]);
        break;
      }
      case ControlOp.Fail:
        ledger.fail(root);
        send(ACKER, SPOUT, [ControlOp.Failed, 'spout', root, 0, 0, 0]);
        break;
      case ControlOp.Forget:
        ledger.forget(root);
        break;
      case ControlOp.Park:
        window.park(root);
        break;
      case ControlOp.Unpark:
        window.unpark(root);
        break;
      case ControlOp.Complete:
      case ControlOp.Failed: {
        const msgId = op === ControlOp.Complete ? window.complete(root) : window.fail(root);
        if (msgId === ABSENT) break;
        verdict(root, op === ControlOp.Complete ? 'acked' : 'failed');
        break;
      }
    }
  };

  let sinceRotation = 0;
  const deliverOlderThan = (cutoffMs: number) => {
    for (let again = true; again; ) {
      again = false;
      for (const [key, ch] of channels) {
        if (ch[0]![6]! < cutoffMs) {
          deliver(key);
          again = true;
        }
      }
    }
  };

  const release = (i: number) => {
    const { t, thread } = parkedPool.splice(i, 1)[0]!;
    if (rnd() < 0.1) fail(t, thread);
    else ack(t, thread);
  };

  const expire = () => {
    for (const e of window.expire()) {
      // A tuple of the root still held, whose Park the spout has applied (none left on its channel):
      // the root must not have expired.
      for (const p of parkedPool) {
        if (!treesOfMember(p.t).includes(e.root)) continue;
        const parkUnread = (channels.get(`${p.thread}>${SPOUT}`) ?? []).some((m) => m[0] === ControlOp.Park && m[2] === e.root);
        expect(parkUnread, `seed ${seed}: root ${e.root} timed out while parked`).toBe(true);
      }
      verdict(e.root, 'timeout');
    }
  };

  for (let step = 0; step < 2000; step++) {
    const r = rnd();
    if (r < 0.1 && rootsEmitted < maxRoots) emitRoot();
    else if (r < 0.4 && pool.length > 0) {
      const i = Math.floor(rnd() * pool.length);
      const { t, thread } = pool.splice(i, 1)[0]!;
      execute(t, thread);
    } else if (r < 0.75 && channels.size > 0) deliver(pick([...channels.keys()]));
    else if (r < 0.8 && parkedPool.length > 0) release(Math.floor(rnd() * parkedPool.length));
    else if (r < 0.92) {
      // Time passes: sometimes well past the timeout, which a parked root must survive. The acker
      // rotates once per timeout, as the engine's timer does, and a message between threads takes
      // less than half a timeout (older ones are delivered first).
      const to = clock.t + (rnd() < 0.1 ? TIMEOUT_MS * 3 : Math.floor(rnd() * 200));
      while (clock.t < to) {
        const step = Math.min(to - clock.t, TIMEOUT_MS / 4);
        deliverOlderThan(clock.t + step - TIMEOUT_MS / 2);
        clock.t += step;
        sinceRotation += step;
        if (sinceRotation >= TIMEOUT_MS) {
          sinceRotation -= TIMEOUT_MS;
          ledger.rotate();
        }
        expire();
      }
    }
  }

  // Wind down: release and ack everything and deliver everything, with the clock still: a root
  // with no verdict yet, whose tree lost nothing and failed nothing, must then be acked, however
  // long it was parked.
  const open = [...Array(rootsEmitted).keys()].map((i) => i + 1).filter((r) => !verdicts.has(r) && !failedRoots.has(r) && !lostRoots.has(r));
  while (pool.length > 0 || parkedPool.length > 0 || channels.size > 0) {
    if (parkedPool.length > 0) release(0);
    while (pool.length > 0) {
      const { t, thread } = pool.shift()!;
      ack(t, thread);
    }
    while (channels.size > 0) deliver(pick([...channels.keys()]));
  }
  for (const r of open) expect(verdicts.get(r), `seed ${seed}: root ${r}, complete and never lost, ends acked`).toBe('acked');
  clock.t += TIMEOUT_MS * 2;
  expire();
  while (channels.size > 0) deliver(pick([...channels.keys()]));
  ledger.rotate();
  ledger.rotate();

  expect(verdicts.size, `seed ${seed}: every root has its verdict`).toBe(rootsEmitted);
  expect(window.total, `seed ${seed}: the window is empty`).toBe(0);
  expect(ledger.size, `seed ${seed}: the ledger is empty`).toBe(0);
  return { roots: rootsEmitted, verdicts: verdicts.size };
}

describe('root tracking under random interleavings', () => {
  it('gives every root exactly one verdict, never times out a parked root, and leaves every table empty (500 seeds)', () => {
    let roots = 0;
    for (let seed = 1; seed <= 500; seed++) roots += simulate(seed).roots;
    expect(roots).toBeGreaterThan(10_000);
  });
});
