import { describe, expect, it } from 'vitest';
import type { DependencyFault } from '../../bolts/resilience/dependency-fault.js';
import { DependencyClosedError, DependencyGuard, stallThresholdMs, type StartTimer } from '../../bolts/resilience/dependency-guard.js';

class Unavailable extends Error {}
class BadRow extends Error {}
const fault = (err: unknown): DependencyFault => (err instanceof BadRow ? 'bad-data' : 'unavailable');

/** Timers the test fires by hand, in order, recording each delay asked for. */
class ManualTimers {
  readonly delays: number[] = [];
  private readonly due: Array<() => void> = [];
  readonly start: StartTimer = (fn, ms) => {
    this.delays.push(ms);
    this.due.push(fn);
    return () => {
      const i = this.due.indexOf(fn);
      if (i >= 0) this.due.splice(i, 1);
    };
  };
  get pending(): number {
    return this.due.length;
  }
  fireAll(): void {
    for (const fn of this.due.splice(0)) fn();
  }
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setUp(stallMs?: number) {
  const events: string[] = [];
  const timers = new ManualTimers();
  const guard = new DependencyGuard({
    dependency: 'postgresql',
    fault,
    collector: { dependencyLost: (dep) => void events.push(`lost ${dep}`), dependencyRestored: (dep) => void events.push(`restored ${dep}`) },
    policy: { initialMs: 100, maxMs: 400, multiplier: 2, jitter: 'full' },
    random: () => 0.999,
    startTimer: timers.start,
    ...(stallMs === undefined ? {} : { stallMs }),
  });
  return { events, timers, guard };
}

describe('DependencyGuard', () => {
  it('keeps retrying while the dependency is unavailable, with growing capped delays, and reports lost then restored once', async () => {
    const { events, timers, guard } = setUp();
    let calls = 0;
    const result = guard.call(async () => {
      if (++calls <= 4) throw new Unavailable('connection refused');
      return 'written';
    });
    for (let i = 0; i < 4; i++) {
      await settle();
      expect(timers.pending).toBe(1);
      timers.fireAll();
    }
    await expect(result).resolves.toBe('written');
    expect(calls).toBe(5);
    expect(timers.delays).toEqual([99, 199, 399, 399]);
    expect(events).toEqual(['lost postgresql', 'restored postgresql']);
    expect(guard.down).toBe(false);
  });

  it('rejects at once, with no breaker, when the dependency refuses the data', async () => {
    const { events, timers, guard } = setUp();
    await expect(guard.call(() => Promise.reject(new BadRow('check constraint')))).rejects.toBeInstanceOf(BadRow);
    expect(events).toEqual([]);
    expect(timers.delays).toEqual([]);
  });

  it('tries every waiting call again at once when one gets through', async () => {
    const { events, timers, guard } = setUp();
    let isUp = false;
    const attempt = async () => {
      if (!isUp) throw new Unavailable('down');
      return 'ok';
    };
    const first = guard.call(attempt);
    const second = guard.call(attempt);
    await settle();
    expect(timers.pending).toBe(2);
    isUp = true;
    const third = guard.call(attempt);
    await expect(third).resolves.toBe('ok');
    // The success woke the two waiting calls without their timers.
    await expect(Promise.all([first, second])).resolves.toEqual(['ok', 'ok']);
    expect(timers.pending).toBe(0);
    expect(events).toEqual(['lost postgresql', 'restored postgresql']);
  });

  it('pins a bad-data refusal on the items at fault and writes the rest', async () => {
    const { guard } = setUp();
    const items = Array.from({ length: 16 }, (_, i) => i);
    const poison = new Set([3, 12]);
    const stored: number[] = [];
    const writes: number[][] = [];
    const refused = await guard.writeIsolating(items, async (subset) => {
      writes.push([...subset]);
      const bad = subset.find((i) => poison.has(i));
      if (bad !== undefined) throw new BadRow(`row ${bad} violates a check constraint`);
      stored.push(...subset);
    });
    expect(refused.map((r) => r.item)).toEqual([3, 12]);
    expect(refused.map((r) => (r.error as Error).message)).toEqual(['row 3 violates a check constraint', 'row 12 violates a check constraint']);
    expect(stored.sort((a, b) => a - b)).toEqual(items.filter((i) => !poison.has(i)));
    // 1 + 2 halves + ... each bad item costs about log2(16) = 4 levels.
    expect(writes.length).toBeLessThanOrEqual(1 + 2 * 2 * 4);
  });

  it('writes a healthy batch in one call', async () => {
    const { guard } = setUp();
    let calls = 0;
    expect(await guard.writeIsolating([1, 2, 3], async () => void calls++)).toEqual([]);
    expect(calls).toBe(1);
  });

  it('abandons waiting calls when closed', async () => {
    const { guard } = setUp();
    const waiting = guard.call(() => Promise.reject(new Unavailable('down')));
    await settle();
    guard.close();
    await expect(waiting).rejects.toBeInstanceOf(DependencyClosedError);
    await expect(guard.call(async () => 'late')).rejects.toBeInstanceOf(DependencyClosedError);
  });

  it('opens the breaker when a call has no answer within stallMs, and closes it when the answer comes', async () => {
    const { events, timers, guard } = setUp(500);
    let answer!: (v: string) => void;
    const result = guard.call(() => new Promise<string>((resolve) => (answer = resolve)));
    expect(timers.delays).toEqual([500]);
    timers.fireAll();
    expect(events).toEqual(['lost postgresql']);
    answer('late');
    await expect(result).resolves.toBe('late');
    expect(events).toEqual(['lost postgresql', 'restored postgresql']);
  });

  it('leaves the breaker shut when the answer comes within stallMs', async () => {
    const { events, timers, guard } = setUp(500);
    await expect(guard.call(async () => 'quick')).resolves.toBe('quick');
    expect(timers.pending).toBe(0);
    expect(events).toEqual([]);
  });
});

describe('stallThresholdMs', () => {
  it('is a quarter of the message timeout, between 100 ms and 5 s', () => {
    expect(stallThresholdMs(2)).toBe(500);
    expect(stallThresholdMs(60)).toBe(5_000);
    expect(stallThresholdMs(0.2)).toBe(100);
  });
});
