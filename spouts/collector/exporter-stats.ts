import { HeldSets } from './held-sets.js';
import { TemplateCache } from './templates.js';

/**
 * Counters of one exporter (the UDP sender's "addr:port"), as the collector shows them.
 *
 * Sequence numbers say what was lost between two datagrams of one domain (v5 engine, v9 source
 * id, IPFIX observation domain), each version counting something else:
 * - v5 flow_sequence counts flows: the next header should carry this one's plus its count;
 * - v9 sequence counts export packets (RFC 3954 §5.1): the next should be this one's plus 1;
 * - IPFIX sequence counts data records (RFC 7011 §3.1): the next should be this one's plus the
 *   data records in this message. When a message held data for a missing template, or was
 *   malformed, its record count is unknown and the next message only resynchronises.
 * A sequence ahead of the expected one (by less than 2^31, modulo 2^32) is one gap: `sequenceGaps`
 * counts gaps and `sequenceMissing` the numbers skipped (flows, packets or records, as above). A
 * sequence behind (reordering, exporter restart) is not a loss: the count resynchronises on it.
 */
export interface ExporterStats {
  exporter: string;
  /** Version of the last datagram; 0 when none had a known version. */
  version: 5 | 9 | 10 | 0;
  datagrams: number;
  flows: number;
  sequenceGaps: number;
  sequenceMissing: number;
  /** Data sets that found no template: dropped after being held, or evicted while held. */
  templateMisses: number;
  /** Datagrams dropped (in part: the sets before the bad one are kept) as unreadable. */
  malformed: number;
  /** Why the last malformed datagram was dropped. */
  lastMalformed: string;
  /** Templates and options templates live now. */
  templates: number;
  templatesEvicted: number;
  templatesExpired: number;
  /** Data sets held now, waiting for their template (their record count is unknown until then). */
  heldRecords: number;
  /** Records decoded but not flows: no IPv4 or IPv6 address pair (layer-2 or MPLS records). */
  skippedRecords: number;
}

/** What one observation domain (v5 engine, v9 source id, IPFIX domain) carries between datagrams. */
export interface DomainState {
  readonly id: number;
  /** The sequence number the next datagram should carry; -1 when unknown. */
  nextSequence: number;
  /** From options data (or the v5 header): 1 when unsampled or unknown. */
  samplingInterval: number;
  /** IPFIX systemInitTimeMilliseconds from options data; -1 when unknown. */
  systemInitMs: number;
}

export interface ExporterBounds {
  maxTemplates: number;
  templateLifetimeMs: number;
  maxHeldSets: number;
  maxHeldBytes: number;
  holdMs: number;
  maxDomains: number;
}

export class ExporterState {
  version: 5 | 9 | 10 | 0 = 0;
  datagrams = 0;
  flows = 0;
  sequenceGaps = 0;
  sequenceMissing = 0;
  templateMisses = 0;
  malformed = 0;
  lastMalformed = '';
  skippedRecords = 0;
  readonly templates: TemplateCache;
  readonly held: HeldSets;
  private readonly domains = new Map<number, DomainState>();

  constructor(
    readonly exporter: string,
    private readonly bounds: ExporterBounds,
  ) {
    this.templates = new TemplateCache(bounds.maxTemplates, bounds.templateLifetimeMs);
    this.held = new HeldSets(bounds.maxHeldSets, bounds.maxHeldBytes, bounds.holdMs);
  }

  /** The domain's state, created on first sight; the oldest domain goes past maxDomains. */
  domain(id: number): DomainState {
    let state = this.domains.get(id);
    if (state === undefined) {
      if (this.domains.size >= this.bounds.maxDomains) this.domains.delete(this.domains.keys().next().value!);
      state = { id, nextSequence: -1, samplingInterval: 1, systemInitMs: -1 };
      this.domains.set(id, state);
    }
    return state;
  }

  /** Compares a header's sequence number with the one expected; `advance` is what this datagram adds (-1: unknown). */
  checkSequence(domain: DomainState, sequence: number, advance: number): void {
    if (domain.nextSequence >= 0) {
      const ahead = (sequence - domain.nextSequence) >>> 0;
      if (ahead !== 0 && ahead < 0x80000000) {
        this.sequenceGaps++;
        this.sequenceMissing += ahead;
      }
    }
    domain.nextSequence = advance < 0 ? -1 : (sequence + advance) >>> 0;
  }

  markMalformed(reason: string): void {
    this.malformed++;
    this.lastMalformed = reason;
  }

  snapshot(): ExporterStats {
    return {
      exporter: this.exporter,
      version: this.version,
      datagrams: this.datagrams,
      flows: this.flows,
      sequenceGaps: this.sequenceGaps,
      sequenceMissing: this.sequenceMissing,
      templateMisses: this.templateMisses,
      malformed: this.malformed,
      lastMalformed: this.lastMalformed,
      templates: this.templates.size,
      templatesEvicted: this.templates.evicted,
      templatesExpired: this.templates.expired,
      heldRecords: this.held.size,
      skippedRecords: this.skippedRecords,
    };
  }
}
