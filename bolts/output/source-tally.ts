import type { Flow } from '../flow.js';
import { tagName, totals } from '../rules/tags.js';

/**
 * One metrics interval's scored flows by source address (the initiator's: a conversation's record
 * is the local side's, so a remote client's is its destination), kept by each scored-output task for the
 * live page and taken (and reset) at each report (`TopologyContext.reading`). Only flows with some
 * badness count. Bounded whatever the traffic: at most MAX_SOURCES sources an interval (a source
 * first seen when the table is full is counted in `overflow` only), MAX_TAGS tags and
 * MAX_CONVERSATIONS of its latest conversations each, and the report holds the TOP_SOURCES worst.
 */

export const MAX_SOURCES = 1000;
export const MAX_TAGS = 8;
export const MAX_CONVERSATIONS = 5;
export const TOP_SOURCES = 25;

/** A scored flow (a conversation when matched) as the page lists it, from its initiator. */
export interface ConversationBrief {
  readonly id: number;
  readonly startSecs: number;
  readonly protocol: number;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  readonly matched: boolean;
  readonly badness: number;
  readonly tags: readonly string[];
}

export interface SourceSummary {
  readonly ip: string;
  readonly badness: number;
  readonly flows: number;
  readonly tags: readonly string[];
  /** Latest first. */
  readonly conversations: readonly ConversationBrief[];
}

export interface SourceTallyReport {
  readonly sources: readonly SourceSummary[];
  /** Flows of sources that found the table full this interval. */
  readonly overflow: number;
}

interface Entry {
  badness: number;
  flows: number;
  readonly tags: string[];
  readonly conversations: ConversationBrief[];
}

export class SourceTally {
  private entries = new Map<string, Entry>();
  private overflow = 0;

  add(flow: Flow): void {
    const { badness } = totals(flow.tags);
    if (badness <= 0) return;
    const fromSrc = flow.initiator === 'src';
    const ip = fromSrc ? flow.srcIp.text : flow.dstIp.text;
    let e = this.entries.get(ip);
    if (!e) {
      if (this.entries.size >= MAX_SOURCES) {
        this.overflow++;
        return;
      }
      e = { badness: 0, flows: 0, tags: [], conversations: [] };
      this.entries.set(ip, e);
    }
    e.badness += badness;
    e.flows++;
    const tags = flow.tags.filter((t) => t.isBad).map(tagName);
    for (const t of tags) if (e.tags.length < MAX_TAGS && !e.tags.includes(t)) e.tags.push(t);
    e.conversations.unshift({
      id: flow.id,
      startSecs: flow.startSecs,
      protocol: flow.protocol,
      src: ip,
      srcPort: fromSrc ? flow.srcPort : flow.dstPort,
      dst: fromSrc ? flow.dstIp.text : flow.srcIp.text,
      dstPort: fromSrc ? flow.dstPort : flow.srcPort,
      matched: flow.matched,
      badness,
      tags,
    });
    if (e.conversations.length > MAX_CONVERSATIONS) e.conversations.pop();
  }

  /** The interval's worst sources, and a fresh interval; undefined when nothing bad was scored. */
  take(): SourceTallyReport | undefined {
    if (this.entries.size === 0 && this.overflow === 0) return undefined;
    const sources = [...this.entries]
      .sort((a, b) => b[1].badness - a[1].badness)
      .slice(0, TOP_SOURCES)
      .map(([ip, e]) => ({ ip, badness: e.badness, flows: e.flows, tags: e.tags, conversations: e.conversations }));
    const report = { sources, overflow: this.overflow };
    this.entries = new Map();
    this.overflow = 0;
    return report;
  }
}
