/**
 * Event time of one evidence task. Its input comes from several upstream tasks (one reader's
 * conversations per thread, each in its file's order, each at its own speed), so, as Flink does
 * with input channels, each channel keeps the latest flow start it has sent, and the watermark
 * is the earliest of those, less the allowed lateness: a reader that is behind does not make the
 * other's flows late. A flow that starts before the watermark is late: it is written but adds no
 * evidence, so what a window holds depends on the flows and the order of each channel, not on
 * the wall clock or how the channels interleave. Until every channel has sent a flow there is no
 * watermark (one thread's batch can arrive whole before the other's first).
 *
 * `isFrozen`: after the end of a finite input, nothing is late any more (match-flows then
 * releases the flows it held unmatched, unanswered probes among them, long after their time).
 */
export class EventClock {
  private readonly latestByChannel = new Map<number, number>();
  private watermark = Number.NEGATIVE_INFINITY;
  isFrozen = false;

  constructor(
    private readonly allowedLatenessSecs: number,
    private readonly channels = 1,
  ) {}

  get watermarkSecs(): number {
    return this.watermark;
  }

  /** Moves the channel's event time to `timeSecs` if later; false when the flow is late. */
  observe(timeSecs: number, channel: number): boolean {
    if (timeSecs < this.watermark && !this.isFrozen) return false;
    const latest = this.latestByChannel.get(channel);
    if (latest === undefined || timeSecs > latest) {
      this.latestByChannel.set(channel, timeSecs);
      let earliest = Number.POSITIVE_INFINITY;
      // Few channels (the upstream tasks), so a scan per new maximum is cheap.
      for (const t of this.latestByChannel.values()) if (t < earliest) earliest = t;
      if (this.latestByChannel.size < this.channels) return true;
      const next = earliest - this.allowedLatenessSecs;
      if (next > this.watermark) this.watermark = next;
    }
    return true;
  }
}
