import { u16 } from './byte-reads.js';
import { defineTemplate, type DatagramScope } from './data-sets.js';
import type { DomainState } from './exporter-stats.js';
import { compileTemplate, templateKey } from './templates.js';

/**
 * Template and options template sets of NetFlow v9 (RFC 3954 §5.2-5.3) and IPFIX (RFC 7011 §3.4).
 * Each reader returns undefined, or why the set is malformed; templates before the bad one stay
 * defined. A set may end in zero padding shorter than, or looking like, an empty record.
 *
 *   v9 template:          id(2) fieldCount(2) then fieldCount × [type(2) length(2)]
 *   v9 options template:  id(2) scopeLength(2, octets) optionLength(2, octets) then the fields
 *   IPFIX template:       id(2) fieldCount(2) then fields, each [id(2) length(2) (enterprise(4) when id & 0x8000)]
 *   IPFIX options:        id(2) fieldCount(2) scopeFieldCount(2) then fields, scope ones first
 *   IPFIX withdrawal:     id(2) 0(2); id 2 (or 3 in an options set) withdraws every one of the kind
 */

export type TemplateSetKind = 'v9' | 'v9-options' | 'ipfix' | 'ipfix-options';

const MIN_TEMPLATE_ID = 256;

export function readTemplateSet(scope: DatagramScope, domain: DomainState, kind: TemplateSetKind, b: Uint8Array, start: number, end: number): string | undefined {
  const isOptions = kind === 'v9-options' || kind === 'ipfix-options';
  const isIpfix = kind === 'ipfix' || kind === 'ipfix-options';
  const headerLength = isOptions ? 6 : 4;
  let p = start;
  while (end - p >= 4) {
    const id = u16(b, p);
    const second = u16(b, p + 2);
    if (id === 0 && isZero(b, p, end)) return undefined;
    if (isIpfix && second === 0) {
      const reason = withdraw(scope, domain, id, isOptions);
      if (reason !== undefined) return reason;
      p += 4;
      continue;
    }
    if (end - p < headerLength) return `template ${id} header cut off at the end of its set`;
    if (id < MIN_TEMPLATE_ID) return `template id ${id} is below ${MIN_TEMPLATE_ID}`;
    let fieldCount: number;
    let scopeCount = 0;
    if (kind === 'v9-options') {
      const optionLength = u16(b, p + 4);
      if (second % 4 !== 0 || optionLength % 4 !== 0) return `options template ${id} has scope length ${second} and option length ${optionLength}, not multiples of 4`;
      scopeCount = second / 4;
      fieldCount = scopeCount + optionLength / 4;
    } else {
      fieldCount = second;
      if (kind === 'ipfix-options') {
        scopeCount = u16(b, p + 4);
        if (scopeCount === 0 || scopeCount > fieldCount) return `options template ${id} has ${scopeCount} scope fields of ${fieldCount}`;
      }
    }
    if (fieldCount === 0) return `template ${id} has no fields`;
    const compiled = compileTemplate(b, p + headerLength, end, { domainId: domain.id, id, fieldCount, scopeCount, isOptions, hasEnterpriseBit: isIpfix, nowMs: scope.nowMs });
    if (!compiled.ok) return compiled.reason;
    defineTemplate(scope, domain, compiled.template);
    p = compiled.end;
  }
  return undefined;
}

function withdraw(scope: DatagramScope, domain: DomainState, id: number, isOptions: boolean): string | undefined {
  const templates = scope.exporter.templates;
  if (id === (isOptions ? 3 : 2)) templates.withdrawAll(domain.id, isOptions);
  else if (id >= MIN_TEMPLATE_ID) templates.withdraw(templateKey(domain.id, id));
  else return `withdrawal of template id ${id}, below ${MIN_TEMPLATE_ID}`;
  return undefined;
}

function isZero(b: Uint8Array, from: number, end: number): boolean {
  for (let i = from; i < end; i++) if (b[i] !== 0) return false;
  return true;
}
