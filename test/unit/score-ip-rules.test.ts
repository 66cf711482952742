import { describe, expect, it } from 'vitest';
import type { IpAddress } from '../../bolts/lookup/ip-address.js';
import type { IntelEntry } from '../../bolts/stores.js';
import { scoreDarkIp } from '../../bolts/rules/score-dark-ip.js';
import { intelRemoteIp, scoreIntelMq } from '../../bolts/rules/score-intelmq.js';
import { scoreIpList } from '../../bolts/rules/score-ip-list.js';
import { scoreSuspectCountry } from '../../bolts/rules/score-suspect-country.js';
import { addTags, totals } from '../../bolts/rules/tags.js';
import { defaultConfig } from '../../bolts/themis-config.js';
import { makeFlow } from '../helpers/make-flow.js';

const { rules } = defaultConfig();
const listed = (...texts: string[]) => (address: IpAddress) => texts.includes(address.text);

// makeFlow's default is inbound: remote 198.51.100.7 -> local 192.0.2.10.
const inbound = makeFlow();
const outbound = makeFlow({
  srcIp: '192.0.2.10',
  dstIp: '198.51.100.7',
  srcPort: 51515,
  dstPort: 443,
  srcIsLocal: true,
  dstIsLocal: false,
  direction: 'OUTBOUND',
});

describe('scoreDarkIp (§5.9)', () => {
  const dark = { category: 'SUSPICIOUS_TRAFFIC', code: 'DARK_IP', score: 40, isBad: true };

  it('tags an inbound flow to a local address that is not an active host', () => {
    expect(scoreDarkIp(inbound, rules.darkIp, listed())).toEqual([dark]);
  });

  it('tags an outbound flow from a dark local address', () => {
    expect(scoreDarkIp(outbound, rules.darkIp, listed())).toEqual([dark]);
  });

  it('does not tag when the local address is active', () => {
    expect(scoreDarkIp(inbound, rules.darkIp, listed('192.0.2.10'))).toEqual([]);
  });

  it('never judges the remote side', () => {
    expect(scoreDarkIp(inbound, rules.darkIp, listed('192.0.2.10'))).toEqual([]);
    expect(scoreDarkIp(makeFlow({ dstIsLocal: false }), rules.darkIp, listed())).toEqual([]);
  });

  it('returns one tag per dark local side, which the tag set keeps once', () => {
    const internal = makeFlow({ srcIsLocal: true, dstIsLocal: true });
    const tags = scoreDarkIp(internal, rules.darkIp, listed());
    expect(tags).toHaveLength(2);
    addTags(internal, tags);
    expect(totals(internal.tags).badness).toBe(40);
  });
});

describe('scoreIpList (§5.10)', () => {
  it('tags a blacklist hit on src as bad', () => {
    expect(scoreIpList(inbound, rules.emergingThreats, listed('198.51.100.7'))).toEqual([
      { category: 'IP_LIST', code: 'EMERGING_THREATS', score: 50, isBad: true },
    ]);
  });

  it('tags a blacklist hit on dst whatever the direction', () => {
    expect(scoreIpList(outbound, rules.alienVault, listed('198.51.100.7'))).toEqual([
      { category: 'IP_LIST', code: 'ALIENVAULT', score: 50, isBad: true },
    ]);
  });

  it('tags a whitelist hit as good', () => {
    expect(scoreIpList(inbound, rules.ndpiGood, listed('198.51.100.7'))).toEqual([
      { category: 'IP_LIST', code: 'NDPI_GOOD', score: 100, isBad: false },
    ]);
  });

  it('tags once when both sides are listed', () => {
    expect(scoreIpList(inbound, rules.emergingThreats, listed('198.51.100.7', '192.0.2.10'))).toHaveLength(1);
  });

  it('does not tag when neither side is listed', () => {
    expect(scoreIpList(inbound, rules.emergingThreats, listed('203.0.113.1'))).toEqual([]);
  });
});

describe('scoreSuspectCountry (§5.11)', () => {
  const weights = (table: Record<string, number>) => ({
    weighting: (code: string | null) => (code === null ? 0 : (table[code] ?? 0)),
  });
  const inboundFromCn = makeFlow({ srcCountryCode: 'CN', dstCountryCode: 'ZA' });
  const outboundToRu = { ...outbound, srcCountryCode: 'ZA', dstCountryCode: 'RU' };

  it('scores the remote src country of an inbound flow at 80 × weighting', () => {
    expect(scoreSuspectCountry(inboundFromCn, rules.suspectCountry, weights({ CN: 1 }))).toEqual([
      { category: 'COUNTRY', code: 'SUSPECT', score: 80, isBad: true },
    ]);
  });

  it('scores the remote dst country of an outbound flow', () => {
    expect(scoreSuspectCountry(outboundToRu, rules.suspectCountry, weights({ RU: 0.75 }))[0]!.score).toBe(60);
  });

  it('ignores the local side country', () => {
    expect(scoreSuspectCountry(inboundFromCn, rules.suspectCountry, weights({ ZA: 1 }))).toEqual([]);
  });

  it('skips a weighting of 0, an unlisted code and an unknown (null) code', () => {
    expect(scoreSuspectCountry(inboundFromCn, rules.suspectCountry, weights({ CN: 0 }))).toEqual([]);
    expect(scoreSuspectCountry(inboundFromCn, rules.suspectCountry, weights({ RU: 1 }))).toEqual([]);
    expect(scoreSuspectCountry(makeFlow({ srcCountryCode: null }), rules.suspectCountry, weights({ CN: 1 }))).toEqual([]);
  });

  it('skips a flow with no local side', () => {
    const flow = makeFlow({ srcCountryCode: 'CN', dstIsLocal: false });
    expect(scoreSuspectCountry(flow, rules.suspectCountry, weights({ CN: 1 }))).toEqual([]);
  });

  it('rounds half up like Java Math.round', () => {
    const rule = { ...rules.suspectCountry, score: 5 };
    expect(scoreSuspectCountry(inboundFromCn, rule, weights({ CN: 0.5 }))[0]!.score).toBe(3);
    expect(scoreSuspectCountry(inboundFromCn, rule, weights({ CN: 0.3 }))[0]!.score).toBe(2);
    expect(scoreSuspectCountry(inboundFromCn, rule, weights({ CN: 0.2 }))[0]!.score).toBe(1);
  });

  it('scores above 80 for a weighting above 1', () => {
    expect(scoreSuspectCountry(inboundFromCn, rules.suspectCountry, weights({ CN: 1.5 }))[0]!.score).toBe(120);
  });

  it('still tags, with score 0, a positive weighting that rounds to 0', () => {
    expect(scoreSuspectCountry(inboundFromCn, rules.suspectCountry, weights({ CN: 0.001 }))[0]!.score).toBe(0);
  });
});

describe('scoreIntelMq (§5.12)', () => {
  const entry = (type: string | null, taxonomy: string | null, feed = 'feed'): IntelEntry => ({
    classificationType: type,
    classificationTaxonomy: taxonomy,
    feedProvider: feed,
  });
  const intelFor = (text: string, entries: IntelEntry[]) => new Map([[text, entries]]);

  it('consults the remote src of an inbound flow and the remote dst of an outbound flow', () => {
    expect(intelRemoteIp(inbound).text).toBe('198.51.100.7');
    expect(intelRemoteIp(outbound).text).toBe('198.51.100.7');
    expect(intelRemoteIp(makeFlow({ srcIp: '203.0.113.9' })).text).toBe('203.0.113.9');
  });

  it('tags each intel entry with code "<type> : <taxonomy>", bad 70', () => {
    const intel = intelFor('198.51.100.7', [entry('malware', 'malicious code')]);
    expect(scoreIntelMq(inbound, rules.intelMq, intel)).toEqual([
      { category: 'INTELMQ', code: 'malware : malicious code', score: 70, isBad: true },
    ]);
  });

  it('counts entries with the same type and taxonomy once (fixes §15 item 6)', () => {
    const intel = intelFor('198.51.100.7', [
      entry('malware', 'malicious code', 'feed A'),
      entry('malware', 'malicious code', 'feed B'),
      entry('scanner', 'information gathering'),
    ]);
    const flow = makeFlow({ protocol: 1 });
    const tags = scoreIntelMq(flow, rules.intelMq, intel);
    expect(tags.map((t) => t.code)).toEqual(['malware : malicious code', 'scanner : information gathering']);
    addTags(flow, tags);
    expect(totals(flow.tags).badness).toBe(140);
  });

  it('renders a missing type or taxonomy as null, as the original did', () => {
    const intel = intelFor('198.51.100.7', [entry(null, 'malicious code'), entry('malware', null)]);
    expect(scoreIntelMq(inbound, rules.intelMq, intel).map((t) => t.code)).toEqual([
      'null : malicious code',
      'malware : null',
    ]);
  });

  it('does not tag when the remote IP has no intel, even if the local one has', () => {
    expect(scoreIntelMq(inbound, rules.intelMq, new Map())).toEqual([]);
    expect(scoreIntelMq(inbound, rules.intelMq, intelFor('198.51.100.7', []))).toEqual([]);
    expect(scoreIntelMq(inbound, rules.intelMq, intelFor('192.0.2.10', [entry('malware', 'x')]))).toEqual([]);
  });
});
