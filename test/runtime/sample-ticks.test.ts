import { describe, expect, it } from 'vitest';
import { sampleTicks, ticksToMs } from '../../runtime/executor/tuple-impl.js';

describe('the sample clock of process latency', () => {
  it('is a nonzero signed 32-bit integer that follows performance.now() in 10 µs ticks', async () => {
    const a = sampleTicks();
    await new Promise((r) => setTimeout(r, 30));
    const b = sampleTicks();
    for (const t of [a, b]) {
      expect(t).toBe(t | 0);
      expect(t).not.toBe(0);
    }
    const ms = ticksToMs(a, b);
    expect(ms).toBeGreaterThanOrEqual(25);
    expect(ms).toBeLessThan(1000);
  });

  it('measures across the wrap of its 32 bits', () => {
    expect(ticksToMs(2 ** 31 - 50, -(2 ** 31) + 150)).toBe(2);
    expect(ticksToMs(-5, 95)).toBe(1);
    expect(ticksToMs(1000, 1000)).toBe(0);
  });
});
