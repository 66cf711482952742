import { describe, expect, it } from 'vitest';
import { AllGrouping, FieldsGrouping, GlobalGrouping, localOrShuffleGrouping, ShuffleGrouping } from '../../runtime/groupings.js';

describe('groupings', () => {
  it('shuffles evenly over the targets', () => {
    const g = new ShuffleGrouping([4, 5, 6], 1);
    const counts = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const t = g.choose()[0]!;
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect(counts).toEqual(new Map([[5, 100], [6, 100], [4, 100]]));
  });

  it('routes equal field values to the same task and spreads different ones', () => {
    const a = new FieldsGrouping([10, 11, 12, 13], [1]);
    const b = new FieldsGrouping([10, 11, 12, 13], [1]);
    const used = new Set<number>();
    for (let k = 0; k < 200; k++) {
      const key = k % 2 === 0 ? k : `flow-${k}`;
      const t = a.choose(['x', key])[0]!;
      expect(b.choose(['y', key])[0]).toBe(t);
      used.add(t);
    }
    expect(used.size).toBe(4);
  });

  it('sends to all targets, or to the lowest task id for global', () => {
    expect(new AllGrouping([3, 1, 2]).choose()).toEqual([3, 1, 2]);
    expect(new GlobalGrouping([7, 3, 9]).choose()).toEqual([3]);
  });

  it('prefers targets on the same thread and falls back to all targets', () => {
    const local = localOrShuffleGrouping([1, 2, 3, 4], [2, 4], 0);
    expect(new Set(Array.from({ length: 10 }, () => local.choose([])[0]))).toEqual(new Set([2, 4]));
    const none = localOrShuffleGrouping([1, 2], [], 0);
    expect(new Set(Array.from({ length: 10 }, () => none.choose([])[0]))).toEqual(new Set([1, 2]));
  });
});
