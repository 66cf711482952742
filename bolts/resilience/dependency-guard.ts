import type { MetricCounter, OutputCollector } from '../../runtime/index.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { DependencyFault } from './dependency-fault.js';

/**
 * One bolt task's calls to one dependency (PostgreSQL, Redis, a Kafka producer, the output files)
 * under a circuit breaker. States, all owned here:
 *
 *   UP ── a call fails `unavailable`, ───────► DOWN   (collector.dependencyLost: the engine opens
 *         or has no answer after `stallMs`            the task's breaker, gives it no input, and
 *                                                     stops every root's timeout)
 *   DOWN ── any call succeeds, or is refused as bad data ──► UP   (dependencyRestored)
 *
 * The stall rule matters as much as the failure rule: a paused Redis or a silent network only
 * fails a call when the client's own timeout passes (5 s for Redis, longer for kafkajs' retries),
 * and the roots waiting on that call would time out and be replayed first. `stallMs` is below
 * the message timeout (stallThresholdMs), so their deadlines stop before they pass.
 *
 * A call that fails `unavailable` is kept and tried again after its own backoff (exponential,
 * capped, jittered), for as long as it takes: its inputs are neither acked nor failed meanwhile,
 * so no flow spends its retry budget on an outage. When one call gets through, the others that
 * wait are tried at once. Only `close` (shutdown) ends the waiting: they reject with
 * DependencyClosedError and their inputs are replayed by the next run.
 */

export class DependencyClosedError extends Error {
  constructor(readonly dependency: string) {
    super(`${dependency}: the bolt is closing; the calls still waiting for it were abandoned (their inputs are replayed on restart)`);
    this.name = 'DependencyClosedError';
  }
}

/** An input the dependency refused as bad data, with the refusal. */
export interface Refused<T> {
  readonly item: T;
  readonly error: unknown;
}

/** A timer the guard can cancel; injected so that unit tests run without waiting. */
export type StartTimer = (fn: () => void, ms: number) => () => void;

const realTimer: StartTimer = (fn, ms) => {
  const handle = setTimeout(fn, ms);
  return () => clearTimeout(handle);
};

export interface DependencyGuardOptions {
  /** Named in the breaker's log lines: "postgresql", "redis", "kafka". */
  readonly dependency: string;
  readonly fault: (err: unknown) => DependencyFault;
  readonly collector: Pick<OutputCollector, 'dependencyLost' | 'dependencyRestored'>;
  readonly policy?: BackoffPolicy;
  readonly random?: () => number;
  readonly startTimer?: StartTimer;
  /** Counts attempts that failed `unavailable` (each is retried). */
  readonly retries?: MetricCounter;
  /** A call with no answer after this long opens the breaker (see above); default none. */
  readonly stallMs?: number;
}

/**
 * The stall threshold for a topology's message timeout: a quarter of it, so that a root emitted
 * just before the dependency stalled still has most of its time left when its deadline stops;
 * at most 5 s, the Redis and PostgreSQL clients' own timeouts, and at least 100 ms.
 */
export function stallThresholdMs(messageTimeoutSecs: number): number {
  return Math.max(100, Math.min(5_000, Math.floor((messageTimeoutSecs * 1000) / 4)));
}

export class DependencyGuard {
  readonly dependency: string;
  private isDown = false;
  private isClosed = false;
  /** Calls waiting out their backoff: wake() ends the wait early. */
  private readonly waiting = new Set<() => void>();

  constructor(private readonly opts: DependencyGuardOptions) {
    this.dependency = opts.dependency;
  }

  get down(): boolean {
    return this.isDown;
  }

  /**
   * Runs `attempt` until it succeeds (resolves with its result) or the dependency refuses it as bad
   * data (rejects with that error); while the dependency is unavailable it waits and tries again.
   */
  async call<T>(attempt: () => Promise<T>): Promise<T> {
    const backoff = new Backoff(this.opts.policy ?? DEFAULT_BACKOFF, this.opts.random);
    for (;;) {
      if (this.isClosed) throw new DependencyClosedError(this.dependency);
      const stopWatch = this.watchForStall();
      try {
        const result = await attempt();
        stopWatch();
        this.up();
        return result;
      } catch (err) {
        stopWatch();
        if (this.isClosed) throw new DependencyClosedError(this.dependency);
        if (this.opts.fault(err) === 'bad-data') {
          // The dependency answered: it is up, and these values are what it refuses.
          this.up();
          throw err;
        }
        this.opts.retries?.inc();
        this.lost(err);
        await this.pause(backoff.nextDelayMs());
      }
    }
  }

  /**
   * Writes `items` with `write` through `call`. When the dependency refuses a set as bad data, the
   * set is halved and each half written again, down to single items, so the refusal is pinned on
   * the items at fault (k bad items in n cost about k·log2(n) extra writes). Returns those items
   * with their errors; every other item was written.
   */
  async writeIsolating<T>(items: readonly T[], write: (subset: readonly T[]) => Promise<unknown>): Promise<Refused<T>[]> {
    if (items.length === 0) return [];
    try {
      await this.call(() => write(items));
      return [];
    } catch (err) {
      if (err instanceof DependencyClosedError || this.opts.fault(err) !== 'bad-data') throw err;
      if (items.length === 1) return [{ item: items[0]!, error: err }];
      const mid = items.length >> 1;
      const left = await this.writeIsolating(items.slice(0, mid), write);
      const right = await this.writeIsolating(items.slice(mid), write);
      return [...left, ...right];
    }
  }

  /** Abandons every waiting call (they reject with DependencyClosedError); for the bolt's cleanup. */
  close(): void {
    this.isClosed = true;
    for (const wake of [...this.waiting]) wake();
  }

  private lost(err: unknown): void {
    if (this.isDown) return;
    this.isDown = true;
    this.opts.collector.dependencyLost(this.dependency, err);
  }

  /** Opens the breaker if the call now starting has no answer after stallMs; returns the stop. */
  private watchForStall(): () => void {
    const stallMs = this.opts.stallMs;
    if (stallMs === undefined) return () => undefined;
    return (this.opts.startTimer ?? realTimer)(() => this.lost(new Error(`no answer from ${this.dependency} within ${stallMs} ms`)), stallMs);
  }

  private up(): void {
    if (!this.isDown) return;
    this.isDown = false;
    this.opts.collector.dependencyRestored(this.dependency);
    for (const wake of [...this.waiting]) wake();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let cancel = (): void => undefined;
      const wake = () => {
        this.waiting.delete(wake);
        cancel();
        resolve();
      };
      this.waiting.add(wake);
      cancel = (this.opts.startTimer ?? realTimer)(wake, ms);
    });
  }
}
