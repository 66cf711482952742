import type { DomainState, ExporterState } from './exporter-stats.js';
import type { DecodedFlow } from './flow-record.js';
import { decodeOptionRecords } from './options-records.js';
import { decodeFlowRecords, type RecordContext } from './record-decoder.js';
import { templateKey, type Template } from './templates.js';

/** What every set of one datagram shares. */
export interface DatagramScope {
  readonly exporter: ExporterState;
  readonly nowMs: number;
  readonly isScaled: boolean;
  readonly out: DecodedFlow[];
}

/** readDataSet's result when the set was held for its template: its record count is unknown. */
export const SET_HELD = -2;
/** A record ran past the set's end: the set's flows were taken back out of `out`. */
export const SET_MALFORMED = -1;

/**
 * Decodes one data set (id >= 256) of a v9 or IPFIX datagram with its template, or holds a copy
 * of it when the template is not known yet. Returns the records read, SET_HELD or SET_MALFORMED.
 */
export function readDataSet(
  scope: DatagramScope,
  domain: DomainState,
  header: { exportSecs: number; sysUptimeMs: number },
  templateId: number,
  b: Uint8Array,
  start: number,
  end: number,
): number {
  const exporter = scope.exporter;
  const key = templateKey(domain.id, templateId);
  const template = exporter.templates.get(key, scope.nowMs);
  if (template === undefined) {
    // A copy: a Buffer's slice() is a view, and the caller may reuse the datagram's memory.
    const records = new Uint8Array(end - start);
    records.set(b.subarray(start, end));
    const set = { key, records, exportSecs: header.exportSecs, sysUptimeMs: header.sysUptimeMs, heldAtMs: scope.nowMs };
    exporter.templateMisses += exporter.held.hold(set);
    return SET_HELD;
  }
  return runTemplate(scope, template, domain, header.exportSecs, header.sysUptimeMs, b, start, end);
}

/** Stores a template just read and releases the data sets held for it, decoded in arrival order. */
export function defineTemplate(scope: DatagramScope, domain: DomainState, template: Template): void {
  const exporter = scope.exporter;
  exporter.templates.put(template);
  if (exporter.held.size === 0) return;
  for (const set of exporter.held.takeFor(templateKey(domain.id, template.id))) {
    const records = runTemplate(scope, template, domain, set.exportSecs, set.sysUptimeMs, set.records, 0, set.records.length);
    if (records === SET_MALFORMED) exporter.markMalformed(`a held data set of template ${template.id} has a record running past its end`);
  }
}

function runTemplate(
  scope: DatagramScope,
  template: Template,
  domain: DomainState,
  exportSecs: number,
  sysUptimeMs: number,
  b: Uint8Array,
  start: number,
  end: number,
): number {
  if (template.isOptions) return decodeOptionRecords(b, start, end, template, domain);
  const out = scope.out;
  const mark = out.length;
  const ctx: RecordContext = { exportSecs, sysUptimeMs, domain, isScaled: scope.isScaled, skippedRecords: 0 };
  const records = decodeFlowRecords(b, start, end, template, ctx, out);
  if (records < 0) {
    out.length = mark;
    return SET_MALFORMED;
  }
  scope.exporter.flows += out.length - mark;
  scope.exporter.skippedRecords += ctx.skippedRecords;
  return records;
}
