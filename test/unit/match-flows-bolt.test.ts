import { describe, expect, it } from 'vitest';
import type { OutputCollector, TopologyContext, Tuple } from '../../runtime/index.js';
import type { Flow } from '../../bolts/flow.js';
import { DRAIN_SLICE, MatchFlowsBolt } from '../../bolts/components/match-flows-bolt.js';
import { defaultConfig } from '../../bolts/themis-config.js';
import { flowFixture } from '../helpers/flow-fixture.js';

/** What the bolt did with its collector, in order. */
interface Recorded {
  readonly emitted: number[];
  readonly acked: number[];
  readonly parked: number[];
}

function inputOf(flow: Flow): Tuple {
  return { values: [flow.id, flow], sourceComponent: 'discard-flows', sourceTask: 1, sourceStream: 'INTERESTING', isTick: false, getValueByField: () => undefined };
}

function preparedBolt(now: () => number = Date.now): { bolt: MatchFlowsBolt; seen: Recorded } {
  const seen: Recorded = { emitted: [], acked: [], parked: [] };
  const idOf = (t: Tuple) => (t.values[1] as Flow).id;
  const collector: OutputCollector = {
    emit: (values) => void seen.emitted.push((values[1] as Flow).id),
    ack: (t) => void seen.acked.push(idOf(t)),
    fail: () => {
      throw new Error('nothing here fails');
    },
    park: (t) => void seen.parked.push(idOf(t)),
    dependencyLost: () => {
      throw new Error('match-flows has no dependency');
    },
    dependencyRestored: () => undefined,
    reportError: (err) => {
      throw err;
    },
  };
  const bolt = new MatchFlowsBolt({ config: defaultConfig(), dataDir: '/nonexistent', outputDir: '/nonexistent', instance: 't', services: {} }, now);
  bolt.prepare({} as TopologyContext, collector);
  return { bolt, seen };
}

/** `count` one-way TCP flows, each its own conversation (a client port of its own), ids from 1. */
function holdOneWayFlows(bolt: MatchFlowsBolt, count: number): void {
  for (let i = 1; i <= count; i++) bolt.execute(inputOf(flowFixture({ id: i, srcPort: 10_000 + i })));
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('MatchFlowsBolt at the end of the input', () => {
  it('releases what it holds a slice per event-loop turn, oldest first, until nothing is held', async () => {
    const { bolt, seen } = preparedBolt();
    const count = 2 * DRAIN_SLICE + 7;
    holdOneWayFlows(bolt, count);
    expect(seen.parked).toHaveLength(count);
    expect(seen.emitted).toEqual([]);

    bolt.onInputEnd();
    // The first slice goes at once; the rest wait for the turns after the engine's.
    expect(seen.emitted).toEqual(Array.from({ length: DRAIN_SLICE }, (_, i) => i + 1));
    expect(seen.acked).toEqual(seen.emitted);
    await nextTurn();
    expect(seen.emitted).toHaveLength(2 * DRAIN_SLICE);
    await nextTurn();
    expect(seen.emitted).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(seen.acked).toEqual(seen.emitted);
    await nextTurn();
    expect(seen.emitted).toHaveLength(count);
  });

  it('stops releasing once cleaned up: what is left stays parked, for replay', async () => {
    const { bolt, seen } = preparedBolt();
    holdOneWayFlows(bolt, DRAIN_SLICE + 1);
    bolt.onInputEnd();
    bolt.cleanup();
    await nextTurn();
    await nextTurn();
    expect(seen.emitted).toHaveLength(DRAIN_SLICE);
    expect(seen.acked).not.toContain(DRAIN_SLICE + 1);
  });
});

const TICK: Tuple = { values: [], sourceComponent: '__system', sourceTask: 0, sourceStream: '__tick', isTick: true, getValueByField: () => undefined };

describe('MatchFlowsBolt on a tick', () => {
  it('releases the flows past the match window a slice per event-loop turn, oldest first, and keeps the rest', async () => {
    const clock = { t: 1_000_000 };
    const { bolt, seen } = preparedBolt(() => clock.t);
    const windowMs = defaultConfig().windows.matchWindowMs;
    const old = 2 * DRAIN_SLICE + 5;
    holdOneWayFlows(bolt, old);
    clock.t += windowMs;
    // Held later: not expired at the tick.
    for (let i = old + 1; i <= old + 3; i++) bolt.execute(inputOf(flowFixture({ id: i, srcPort: 10_000 + i })));

    bolt.execute(TICK);
    expect(seen.emitted).toEqual(Array.from({ length: DRAIN_SLICE }, (_, i) => i + 1));
    // A second tick while the release goes on starts nothing of its own.
    bolt.execute(TICK);
    expect(seen.emitted).toHaveLength(DRAIN_SLICE);
    await nextTurn();
    expect(seen.emitted).toHaveLength(2 * DRAIN_SLICE);
    await nextTurn();
    await nextTurn();
    expect(seen.emitted).toEqual(Array.from({ length: old }, (_, i) => i + 1));
    expect(seen.acked).toEqual(seen.emitted);

    // The end of the input releases the rest, though a tick's release has just ended.
    bolt.onInputEnd();
    expect(seen.emitted).toHaveLength(old + 3);
  });
});
