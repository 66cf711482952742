import { describe, expect, it } from 'vitest';
import type { Tag } from '../../bolts/flow.js';
import { addTag, addTags, makeTag, tagName, totals } from '../../bolts/rules/tags.js';
import { makeFlow } from '../helpers/make-flow.js';

const DARK: Tag = { category: 'SUSPICIOUS_TRAFFIC', code: 'DARK_IP', score: 40, isBad: true };

describe('tags', () => {
  it('keeps one copy of a tag added twice (fixes §15 item 6)', () => {
    const flow = makeFlow();
    addTag(flow, DARK);
    addTag(flow, { ...DARK });
    expect(flow.tags).toEqual([DARK]);
    expect(totals(flow.tags)).toEqual({ goodness: 0, badness: 40 });
  });

  it('keeps tags that differ only in score or polarity', () => {
    const flow = makeFlow();
    const hostedGood: Tag = { category: 'HOSTED_SERVICES', code: 'TCP', score: 100, isBad: false };
    addTags(flow, [hostedGood, { ...hostedGood, score: 50, isBad: true }, { ...hostedGood, score: 50 }]);
    expect(flow.tags).toHaveLength(3);
  });

  it('sums goodness and badness separately and never nets them (§1.1)', () => {
    const tags: Tag[] = [
      DARK,
      { category: 'IP_LIST', code: 'NDPI_GOOD', score: 100, isBad: false },
      { category: 'POSSIBLE_SCAN', code: 'SYN_ONLY', score: 60, isBad: true },
    ];
    expect(totals(tags)).toEqual({ goodness: 100, badness: 100 });
  });

  it('counts a duplicate once even in an array built without addTag', () => {
    expect(totals([DARK, DARK, { ...DARK }])).toEqual({ goodness: 0, badness: 40 });
  });

  it('gives zero totals for no tags', () => {
    expect(totals([])).toEqual({ goodness: 0, badness: 0 });
  });

  it('builds a tag from a spec with its default or an explicit score', () => {
    const spec = { category: 'COUNTRY', code: 'SUSPECT', score: 80 };
    expect(makeTag(spec, true)).toEqual({ category: 'COUNTRY', code: 'SUSPECT', score: 80, isBad: true });
    expect(makeTag(spec, true, 60).score).toBe(60);
  });

  it('renders a tag as CATEGORY-CODE (§4.3)', () => {
    expect(tagName({ category: 'INTELMQ', code: 'malware : malicious code' })).toBe('INTELMQ-malware : malicious code');
  });
});
