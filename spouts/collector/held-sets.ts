/**
 * Data sets that arrived before their template (RFC 7011 §8 lets a collector hold them), and the
 * one owner of their fate. A held set is either released to its template, when one arrives for
 * its (domain, template id) while it is held, or dropped and counted as a template miss: when it
 * has waited `holdMs` (by the caller's clock), when the exporter's count or byte bound is reached
 * (oldest first), or when the caller flushes at shutdown. Nothing is decoded by guessing.
 *
 * Cost: a linear scan of at most `maxSets` entries, done only when the exporter has held sets.
 */

export interface HeldSet {
  readonly key: number;
  /** A copy of the set's records (not its 4-octet header): the datagram's buffer is reused. */
  readonly records: Uint8Array;
  readonly exportSecs: number;
  /** NetFlow v9's header sysUptime, -1 for IPFIX (absolute times). */
  readonly sysUptimeMs: number;
  readonly heldAtMs: number;
}

export class HeldSets {
  private readonly sets: HeldSet[] = [];
  private bytes = 0;

  constructor(
    private readonly maxSets: number,
    private readonly maxBytes: number,
    private readonly holdMs: number,
  ) {}

  get size(): number {
    return this.sets.length;
  }

  /** Holds `set`; returns how many older sets were dropped to stay within bounds (0 or more). */
  hold(set: HeldSet): number {
    if (this.maxSets === 0 || set.records.length > this.maxBytes) return 1;
    let dropped = 0;
    while (this.sets.length >= this.maxSets || this.bytes + set.records.length > this.maxBytes) {
      this.bytes -= this.sets.shift()!.records.length;
      dropped++;
    }
    this.sets.push(set);
    this.bytes += set.records.length;
    return dropped;
  }

  /** Removes and returns the sets waiting for `key`, oldest first. */
  takeFor(key: number): HeldSet[] {
    const taken: HeldSet[] = [];
    let kept = 0;
    for (const set of this.sets) {
      if (set.key === key) {
        taken.push(set);
        this.bytes -= set.records.length;
      } else {
        this.sets[kept++] = set;
      }
    }
    this.sets.length = kept;
    return taken;
  }

  /** Drops the sets held for longer than holdMs; returns how many. */
  expire(nowMs: number): number {
    let dropped = 0;
    while (this.sets.length > 0 && nowMs - this.sets[0]!.heldAtMs > this.holdMs) {
      this.bytes -= this.sets.shift()!.records.length;
      dropped++;
    }
    return dropped;
  }

  /** Drops every held set (shutdown); returns how many. */
  clear(): number {
    const dropped = this.sets.length;
    this.sets.length = 0;
    this.bytes = 0;
    return dropped;
  }
}
