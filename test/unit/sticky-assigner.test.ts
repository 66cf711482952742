import { describe, expect, it } from 'vitest';
import { assignSticky, type GroupMember } from '../../spouts/kafka/sticky-assigner.js';

const PARTITIONS = [0, 1, 2, 3, 4, 5, 6, 7];

function members(assignment: Map<string, number[]>): GroupMember[] {
  return [...assignment].map(([id, owned]) => ({ id, owned }));
}

function expectBalanced(assignment: Map<string, number[]>, partitions: readonly number[]): void {
  const all = [...assignment.values()].flat().sort((a, b) => a - b);
  expect(all, 'every partition exactly once').toEqual([...partitions].sort((a, b) => a - b));
  const sizes = [...assignment.values()].map((list) => list.length);
  expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
}

/** Partitions that changed owner between two assignments. */
function moved(before: Map<string, number[]>, after: Map<string, number[]>): number[] {
  const ownerBefore = new Map<number, string>();
  for (const [id, list] of before) for (const p of list) ownerBefore.set(p, id);
  const result: number[] = [];
  for (const [id, list] of after) for (const p of list) if (ownerBefore.get(p) !== id) result.push(p);
  return result.sort((a, b) => a - b);
}

describe('assignSticky', () => {
  it('deals a new group out evenly', () => {
    const first = assignSticky([{ id: 'b', owned: [] }, { id: 'a', owned: [] }, { id: 'c', owned: [] }], PARTITIONS);
    expectBalanced(first, PARTITIONS);
    expect(first).toEqual(new Map([['a', [0, 1, 2]], ['b', [3, 4, 5]], ['c', [6, 7]]]));
  });

  it('moves nothing when the membership stays the same', () => {
    const first = assignSticky([{ id: 'a', owned: [] }, { id: 'b', owned: [] }, { id: 'c', owned: [] }, { id: 'd', owned: [] }], PARTITIONS);
    const again = assignSticky(members(first), PARTITIONS);
    expect(again).toEqual(first);
    expect(moved(first, again)).toEqual([]);
  });

  it('keeps every survivor\'s partitions when a member leaves, and shares out only the leaver\'s', () => {
    const four = assignSticky(['a', 'b', 'c', 'd'].map((id) => ({ id, owned: [] })), PARTITIONS);
    const survivors = members(four).filter((m) => m.id !== 'c');
    const three = assignSticky(survivors, PARTITIONS);
    expectBalanced(three, PARTITIONS);
    for (const m of survivors) for (const p of m.owned) expect(three.get(m.id)).toContain(p);
    expect(moved(four, three)).toEqual([...four.get('c')!].sort((a, b) => a - b));
  });

  it('gives a joining member only partitions taken from the others\' surplus', () => {
    const two = assignSticky([{ id: 'a', owned: [] }, { id: 'b', owned: [] }], PARTITIONS);
    const three = assignSticky([...members(two), { id: 'c', owned: [] }], PARTITIONS);
    expectBalanced(three, PARTITIONS);
    // Only what the newcomer takes moves: 8 / 3 rounds to 2 or 3 each, so it takes 2.
    expect(moved(two, three)).toEqual([...three.get('c')!].sort((a, b) => a - b));
    expect(three.get('c')).toHaveLength(2);
    for (const id of ['a', 'b']) for (const p of three.get(id)!) expect(two.get(id)).toContain(p);
  });

  it('keeps a process\'s own tasks on their partitions when the other process\'s two tasks leave', () => {
    const four = assignSticky(['p1-t1', 'p1-t2', 'p2-t1', 'p2-t2'].map((id) => ({ id, owned: [] })), PARTITIONS);
    const two = assignSticky(members(four).filter((m) => m.id.startsWith('p1')), PARTITIONS);
    expectBalanced(two, PARTITIONS);
    for (const id of ['p1-t1', 'p1-t2']) for (const p of four.get(id)!) expect(two.get(id)).toContain(p);
  });

  it('stays balanced within one over random joins and leaves, moving only what must move', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    let current = new Map<string, number[]>();
    let nextId = 0;
    for (let step = 0; step < 300; step++) {
      const list = members(current);
      const isJoin = list.length === 0 || (list.length < 12 && random() < 0.5);
      const next = isJoin ? [...list, { id: `m${String(nextId++).padStart(3, '0')}`, owned: [] }] : list.filter((_, i) => i !== Math.floor(random() * list.length));
      const after = assignSticky(next, PARTITIONS);
      if (next.length === 0) {
        expect(after.size).toBe(0);
      } else {
        expectBalanced(after, PARTITIONS);
        // A member keeps min(what it had, the larger share): it loses partitions only to balance.
        const ceil = Math.ceil(PARTITIONS.length / next.length);
        for (const m of next) expect(after.get(m.id)!.filter((p) => m.owned.includes(p)).length).toBeGreaterThanOrEqual(Math.min(m.owned.length, ceil - 1));
      }
      current = after;
    }
  });

  it('gives a partition claimed by two members to one of them, and ignores partitions that no longer exist', () => {
    const result = assignSticky([{ id: 'a', owned: [0, 1, 9] }, { id: 'b', owned: [1, 2] }], [0, 1, 2, 3]);
    expectBalanced(result, [0, 1, 2, 3]);
    expect(result.get('a')).toEqual([0, 1]);
    expect(result.get('b')).toEqual([2, 3]);
  });
});
