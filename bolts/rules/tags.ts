import type { Flow, Tag } from '../flow.js';

/**
 * Rule convention: every rule is a pure function `(flow, rule[, lookups]) => Tag[]` that never
 * mutates the flow; the scoring bolt applies the result with `addTags`. Tags form a set: an
 * identical (category, code, score, isBad) added twice is kept once, and goodness/badness are
 * always computed from that set (fixes reference §15 item 6, where the running total counted a
 * duplicate twice and the set once).
 */

/** A tag's identity and its default score, as configured (reference §17). */
export interface TagSpec {
  readonly category: string;
  readonly code: string;
  readonly score: number;
}

export function makeTag(spec: TagSpec, isBad: boolean, score: number = spec.score): Tag {
  return { category: spec.category, code: spec.code, score, isBad };
}

function sameTag(a: Tag, b: Tag): boolean {
  return a.category === b.category && a.code === b.code && a.score === b.score && a.isBad === b.isBad;
}

/** Adds `tag` to a tag list unless an identical one is present; a flow carries a handful of tags, so a scan is cheapest. */
export function addTagTo(list: Tag[], tag: Tag): void {
  for (const existing of list) if (sameTag(existing, tag)) return;
  list.push(tag);
}

export function addTagsTo(list: Tag[], tags: readonly Tag[]): void {
  for (const tag of tags) addTagTo(list, tag);
}

export function addTag(flow: Pick<Flow, 'tags'>, tag: Tag): void {
  addTagTo(flow.tags, tag);
}

export function addTags(flow: Pick<Flow, 'tags'>, tags: readonly Tag[]): void {
  addTagsTo(flow.tags, tags);
}

/** Goodness and badness of a tag set; duplicates (if a caller concatenated arrays) count once. */
export function totals(tags: readonly Tag[]): { goodness: number; badness: number } {
  let goodness = 0;
  let badness = 0;
  for (let i = 0; i < tags.length; i++) {
    const tag = tags[i]!;
    let isDuplicate = false;
    for (let j = 0; j < i && !isDuplicate; j++) isDuplicate = sameTag(tags[j]!, tag);
    if (isDuplicate) continue;
    if (tag.isBad) badness += tag.score;
    else goodness += tag.score;
  }
  return { goodness, badness };
}

/** The output form `CATEGORY-CODE` (reference §4.3). */
export function tagName(tag: Pick<Tag, 'category' | 'code'>): string {
  return `${tag.category}-${tag.code}`;
}
