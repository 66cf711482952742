import type { Flow, Tag } from '../flow.js';
import type { CountryLookup } from '../stores.js';
import { makeTag, type TagSpec } from './tags.js';

/**
 * ScoreCountryBolt (reference §5.11; COUNTRY/SUSPECT, bad, base 80): the *remote* side's country
 * code (dst when src is local, src when dst is local, none otherwise) is looked up in
 * suspect_countries.csv; weighting > 0 adds a tag scored round(base × weighting), rounding half
 * up like Java's Math.round. A positive weighting small enough to round to 0 still tags (score
 * 0), as the original did: the tag explains the flow even when it adds nothing.
 * Reads no counters.
 */
export function scoreSuspectCountry(flow: Flow, rule: TagSpec, countries: CountryLookup): Tag[] {
  const code = flow.srcIsLocal ? flow.dstCountryCode : flow.dstIsLocal ? flow.srcCountryCode : null;
  if (code === null) return [];
  const weighting = countries.weighting(code);
  if (!(weighting > 0)) return [];
  return [makeTag(rule, true, Math.floor(rule.score * weighting + 0.5))];
}
