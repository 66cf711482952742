import { describe, expect, it } from 'vitest';
import { decodeCommitRecord, encodeCommitRecord, RecordedCompletions } from '../../spouts/kafka/commit-record.js';

describe('commit records', () => {
  it('round-trips the incomplete offsets of a span', () => {
    const metadata = encodeCommitRecord(1000, 5000, [1000, 1001, 1500, 4999]);
    expect(decodeCommitRecord(1000, metadata)).toEqual({ from: 1000, span: 4000, incomplete: [1000, 1001, 1500, 4999] });
  });

  it('cuts the span short at the first offset that does not fit, so what follows it is read again', () => {
    const incomplete = Array.from({ length: 5000 }, (_, i) => 100 + i * 50);
    const metadata = encodeCommitRecord(100, 1_000_000, incomplete, 200);
    expect(metadata.length).toBeLessThanOrEqual(200);
    const record = decodeCommitRecord(100, metadata)!;
    const listed = record.incomplete.length;
    expect(listed).toBeGreaterThan(10);
    expect(record.incomplete).toEqual(incomplete.slice(0, listed));
    expect(record.from + record.span).toBe(incomplete[listed]);
  });

  it('describes nothing for metadata that is not a record', () => {
    for (const metadata of [null, undefined, '', 'hello', 't1 zz', 't1 10 0,0', 't1 10 0,10', 't2 1 0']) expect(decodeCommitRecord(5, metadata)).toBeNull();
  });

  it('skips exactly the offsets the record calls complete', () => {
    const record = decodeCommitRecord(10, encodeCommitRecord(10, 20, [10, 13, 17]))!;
    const completions = new RecordedCompletions(record);
    const skipped = [];
    for (let offset = 10; offset < 25; offset++) if (completions.isComplete(offset)) skipped.push(offset);
    expect(skipped).toEqual([11, 12, 14, 15, 16, 18, 19]);
    expect(completions.isPassed(19)).toBe(false);
    expect(completions.isPassed(20)).toBe(true);
  });
});
