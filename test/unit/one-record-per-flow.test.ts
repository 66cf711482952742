import { describe, expect, it } from 'vitest';
import { oneRecordPerFlow } from '../../bolts/postgres/one-record-per-flow.js';
import { makeFlow } from '../helpers/make-flow.js';

const lone = (id: number, tos = 0) => makeFlow({ id, tos });
const pair = (id: number, pairId: number) => makeFlow({ id, pairId, matched: true });

describe('oneRecordPerFlow', () => {
  it('keeps a conversation over the lone records of either of its flows, whatever their order', () => {
    expect(oneRecordPerFlow([lone(6), lone(5), pair(5, 6)]).kept).toEqual([pair(5, 6)]);
    expect(oneRecordPerFlow([pair(5, 6), lone(6)]).kept).toEqual([pair(5, 6)]);
  });

  it('keeps the first of two conversations that share a flow, and the first of two lone records of one flow', () => {
    expect(oneRecordPerFlow([pair(5, 6), pair(6, 5), pair(7, 6)])).toEqual({ kept: [pair(5, 6)], otherFlows: [] });
    expect(oneRecordPerFlow([lone(9, 1), lone(9, 2)])).toEqual({ kept: [lone(9, 1)], otherFlows: [] });
  });

  it('lists a record whose id a kept record holds for another conversation as another flow, not a replay', () => {
    const other = makeFlow({ id: 9, dstPort: 22 });
    expect(oneRecordPerFlow([lone(9), other])).toEqual({ kept: [lone(9)], otherFlows: [other] });
    const reverse = makeFlow({ id: 6, srcIp: '192.0.2.10', dstIp: '198.51.100.7', srcPort: 443, dstPort: 51515 });
    expect(oneRecordPerFlow([pair(5, 6), reverse]).otherFlows).toEqual([]);
  });

  it('returns the kept records in id order', () => {
    expect(oneRecordPerFlow([lone(30), pair(20, 21), lone(10)]).kept.map((f) => f.id)).toEqual([10, 20, 30]);
  });
});
