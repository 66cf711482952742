import { describe, expect, it } from 'vitest';
import { PartitionOffsets } from '../../spouts/kafka-spout.js';

/** The Kafka spout's lag of one partition: what its gauges report. */
describe('PartitionOffsets lag', () => {
  it('is unknown until both the high watermark and a position are known', () => {
    const p = new PartitionOffsets(1);
    expect(p.consumerLag()).toBeNull();
    expect(p.committedLag()).toBeNull();
    p.noteHighWatermark(500, 1);
    // Nothing fetched, no committed offset: the position is unknown.
    expect(p.consumerLag()).toBeNull();
    expect(p.committedLag()).toBeNull();
  });

  it('counts from the committed offset the partition was assigned at until something is fetched or committed', () => {
    const p = new PartitionOffsets(1);
    p.assignedAt = 120;
    p.noteHighWatermark(500, 1);
    expect(p.consumerLag()).toBe(380);
    expect(p.committedLag()).toBe(380);
  });

  it('is the high watermark less the next offset to fetch, and less the committed offset, as messages are fetched and finished', () => {
    const p = new PartitionOffsets(1);
    p.assignedAt = 0;
    for (let offset = 0; offset < 100; offset++) p.track(offset);
    p.noteHighWatermark(1_000, 1);
    expect(p.consumerLag()).toBe(900);
    expect(p.committedLag()).toBe(1_000);
    for (let offset = 0; offset < 60; offset++) p.complete(offset);
    p.committed = p.commitPoint();
    expect(p.committedLag()).toBe(940);
    for (let offset = 100; offset < 1_000; offset++) p.track(offset);
    for (let offset = 60; offset < 1_000; offset++) p.complete(offset);
    p.committed = p.commitPoint();
    expect(p.consumerLag()).toBe(0);
    expect(p.committedLag()).toBe(0);
  });

  it('keeps the highest watermark seen when an older answer arrives late, and never reports a negative lag', () => {
    const p = new PartitionOffsets(1);
    p.assignedAt = 0;
    p.noteHighWatermark(800, 1);
    p.noteHighWatermark(700, 2);
    expect(p.highWatermark).toBe(800);
    expect(p.highWatermarkAtMs).toBe(2);
    // Fetched past the last watermark seen (it moved on since): 0, not negative.
    for (let offset = 0; offset < 900; offset++) p.track(offset);
    expect(p.consumerLag()).toBe(0);
  });
});
