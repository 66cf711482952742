import { describe, expect, it } from 'vitest';
import { oneRecordPerFlow } from '../../bolts/postgres/one-record-per-flow.js';
import { makeFlow } from '../helpers/make-flow.js';

const lone = (id: number, tos = 0) => makeFlow({ id, tos });
const pair = (id: number, pairId: number) => makeFlow({ id, pairId, matched: true });

describe('oneRecordPerFlow', () => {
  it('keeps a conversation over the lone records of either of its flows, whatever their order', () => {
    expect(oneRecordPerFlow([lone(6), lone(5), pair(5, 6)])).toEqual([pair(5, 6)]);
    expect(oneRecordPerFlow([pair(5, 6), lone(6)])).toEqual([pair(5, 6)]);
  });

  it('keeps the first of two conversations that share a flow, and the first of two lone records of one flow', () => {
    expect(oneRecordPerFlow([pair(5, 6), pair(6, 5), pair(7, 6)])).toEqual([pair(5, 6)]);
    expect(oneRecordPerFlow([lone(9, 1), lone(9, 2)])).toEqual([lone(9, 1)]);
  });

  it('returns the kept records in id order', () => {
    expect(oneRecordPerFlow([lone(30), pair(20, 21), lone(10)]).map((f) => f.id)).toEqual([10, 20, 30]);
  });
});
