import { describe, expect, it } from 'vitest';
import type { Flow, Tag } from '../../bolts/flow.js';
import { DEFAULT_JOIN_WINDOW_MS, JoinTable } from '../../bolts/join/join-table.js';
import { FakeClock, flowFixture } from '../helpers/flow-fixture.js';

// Reference §5.18 (JoinBolt) with the §15 item 19-20 fixes.

const TCP_BRANCHES = ['all', 'tcp'] as const;

const darkIp: Tag = { category: 'SUSPICIOUS_TRAFFIC', code: 'DARK_IP', score: 40, isBad: true };
const ndpi: Tag = { category: 'IP_LIST', code: 'NDPI_GOOD', score: 100, isBad: false };
const synOnly: Tag = { category: 'POSSIBLE_SCAN', code: 'SYN_ONLY', score: 60, isBad: true };

function copy(tags: Tag[], fields: Partial<Flow> = {}): Flow {
  return flowFixture({ id: 7, ...fields, tags: [...tags] });
}

describe('JoinTable', () => {
  it('waits for every expected branch and merges tags whatever the arrival order', () => {
    for (const order of [
      ['all', 'tcp'],
      ['tcp', 'all'],
    ]) {
      const t = new JoinTable<string>({ now: new FakeClock().now });
      const copies: Record<string, Flow> = {
        all: copy([darkIp, ndpi], { srcCity: 'first' }),
        tcp: copy([synOnly, darkIp], { srcCity: 'second' }),
      };
      expect(t.offer(order[0]!, copies[order[0]!]!, TCP_BRANCHES, `h-${order[0]}`)).toEqual({ kind: 'waiting' });
      const outcome = t.offer(order[1]!, copies[order[1]!]!, TCP_BRANCHES, `h-${order[1]}`);
      if (outcome.kind !== 'complete') throw new Error(outcome.kind);
      // Tags once each, in expected-branch order; handles likewise.
      expect(outcome.flow.tags).toEqual([darkIp, ndpi, synOnly]);
      expect(outcome.handles).toEqual(['h-all', 'h-tcp']);
      // Enrichment fields come from the first copy to arrive.
      expect(outcome.flow.srcCity).toBe(order[0] === 'all' ? 'first' : 'second');
      expect(t.size).toBe(0);
    }
  });

  it('completes a single-branch flow at once', () => {
    const t = new JoinTable<string>({ now: new FakeClock().now });
    const outcome = t.offer('all', copy([darkIp, darkIp]), ['all'], 'h');
    expect(outcome).toEqual({ kind: 'complete', flow: { ...copy([]), tags: [darkIp] }, handles: ['h'] });
    expect(t.size).toBe(0);
  });

  it('does not let a replayed copy of one branch stand in for a missing branch', () => {
    const t = new JoinTable<string>({ now: new FakeClock().now });
    t.offer('all', copy([darkIp]), TCP_BRANCHES, 'old all');
    expect(t.offer('all', copy([ndpi]), TCP_BRANCHES, 'new all')).toEqual({ kind: 'duplicate', handle: 'old all' });
    expect(t.size).toBe(1);
    const outcome = t.offer('tcp', copy([synOnly]), TCP_BRANCHES, 'tcp');
    // The replacement's tags and handle are the ones joined.
    expect(outcome).toMatchObject({ kind: 'complete', handles: ['new all', 'tcp'] });
    expect(outcome.kind === 'complete' && outcome.flow.tags).toEqual([ndpi, synOnly]);
  });

  it('waits for three branches when the splitter expects three', () => {
    const t = new JoinTable<number>({ now: new FakeClock().now });
    const branches = ['all', 'tcp', 'extra'];
    expect(t.offer('extra', copy([]), branches, 3).kind).toBe('waiting');
    expect(t.offer('all', copy([]), branches, 1).kind).toBe('waiting');
    expect(t.offer('tcp', copy([]), branches, 2)).toMatchObject({ kind: 'complete', handles: [1, 2, 3] });
  });

  it('returns partial flows with all their handles once the window passes, for failing', () => {
    const clock = new FakeClock(5_000);
    const t = new JoinTable<string>({ now: clock.now });
    t.offer('all', copy([darkIp]), TCP_BRANCHES, 'a7');
    clock.advance(10_000);
    t.offer('tcp', copy([], { id: 8 }), TCP_BRANCHES, 't8');
    clock.advance(DEFAULT_JOIN_WINDOW_MS - 10_001);
    expect(t.expire()).toEqual([]);
    clock.advance(1);
    const partial = t.expire();
    expect(partial).toEqual([{ id: 7, flow: copy([darkIp]), arrived: ['all'], missing: ['tcp'], handles: ['a7'] }]);
    expect(t.size).toBe(1);
    clock.advance(10_000);
    expect(t.expire().map((p) => [p.id, p.missing])).toEqual([[8, ['all']]]);
  });

  it('starts a new entry for a copy arriving after its flow expired', () => {
    const clock = new FakeClock();
    const t = new JoinTable<string>({ now: clock.now, windowMs: 100 });
    t.offer('all', copy([]), TCP_BRANCHES, 'a');
    clock.advance(100);
    expect(t.expire()).toHaveLength(1);
    expect(t.offer('tcp', copy([]), TCP_BRANCHES, 't')).toEqual({ kind: 'waiting' });
  });

  it('refuses a copy from a branch that is not expected', () => {
    const t = new JoinTable<string>({ now: new FakeClock().now });
    expect(() => t.offer('udp', copy([]), TCP_BRANCHES, 'u')).toThrow(/branch "udp"/);
    t.offer('all', copy([]), TCP_BRANCHES, 'a');
    expect(() => t.offer('udp', copy([]), ['all', 'udp'], 'u')).toThrow(/copy held for this id/);
  });
});
