import { u16, u32 } from './byte-reads.js';
import { SET_MALFORMED, readDataSet, type DatagramScope } from './data-sets.js';
import { readTemplateSet } from './template-sets.js';

/**
 * NetFlow v9 (RFC 3954): a 20-octet header, then flowsets until the datagram ends.
 *
 *   header:  version(2) count(2) sysUptime(4, ms) unix_secs(4) sequence(4) source_id(4)
 *   flowset: id(2) length(2, with this header) then records; id 0 templates, 1 options
 *            templates, 2-255 reserved (skipped), 256 and up data of that template
 *
 * The header's count (records of all kinds) is not checked: exporters disagree on it. Times of
 * data records are uptime-relative to the header (see record-decoder.ts). The sequence counts
 * export packets per source id. Fewer than 4 octets after the last flowset are padding.
 */
const V9_HEADER_LENGTH = 20;

export function decodeV9(b: Uint8Array, scope: DatagramScope): string | undefined {
  if (b.length < V9_HEADER_LENGTH) return `NetFlow v9 header needs ${V9_HEADER_LENGTH} octets, got ${b.length}`;
  const header = { sysUptimeMs: u32(b, 4), exportSecs: u32(b, 8) };
  const domain = scope.exporter.domain(u32(b, 16));
  scope.exporter.checkSequence(domain, u32(b, 12), 1);
  let p = V9_HEADER_LENGTH;
  while (b.length - p >= 4) {
    const setId = u16(b, p);
    const length = u16(b, p + 2);
    if (length < 4) return `flowset ${setId} at octet ${p} has length ${length}, less than its header`;
    if (p + length > b.length) return `flowset ${setId} at octet ${p} has length ${length}, past the datagram's end (${b.length})`;
    if (setId === 0 || setId === 1) {
      const reason = readTemplateSet(scope, domain, setId === 0 ? 'v9' : 'v9-options', b, p + 4, p + length);
      if (reason !== undefined) return reason;
    } else if (setId >= 256) {
      if (readDataSet(scope, domain, header, setId, b, p + 4, p + length) === SET_MALFORMED) return `data flowset ${setId} has a record running past its end`;
    }
    p += length;
  }
  return undefined;
}
