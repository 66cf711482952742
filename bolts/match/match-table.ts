import type { Flow, Tag } from '../flow.js';
import { conversationKey } from './conversation-key.js';

/**
 * Pairs the two unidirectional NetFlow records of a TCP or UDP conversation into one record, as the
 * original `MatchFlowBolt` does (reference §5.4), with its §15.2 defects fixed:
 *
 * - the key includes the protocol and remembers the direction (item 11), see conversation-key.ts;
 * - `matched` is true on every emitted conversation (item 10);
 * - a conversation is emitted once: a match or a release removes the key, so a later reverse flow
 *   starts a new entry instead of matching a stale copy (item 12);
 * - one table per task, no shared store, so there is no cross-task race (item 13); the bolt groups
 *   both directions to the same task by this key;
 * - nothing is lost: expiry, eviction and same-direction repeats all hand the held flow back with
 *   its handle for the bolt to emit unmatched and ack (items 14, 15, 18);
 * - window and size are options, and the clock is injected (item 16): the bolt passes wall time
 *   for live input, and may pass flow time for a file replay.
 *
 * Decisions:
 * - A flow with the same key and the same direction as the held one (active-timeout split,
 *   re-exported record) is not a match. The held flow is released alone (reason `repeat`) and the
 *   newer one is held in its place: each input becomes exactly one output, counters are never
 *   summed across records that might be duplicates, and the newer record, more likely to meet an
 *   imminent reverse flow, gets the full window.
 * - When the table is full, offering a new key evicts the oldest entry and returns it (reason
 *   `evicted`) rather than dropping it; the bolt should count evictions, since they mean the window
 *   is shorter than configured.
 * - An entry expires once `now - heldAt >= windowMs`.
 *
 * The table takes ownership of offered flows and hands them back unchanged except for
 * `matched=false, pairId=null` on released ones. Handles are opaque: only stored and returned.
 */

export const DEFAULT_MATCH_WINDOW_MS = 120_000;
export const DEFAULT_MATCH_MAX_SIZE = 50_000;

const TCP = 6;
const UDP = 17;

export interface MatchTableOptions {
  /** Milliseconds; wall clock for live input. */
  readonly now: () => number;
  readonly windowMs?: number;
  readonly maxSize?: number;
}

export type ReleaseReason = 'expired' | 'evicted' | 'repeat' | 'drained';

/** A held flow given back unpaired: emit `flow` alone, then ack `handle`. */
export interface ReleasedFlow<H> {
  readonly flow: Flow;
  readonly handle: H;
  readonly reason: ReleaseReason;
}

export type MatchOutcome<H> =
  /** The flow is held; `released` lists at most one flow pushed out by a repeat or an eviction. */
  | { readonly kind: 'held'; readonly released: readonly ReleasedFlow<H>[] }
  /** `handles` = [held flow's, offered flow's]; anchor the record to both, then ack both. */
  | { readonly kind: 'matched'; readonly record: Flow; readonly handles: [H, H] }
  /** Not TCP or UDP: emit the flow as it is. */
  | { readonly kind: 'passthrough' };

interface Entry<H> {
  readonly key: string;
  readonly flow: Flow;
  readonly handle: H;
  readonly sourceFirst: boolean;
  readonly heldAtMs: number;
  prev: Entry<H> | null;
  next: Entry<H> | null;
}

const NOTHING_RELEASED: readonly never[] = Object.freeze([]);
const HELD: MatchOutcome<never> = Object.freeze({ kind: 'held', released: NOTHING_RELEASED });
const PASSTHROUGH: MatchOutcome<never> = Object.freeze({ kind: 'passthrough' });

export class MatchTable<H> {
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly maxSize: number;
  private readonly byKey = new Map<string, Entry<H>>();
  // Entries in insertion order, which is heldAt order: expiry and eviction take from the head, so
  // their cost is the number of entries released, never a scan. (Should the clock step back, the
  // later entries just wait behind the older ones.)
  private oldest: Entry<H> | null = null;
  private newest: Entry<H> | null = null;

  constructor(options: MatchTableOptions) {
    this.now = options.now;
    this.windowMs = options.windowMs ?? DEFAULT_MATCH_WINDOW_MS;
    this.maxSize = options.maxSize ?? DEFAULT_MATCH_MAX_SIZE;
    if (!(this.windowMs > 0)) throw new RangeError(`windowMs (${this.windowMs}) must be above 0`);
    if (!Number.isInteger(this.maxSize) || this.maxSize < 1) {
      throw new RangeError(`maxSize (${this.maxSize}) must be an integer of at least 1`);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  offer(flow: Flow, handle: H): MatchOutcome<H> {
    if (flow.protocol !== TCP && flow.protocol !== UDP) return PASSTHROUGH;
    const { key, sourceFirst } = conversationKey(flow);
    const held = this.byKey.get(key);
    if (held !== undefined) {
      if (held.sourceFirst !== sourceFirst) {
        this.remove(held);
        return { kind: 'matched', record: conversationRecord(held.flow, flow), handles: [held.handle, handle] };
      }
      this.unlink(held);
      this.insert(key, flow, handle, sourceFirst);
      return { kind: 'held', released: [released(held, 'repeat')] };
    }
    let evicted: Entry<H> | null = null;
    if (this.byKey.size >= this.maxSize) {
      evicted = this.oldest!;
      this.remove(evicted);
    }
    this.insert(key, flow, handle, sourceFirst);
    return evicted === null ? HELD : { kind: 'held', released: [released(evicted, 'evicted')] };
  }

  /** Releases, oldest first, every entry held for at least the window (or the `limit` oldest of them). */
  expire(limit = Infinity): ReleasedFlow<H>[] {
    const cutoff = this.now() - this.windowMs;
    const out: ReleasedFlow<H>[] = [];
    while (this.oldest !== null && this.oldest.heldAtMs <= cutoff && out.length < limit) {
      const entry = this.oldest;
      this.remove(entry);
      out.push(released(entry, 'expired'));
    }
    return out;
  }

  /** Releases everything, oldest first (end of a file input, shutdown), or the `limit` oldest. */
  drain(limit = Infinity): ReleasedFlow<H>[] {
    const out: ReleasedFlow<H>[] = [];
    while (this.oldest !== null && out.length < limit) {
      const entry = this.oldest;
      this.remove(entry);
      out.push(released(entry, 'drained'));
    }
    return out;
  }

  private insert(key: string, flow: Flow, handle: H, sourceFirst: boolean): void {
    const entry: Entry<H> = { key, flow, handle, sourceFirst, heldAtMs: this.now(), prev: this.newest, next: null };
    if (this.newest === null) this.oldest = entry;
    else this.newest.next = entry;
    this.newest = entry;
    this.byKey.set(key, entry);
  }

  private remove(entry: Entry<H>): void {
    this.byKey.delete(entry.key);
    this.unlink(entry);
  }

  /** Takes the entry out of the age list only (the caller overwrites or deletes its key). */
  private unlink(entry: Entry<H>): void {
    if (entry.prev === null) this.oldest = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.newest = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = null;
    entry.next = null;
  }
}

function released<H>(entry: Entry<H>, reason: ReleaseReason): ReleasedFlow<H> {
  const flow = entry.flow;
  const alone = flow.matched || flow.pairId !== null ? { ...flow, matched: false, pairId: null } : flow;
  return { flow: alone, handle: entry.handle, reason };
}

/**
 * One record for the conversation of `first` (arrived earlier) and `second` (its reverse).
 *
 * - Source = the local side ("our IP on the left", as the original). When both or neither side is
 *   local (flows the discard stage normally drops), the initiator's flow is the source.
 * - Initiator = the flow with the earlier `startSecs`. NetFlow times are whole seconds, so ties are
 *   common; they are broken without regard to arrival order (which differs between runs once
 *   lines are spread over threads): a SYN without ACK marks the opener; else the flow sent to the
 *   lower port (a client writes to the service port from an ephemeral one); else the lower id.
 * - Direction = OUTBOUND when the local side initiated, INBOUND when the remote side did (§15 item
 *   17); without exactly one local side the source flow's own direction is kept.
 * - The conversation spans both flows: earliest start, latest end, and the later arrival time
 *   (the moment it became complete, from which its latency counts).
 * - Everything else (ASNs, geo, tos) comes from the source flow, whose src/dst are the
 *   conversation's src/dst.
 */
function opensConnection(flags: string | null): boolean {
  // nfdump UAPRSF: column 4 is SYN, column 1 is ACK.
  return flags !== null && flags.length === 6 && flags[4] === 'S' && flags[1] !== 'A';
}

export function initiatorOf(a: Flow, b: Flow): Flow {
  if (a.startSecs !== b.startSecs) return a.startSecs < b.startSecs ? a : b;
  const aOpens = opensConnection(a.flags);
  if (aOpens !== opensConnection(b.flags)) return aOpens ? a : b;
  if (a.dstPort !== b.dstPort) return a.dstPort < b.dstPort ? a : b;
  return a.id <= b.id ? a : b;
}

function conversationRecord(first: Flow, second: Flow): Flow {
  const initiatorFlow = initiatorOf(first, second);
  const hasOneLocalSide = first.srcIsLocal !== second.srcIsLocal;
  const local = hasOneLocalSide ? (first.srcIsLocal ? first : second) : initiatorFlow;
  const remote = local === first ? second : first;
  const localInitiated = initiatorFlow === local;
  return {
    ...local,
    pairId: remote.id,
    startSecs: Math.min(local.startSecs, remote.startSecs),
    endSecs: Math.max(local.endSecs, remote.endSecs),
    packetsRecv: remote.packetsSent,
    bytesRecv: remote.bytesSent,
    flagsRecv: remote.flags,
    matched: true,
    initiator: localInitiated ? 'src' : 'dst',
    direction: hasOneLocalSide ? (localInitiated ? 'OUTBOUND' : 'INBOUND') : local.direction,
    // Matching runs before scoring, so both lists are normally empty.
    tags: concatTags(local.tags, remote.tags),
    // The conversation became complete when its second flow arrived: latency counts from then.
    receivedAtMs: Math.max(local.receivedAtMs, remote.receivedAtMs),
  };
}

function concatTags(a: Tag[], b: Tag[]): Tag[] {
  if (b.length === 0) return a.slice();
  if (a.length === 0) return b.slice();
  return a.concat(b);
}
