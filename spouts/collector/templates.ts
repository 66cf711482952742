import { u16, u32 } from './byte-reads.js';
import { H_SKIP, VARIABLE_LENGTH, handlerFor } from './field-map.js';

/**
 * Templates of one exporter, NetFlow v9 (RFC 3954 §5.2-5.3) and IPFIX (RFC 7011 §3.4, §8), and the
 * one owner of their lifetime:
 *
 * - A template lives under (observation domain or source id, template id); templates and options
 *   templates share the id space, so a definition of either kind replaces the other.
 * - A template record refreshes it (its clock restarts) or redefines it (the new plan replaces the
 *   old from the next data set on, as RFC 7011 §8 allows over UDP).
 * - An IPFIX withdrawal (field count 0) removes one template, or every template of its kind in
 *   the domain when its id is the set id (2 or 3).
 * - Over UDP nothing says an exporter is gone, so a template not refreshed for `lifetimeMs`
 *   (by the caller's clock) expires when next looked up (RFC 7011 §8.4).
 * - At most `maxTemplates` live per exporter: a template flood evicts the least recently
 *   (re)defined one and counts it, so memory stays bounded whatever an exporter sends.
 *
 * Each template is compiled once into a flat plan, pairs of (handler, length) in an Int32Array,
 * which the record decoder walks for every record without looking anything up.
 */

export interface Template {
  readonly domainId: number;
  readonly id: number;
  readonly isOptions: boolean;
  /** handler, length, handler, length...; length VARIABLE_LENGTH is read from each record. */
  readonly plan: Int32Array;
  /** Octets of the shortest record (a variable-length field takes at least its 1-octet length). */
  readonly minRecordLength: number;
  lastSeenMs: number;
}

/** A compiled template and the offset just past its record in the set, or why it is malformed. */
export type CompileResult = { ok: true; template: Template; end: number } | { ok: false; reason: string };

/** A record longer than this cannot fit in one message (65,535 octets less the headers). */
const MAX_RECORD_LENGTH = 65_535 - 16 - 4;

/**
 * Compiles the `fieldCount` field specifiers at `p` (4 octets each, 8 with an enterprise number
 * when `hasEnterpriseBit` (IPFIX) and the id's top bit is set). The first `scopeCount` fields of an
 * options template are scope fields: skipped (their v9 type numbers are not information elements).
 */
export function compileTemplate(
  b: Uint8Array,
  p: number,
  end: number,
  spec: { domainId: number; id: number; fieldCount: number; scopeCount: number; isOptions: boolean; hasEnterpriseBit: boolean; nowMs: number },
): CompileResult {
  // Checked before allocating: a forged count (up to 65,535) must not cost a large plan.
  if (spec.fieldCount * 4 > end - p) {
    return { ok: false, reason: `template ${spec.id} declares ${spec.fieldCount} fields, its set has room for ${Math.floor((end - p) / 4)}` };
  }
  const plan = new Int32Array(spec.fieldCount * 2);
  let minRecordLength = 0;
  for (let i = 0; i < spec.fieldCount; i++) {
    if (end - p < 4) return { ok: false, reason: `template ${spec.id} declares ${spec.fieldCount} fields but its set ends after ${i}` };
    let id = u16(b, p);
    const length = u16(b, p + 2);
    p += 4;
    let enterprise = 0;
    if (spec.hasEnterpriseBit && id & 0x8000) {
      if (end - p < 4) return { ok: false, reason: `template ${spec.id} field ${i} lacks its enterprise number` };
      id &= 0x7fff;
      enterprise = u32(b, p);
      p += 4;
    }
    if (length === VARIABLE_LENGTH && !spec.hasEnterpriseBit) return { ok: false, reason: `template ${spec.id} field ${i} has length 65535: NetFlow v9 has no variable-length fields` };
    const handler = i < spec.scopeCount ? (length === 0 ? `scope field ${i} has length 0` : H_SKIP) : handlerFor(id, enterprise, length, spec.isOptions);
    if (typeof handler === 'string') return { ok: false, reason: `template ${spec.id}: ${handler}` };
    plan[2 * i] = handler;
    plan[2 * i + 1] = length;
    minRecordLength += length === VARIABLE_LENGTH ? 1 : length;
  }
  if (minRecordLength > MAX_RECORD_LENGTH) {
    return { ok: false, reason: `template ${spec.id} has records of ${minRecordLength} octets, more than a message can hold` };
  }
  const template: Template = {
    domainId: spec.domainId,
    id: spec.id,
    isOptions: spec.isOptions,
    plan,
    minRecordLength,
    lastSeenMs: spec.nowMs,
  };
  return { ok: true, template, end: p };
}

/** One number per (domain, template id): domain ids are 32-bit and ids 16-bit, so this stays exact. */
export function templateKey(domainId: number, templateId: number): number {
  return domainId * 65_536 + templateId;
}

export class TemplateCache {
  private readonly byKey = new Map<number, Template>();
  evicted = 0;
  expired = 0;

  constructor(
    private readonly maxTemplates: number,
    private readonly lifetimeMs: number,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  /** The live template, or undefined when unknown, withdrawn or expired (an expired one is removed). */
  get(key: number, nowMs: number): Template | undefined {
    const template = this.byKey.get(key);
    if (template === undefined) return undefined;
    if (nowMs - template.lastSeenMs > this.lifetimeMs) {
      this.byKey.delete(key);
      this.expired++;
      return undefined;
    }
    return template;
  }

  /** Stores a (re)definition; a refresh moves it to the young end of the eviction order. */
  put(template: Template): void {
    const key = templateKey(template.domainId, template.id);
    if (!this.byKey.delete(key) && this.byKey.size >= this.maxTemplates) {
      // Map iterates in insertion order: the first key is the least recently (re)defined.
      const oldest = this.byKey.keys().next();
      if (!oldest.done) {
        this.byKey.delete(oldest.value);
        this.evicted++;
      }
    }
    this.byKey.set(key, template);
  }

  withdraw(key: number): void {
    this.byKey.delete(key);
  }

  /** RFC 7011 §8.1: withdraws every template (or every options template) of one domain. */
  withdrawAll(domainId: number, isOptions: boolean): void {
    for (const [key, template] of this.byKey) {
      if (template.domainId === domainId && template.isOptions === isOptions) this.byKey.delete(key);
    }
  }
}
