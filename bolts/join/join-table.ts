import type { Flow, Tag } from '../flow.js';
import { addTagsTo } from '../rules/tags.js';

/**
 * Merges the per-branch copies of a flow (branches `all`, `tcp`, `udp`) back into one record, as
 * the original `JoinBolt` does (reference §5.18), with §15 item 19 fixed:
 *
 * - Completion is judged by WHICH branches have arrived, against the list the splitter gave with
 *   the copy, never by a count: a replayed copy cannot stand in for a missing branch.
 * - A partial entry is never dropped: `expire` hands it back with every handle, for the bolt to
 *   FAIL them so the spout replays the flow. The default window, 50 s, is the 60 s message
 *   timeout minus a 10 s margin, so the partial entry is failed before its root times out
 *   (the original waited 240 s, well past the timeout, §15 item 20). There is no size cap: the
 *   table holds at most one entry per pending root, which the spout's max-pending window bounds.
 *
 * Decisions:
 * - A second copy from a branch that already arrived (a replay of the same flow id) REPLACES the
 *   held copy of that branch, and the superseded handle is returned as `duplicate` for the bolt to
 *   ACK without emitting. The newer copy belongs to the live root (the older root has usually
 *   timed out, which is why the spout replayed it), so the eventual output is anchored to it.
 *   The copies of one flow carry identical fields, so nothing but the handle and that branch's
 *   tags changes.
 * - The merged flow is the first copy to arrive (every field from it), with the union of all copies'
 *   tags (an identical tag once, in expected-branch order so the result does not depend on arrival
 *   order). goodness/badness are not stored: the output derives them from the tag set (`totals`).
 * - A copy from a branch not in its expected list, or not in the list of the copy already held for
 *   that id, is a wiring error (or two different flows sharing an id): it throws, so the bolt
 *   fails the tuple and logs it.
 */

/** The 60 s message timeout minus a 10 s margin. */
export const DEFAULT_JOIN_WINDOW_MS = 50_000;

export interface JoinTableOptions {
  /** Milliseconds; wall clock. */
  readonly now: () => number;
  readonly windowMs?: number;
}

export type JoinOutcome<H> =
  | { readonly kind: 'waiting' }
  /** Every expected branch arrived: emit `flow` anchored to all `handles`, then ack them. */
  | { readonly kind: 'complete'; readonly flow: Flow; readonly handles: H[] }
  /** A replayed copy replaced the held one of its branch: ack `handle` (the superseded copy's). */
  | { readonly kind: 'duplicate'; readonly handle: H };

/** A flow whose copies did not all arrive within the window: fail every handle. */
export interface PartialJoin<H> {
  readonly id: number;
  readonly flow: Flow;
  readonly arrived: string[];
  readonly missing: string[];
  readonly handles: H[];
}

interface Copy<H> {
  readonly branch: string;
  readonly tags: Tag[];
  readonly handle: H;
}

interface Entry<H> {
  readonly id: number;
  readonly first: Flow;
  readonly expected: readonly string[];
  readonly copies: Copy<H>[];
  readonly firstAtMs: number;
  prev: Entry<H> | null;
  next: Entry<H> | null;
}

const WAITING: JoinOutcome<never> = Object.freeze({ kind: 'waiting' });

export class JoinTable<H> {
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly byId = new Map<number, Entry<H>>();
  // Entries in arrival order of their first copy, so expiry takes from the head only.
  private oldest: Entry<H> | null = null;
  private newest: Entry<H> | null = null;

  constructor(options: JoinTableOptions) {
    this.now = options.now;
    this.windowMs = options.windowMs ?? DEFAULT_JOIN_WINDOW_MS;
    if (!(this.windowMs > 0)) throw new RangeError(`windowMs (${this.windowMs}) must be above 0`);
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * A branch's copy of a flow: `tags` are the tags that branch found (by default the copy's own;
   * the topology's branches share one flow object and carry their tags beside it).
   */
  offer(branch: string, flow: Flow, expected: readonly string[], handle: H, tags: Tag[] = flow.tags): JoinOutcome<H> {
    if (!expected.includes(branch)) {
      throw new RangeError(`flow ${flow.id}: branch "${branch}" is not among its expected branches [${expected.join(', ')}]`);
    }
    const entry = this.byId.get(flow.id);
    if (entry === undefined) {
      if (expected.length === 1) return { kind: 'complete', flow: merged(flow, [tags]), handles: [handle] };
      this.insert(flow, expected, { branch, tags, handle });
      return WAITING;
    }
    if (!entry.expected.includes(branch)) {
      throw new RangeError(
        `flow ${flow.id}: branch "${branch}" is not among the branches [${entry.expected.join(', ')}] of the copy held for this id`,
      );
    }
    const copies = entry.copies;
    for (let i = 0; i < copies.length; i++) {
      if (copies[i]!.branch === branch) {
        const superseded = copies[i]!.handle;
        copies[i] = { branch, tags, handle };
        return { kind: 'duplicate', handle: superseded };
      }
    }
    copies.push({ branch, tags, handle });
    if (copies.length < entry.expected.length) return WAITING;
    this.remove(entry);
    // Tags and handles in expected-branch order, so the result does not depend on arrival order.
    const expectedBranches = entry.expected;
    const union: Tag[] = [];
    const handles: H[] = [];
    for (let i = 0; i < expectedBranches.length; i++) {
      for (let j = 0; j < copies.length; j++) {
        const c = copies[j]!;
        if (c.branch !== expectedBranches[i]) continue;
        addTagsTo(union, c.tags);
        handles.push(c.handle);
        break;
      }
    }
    entry.first.tags = union;
    return { kind: 'complete', flow: entry.first, handles };
  }

  /** Partial entries whose first copy arrived at least the window ago, oldest first. */
  expire(): PartialJoin<H>[] {
    const cutoff = this.now() - this.windowMs;
    const out: PartialJoin<H>[] = [];
    while (this.oldest !== null && this.oldest.firstAtMs <= cutoff) {
      const entry = this.oldest;
      this.remove(entry);
      const arrived = entry.copies.map((c) => c.branch);
      out.push({
        id: entry.id,
        flow: entry.first,
        arrived,
        missing: entry.expected.filter((b) => !arrived.includes(b)),
        handles: entry.copies.map((c) => c.handle),
      });
    }
    return out;
  }

  private insert(flow: Flow, expected: readonly string[], copy: Copy<H>): void {
    const entry: Entry<H> = {
      id: flow.id,
      first: flow,
      expected, // never mutated: the splitter hands out frozen lists
      copies: [copy],
      firstAtMs: this.now(),
      prev: this.newest,
      next: null,
    };
    if (this.newest === null) this.oldest = entry;
    else this.newest.next = entry;
    this.newest = entry;
    this.byId.set(flow.id, entry);
  }

  private remove(entry: Entry<H>): void {
    this.byId.delete(entry.id);
    if (entry.prev === null) this.oldest = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.newest = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = null;
    entry.next = null;
  }
}

/** The first copy, its tag list replaced by the union of every branch's (the copies are done with). */
function merged(first: Flow, tagLists: readonly (readonly Tag[])[]): Flow {
  const union: Tag[] = [];
  for (const tags of tagLists) addTagsTo(union, tags);
  first.tags = union;
  return first;
}
