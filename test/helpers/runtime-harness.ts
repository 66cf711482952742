import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { moduleRef, type ComponentRef } from '../../runtime/index.js';
import type { FixtureEvent } from '../runtime/fixtures/components.js';

/** A reference to a fixture component, loadable on any worker thread. */
export function fixture(name: string, args?: unknown): ComponentRef {
  return moduleRef(new URL('../runtime/fixtures/components.ts', import.meta.url).href, './components', name, args);
}

/** Collects what fixture components report from their worker threads. */
export class EventLog {
  readonly channelName = `themis-test-${randomUUID()}`;
  readonly events: FixtureEvent[] = [];
  private readonly channel = new BroadcastChannel(this.channelName);

  constructor() {
    this.channel.onmessage = (e: unknown) => this.events.push((e as { data: FixtureEvent }).data);
  }
  acks(): number[] {
    return this.events.filter((e) => e.kind === 'ack').map((e) => (e as { id: number }).id);
  }
  fails(): Array<{ id: number; reason: string }> {
    return this.events.filter((e): e is Extract<FixtureEvent, { kind: 'fail' }> => e.kind === 'fail').map((e) => ({ id: e.id, reason: e.reason }));
  }
  of<K extends FixtureEvent['kind']>(kind: K): Array<Extract<FixtureEvent, { kind: K }>> {
    return this.events.filter((e): e is Extract<FixtureEvent, { kind: K }> => e.kind === kind);
  }
  /** BroadcastChannel delivery is asynchronous: wait until the condition holds (bounded). */
  async until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('condition not reached in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  /** Lets events already posted by the workers arrive. */
  settle(ms = 100): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }
  close(): void {
    this.channel.close();
  }
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
